//! What a client sends: [`Outbound`] messages, validated once, when they are built.
//!
//! An order is built from an [`OrderRequest`] (typed fields, no JSON by hand); any
//! other message may be given as raw JSON text, which must be an object with a string
//! `type`. Either way the text is encoded or checked here, once: the engine, the core
//! and the app never parse an outbound message again.

use std::fmt;

use serde_json::{Map, Value};

use crate::{Envelope, OrderUpdate, Payload, Side};

/// The longest `client_order_id` accepted (venues commonly allow 32 to 64).
pub const MAX_CLIENT_ORDER_ID: usize = 64;
/// The largest order quantity accepted: a guard against a typo, not a risk limit.
pub const MAX_ORDER_QTY: f64 = 1_000_000.0;

/// Why an outbound message could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboundError {
    /// The text is not a JSON object.
    NotJson(String),
    /// The object has no string `type`.
    NoType,
    /// A symbol is empty, too long or has characters a feed would not accept.
    InvalidSymbol(String),
    /// The quantity is not a number above 0 and at most [`MAX_ORDER_QTY`].
    InvalidQuantity,
    /// The `client_order_id` is empty, too long, or not visible ASCII.
    InvalidClientOrderId(String),
}

impl fmt::Display for OutboundError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutboundError::NotJson(e) => write!(f, "invalid message: {e}"),
            OutboundError::NoType => {
                f.write_str("invalid message: a message needs a string field \"type\"")
            }
            OutboundError::InvalidSymbol(s) => write!(
                f,
                "invalid symbol {s:?}: use 1 to 32 letters, digits or . _ - / : ^ ="
            ),
            OutboundError::InvalidQuantity => write!(
                f,
                "quantity must be a number above 0 and at most {}",
                fmt_thousands(MAX_ORDER_QTY as u64)
            ),
            OutboundError::InvalidClientOrderId(id) => write!(
                f,
                "invalid client_order_id {id:?}: use 1 to {MAX_CLIENT_ORDER_ID} visible ASCII characters"
            ),
        }
    }
}

impl std::error::Error for OutboundError {}

fn fmt_thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Whether a feed would accept `s` as a symbol: 1 to 32 letters, digits or `. _ - / : ^ =`.
pub fn valid_symbol(s: &str) -> bool {
    (1..=32).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-_/:^=".contains(c))
}

/// A new order, as a trader places it.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderRequest {
    /// Instrument symbol.
    pub symbol: String,
    /// Buy or sell.
    pub side: Side,
    /// Quantity, above 0.
    pub qty: f64,
    /// The client's own reference, echoed back by the feed in every update of the order.
    pub client_order_id: Option<String>,
}

/// One message for the feed, valid by construction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outbound {
    /// The JSON text written to the socket.
    text: String,
    /// Whether it is an `order` (orders are tracked by the app; other messages are not).
    is_order: bool,
    /// The order's `client_order_id`, if it is an order that has one.
    client_order_id: Option<String>,
}

impl Outbound {
    /// An `order` message. The symbol, quantity and `client_order_id` are checked here.
    pub fn order(req: OrderRequest) -> Result<Outbound, OutboundError> {
        if !valid_symbol(&req.symbol) {
            return Err(OutboundError::InvalidSymbol(req.symbol));
        }
        if !(req.qty.is_finite() && req.qty > 0.0 && req.qty <= MAX_ORDER_QTY) {
            return Err(OutboundError::InvalidQuantity);
        }
        if let Some(id) = &req.client_order_id {
            let ok = (1..=MAX_CLIENT_ORDER_ID).contains(&id.len())
                && id.bytes().all(|b| b.is_ascii_graphic());
            if !ok {
                return Err(OutboundError::InvalidClientOrderId(id.clone()));
            }
        }
        let client_order_id = req.client_order_id.clone();
        let text = Envelope::new(Payload::Order(Box::new(OrderUpdate {
            id: None,
            client_order_id: req.client_order_id,
            symbol: req.symbol,
            side: req.side,
            qty: req.qty,
            status: None,
            filled_qty: None,
            avg_price: None,
            filled_at: None,
            reason: None,
        })))
        .encode();
        Ok(Outbound {
            text,
            is_order: true,
            client_order_id,
        })
    }

    /// Any message given as JSON text: it must be an object with a string `type`.
    pub fn json(text: impl Into<String>) -> Result<Outbound, OutboundError> {
        let text = text.into();
        let map: Map<String, Value> =
            serde_json::from_str(&text).map_err(|e| OutboundError::NotJson(e.to_string()))?;
        let Some(Value::String(kind)) = map.get("type") else {
            return Err(OutboundError::NoType);
        };
        let is_order = kind == "order";
        let client_order_id = is_order
            .then(|| map.get("data")?.get("client_order_id")?.as_str())
            .flatten()
            .map(str::to_owned);
        Ok(Outbound {
            text,
            is_order,
            client_order_id,
        })
    }

    /// The same order with `client_order_id` set in its `data` (re-encoded once).
    /// Anything but an order is returned unchanged.
    pub fn with_client_order_id(self, client_order_id: String) -> Outbound {
        if !self.is_order {
            return self;
        }
        let Ok(mut map) = serde_json::from_str::<Map<String, Value>>(&self.text) else {
            return self;
        };
        let data = map
            .entry("data")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(d) = data {
            d.insert(
                "client_order_id".to_owned(),
                Value::String(client_order_id.clone()),
            );
        } else {
            return self;
        }
        Outbound {
            text: Value::Object(map).to_string(),
            is_order: true,
            client_order_id: Some(client_order_id),
        }
    }

    /// The JSON text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The JSON text, owned.
    pub fn into_text(self) -> String {
        self.text
    }

    /// Whether this is an `order` message.
    pub fn is_order(&self) -> bool {
        self.is_order
    }

    /// The order's `client_order_id`, if it is an order that has one.
    pub fn client_order_id(&self) -> Option<&str> {
        self.client_order_id.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(symbol: &str, qty: f64) -> OrderRequest {
        OrderRequest {
            symbol: symbol.into(),
            side: Side::Buy,
            qty,
            client_order_id: Some("ui-1".into()),
        }
    }

    #[test]
    fn an_order_is_encoded_once_with_its_fields() {
        let o = Outbound::order(req("AAPL", 10.0)).unwrap();
        let v: Value = serde_json::from_str(o.text()).unwrap();
        assert_eq!(v["type"], "order");
        assert_eq!(v["data"]["symbol"], "AAPL");
        assert_eq!(v["data"]["side"], "buy");
        assert_eq!(v["data"]["qty"], 10.0);
        assert_eq!(v["data"]["client_order_id"], "ui-1");
        assert!(o.is_order());
        assert_eq!(o.client_order_id(), Some("ui-1"));
        // What the feed decodes is what was asked for.
        let Payload::Order(back) = Envelope::decode(o.text()).unwrap().payload else {
            panic!("not an order")
        };
        assert_eq!((back.symbol.as_str(), back.qty), ("AAPL", 10.0));
    }

    #[test]
    fn bad_orders_get_a_clear_error() {
        assert_eq!(
            Outbound::order(req("", 1.0)),
            Err(OutboundError::InvalidSymbol(String::new()))
        );
        for qty in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e7] {
            assert_eq!(
                Outbound::order(req("AAPL", qty)),
                Err(OutboundError::InvalidQuantity)
            );
        }
        assert_eq!(
            OutboundError::InvalidQuantity.to_string(),
            "quantity must be a number above 0 and at most 1,000,000"
        );
        let mut r = req("AAPL", 1.0);
        r.client_order_id = Some("has space".into());
        assert!(matches!(
            Outbound::order(r),
            Err(OutboundError::InvalidClientOrderId(_))
        ));
    }

    #[test]
    fn raw_json_needs_an_object_with_a_string_type() {
        assert!(matches!(
            Outbound::json("not json"),
            Err(OutboundError::NotJson(_))
        ));
        assert_eq!(
            Outbound::json(r#"{"no":"type"}"#),
            Err(OutboundError::NoType)
        );
        let o = Outbound::json(r#"{"type":"hello"}"#).unwrap();
        assert!(!o.is_order());
        let o = Outbound::json(
            r#"{"type":"order","data":{"symbol":"A","side":"buy","qty":1,"client_order_id":"c1"}}"#,
        )
        .unwrap();
        assert_eq!((o.is_order(), o.client_order_id()), (true, Some("c1")));
    }
}
