//! Socket events the driver reports: frames in (each decoded and handed to the parts
//! that read it, then to subscribers) and writes done.

use std::time::Instant;

use uplink_proto::{Envelope, Payload, Timestamp};

use crate::config::Heartbeat;
use crate::connection::freshness::is_data;
use crate::connection::heartbeat::{Heartbeats, PongKind};
use crate::connection::state::State;
use crate::connection::Connection;
use crate::event::Event;
use crate::ids::{ConnId, MessageId};
use crate::stats::ErrorKind;

impl Connection {
    /// A text frame arrived on `conn`.
    pub fn handle_text(&mut self, now: Instant, conn: ConnId, text: &str) {
        if self.note_inbound(now, conn, text.len()) {
            self.dispatch(now, Envelope::decode(text));
        }
    }

    /// A binary frame arrived on `conn`; it is decoded as UTF-8 JSON.
    pub fn handle_binary(&mut self, now: Instant, conn: ConnId, bytes: &[u8]) {
        if self.note_inbound(now, conn, bytes.len()) {
            self.dispatch(now, Envelope::decode_slice(bytes));
        }
    }

    /// A protocol-level Ping or Pong frame arrived: proof of life, nothing more.
    /// (The driver's WebSocket library answers Pings itself.)
    pub fn handle_control_frame(&mut self, now: Instant, conn: ConnId, len: usize) {
        self.note_inbound(now, conn, len);
    }

    /// A protocol-level Pong frame arrived: proof of life, and with
    /// `heartbeat = websocket` the round trip of the Ping whose payload it echoes.
    pub fn handle_ws_pong(&mut self, now: Instant, conn: ConnId, payload: &[u8]) {
        if !self.note_inbound(now, conn, payload.len()) {
            return;
        }
        if let Some(c) = self.state.connected_mut() {
            let (config, wall) = (&self.config, &self.wall);
            self.heartbeats
                .ws_pong(&mut c.ping, config, payload, now, wall, &mut self.out);
        }
    }

    /// The driver wrote a frame handed out by [`Action::Transmit`].
    pub fn handle_written(
        &mut self,
        now: Instant,
        conn: ConnId,
        id: Option<MessageId>,
        bytes: usize,
    ) {
        if self.state.connected().is_none_or(|c| c.conn != conn) {
            return;
        }
        self.stats.messages_sent += 1;
        self.stats.bytes_sent += bytes as u64;
        if let Some(id) = id {
            self.outbox.written(now, id, &self.config, &mut self.out);
            self.pump_queue(now);
        }
    }

    /// Counts an inbound frame; false if it belongs to a connection we no longer have.
    fn note_inbound(&mut self, now: Instant, conn: ConnId, len: usize) -> bool {
        match &mut self.state {
            State::Connected(c) if c.conn == conn => {
                c.last_inbound = now;
                self.stats.messages_received += 1;
                self.stats.bytes_received += len as u64;
                true
            }
            _ => false,
        }
    }

    /// A decoded message goes to each part that reads it, then to subscribers.
    fn dispatch(&mut self, now: Instant, decoded: Result<Envelope, uplink_proto::DecodeError>) {
        let env = match decoded {
            Ok(env) => env,
            Err(e) => {
                self.report_error(now, ErrorKind::MalformedMessage, &e.to_string());
                return;
            }
        };
        if env.is_unexpected() {
            self.stats.unexpected_messages += 1;
        }
        if matches!(env.timestamp, Some(Timestamp::Unreadable)) {
            self.stats.unreadable_timestamps += 1;
        }
        let pong = Heartbeats::is_pong(&self.config, &env);
        if pong == Some(PongKind::Custom) {
            // The answer to a custom ping is the heartbeat's alone.
            self.pong(now, PongKind::Custom, &env);
            return;
        }
        if is_data(&env.payload) {
            let offset = self.heartbeats.clock.offset_ms();
            let conn = self.state.connected_mut().map(|c| &mut c.fresh);
            self.freshness
                .data(now, &env, conn, offset, &self.wall, &mut self.out);
        }
        // Any `order` message that echoes a client_order_id acknowledges that order,
        // whether or not its body fits the protocol's order type.
        if let Some(echo) = env.order_echo() {
            self.outbox.acked(echo, &mut self.out);
        }
        match &env.payload {
            Payload::Pong => self.pong(now, PongKind::Protocol, &env),
            Payload::Ping => {
                // The feed checks on us: answer as it would answer us.
                if let Some(conn) = self.current_conn() {
                    self.out
                        .transmit_control(conn, Envelope::new(Payload::Pong).encode());
                }
            }
            Payload::Error(e) => {
                let msg = format!("feed error {}: {}", e.code, e.message);
                self.report_error(now, ErrorKind::ServerError, &msg);
                self.out.emit(Event::Message(env));
            }
            _ => self.out.emit(Event::Message(env)),
        }
    }

    /// A pong arrived: the heartbeat takes it.
    fn pong(&mut self, now: Instant, kind: PongKind, env: &Envelope) {
        let answers = kind == PongKind::Custom || self.config.heartbeat == Heartbeat::Json;
        let ping = self.state.connected_mut().map(|c| &mut c.ping);
        let stamp = env.timestamp.as_ref();
        self.heartbeats
            .pong(ping, answers, stamp, now, &self.wall, &mut self.out);
    }
}
