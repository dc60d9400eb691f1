//! The trading feed's wire protocol.
//!
//! Every frame is a JSON object, the *envelope*:
//!
//! ```json
//! {"type": "update", "data": {"symbol": "AAPL", "price": 150.25}, "timestamp": "2025-01-01T12:00:00Z"}
//! ```
//!
//! `type` selects the payload; `data` and `timestamp` are optional. The types the
//! seed specification names are decoded into typed payloads ([`Payload`]); any
//! other type passes through untouched as raw JSON ([`Payload::Other`]), so a feed
//! that grows new message kinds never breaks the client.
//!
//! Decoding is a single pass: when `type` comes first (as every sane producer
//! writes it) the `data` object is deserialized straight into its typed struct with
//! no intermediate [`serde_json::Value`]. This sits on the hot path of a feed that
//! may carry a hundred thousand updates a second.
//!
//! What a client sends is an [`Outbound`] (module `outbound`): an order built from an
//! [`OrderRequest`], or any JSON object with a string `type`, validated once when built.
//!
//! Subscriptions are `{"type":"subscribe","data":{"symbols":["AAPL","MSFT"]}}`; the
//! decoder also accepts the symbols at the top level (`{"type":"subscribe","symbols":[..]}`)
//! because the seed's examples read them from there.

mod outbound;
mod time;

use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use compact_str::CompactString;
pub use outbound::{
    valid_symbol, OrderRequest, Outbound, OutboundError, MAX_CLIENT_ORDER_ID, MAX_ORDER_QTY,
};
pub use time::{parse_rfc3339_ms, Timestamp, LAST_UNIX_MS};

/// One frame of the protocol: a payload and the sender's optional timestamp.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// What the frame says, decoded by its `type`.
    pub payload: Payload,
    /// The sender's timestamp, as written; `None` when absent.
    pub timestamp: Option<Timestamp>,
}

/// The typed content of an [`Envelope`], one variant per message `type`.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// Client → server heartbeat.
    Ping,
    /// Server → client heartbeat answer.
    Pong,
    /// A price update for one symbol.
    Update(PriceUpdate),
    /// An order request (client → server) or an order status update (server → client).
    /// Boxed, like `Error`: rare and large, they would otherwise triple the size of
    /// every envelope, and price updates are the hot path.
    Order(Box<OrderUpdate>),
    /// An error reported by the peer.
    Error(Box<ErrorInfo>),
    /// Start streaming these symbols.
    Subscribe(Symbols),
    /// Stop streaming these symbols.
    Unsubscribe(Symbols),
    /// A message type this client does not know: the whole frame as raw JSON.
    Other(Map<String, Value>),
}

/// `data` of an `update` message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PriceUpdate {
    /// Instrument symbol, e.g. `AAPL`. A [`CompactString`], not a `String`: a symbol
    /// of up to 24 bytes is stored inline, so decoding a price update allocates
    /// nothing for it. (At 100,000 updates a second, its allocation and the
    /// timestamp's, with their frees, were about a tenth of the app's samples in the
    /// tray: BENCHMARKS.md.)
    pub symbol: CompactString,
    /// Last traded price.
    pub price: f64,
    /// Traded volume for the session.
    #[serde(default)]
    pub volume: u64,
    /// Absolute change since the session open.
    #[serde(default)]
    pub change: f64,
    /// Change since the session open, in percent.
    #[serde(default, rename = "changePercent")]
    pub change_percent: f64,
}

/// Buy or sell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// Buy order.
    Buy,
    /// Sell order.
    Sell,
}

/// Lifecycle of an order, as reported by the feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// The feed accepted the order and gave it an id.
    Accepted,
    /// Part of the quantity has been filled.
    PartiallyFilled,
    /// The whole quantity has been filled.
    Filled,
    /// The feed refused the order; `reason` says why.
    Rejected,
    /// The order was cancelled before it filled.
    Cancelled,
}

/// `data` of an `order` message.
///
/// A client submits `{symbol, side, qty}` (optionally with its own `client_order_id`);
/// the feed answers with the same shape plus `id`, `status` and fill details.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderUpdate {
    /// The feed's order id; absent on a client's submission.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The client's own reference, echoed back by the feed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_order_id: Option<String>,
    /// Instrument symbol.
    pub symbol: String,
    /// Buy or sell.
    pub side: Side,
    /// Ordered quantity.
    pub qty: f64,
    /// Current status; absent on a client's submission.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<OrderStatus>,
    /// Quantity filled so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filled_qty: Option<f64>,
    /// Average fill price so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avg_price: Option<f64>,
    /// When the order completed filling (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filled_at: Option<String>,
    /// Why the order was rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `data` of an `error` message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorInfo {
    /// Machine-readable code, e.g. `UNKNOWN_SYMBOL`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// Anything else the peer wants to say; `{}` when absent.
    #[serde(default = "empty_object")]
    pub details: Value,
}

fn empty_object() -> Value {
    Value::Object(Map::new())
}

/// `data` of `subscribe` and `unsubscribe`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Symbols {
    /// The symbols concerned.
    pub symbols: Vec<String>,
}

/// The field added to a message passed on as raw JSON because it did not fit the
/// protocol (see [`Envelope::is_unexpected`]).
pub const UNEXPECTED: &str = "_uplink_unexpected";

/// Why a frame could not be decoded.
#[derive(Debug)]
pub struct DecodeError(serde_json::Error);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed message: {}", self.0)
    }
}

impl std::error::Error for DecodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

impl Envelope {
    /// An envelope with no timestamp.
    pub fn new(payload: Payload) -> Self {
        Envelope {
            payload,
            timestamp: None,
        }
    }

    /// Decodes one text frame, tolerantly: JSON whose body does not fit its type is
    /// passed on as raw JSON ([`Envelope::is_unexpected`]); only text that is not JSON
    /// at all is an error.
    pub fn decode(text: &str) -> Result<Envelope, DecodeError> {
        // From a `str`, serde_json does not check the UTF-8 a second time.
        match serde_json::from_str(text) {
            Ok(env) => Ok(env),
            Err(e) => match serde_json::from_str::<Value>(text) {
                Ok(v) => Ok(Envelope::unexpected(v)),
                Err(_) => Err(DecodeError(e)),
            },
        }
    }

    /// Decodes one binary frame holding UTF-8 JSON, like [`Envelope::decode`].
    pub fn decode_slice(bytes: &[u8]) -> Result<Envelope, DecodeError> {
        match serde_json::from_slice(bytes) {
            Ok(env) => Ok(env),
            // The fast, typed path failed: is it JSON at all?
            Err(e) => match serde_json::from_slice::<Value>(bytes) {
                Ok(v) => Ok(Envelope::unexpected(v)),
                Err(_) => Err(DecodeError(e)),
            },
        }
    }

    /// Valid JSON that does not fit the protocol, kept whole as raw JSON. A known type
    /// with an unexpected body is marked with the field [`UNEXPECTED`] so readers can
    /// count it; an object of another dialect (no `type`) passes as it is.
    fn unexpected(v: Value) -> Envelope {
        let mut map = match v {
            Value::Object(m) => m,
            other => {
                let mut m = Map::new();
                m.insert("data".into(), other);
                m.insert(UNEXPECTED.into(), Value::Bool(true));
                m
            }
        };
        let known = match map.get("type") {
            Some(Value::String(t)) => Kind::from_name(t) != Kind::Other,
            Some(_) => true,
            None => false,
        };
        if known {
            map.insert(UNEXPECTED.into(), Value::Bool(true));
        }
        Envelope {
            payload: Payload::Other(map),
            timestamp: None,
        }
    }

    /// Whether this message did not fit the protocol (a known type with an unexpected
    /// body, a `type` that is not a string, or JSON that is not an object) and is
    /// passed on as raw JSON.
    pub fn is_unexpected(&self) -> bool {
        matches!(&self.payload, Payload::Other(m) if m.contains_key(UNEXPECTED))
    }

    /// Encodes to the JSON text sent on the wire.
    pub fn encode(&self) -> String {
        // Serializing our own types into a String cannot fail: every map key is a string.
        serde_json::to_string(self).expect("envelope serialization is infallible")
    }

    /// The wire name of this message's type.
    pub fn kind(&self) -> &str {
        self.payload.kind()
    }
}

impl Payload {
    /// The wire name of this payload's type.
    pub fn kind(&self) -> &str {
        match self {
            Payload::Ping => "ping",
            Payload::Pong => "pong",
            Payload::Update(_) => "update",
            Payload::Order(_) => "order",
            Payload::Error(_) => "error",
            Payload::Subscribe(_) => "subscribe",
            Payload::Unsubscribe(_) => "unsubscribe",
            Payload::Other(map) => map.get("type").and_then(Value::as_str).unwrap_or(""),
        }
    }
}

impl Serialize for Envelope {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if let Payload::Other(map) = &self.payload {
            return map.serialize(s);
        }
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("type", self.payload.kind())?;
        match &self.payload {
            Payload::Ping | Payload::Pong | Payload::Other(_) => {}
            Payload::Update(d) => m.serialize_entry("data", d)?,
            Payload::Order(d) => m.serialize_entry("data", d)?,
            Payload::Error(d) => m.serialize_entry("data", d)?,
            Payload::Subscribe(d) | Payload::Unsubscribe(d) => m.serialize_entry("data", d)?,
        }
        if let Some(ts) = &self.timestamp {
            m.serialize_entry("timestamp", ts)?;
        }
        m.end()
    }
}

/// The message types the decoder knows, resolved from the `type` field.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Ping,
    Pong,
    Update,
    Order,
    Error,
    Subscribe,
    Unsubscribe,
    Other,
}

impl Kind {
    fn from_name(name: &str) -> Kind {
        match name {
            "ping" => Kind::Ping,
            "pong" => Kind::Pong,
            "update" => Kind::Update,
            "order" => Kind::Order,
            "error" => Kind::Error,
            "subscribe" => Kind::Subscribe,
            "unsubscribe" => Kind::Unsubscribe,
            _ => Kind::Other,
        }
    }
}

/// A `timestamp` field as read, before the message's type is known: a known type
/// keeps it as a [`Timestamp`], an unknown one as the same JSON value (an integer
/// stays an integer, as it did through a [`Value`]). Read straight from
/// the frame, not through a [`Value`], so that a short text timestamp (up to 24
/// bytes, such as `2025-01-01T12:00:00.123Z`) is stored inline, with no allocation.
enum RawTimestamp {
    /// A string, as written.
    Text(CompactString),
    /// A number, as written.
    Number(serde_json::Number),
    /// `null`: the same as no timestamp.
    Null,
    /// An object, a list or a boolean.
    Other(Value),
}

impl RawTimestamp {
    /// What a message of a known type keeps: `null` is no timestamp, and a value that
    /// is neither a string nor a number is unreadable.
    fn into_timestamp(self) -> Option<Timestamp> {
        match self {
            RawTimestamp::Null => None,
            RawTimestamp::Text(s) => Some(Timestamp::Text(s)),
            RawTimestamp::Number(n) => {
                Some(n.as_f64().map_or(Timestamp::Unreadable, Timestamp::Number))
            }
            RawTimestamp::Other(_) => Some(Timestamp::Unreadable),
        }
    }

    /// The JSON it was read from, for a message of an unknown type.
    fn into_json(self) -> Value {
        match self {
            RawTimestamp::Text(s) => Value::String(s.into_string()),
            RawTimestamp::Number(n) => Value::Number(n),
            RawTimestamp::Null => Value::Null,
            RawTimestamp::Other(v) => v,
        }
    }
}

impl<'de> Deserialize<'de> for RawTimestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawTimestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawTimestamp, E> {
                Ok(RawTimestamp::Text(CompactString::from(v)))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<RawTimestamp, E> {
                Ok(RawTimestamp::Text(CompactString::from(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawTimestamp, E> {
                Ok(RawTimestamp::Number(v.into()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawTimestamp, E> {
                Ok(RawTimestamp::Number(v.into()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawTimestamp, E> {
                // JSON text holds no NaN or infinity, so this is always a number.
                Ok(
                    serde_json::Number::from_f64(v)
                        .map_or(RawTimestamp::Null, RawTimestamp::Number),
                )
            }
            fn visit_unit<E: de::Error>(self) -> Result<RawTimestamp, E> {
                Ok(RawTimestamp::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<RawTimestamp, E> {
                Ok(RawTimestamp::Null)
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<RawTimestamp, E> {
                Ok(RawTimestamp::Other(Value::Bool(v)))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<RawTimestamp, A::Error> {
                Value::deserialize(de::value::SeqAccessDeserializer::new(seq))
                    .map(RawTimestamp::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawTimestamp, A::Error> {
                // serde_json's `arbitrary_precision` feature, if any crate in a build
                // turned it on, would hand every number over as a map.
                Ok(
                    match Value::deserialize(de::value::MapAccessDeserializer::new(map))? {
                        Value::Number(n) => RawTimestamp::Number(n),
                        v => RawTimestamp::Other(v),
                    },
                )
            }
        }
        d.deserialize_any(V)
    }
}

/// A `data` field decoded before or after `type` was known.
enum Data {
    None,
    Typed(Payload),
    Raw(Value),
}

impl<'de> Deserialize<'de> for Envelope {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(EnvelopeVisitor)
    }
}

struct EnvelopeVisitor;

/// A string borrowed from the frame when it has no escapes, owned otherwise. (serde's
/// own `Cow<str>` always copies: the hot path reads three keys and a type per frame.)
struct Text<'de>(
    /// The string: a slice of the frame, or a copy with its escapes resolved.
    std::borrow::Cow<'de, str>,
);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(std::borrow::Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(std::borrow::Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text<'de>, E> {
                Ok(Text(std::borrow::Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// Decodes `data` into the payload for `kind`.
fn typed_data<'de, A: MapAccess<'de>>(kind: Kind, map: &mut A) -> Result<Data, A::Error> {
    Ok(match kind {
        Kind::Update => Data::Typed(Payload::Update(map.next_value()?)),
        Kind::Order => Data::Typed(Payload::Order(map.next_value()?)),
        Kind::Error => Data::Typed(Payload::Error(map.next_value()?)),
        Kind::Subscribe => Data::Typed(Payload::Subscribe(map.next_value()?)),
        Kind::Unsubscribe => Data::Typed(Payload::Unsubscribe(map.next_value()?)),
        Kind::Ping | Kind::Pong => {
            map.next_value::<IgnoredAny>()?;
            Data::None
        }
        Kind::Other => Data::Raw(map.next_value()?),
    })
}

fn from_value<T: serde::de::DeserializeOwned, E: de::Error>(v: Value) -> Result<T, E> {
    serde_json::from_value(v).map_err(E::custom)
}

impl<'de> Visitor<'de> for EnvelopeVisitor {
    type Value = Envelope;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object with a string field \"type\"")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Envelope, A::Error> {
        // Borrowed from the frame where it can be; owned only for an unknown type.
        let mut type_name: Option<Text<'de>> = None;
        let mut kind: Option<Kind> = None;
        let mut data = Data::None;
        let mut timestamp: Option<RawTimestamp> = None;
        // Every field that is not type/data/timestamp; only kept for unknown types and
        // for the lenient top-level `symbols` of subscribe/unsubscribe.
        let mut extra: Map<String, Value> = Map::new();

        while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
            match key.as_ref() {
                "type" => {
                    if kind.is_some() {
                        return Err(de::Error::duplicate_field("type"));
                    }
                    let name: Text<'de> = map.next_value()?;
                    let k = Kind::from_name(&name.0);
                    kind = Some(k);
                    type_name = Some(name);
                    // `data` arrived before `type`: decode it now that we know the type.
                    if let Data::Raw(v) = std::mem::replace(&mut data, Data::None) {
                        data = match k {
                            Kind::Update => Data::Typed(Payload::Update(from_value(v)?)),
                            Kind::Order => Data::Typed(Payload::Order(from_value(v)?)),
                            Kind::Error => Data::Typed(Payload::Error(from_value(v)?)),
                            Kind::Subscribe => Data::Typed(Payload::Subscribe(from_value(v)?)),
                            Kind::Unsubscribe => Data::Typed(Payload::Unsubscribe(from_value(v)?)),
                            Kind::Ping | Kind::Pong => Data::None,
                            Kind::Other => Data::Raw(v),
                        };
                    }
                }
                "data" => {
                    data = match kind {
                        Some(k) => typed_data(k, &mut map)?,
                        None => Data::Raw(map.next_value()?),
                    };
                }
                "timestamp" => timestamp = Some(map.next_value()?),
                other => {
                    let v: Value = map.next_value()?;
                    extra.insert(other.to_owned(), v);
                }
            }
        }

        let kind = kind.ok_or_else(|| de::Error::missing_field("type"))?;
        let type_name = type_name.unwrap_or(Text(std::borrow::Cow::Borrowed("")));

        if kind == Kind::Other {
            let mut whole = extra;
            whole.insert("type".into(), Value::String(type_name.0.into_owned()));
            if let Data::Raw(v) = data {
                whole.insert("data".into(), v);
            }
            if let Some(ts) = timestamp {
                whole.insert("timestamp".into(), ts.into_json());
            }
            return Ok(Envelope {
                payload: Payload::Other(whole),
                timestamp: None,
            });
        }

        let timestamp = timestamp.and_then(RawTimestamp::into_timestamp);

        let payload = match (kind, data) {
            (Kind::Ping, _) => Payload::Ping,
            (Kind::Pong, _) => Payload::Pong,
            (_, Data::Typed(p)) => p,
            (Kind::Subscribe | Kind::Unsubscribe, _) => {
                let symbols: Vec<String> = match extra.remove("symbols") {
                    Some(v) => from_value(v)?,
                    None => return Err(de::Error::missing_field("data.symbols")),
                };
                let s = Symbols { symbols };
                if kind == Kind::Subscribe {
                    Payload::Subscribe(s)
                } else {
                    Payload::Unsubscribe(s)
                }
            }
            (_, _) => return Err(de::Error::missing_field("data")),
        };
        Ok(Envelope { payload, timestamp })
    }
}

/// A venue's spelling of one of the protocol's statuses: any case, `-` or a space for
/// `_`, and the American "canceled". Anything else (such as `"new"`) is not guessed at.
fn venue_status(word: &str) -> Option<OrderStatus> {
    let w = venue_word(word);
    let w = if w == "canceled" {
        "cancelled".to_owned()
    } else {
        w
    };
    OrderStatus::deserialize(Value::String(w)).ok()
}

/// A venue's status word as the protocol spells its own: lower case, `_` for `-` and
/// spaces.
fn venue_word(word: &str) -> String {
    word.trim().to_ascii_lowercase().replace(['-', ' '], "_")
}

/// What an inbound `order` message says about one of the client's orders: enough to
/// acknowledge it, and the fill so far. Read tolerantly, because venues answer in
/// shapes of their own.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderEcho<'a> {
    /// The client's reference the feed echoed: what matches the order.
    pub client_order_id: &'a str,
    /// The feed's order id, if it gave one (a number is kept as its digits).
    pub order_id: Option<String>,
    /// The status, if it is one of the protocol's; a venue's own word (such as
    /// `"new"`) is not guessed at.
    pub status: Option<OrderStatus>,
    /// Quantity filled so far, if given as a finite number or a string holding one
    /// (venues often send `"40"`); anything else is treated as absent.
    pub filled_qty: Option<f64>,
    /// Average fill price so far, read like `filled_qty`.
    pub avg_price: Option<f64>,
    /// Why the order was rejected, if the feed said so as a string.
    pub reason: Option<&'a str>,
    /// A status word of the feed's that is none of the protocol's (such as
    /// "DONE_FOR_DAY"), trimmed, for the reader to report: what it says about the
    /// order is unknown. `None` when the status was read, absent, or "new" or
    /// "pending_new" (in any spelling), which only acknowledge.
    pub unread_status: Option<&'a str>,
}

/// A quantity or a price as venues write them: a number, or a string holding one.
fn venue_number(v: Option<&Value>) -> Option<f64> {
    let n = match v? {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    n.is_finite().then_some(n)
}

impl Envelope {
    /// The order this message acknowledges, if it is an `order` message with a string
    /// `data.client_order_id` and an `id` or a `status` of the feed's: a typed
    /// [`OrderUpdate`], or one that did not fit the type (many venues answer with
    /// only `{id, client_order_id, status}`, or with quantities as strings). The
    /// client's own submission sent back unchanged is not an acknowledgement.
    pub fn order_echo(&self) -> Option<OrderEcho<'_>> {
        match &self.payload {
            // The client's own submission sent back (an echo server, a proxy) has
            // neither: it says nothing about the feed having the order.
            Payload::Order(o) if o.id.is_none() && o.status.is_none() => None,
            Payload::Order(o) => Some(OrderEcho {
                client_order_id: o.client_order_id.as_deref()?,
                order_id: o.id.clone(),
                status: o.status,
                filled_qty: o.filled_qty,
                avg_price: o.avg_price,
                reason: o.reason.as_deref(),
                unread_status: None,
            }),
            Payload::Other(m) if m.get("type").and_then(Value::as_str) == Some("order") => {
                let data = m.get("data")?;
                if data.get("id").is_none() && data.get("status").is_none() {
                    return None;
                }
                let word = data.get("status").and_then(Value::as_str).map(str::trim);
                let status = word.and_then(venue_status);
                let acknowledges =
                    |w: &str| matches!(venue_word(w).as_str(), "new" | "pending_new");
                Some(OrderEcho {
                    client_order_id: data.get("client_order_id")?.as_str()?,
                    order_id: match data.get("id") {
                        Some(Value::String(s)) => Some(s.clone()),
                        Some(Value::Number(n)) => Some(n.to_string()),
                        _ => None,
                    },
                    status,
                    filled_qty: venue_number(data.get("filled_qty")),
                    avg_price: venue_number(data.get("avg_price")),
                    reason: data.get("reason").and_then(Value::as_str),
                    unread_status: word.filter(|w| status.is_none() && !acknowledges(w)),
                })
            }
            _ => None,
        }
    }
}

/// Builders for the messages a client sends.
impl Envelope {
    /// `{"type":"ping"}`.
    pub fn ping() -> Self {
        Envelope::new(Payload::Ping)
    }

    /// `{"type":"subscribe","data":{"symbols":[..]}}`.
    pub fn subscribe<I: IntoIterator<Item = S>, S: Into<String>>(symbols: I) -> Self {
        Envelope::new(Payload::Subscribe(Symbols {
            symbols: symbols.into_iter().map(Into::into).collect(),
        }))
    }

    /// `{"type":"unsubscribe","data":{"symbols":[..]}}`.
    pub fn unsubscribe<I: IntoIterator<Item = S>, S: Into<String>>(symbols: I) -> Self {
        Envelope::new(Payload::Unsubscribe(Symbols {
            symbols: symbols.into_iter().map(Into::into).collect(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_order_echo_is_read_from_the_protocol_shape_and_from_venue_shapes() {
        let echo = |text: &str| {
            let env = Envelope::decode(text).unwrap();
            env.order_echo()
                .map(|e| (e.client_order_id.to_owned(), e.order_id.clone(), e.status))
        };
        let full = r#"{"type":"order","data":{"id":"o1","client_order_id":"c1","symbol":"AAPL","side":"buy","qty":1,"status":"filled"}}"#;
        assert_eq!(
            echo(full),
            Some(("c1".into(), Some("o1".into()), Some(OrderStatus::Filled)))
        );
        // Only the ids and a status of the venue's own: acknowledged, status unknown.
        let venue = r#"{"type":"order","data":{"id":"V7","client_order_id":"c1","status":"new"}}"#;
        assert_eq!(echo(venue), Some(("c1".into(), Some("V7".into()), None)));
        // A numeric id and a quantity as a string.
        let numeric = r#"{"type":"order","data":{"id":991,"client_order_id":"c1","symbol":"AAPL","side":"buy","qty":"1.5","status":"accepted"}}"#;
        assert_eq!(
            echo(numeric),
            Some(("c1".into(), Some("991".into()), Some(OrderStatus::Accepted)))
        );
        // A venue's spelling of the protocol's statuses.
        let shout = r#"{"type":"order","data":{"client_order_id":"c1","status":"REJECTED"}}"#;
        assert_eq!(echo(shout).unwrap().2, Some(OrderStatus::Rejected));
        let us = r#"{"type":"order","data":{"client_order_id":"c1","status":"Canceled"}}"#;
        assert_eq!(echo(us).unwrap().2, Some(OrderStatus::Cancelled));
        let dash =
            r#"{"type":"order","data":{"client_order_id":"c1","status":"partially-filled"}}"#;
        assert_eq!(echo(dash).unwrap().2, Some(OrderStatus::PartiallyFilled));
        let space =
            r#"{"type":"order","data":{"client_order_id":"c1","status":"Partially Filled"}}"#;
        assert_eq!(echo(space).unwrap().2, Some(OrderStatus::PartiallyFilled));
        // A venue's fill report: quantities as strings, read as numbers; junk is absent.
        let fill = Envelope::decode(
            r#"{"type":"order","data":{"id":"V7","client_order_id":"c1","status":"PARTIALLY_FILLED","filled_qty":"40","avg_price":" 101.25 "}}"#,
        )
        .unwrap();
        let e = fill.order_echo().unwrap();
        assert_eq!(
            (e.status, e.filled_qty, e.avg_price),
            (Some(OrderStatus::PartiallyFilled), Some(40.0), Some(101.25))
        );
        let junk = Envelope::decode(
            r#"{"type":"order","data":{"client_order_id":"c1","status":"rejected","filled_qty":"lots","avg_price":"NaN","reason":"halted"}}"#,
        )
        .unwrap();
        let e = junk.order_echo().unwrap();
        assert_eq!(
            (e.filled_qty, e.avg_price, e.reason),
            (None, None, Some("halted"))
        );
        // A status word of the venue's own is passed on for the reader to report,
        // unless it only acknowledges.
        let unread = |status: &str| {
            let text = format!(
                r#"{{"type":"order","data":{{"client_order_id":"c1","status":"{status}"}}}}"#
            );
            let env = Envelope::decode(&text).unwrap();
            env.order_echo().unwrap().unread_status.map(str::to_owned)
        };
        assert_eq!(unread(" DONE_FOR_DAY "), Some("DONE_FOR_DAY".into()));
        assert_eq!(unread("new"), None);
        assert_eq!(unread("Pending-New"), None);
        assert_eq!(unread("FILLED"), None);
        // The client's own order sent back by an echo server: not an acknowledgement.
        let echoed = r#"{"type":"order","data":{"client_order_id":"c1","symbol":"AAPL","side":"buy","qty":1}}"#;
        assert_eq!(echo(echoed), None);
        assert_eq!(
            echo(r#"{"type":"order","data":{"client_order_id":"c1","qty":"1"}}"#),
            None
        );
        // Nothing to match by: not an acknowledgement.
        assert_eq!(
            echo(r#"{"type":"order","data":{"id":"V7","status":"new"}}"#),
            None
        );
        assert_eq!(
            echo(r#"{"type":"order","data":{"client_order_id":7}}"#),
            None
        );
        assert_eq!(
            echo(r#"{"type":"update","data":{"client_order_id":"c1"}}"#),
            None
        );
        assert_eq!(echo(r#"{"type":"order"}"#), None);
    }

    #[test]
    fn a_timestamp_is_read_in_every_json_form_and_passed_on_unchanged_for_an_unknown_type() {
        let ts = |raw: &str| {
            Envelope::decode(&format!(r#"{{"type":"pong","timestamp":{raw}}}"#))
                .unwrap()
                .timestamp
        };
        assert_eq!(
            ts(r#""2025-01-01T12:00:00Z""#),
            Some(Timestamp::Text("2025-01-01T12:00:00Z".into()))
        );
        // An escaped string is resolved.
        assert_eq!(
            ts(r#""2025\u002d01""#),
            Some(Timestamp::Text("2025-01".into()))
        );
        assert_eq!(
            ts("1735732800000"),
            Some(Timestamp::Number(1735732800000.0))
        );
        assert_eq!(ts("-5"), Some(Timestamp::Number(-5.0)));
        assert_eq!(ts("1735732800.25"), Some(Timestamp::Number(1735732800.25)));
        assert_eq!(ts("null"), None);
        for junk in [r#"{"when":"now"}"#, "[1,2]", "true"] {
            assert_eq!(ts(junk), Some(Timestamp::Unreadable), "{junk}");
        }
        // An unknown type passes the field on as the same JSON value: an integer stays
        // an integer.
        for raw in [
            r#""2025-01-01T12:00:00Z""#,
            "1735732800000",
            "-5",
            "1.5",
            "null",
            r#"{"when":["now",1]}"#,
            "[1,2]",
            "false",
        ] {
            let text = format!(r#"{{"type":"tick","timestamp":{raw}}}"#);
            let Payload::Other(m) = Envelope::decode(&text).unwrap().payload else {
                panic!("not passed on: {text}")
            };
            assert_eq!(m["timestamp"].to_string(), raw, "{text}");
        }
        // `timestamp` before `type` is read the same way.
        let early = Envelope::decode(r#"{"timestamp":17,"type":"tick"}"#).unwrap();
        let Payload::Other(m) = early.payload else {
            panic!("not passed on")
        };
        assert_eq!(m["timestamp"], json!(17));
    }

    #[test]
    fn a_price_update_stores_its_symbol_and_a_short_timestamp_inline() {
        // Up to 24 bytes each, decoding allocates nothing for them (the hot path).
        let up = Envelope::decode(
            r#"{"type":"update","data":{"symbol":"BRK.B","price":1},"timestamp":"2025-01-01T12:00:00.123Z"}"#,
        )
        .unwrap();
        let Payload::Update(u) = &up.payload else {
            panic!("not an update")
        };
        assert!(!u.symbol.is_heap_allocated());
        let Some(Timestamp::Text(t)) = &up.timestamp else {
            panic!("no text timestamp")
        };
        assert_eq!(t, "2025-01-01T12:00:00.123Z");
        assert!(!t.is_heap_allocated());
        // A longer one (microseconds and an offset) is kept whole, on the heap.
        let long = "2025-01-01T12:00:00.123456+02:00";
        let env = Envelope::decode(&format!(
            r#"{{"type":"update","data":{{"symbol":"A","price":1}},"timestamp":"{long}"}}"#
        ))
        .unwrap();
        let Some(Timestamp::Text(t)) = &env.timestamp else {
            panic!("no text timestamp")
        };
        assert_eq!(t, long);
        assert!(t.is_heap_allocated());
        // 2025-01-01T10:00:00Z is 1735725600 s after the epoch.
        let ms = env.timestamp.unwrap().unix_ms().unwrap();
        assert!((ms - 1_735_725_600_123.456).abs() < 1e-3, "{ms}");
    }

    #[test]
    fn decodes_every_seed_example() {
        let ping = Envelope::decode(r#"{"type":"ping"}"#).unwrap();
        assert_eq!(ping.payload, Payload::Ping);

        let pong =
            Envelope::decode(r#"{"type":"pong","timestamp":"2025-01-01T12:00:00Z"}"#).unwrap();
        assert_eq!(pong.payload, Payload::Pong);
        assert_eq!(
            pong.timestamp,
            Some(Timestamp::Text("2025-01-01T12:00:00Z".into()))
        );

        let up = Envelope::decode(
            r#"{"type":"update","data":{"symbol":"AAPL","price":150.25,"volume":1000000,"change":2.5,"changePercent":1.69}}"#,
        )
        .unwrap();
        assert_eq!(
            up.payload,
            Payload::Update(PriceUpdate {
                symbol: "AAPL".into(),
                price: 150.25,
                volume: 1_000_000,
                change: 2.5,
                change_percent: 1.69
            })
        );

        let order = Envelope::decode(
            r#"{"type":"order","data":{"id":"abc123","symbol":"AAPL","side":"buy","qty":100,"status":"filled","filled_at":"2025-01-01T12:00:00Z"}}"#,
        )
        .unwrap();
        let Payload::Order(o) = order.payload else {
            panic!("not an order")
        };
        assert_eq!(o.id.as_deref(), Some("abc123"));
        assert_eq!(o.side, Side::Buy);
        assert_eq!(o.status, Some(OrderStatus::Filled));

        let err = Envelope::decode(
            r#"{"type":"error","data":{"code":"CONNECTION_ERROR","message":"Failed to connect to market data feed","details":{}}}"#,
        )
        .unwrap();
        let Payload::Error(e) = err.payload else {
            panic!("not an error")
        };
        assert_eq!(e.code, "CONNECTION_ERROR");
    }

    #[test]
    fn data_before_type_still_decodes_typed() {
        let up =
            Envelope::decode(r#"{"data":{"symbol":"X","price":1.0},"type":"update"}"#).unwrap();
        assert!(matches!(up.payload, Payload::Update(ref u) if u.symbol == "X"));
    }

    #[test]
    fn unknown_types_pass_through_whole() {
        let text = r#"{"type":"news","data":{"headline":"hi"},"timestamp":5,"source":"wire"}"#;
        let env = Envelope::decode(text).unwrap();
        assert_eq!(env.kind(), "news");
        let back: Value = serde_json::from_str(&env.encode()).unwrap();
        assert_eq!(back, serde_json::from_str::<Value>(text).unwrap());
    }

    #[test]
    fn subscribe_accepts_top_level_symbols() {
        let a = Envelope::decode(r#"{"type":"subscribe","symbols":["A","B"]}"#).unwrap();
        let b = Envelope::decode(r#"{"type":"subscribe","data":{"symbols":["A","B"]}}"#).unwrap();
        assert_eq!(a, b);
        assert_eq!(a, Envelope::subscribe(["A", "B"]));
    }

    #[test]
    fn round_trips() {
        for env in [
            Envelope::ping(),
            Envelope::subscribe(["AAPL"]),
            Envelope::unsubscribe(["AAPL"]),
            Envelope {
                payload: Payload::Pong,
                timestamp: Some(Timestamp::Text("t".into())),
            },
        ] {
            assert_eq!(Envelope::decode(&env.encode()).unwrap(), env);
        }
        assert_eq!(Envelope::ping().encode(), r#"{"type":"ping"}"#);
    }

    #[test]
    fn only_text_that_is_not_json_is_malformed() {
        for bad in [
            "",
            "{",
            "not json",
            r#"{"type":"update","data":{"price":1e999}}"#,
        ] {
            let e = Envelope::decode(bad).unwrap_err();
            assert!(e.to_string().starts_with("malformed message"), "{bad}: {e}");
        }
        // Valid JSON that does not fit the protocol is passed on whole, and marked.
        let other = Envelope::decode(r#"{"op":"pong","data":{}}"#).unwrap();
        assert!(!other.is_unexpected(), "another dialect: raw, not counted");
        assert_eq!(other.kind(), "");
        for odd in [
            "[]",
            "42",
            r#"{"type":7}"#,
            r#"{"type":"update"}"#,
            r#"{"type":"update","data":{"symbol":"A"}}"#,
            r#"{"type":"order","data":{"symbol":"A","side":"hold","qty":1}}"#,
            r#"{"type":"ping","type":"pong"}"#,
        ] {
            let env = Envelope::decode(odd).unwrap_or_else(|e| panic!("{odd}: {e}"));
            assert!(env.is_unexpected(), "{odd}: {env:?}");
        }
        let env = Envelope::decode(r#"{"type":"update","data":{"symbol":"A"}}"#).unwrap();
        let Payload::Other(m) = &env.payload else {
            panic!()
        };
        assert_eq!(
            (m["type"].as_str(), m["data"]["symbol"].as_str()),
            (Some("update"), Some("A"))
        );
    }

    #[test]
    fn escaped_keys_and_types_decode_like_plain_ones() {
        let plain = Envelope::decode(r#"{"type":"update","data":{"symbol":"A","price":2}}"#);
        let escaped =
            Envelope::decode(r#"{"ty\u0070e":"upd\u0061te","data":{"symbol":"A","price":2}}"#);
        assert_eq!(plain.unwrap(), escaped.unwrap());
        let other = Envelope::decode(r#"{"type":"n\u0065ws","d\u0061ta":1}"#).unwrap();
        let Payload::Other(m) = other.payload else {
            panic!("an unknown type is passed on whole")
        };
        assert_eq!(m["type"], "news");
        assert_eq!(m["data"], 1);
    }

    #[test]
    fn timestamps_may_be_strings_numbers_or_absent_and_never_reject_a_message() {
        let at = |text: &str| Envelope::decode(text).unwrap().timestamp;
        assert_eq!(
            at(r#"{"type":"pong","timestamp":1764115200000}"#),
            Some(Timestamp::Number(1_764_115_200_000.0))
        );
        assert_eq!(
            at(r#"{"type":"pong","timestamp":1764115200.25}"#),
            Some(Timestamp::Number(1_764_115_200.25))
        );
        assert_eq!(at(r#"{"type":"pong"}"#), None);
        assert_eq!(
            at(r#"{"type":"pong","timestamp":{"s":1}}"#),
            Some(Timestamp::Unreadable)
        );
        let env = Envelope::decode(r#"{"type":"pong","data":"anything at all","timestamp":true}"#)
            .unwrap();
        assert_eq!(env.payload, Payload::Pong, "a pong whatever its body");
        let env = Envelope::decode_slice(
            br#"{"type":"update","data":{"symbol":"A","price":2},"timestamp":1764115200}"#,
        )
        .unwrap();
        assert!(matches!(env.payload, Payload::Update(_)));
        assert_eq!(env.timestamp.unwrap().unix_ms(), Some(1_764_115_200_000.0));
        let _ = json!({});
    }
}
