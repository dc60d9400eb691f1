//! Orders you can trust: which written orders the feed has not acknowledged yet.
//!
//! A write accepted by the kernel is not delivery. An order stays *awaiting
//! acknowledgement* from its write until an inbound `order` message echoes its
//! `client_order_id`. Across a reconnect the core re-sends every order still awaiting
//! one, with the same `client_order_id`, so a feed that deduplicates by it (as venues
//! do) executes each exactly once: delivery of orders is at-least-once, execution
//! exactly-once when the feed deduplicates.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use uplink_proto::Outbound;

use crate::ids::MessageId;

/// How many acknowledged `client_order_id`s are remembered, so the order's later
/// updates (partial fills, fill) are not counted as acknowledgements of unknown ids.
const ACKED_REMEMBERED: usize = 1024;

/// One order written and not yet acknowledged.
#[derive(Debug, Clone)]
pub struct Awaiting {
    /// The id `send` returned.
    pub id: MessageId,
    /// The order, as written (re-sent verbatim).
    pub message: Outbound,
    /// When it was last written.
    pub written_at: Instant,
    /// When it is reported unconfirmed, unless it was already.
    pub deadline: Option<Instant>,
    /// Held for the trader (`unacked_orders = hold`): not re-sent unless asked.
    pub held: bool,
}

/// The orders awaiting acknowledgement, in the order they were first written.
#[derive(Debug, Default)]
pub struct AckTracker {
    /// Oldest first.
    awaiting: VecDeque<Awaiting>,
    /// `client_order_id`s acknowledged recently, newest last.
    acked: VecDeque<String>,
    /// Inbound order messages whose `client_order_id` was never sent from here.
    unknown_acks: u64,
}

impl AckTracker {
    /// Starts tracking an order just written, with an acknowledgement deadline of
    /// `ack_timeout` from `now`. Returns an order that had to stop being tracked to
    /// keep at most `capacity` (the oldest), if any.
    pub fn written(
        &mut self,
        id: MessageId,
        message: Outbound,
        now: Instant,
        ack_timeout: Duration,
        capacity: usize,
    ) -> Option<Awaiting> {
        if self.rewritten(id, now, ack_timeout) {
            return None;
        }
        let evicted = (self.awaiting.len() >= capacity.max(1))
            .then(|| self.awaiting.pop_front())
            .flatten();
        self.awaiting.push_back(Awaiting {
            id,
            message,
            written_at: now,
            deadline: Some(now + ack_timeout),
            held: false,
        });
        evicted
    }

    /// `id` was written again (a re-send): a new deadline, the same place in line.
    /// False if it is not tracked.
    pub fn rewritten(&mut self, id: MessageId, now: Instant, ack_timeout: Duration) -> bool {
        match self.awaiting.iter_mut().find(|a| a.id == id) {
            Some(a) => {
                a.written_at = now;
                a.deadline = Some(now + ack_timeout);
                true
            }
            None => false,
        }
    }

    /// An inbound order message echoed `client_order_id`: the order awaiting it, if
    /// any, is acknowledged and no longer tracked.
    pub fn ack(&mut self, client_order_id: &str) -> Option<Awaiting> {
        let pos = self
            .awaiting
            .iter()
            .position(|a| a.message.client_order_id() == Some(client_order_id));
        match pos {
            Some(i) => {
                if self.acked.len() == ACKED_REMEMBERED {
                    self.acked.pop_front();
                }
                self.acked.push_back(client_order_id.to_owned());
                self.awaiting.remove(i)
            }
            None => {
                if !self.acked.iter().any(|c| c == client_order_id) {
                    self.unknown_acks += 1;
                }
                None
            }
        }
    }

    /// Whether `id` is awaiting acknowledgement.
    pub fn contains(&self, id: MessageId) -> bool {
        self.awaiting.iter().any(|a| a.id == id)
    }

    /// The earliest acknowledgement deadline still to fire.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.awaiting.iter().filter_map(|a| a.deadline).min()
    }

    /// Orders whose deadline has passed at `now`: reported once each, still tracked
    /// (a late acknowledgement is still recognised, and a reconnect still re-sends).
    pub fn overdue(&mut self, now: Instant) -> Vec<MessageId> {
        self.awaiting
            .iter_mut()
            .filter(|a| a.deadline.is_some_and(|d| now >= d))
            .map(|a| {
                a.deadline = None;
                a.id
            })
            .collect()
    }

    /// The orders to re-send after a reconnect, oldest first (those not held).
    pub fn to_resend(&self) -> Vec<(MessageId, String)> {
        self.awaiting
            .iter()
            .filter(|a| !a.held)
            .map(|a| (a.id, a.message.text().to_owned()))
            .collect()
    }

    /// Holds every order not held yet (the connection was lost and the trader wants
    /// to decide); returns them.
    pub fn hold_all(&mut self) -> Vec<MessageId> {
        self.awaiting
            .iter_mut()
            .filter(|a| !a.held)
            .map(|a| {
                a.held = true;
                a.deadline = None;
                a.id
            })
            .collect()
    }

    /// Releases a held order for re-sending; returns its text.
    pub fn release(&mut self, id: MessageId) -> Option<String> {
        let a = self.awaiting.iter_mut().find(|a| a.id == id && a.held)?;
        a.held = false;
        Some(a.message.text().to_owned())
    }

    /// Stops tracking `id` (the trader discarded it).
    pub fn remove(&mut self, id: MessageId) -> Option<Awaiting> {
        let i = self.awaiting.iter().position(|a| a.id == id)?;
        self.awaiting.remove(i)
    }

    /// Stops tracking everything (the feed changed: nothing goes to the new one).
    pub fn clear(&mut self) -> Vec<MessageId> {
        self.awaiting.drain(..).map(|a| a.id).collect()
    }

    /// Orders awaiting acknowledgement.
    pub fn len(&self) -> usize {
        self.awaiting.len()
    }

    /// None awaiting.
    pub fn is_empty(&self) -> bool {
        self.awaiting.is_empty()
    }

    /// Inbound order messages that acknowledged nothing sent from here.
    pub fn unknown_acks(&self) -> u64 {
        self.unknown_acks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(cid: &str) -> Outbound {
        Outbound::json(format!(
            r#"{{"type":"order","data":{{"symbol":"A","side":"buy","qty":1,"client_order_id":"{cid}"}}}}"#
        ))
        .unwrap()
    }

    #[test]
    fn acks_match_by_client_order_id_and_later_updates_are_not_unknown() {
        let now = Instant::now();
        let mut t = AckTracker::default();
        t.written(MessageId(1), order("a"), now, Duration::from_secs(10), 100);
        t.written(MessageId(2), order("b"), now, Duration::from_secs(10), 100);
        assert_eq!(t.ack("b").unwrap().id, MessageId(2));
        assert_eq!(t.ack("b").map(|a| a.id), None, "a fill after the ack");
        assert_eq!(t.unknown_acks(), 0);
        assert!(t.ack("zzz").is_none());
        assert_eq!(t.unknown_acks(), 1);
        assert_eq!(
            t.to_resend(),
            [(MessageId(1), order("a").text().to_owned())]
        );
    }

    #[test]
    fn tracking_is_bounded() {
        let now = Instant::now();
        let mut t = AckTracker::default();
        for i in 0..3 {
            assert!(t
                .written(MessageId(i), order(&i.to_string()), now, Duration::ZERO, 3)
                .is_none());
        }
        let evicted = t.written(MessageId(9), order("9"), now, Duration::ZERO, 3);
        assert_eq!(evicted.unwrap().id, MessageId(0));
        assert_eq!(t.len(), 3);
    }
}
