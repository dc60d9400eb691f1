//! What decoding a frame allocates, counted by a global allocator that wraps the
//! system's and counts the calls made on the thread that asked.
//!
//! The hot path of a fast feed is decoding price updates. As the protocol writes them
//! (`type` before `data`), with a symbol and a text timestamp of up to 24 bytes each,
//! or a numeric timestamp, decoding one allocates nothing. A longer text timestamp
//! (microseconds and an offset) allocates once, for itself.
//!
//! Here and not in uplink-proto because it needs `unsafe impl GlobalAlloc`, which
//! uplink-proto forbids; this crate only denies it.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use uplink_engine::proto::{Envelope, Payload, Timestamp};

/// The system allocator, counting the allocations of the thread that switched
/// counting on.
struct Counting;

thread_local! {
    /// Whether this thread counts (only the test's own thread does).
    static ON: Cell<bool> = const { Cell::new(false) };
    /// Allocations (and reallocations) made on this thread while it counts.
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

fn note() {
    // `try_with`: during a thread's teardown the slots may be gone; nothing to count.
    let _ = ON.try_with(|on| {
        if on.get() {
            let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        }
    });
}

// SAFETY: every call is passed to `System` unchanged; the counting touches only
// const-initialised thread locals without destructors, which do not allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Decodes `text` and returns the envelope and how many allocations that took.
fn decode_counting(text: &str) -> (Envelope, usize) {
    COUNT.with(|c| c.set(0));
    ON.with(|on| on.set(true));
    let env = Envelope::decode(text);
    ON.with(|on| on.set(false));
    (env.expect("decodes"), COUNT.with(Cell::get))
}

#[test]
fn decoding_a_price_update_allocates_nothing_for_its_symbol_and_a_short_timestamp() {
    let update = |ts: &str| {
        format!(
            r#"{{"type":"update","data":{{"symbol":"BRK.B","price":412.5,"volume":1200,"change":-1.25,"changePercent":-0.3}},"timestamp":{ts}}}"#
        )
    };
    // The simulator's and JavaScript's form (24 bytes), a numeric one, and none.
    for ts in [r#""2025-01-01T12:00:00.123Z""#, "1735732800123", "null"] {
        let (env, n) = decode_counting(&update(ts));
        assert!(matches!(env.payload, Payload::Update(_)), "{ts}");
        assert_eq!(n, 0, "allocations decoding an update with timestamp {ts}");
    }
    // Python's isoformat(): 32 bytes, kept whole on the heap, one allocation.
    let long = r#""2025-01-01T12:00:00.123456+02:00""#;
    let (env, n) = decode_counting(&update(long));
    assert!(matches!(env.timestamp, Some(Timestamp::Text(_))));
    assert_eq!(n, 1, "allocations decoding an update with timestamp {long}");
    // A symbol longer than 24 bytes is allocated too.
    let (_, n) = decode_counting(
        r#"{"type":"update","data":{"symbol":"A-VERY-LONG-INSTRUMENT-NAME-2030","price":1}}"#,
    );
    assert_eq!(n, 1, "allocations decoding an update with a 32-byte symbol");
}
