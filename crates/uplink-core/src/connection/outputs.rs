//! What the connection has to say, waiting to be polled: actions for the driver,
//! events for subscribers, and the status revision. Every part writes here, so each
//! can be handed this alone while the connection lends it its own data.

use std::collections::VecDeque;

use crate::event::{Action, Event};
use crate::ids::ConnId;

/// The outputs of a [`Connection`](crate::Connection) not yet polled.
#[derive(Debug, Default)]
pub(crate) struct Outputs {
    /// Pending outputs for the driver, oldest first.
    pub actions: VecDeque<Action>,
    /// Pending outputs for subscribers, oldest first.
    pub events: VecDeque<Event>,
    /// Bumped whenever something the status shows changes, other than the counters
    /// and clocks that move with every frame; lets the driver publish only changes.
    pub revision: u64,
}

impl Outputs {
    /// Something for the driver to do.
    pub fn act(&mut self, action: Action) {
        self.actions.push_back(action);
    }

    /// Something for subscribers to hear.
    pub fn emit(&mut self, event: Event) {
        self.events.push_back(event);
    }

    /// Something the status shows changed.
    pub fn touch(&mut self) {
        self.revision = self.revision.wrapping_add(1);
    }

    /// Writes a control message (ping, subscription): not queued, not counted as a
    /// user message.
    pub fn transmit_control(&mut self, conn: ConnId, text: String) {
        self.act(Action::Transmit {
            conn,
            id: None,
            text,
        });
    }
}
