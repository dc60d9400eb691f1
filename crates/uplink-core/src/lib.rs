//! Uplink's connection core: everything that decides, nothing that does.
//!
//! [`Connection`] is a pure state machine in the style of quinn-proto and str0m. It
//! owns the connection state, backoff, heartbeat, latency, statistics, the outbound
//! queue and the subscription set, but never touches a socket, a timer or a clock:
//!
//! * inputs are `handle_*` calls, each given `now: Instant` (commands from the user,
//!   socket events reported by the driver, and [`Connection::handle_timeout`]);
//! * outputs are pulled with [`Connection::poll_action`] (what the driver must do to
//!   the network: dial, write, close, abort), [`Connection::poll_event`] (what
//!   subscribers should hear: state changes, retries, latency, messages, sends and
//!   drops by [`MessageId`], errors) and [`Connection::poll_timeout`] (when to call
//!   `handle_timeout` next);
//! * the picture of the connection is [`Connection::status`], a [`Status`] with the
//!   words people read ([`Status::label`]) and the Connect/Disconnect rule
//!   ([`Toggle`]); [`Connection::status_revision`] changes whenever something it shows
//!   changes, so a driver publishes it only then;
//! * randomness (backoff jitter) comes from a seed given to [`Connection::new`].
//!
//! The same inputs always give the same outputs, so every scenario is tested
//! deterministically with explicit instants (see `tests/scenarios.rs`).
//!
//! # Module tour
//!
//! The vocabulary, shared by every part and every crate above this one:
//! * `ids`: [`ConnId`] (a dial and its socket) and [`MessageId`] (a message given to
//!   the core).
//! * `event`: [`StateKind`], [`Action`] (what the driver must do), [`Event`] (what
//!   subscribers hear; the one event type of Uplink) and [`CommandError`].
//! * `config`: [`Config`], every tunable, validated.
//! * `status`: [`Status`], the published snapshot, and its words.
//!
//! The connection, one concern a file under `connection/`:
//! * `connection/mod.rs`: [`Connection`], its `handle_*`/`poll_*` entry points and the
//!   polling order; `lifecycle.rs`: the transitions (dial, up, fail, back off, drop);
//!   `state.rs`: each state's data, built by `enter()`; `timers.rs`: every deadline,
//!   named; `status.rs`: the status builder; `outputs.rs`: what waits to be polled.
//! * `connection/heartbeat.rs`: pings, pongs, latency, the silence limit.
//! * `connection/freshness.rs`: stale data, each symbol's clock, the feed's delay.
//! * `connection/outbound.rs`: send, cancel, resend, discard, subscriptions, pacing,
//!   acknowledgements.
//!
//! The parts' own arithmetic, each tested on its own:
//! * `backoff`: delays and jitter; `failover`: endpoints, breakers and the failback
//!   probe; `clock`: timestamps, the peer's clock offset, wall-clock conversion;
//!   `latency`: the round-trip window; `queue`: the bounded outbound queue; `orders`:
//!   orders awaiting acknowledgement; `stats`: counters and error kinds.
//! * `rate`: the outbound rate limiter the engine applies before a send reaches the
//!   core; `redact`: secrets removed from every text shown; `network`: which network
//!   changes matter.
//!
//! # States and transitions
//!
//! ```text
//!              connect                 handshake ok
//! Disconnected ───────► Connecting ───────────────────► Connected
//!      ▲                    │ retryable failure            │ lost (close, I/O error,
//!      │ disconnect         ▼                              │ pong timeout, silence)
//!      │ (from any)    Reconnecting ◄──────────────────────┘
//!      │               (attempt n: wait backoff(n), dial) ── dial ok ──► Connected
//!      │                    │ attempt n == max fails, or a fatal failure (401/403, TLS)
//!      │                    ▼
//!      └─────────────── Error ── manual reconnect / network back / resumed ──► Connecting
//! ```
//!
//! * A fatal failure (authentication, TLS) goes to `error` at once from any dial:
//!   retrying cannot fix it, and a tight loop against an auth wall helps nobody.
//! * `reconnect` (manual) from any state drops the current socket, cancels any pending
//!   backoff, resets the attempt count and dials at once.
//! * The attempt count resets only after a connection has stayed up for `min_uptime`,
//!   so a server that accepts and drops at once walks the backoff up to `error`.
//!
//! # Writes
//!
//! After every handshake the core first re-sends the whole subscription set (one
//! `subscribe`), sends a first heartbeat ping (so latency is known at once), then flushes the outbound queue in order, one message per
//! `flush_interval`. A queued message leaves the queue only when the driver confirms
//! it was written ([`Connection::handle_written`]); if the connection dies first, it is
//! written again on the next connection, so nothing is lost or duplicated across a
//! reconnect.

#![deny(missing_docs)]

mod backoff;
mod clock;
mod config;
mod connection;
mod event;
mod failover;
mod ids;
mod latency;
pub mod network;
mod orders;
mod queue;
mod rate;
pub mod redact;
mod stats;
mod status;

pub use backoff::{Backoff, SplitMix64};
pub use clock::{feed_delay_ms, parse_rfc3339_ms, ClockEstimator, SKEW_WARN_MS};
pub use config::{Config, ConfigError, Heartbeat, PongMatch, RateLimit, UnackedOrders};
pub use connection::{validate_symbols, Connection, DELAY_SAMPLE_EVERY, RESUME_PROBE};
pub use event::{Action, CommandError, Event, Expiry, StateKind, Unconfirmed};
pub use failover::{role, BreakerConfig, BreakerState, EndpointStatus, Endpoints};
pub use ids::{ConnId, MessageId};
pub use latency::{ms as duration_ms, LatencySummary, LatencyTracker};
pub use orders::{AckTracker, Awaiting};
pub use queue::{OutboundQueue, Queued};
pub use rate::RateLimiter;
pub use redact::Redactor;
pub use stats::{ErrorKind, LastError, StatsSnapshot};
pub use status::{fmt_secs, shorten, Status, SymbolHealth, Toggle};
pub use uplink_proto as proto;
