//! The bounded outbound queue: what the user sent that has not been written yet.
//!
//! A message stays at the head until the driver confirms the socket accepted it, so a
//! connection dying mid-write neither loses it nor sends it twice. On overflow the
//! oldest message that is not being written is dropped and handed back for reporting.

use std::collections::VecDeque;
use std::time::Instant;

use uplink_proto::Outbound;

use crate::ids::MessageId;

/// One user message waiting to be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    /// The caller's name for it; the driver echoes it back when written.
    pub id: MessageId,
    /// The message, validated when it was built.
    pub message: Outbound,
    /// When it was queued (how long it waited is worth logging).
    pub queued_at: Instant,
}

/// A FIFO with a fixed capacity and an in-flight head.
#[derive(Debug)]
pub struct OutboundQueue {
    /// Waiting messages, oldest first.
    items: VecDeque<Queued>,
    /// Maximum number of waiting messages.
    capacity: usize,
    /// The head has been handed to the driver and not yet confirmed.
    head_in_flight: bool,
    /// Messages dropped by overflow since start.
    dropped: u64,
}

impl OutboundQueue {
    /// An empty queue holding at most `capacity` messages.
    pub fn new(capacity: usize) -> Self {
        OutboundQueue {
            items: VecDeque::new(),
            capacity: capacity.max(1),
            head_in_flight: false,
            dropped: 0,
        }
    }

    /// Appends a message; returns the message dropped to make room, if any.
    pub fn push(&mut self, id: MessageId, message: Outbound, now: Instant) -> Option<Queued> {
        let mut dropped = None;
        if self.items.len() >= self.capacity {
            // Never drop the message being written: its fate is decided by the socket.
            let victim = usize::from(self.head_in_flight && self.items.len() > 1);
            dropped = self.items.remove(victim);
            if victim == 0 {
                self.head_in_flight = false;
            }
            self.dropped += 1;
        }
        self.items.push_back(Queued {
            id,
            message,
            queued_at: now,
        });
        dropped
    }

    /// Changes the capacity; if the queue holds more, the oldest waiting messages are
    /// dropped and returned.
    pub fn set_capacity(&mut self, capacity: usize) -> Vec<Queued> {
        self.capacity = capacity.max(1);
        let mut dropped = Vec::new();
        while self.items.len() > self.capacity {
            let victim = usize::from(self.head_in_flight);
            if let Some(q) = self.items.remove(victim) {
                self.dropped += 1;
                dropped.push(q);
            }
        }
        dropped
    }

    /// Takes `id` out of the queue, unless it is being written (its fate is the
    /// socket's now) or not there.
    pub fn remove(&mut self, id: MessageId) -> Option<Queued> {
        let i = self.items.iter().position(|q| q.id == id)?;
        if i == 0 && self.head_in_flight {
            return None;
        }
        self.items.remove(i)
    }

    /// Whether `id` is waiting (or being written).
    pub fn contains(&self, id: MessageId) -> bool {
        self.items.iter().any(|q| q.id == id)
    }

    /// When the oldest order not being written has waited `ttl`.
    pub fn next_expiry(&self, ttl: std::time::Duration) -> Option<Instant> {
        self.items
            .iter()
            .skip(usize::from(self.head_in_flight))
            .filter(|q| q.message.is_order())
            .map(|q| q.queued_at + ttl)
            .min()
    }

    /// Takes out every order that has waited `ttl` by `now` (not the one being written).
    pub fn expire(&mut self, now: Instant, ttl: std::time::Duration) -> Vec<Queued> {
        let skip = usize::from(self.head_in_flight);
        let mut out = Vec::new();
        let mut i = skip;
        while i < self.items.len() {
            let q = &self.items[i];
            if q.message.is_order() && now >= q.queued_at + ttl {
                out.extend(self.items.remove(i));
            } else {
                i += 1;
            }
        }
        out
    }

    /// Takes out everything not being written.
    pub fn drain_waiting(&mut self) -> Vec<Queued> {
        let keep = usize::from(self.head_in_flight).min(self.items.len());
        self.items.drain(keep..).collect()
    }

    /// Marks the head in flight and returns it, unless it already is or the queue is empty.
    pub fn take_head(&mut self) -> Option<&Queued> {
        if self.head_in_flight {
            return None;
        }
        let head = self.items.front()?;
        self.head_in_flight = true;
        Some(head)
    }

    /// The driver wrote message `id`: it leaves the queue. Returns it.
    pub fn confirm(&mut self, id: MessageId) -> Option<Queued> {
        if self.head_in_flight && self.items.front().is_some_and(|q| q.id == id) {
            self.head_in_flight = false;
            return self.items.pop_front();
        }
        None
    }

    /// The connection died: whatever was in flight goes back to waiting.
    pub fn requeue_in_flight(&mut self) {
        self.head_in_flight = false;
    }

    /// Whether a message is being written.
    pub fn in_flight(&self) -> bool {
        self.head_in_flight
    }

    /// Waiting messages, the one in flight included.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// No message waiting.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Capacity.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Messages dropped by overflow since start.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(n: u64) -> (MessageId, Outbound) {
        let text = format!(r#"{{"type":"note","n":{n}}}"#);
        (MessageId(n), Outbound::json(text).unwrap())
    }

    fn push(q: &mut OutboundQueue, n: u64) -> Option<u64> {
        let (id, m) = msg(n);
        q.push(id, m, Instant::now()).map(|d| d.id.0)
    }

    #[test]
    fn overflow_drops_the_oldest_waiting_message() {
        let mut q = OutboundQueue::new(3);
        for i in 0..3 {
            assert!(push(&mut q, i).is_none());
        }
        assert_eq!(push(&mut q, 3), Some(0));
        assert_eq!(q.dropped(), 1);
        // The head is in flight: the next overflow spares it and drops the one behind it.
        assert_eq!(q.take_head().unwrap().id, MessageId(1));
        assert_eq!(push(&mut q, 4), Some(2));
        assert_eq!(q.confirm(MessageId(1)).unwrap().id, MessageId(1));
        let rest: Vec<_> = std::iter::from_fn(|| {
            let id = q.take_head()?.id;
            q.confirm(id)
        })
        .map(|m| m.id.0)
        .collect();
        assert_eq!(rest, [3, 4]);
    }

    #[test]
    fn requeued_head_is_sent_again_not_lost() {
        let mut q = OutboundQueue::new(10);
        push(&mut q, 7);
        let id = q.take_head().unwrap().id;
        assert!(q.take_head().is_none(), "one in flight at a time");
        q.requeue_in_flight();
        assert_eq!(q.confirm(id), None, "a stale confirmation is ignored");
        assert_eq!(q.take_head().unwrap().id, id);
        assert_eq!(
            q.confirm(id).unwrap().message.text(),
            r#"{"type":"note","n":7}"#
        );
        assert!(q.is_empty());
    }
}
