//! What goes out: the user's messages through the bounded queue (send, cancel,
//! expire), orders awaiting acknowledgement (resend, discard, hold), the subscription
//! set, and the pacing of a backlog after a reconnect.
//!
//! [`Pacing`] is one connection's part, held by the connected state; [`Outbox`]
//! outlives connections: nothing queued is lost across a reconnect.

use std::collections::BTreeSet;
use std::time::Instant;

use uplink_proto::{Envelope, Outbound};

use crate::config::{Config, UnackedOrders};
use crate::connection::outputs::Outputs;
use crate::event::{Action, CommandError, Event, Expiry, Unconfirmed};
use crate::ids::{ConnId, MessageId};
use crate::orders::AckTracker;
use crate::queue::OutboundQueue;

/// One connection's pacing of the queue.
#[derive(Debug)]
pub(crate) struct Pacing {
    /// The queue holds a backlog from before this connection: flush it paced.
    pub on: bool,
    /// When the next paced message may go.
    pub next_at: Instant,
}

impl Pacing {
    /// A connection that opened at `now`, with a backlog or not.
    pub fn enter(now: Instant, backlog: bool) -> Pacing {
        Pacing {
            on: backlog,
            next_at: now,
        }
    }
}

/// What outlives connections on the way out.
#[derive(Debug)]
pub(crate) struct Outbox {
    /// User messages not yet written.
    pub queue: OutboundQueue,
    /// Orders written and not yet acknowledged.
    pub acks: AckTracker,
    /// The desired subscription set, kept sorted and free of duplicates.
    pub subscriptions: BTreeSet<String>,
}

impl Outbox {
    /// Empty, with the configured queue size.
    pub fn new(config: &Config) -> Self {
        Outbox {
            queue: OutboundQueue::new(config.queue_size),
            acks: AckTracker::default(),
            subscriptions: BTreeSet::new(),
        }
    }

    /// Queues a message; a full queue drops its oldest (reported).
    pub fn send(&mut self, now: Instant, id: MessageId, message: Outbound, out: &mut Outputs) {
        if let Some(dropped) = self.queue.push(id, message, now) {
            out.emit(Event::QueueDropped {
                id: dropped.id,
                total: self.queue.dropped(),
            });
        }
        out.touch();
    }

    /// A new queue size: a smaller queue drops its oldest messages (reported).
    pub fn resize(&mut self, capacity: usize, out: &mut Outputs) {
        for dropped in self.queue.set_capacity(capacity) {
            out.emit(Event::QueueDropped {
                id: dropped.id,
                total: self.queue.dropped(),
            });
        }
    }

    /// Cancels a queued message before it is written.
    pub fn cancel(&mut self, id: MessageId, out: &mut Outputs) -> Result<(), CommandError> {
        self.queue.remove(id).ok_or(CommandError::NotQueued(id.0))?;
        out.emit(Event::Cancelled { id });
        out.touch();
        Ok(())
    }

    /// Re-sends an order held as unconfirmed: now on `conn` if connected, else
    /// right after the next reconnect.
    pub fn resend(
        &mut self,
        id: MessageId,
        conn: Option<ConnId>,
        out: &mut Outputs,
    ) -> Result<(), CommandError> {
        let text = self.acks.release(id).ok_or(CommandError::NotHeld(id.0))?;
        if let Some(conn) = conn {
            out.act(Action::Transmit {
                conn,
                id: Some(id),
                text,
            });
        }
        out.touch();
        Ok(())
    }

    /// Forgets an order held as unconfirmed: it is never re-sent.
    pub fn discard(&mut self, id: MessageId, out: &mut Outputs) -> Result<(), CommandError> {
        self.acks.remove(id).ok_or(CommandError::NotHeld(id.0))?;
        out.emit(Event::Discarded { id });
        out.touch();
        Ok(())
    }

    /// The feed changed: every waiting message expires, and orders awaiting the old
    /// feed's acknowledgement are unconfirmed.
    pub fn feed_changed(&mut self, out: &mut Outputs) {
        for q in self.queue.drain_waiting() {
            out.emit(Event::Expired {
                id: q.id,
                reason: Expiry::FeedChanged,
            });
        }
        for id in self.acks.clear() {
            out.emit(Event::Unconfirmed {
                id,
                reason: Unconfirmed::FeedChanged,
            });
        }
        out.touch();
    }

    /// Adds or removes symbols; returns those that changed, in the order given.
    pub fn change_subscriptions(&mut self, symbols: &[String], add: bool) -> Vec<String> {
        let mut changed: Vec<String> = Vec::new();
        for s in symbols {
            let did = if add {
                self.subscriptions.insert(s.clone())
            } else {
                self.subscriptions.remove(s)
            };
            if did && !changed.contains(s) {
                changed.push(s.clone());
            }
        }
        changed
    }

    /// A connection `conn` came up: the whole subscription set in one `subscribe`.
    pub fn resubscribe(&self, conn: ConnId, out: &mut Outputs) {
        if !self.subscriptions.is_empty() {
            let env = Envelope::subscribe(self.subscriptions.iter().cloned());
            out.transmit_control(conn, env.encode());
        }
    }

    /// After a reconnect on `conn`, with `unacked_orders = resend`: orders written
    /// before and never acknowledged go first, oldest first, with the same
    /// `client_order_id`, so a deduplicating feed executes them once.
    pub fn resend_unacked(&self, conn: ConnId, config: &Config, out: &mut Outputs) {
        if config.unacked_orders == UnackedOrders::Resend {
            for (id, text) in self.acks.to_resend() {
                out.act(Action::Transmit {
                    conn,
                    id: Some(id),
                    text,
                });
            }
        }
    }

    /// The live connection is going, with `unacked_orders = hold`: orders awaiting
    /// acknowledgement are held for the trader.
    pub fn hold_on_loss(&mut self, config: &Config, out: &mut Outputs) {
        if config.unacked_orders == UnackedOrders::Hold {
            for id in self.acks.hold_all() {
                out.emit(Event::Unconfirmed {
                    id,
                    reason: Unconfirmed::ConnectionLost,
                });
            }
        }
    }

    /// The driver wrote message `id`: it leaves the queue (and an order starts
    /// waiting for its acknowledgement), or it was a re-send.
    pub fn written(&mut self, now: Instant, id: MessageId, config: &Config, out: &mut Outputs) {
        if let Some(q) = self.queue.confirm(id) {
            out.emit(Event::Sent { id: q.id });
            // Only an order with a client_order_id can be acknowledged (the engine
            // gives every order one).
            if q.message.client_order_id().is_some() {
                let evicted =
                    self.acks
                        .written(q.id, q.message, now, config.ack_timeout, config.queue_size);
                if let Some(old) = evicted {
                    out.emit(Event::Unconfirmed {
                        id: old.id,
                        reason: Unconfirmed::Untracked,
                    });
                }
            }
            out.touch();
        } else if self.acks.contains(id) {
            // A re-send after a reconnect: a fresh deadline, same place in line.
            self.acks.rewritten(id, now, config.ack_timeout);
            out.emit(Event::Resent { id });
            out.touch();
        }
    }

    /// An inbound `order` echoed `client_order_id`: the order it names is
    /// acknowledged.
    pub fn acked(&mut self, echo: uplink_proto::OrderEcho<'_>, out: &mut Outputs) {
        if let Some(a) = self.acks.ack(echo.client_order_id) {
            out.emit(Event::Acked {
                id: a.id,
                order_id: echo.order_id,
                status: echo.status,
            });
            out.touch();
        }
    }

    /// When the next acknowledgement is overdue.
    pub fn ack_deadline(&self) -> Option<Instant> {
        self.acks.next_deadline()
    }

    /// Orders unacknowledged at `now` past `ack_timeout`: reported once each.
    pub fn acks_overdue(&mut self, now: Instant, out: &mut Outputs) {
        for id in self.acks.overdue(now) {
            out.emit(Event::Unconfirmed {
                id,
                reason: Unconfirmed::AckTimeout,
            });
            out.touch();
        }
    }

    /// When the next queued order reaches `order_ttl` (zero: never).
    pub fn ttl_deadline(&self, config: &Config) -> Option<Instant> {
        (!config.order_ttl.is_zero())
            .then(|| self.queue.next_expiry(config.order_ttl))
            .flatten()
    }

    /// Queued orders that waited `order_ttl` by `now` expire, never sent late.
    pub fn expire(&mut self, now: Instant, config: &Config, out: &mut Outputs) {
        if config.order_ttl.is_zero() {
            return;
        }
        for q in self.queue.expire(now, config.order_ttl) {
            out.emit(Event::Expired {
                id: q.id,
                reason: Expiry::Ttl,
            });
            out.touch();
        }
    }

    /// When the next paced message of a backlog may go.
    pub fn flush_deadline(&self, p: &Pacing) -> Option<Instant> {
        (p.on && !self.queue.is_empty() && !self.queue.in_flight()).then_some(p.next_at)
    }

    /// Hands the next queued message to the driver if connection `conn` can take it
    /// now.
    pub fn pump(
        &mut self,
        p: &mut Pacing,
        conn: ConnId,
        now: Instant,
        config: &Config,
        out: &mut Outputs,
    ) {
        if self.queue.is_empty() {
            p.on = false;
            return;
        }
        if p.on && now < p.next_at {
            return;
        }
        if let Some(head) = self.queue.take_head() {
            let (id, text) = (head.id, head.message.text().to_owned());
            if p.on {
                p.next_at = now + config.flush_interval;
            }
            out.act(Action::Transmit {
                conn,
                id: Some(id),
                text,
            });
        }
    }
}
