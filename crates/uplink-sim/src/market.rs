//! The simulated market: a shared book of random-walk prices, and order lifecycles.
//!
//! Prices are reproducible: the book is driven by one seeded generator, so the same
//! seed and the same sequence of requests give the same prices.

use std::collections::HashMap;
use std::fmt::Write as _;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// The symbols the simulator quotes, with their opening prices.
pub const UNIVERSE: &[(&str, f64)] = &[
    ("AAPL", 189.50),
    ("MSFT", 415.20),
    ("GOOGL", 152.80),
    ("AMZN", 178.30),
    ("META", 484.10),
    ("NVDA", 875.40),
    ("TSLA", 175.90),
    ("AMD", 162.70),
    ("INTC", 43.10),
    ("NFLX", 610.00),
    ("ORCL", 125.60),
    ("CRM", 301.20),
    ("ADBE", 520.40),
    ("IBM", 190.30),
    ("JPM", 198.70),
    ("BAC", 37.90),
    ("GS", 455.00),
    ("V", 279.80),
    ("MA", 470.10),
    ("WMT", 60.20),
    ("KO", 60.50),
    ("PEP", 170.10),
    ("DIS", 112.40),
    ("NKE", 94.30),
    ("XOM", 118.60),
    ("CVX", 157.20),
    ("SPY", 520.00),
    ("QQQ", 445.00),
    ("BTC-USD", 67000.00),
    ("ETH-USD", 3400.00),
];

/// One instrument's running quote.
#[derive(Debug, Clone)]
pub struct Quote {
    /// Opening price, the reference of `change`.
    pub open: f64,
    /// Last price.
    pub price: f64,
    /// Session volume.
    pub volume: u64,
}

/// The book: every symbol's quote and the generator that moves them.
#[derive(Debug)]
pub struct Book {
    /// Quotes by symbol.
    quotes: HashMap<String, Quote>,
    /// The one source of randomness, seeded.
    rng: SmallRng,
    /// Ids handed to accepted orders.
    next_order: u64,
}

impl Book {
    /// A book at opening prices, with its generator seeded.
    pub fn new(seed: u64) -> Book {
        Book {
            quotes: UNIVERSE
                .iter()
                .map(|&(s, p)| {
                    (
                        s.to_owned(),
                        Quote {
                            open: p,
                            price: p,
                            volume: 0,
                        },
                    )
                })
                .collect(),
            rng: SmallRng::seed_from_u64(seed),
            next_order: 0,
        }
    }

    /// Whether the simulator quotes `symbol`.
    pub fn knows(&self, symbol: &str) -> bool {
        self.quotes.contains_key(symbol)
    }

    /// The last price of `symbol`.
    pub fn price(&self, symbol: &str) -> Option<f64> {
        self.quotes.get(symbol).map(|q| q.price)
    }

    /// Moves `symbol` one random-walk step (±0.1 % at most, never below a cent) and
    /// appends the `update` frame to `out`.
    pub fn step(&mut self, symbol: &str, timestamp: &str, out: &mut String) {
        let Some(q) = self.quotes.get_mut(symbol) else {
            return;
        };
        let r: f64 = self.rng.random_range(-1.0..1.0);
        q.price = (q.price * (1.0 + r * 0.001)).max(0.01);
        q.volume += self.rng.random_range(1..=500u64) * 10;
        let change = q.price - q.open;
        let pct = change / q.open * 100.0;
        // Hand-written: this runs up to millions of times a second.
        let _ = write!(
            out,
            r#"{{"type":"update","data":{{"symbol":"{symbol}","price":{:.2},"volume":{},"change":{:.2},"changePercent":{:.2}}},"timestamp":"{timestamp}"}}"#,
            q.price, q.volume, change, pct
        );
    }

    /// A new order id.
    pub fn order_id(&mut self) -> String {
        self.next_order += 1;
        format!("ord-{:06}", self.next_order)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uplink_proto::{Envelope, Payload};

    #[test]
    fn updates_are_valid_protocol_and_reproducible() {
        let run = |seed| {
            let mut b = Book::new(seed);
            let mut out = Vec::new();
            for _ in 0..100 {
                let mut s = String::new();
                b.step("AAPL", "2025-01-01T00:00:00.000Z", &mut s);
                out.push(s);
            }
            out
        };
        let a = run(7);
        assert_eq!(a, run(7));
        assert_ne!(a, run(8));
        for text in &a {
            let env = Envelope::decode(text).unwrap();
            let Payload::Update(u) = env.payload else {
                panic!("{text}")
            };
            assert_eq!(u.symbol, "AAPL");
            assert!(u.price > 150.0 && u.price < 230.0);
            assert!(u.volume > 0);
        }
    }
}
