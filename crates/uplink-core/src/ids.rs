//! The names the core gives things: a dial and its socket ([`ConnId`]), a message
//! handed to it ([`MessageId`]).

use serde::Serialize;

/// Identifies one dial and the socket it produced. Events about an older connection
/// (a late close, a frame from a socket being torn down) are recognised and ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ConnId(pub u64);

/// Names one message given to [`Connection::handle_send`](crate::Connection::handle_send). The caller assigns it (the
/// engine's handle does, so `send` can return it at once); events about the message
/// ([`Event::Sent`], [`Event::QueueDropped`]) carry it instead of the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MessageId(pub u64);
