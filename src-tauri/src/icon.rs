//! Tray icons drawn at run time: one colour and one shape per look, so the state
//! reads at a glance and not by colour alone.
//!
//! | look | colour | shape |
//! |---|---|---|
//! | disconnected | gray | hollow ring |
//! | connecting, reconnecting | yellow | ring with a gap (a spinner) |
//! | connected | green | filled disc |
//! | connected but stale (no prices for `stale_after`) | amber (orange) | filled rounded square |
//! | error | red | filled triangle with a white "!" |

use uplink_engine::{StateKind, Status};

/// What the tray icon shows: the five states, with "connected" split by freshness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Look {
    /// Not connected, by choice.
    Disconnected,
    /// Connecting or reconnecting.
    Busy,
    /// Connected, prices flowing.
    Connected,
    /// Connected, but no prices for `stale_after`: what is on screen is old.
    Stale,
    /// Gave up, or a failure retrying cannot fix.
    Error,
}

impl Look {
    /// Every look.
    pub const ALL: [Look; 5] = [
        Look::Disconnected,
        Look::Busy,
        Look::Connected,
        Look::Stale,
        Look::Error,
    ];

    /// The look of a status.
    pub fn of(st: &Status) -> Look {
        match st.state {
            StateKind::Disconnected => Look::Disconnected,
            StateKind::Connecting | StateKind::Reconnecting => Look::Busy,
            StateKind::Connected if st.stale => Look::Stale,
            StateKind::Connected => Look::Connected,
            StateKind::Error => Look::Error,
        }
    }
}

/// Icon edge in pixels (rendered at this size; the panel scales it).
pub const SIZE: u32 = 32;

/// RGB of each look (Tailwind's 400/500 tones, legible on light and dark panels).
pub fn color(look: Look) -> [u8; 3] {
    match look {
        Look::Disconnected => [0x9c, 0xa3, 0xaf],
        Look::Busy => [0xea, 0xb3, 0x08],
        Look::Connected => [0x22, 0xc5, 0x5e],
        Look::Stale => [0xf9, 0x73, 0x16],
        Look::Error => [0xef, 0x44, 0x44],
    }
}

/// Coverage of pixel (x, y) by the state's shape, 0.0 to 1.0, and whether it is the
/// white mark inside the shape.
fn coverage(look: Look, px: f32, py: f32) -> (f32, bool) {
    let c = SIZE as f32 / 2.0;
    let (dx, dy) = (px - c, py - c);
    let r = (dx * dx + dy * dy).sqrt();
    let outer = 14.0;
    match look {
        Look::Connected => (f32::from(u8::from(r <= outer)), false),
        Look::Stale => {
            // A 24 px square with 4 px rounded corners.
            let (ax, ay) = (dx.abs(), dy.abs());
            let (half, radius) = (12.0, 4.0);
            let inside = if ax > half - radius && ay > half - radius {
                let (cx, cy) = (ax - (half - radius), ay - (half - radius));
                cx * cx + cy * cy <= radius * radius
            } else {
                ax <= half && ay <= half
            };
            (f32::from(u8::from(inside)), false)
        }
        Look::Disconnected => (f32::from(u8::from(r <= outer && r >= outer - 4.0)), false),
        Look::Busy => {
            // A 4 px ring with a 90° gap at the top right.
            let angle = dy.atan2(dx).to_degrees(); // 0° = right, -90° = up
            let in_gap = (-90.0..=0.0).contains(&angle);
            (
                f32::from(u8::from(r <= outer && r >= outer - 4.0 && !in_gap)),
                false,
            )
        }
        Look::Error => {
            // Triangle: apex (16, 2), base from (2, 29) to (30, 29).
            let (top, base) = (2.0, 29.0);
            if py < top || py > base {
                return (0.0, false);
            }
            let half = (py - top) / (base - top) * 14.0;
            if (px - c).abs() > half {
                return (0.0, false);
            }
            let bar = (px - c).abs() <= 1.6 && (10.0..=20.0).contains(&py);
            let dot = (px - c).abs() <= 1.6 && (23.0..=26.0).contains(&py);
            (1.0, bar || dot)
        }
    }
}

/// The icon for `look` as RGBA rows, top to bottom, 4×4 supersampled for smooth edges.
pub fn rgba(look: Look) -> Vec<u8> {
    let [r, g, b] = color(look);
    let mut out = Vec::with_capacity((SIZE * SIZE * 4) as usize);
    for y in 0..SIZE {
        for x in 0..SIZE {
            let (mut cov, mut mark) = (0.0, 0.0);
            for sy in 0..4 {
                for sx in 0..4 {
                    let (c, m) = coverage(
                        look,
                        x as f32 + (sx as f32 + 0.5) / 4.0,
                        y as f32 + (sy as f32 + 0.5) / 4.0,
                    );
                    cov += c / 16.0;
                    if m {
                        mark += 1.0 / 16.0;
                    }
                }
            }
            let mix = |base: u8| (f32::from(base) * (1.0 - mark) + 255.0 * mark).round() as u8;
            out.extend_from_slice(&[mix(r), mix(g), mix(b), (cov * 255.0).round() as u8]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn px(img: &[u8], x: u32, y: u32) -> [u8; 4] {
        let i = ((y * SIZE + x) * 4) as usize;
        [img[i], img[i + 1], img[i + 2], img[i + 3]]
    }

    #[test]
    fn each_state_has_its_colour_and_its_shape() {
        let connected = rgba(Look::Connected);
        assert_eq!(connected.len(), (SIZE * SIZE * 4) as usize);
        assert_eq!(
            px(&connected, 16, 16),
            [0x22, 0xc5, 0x5e, 255],
            "filled green disc"
        );
        assert_eq!(px(&connected, 0, 0)[3], 0, "transparent corner");

        let off = rgba(Look::Disconnected);
        assert_eq!(px(&off, 16, 16)[3], 0, "hollow: nothing in the middle");
        assert_eq!(px(&off, 16, 4), [0x9c, 0xa3, 0xaf, 255], "gray ring");

        let busy = rgba(Look::Busy);
        assert_eq!(
            px(&busy, 4, 16),
            [0xea, 0xb3, 0x08, 255],
            "yellow ring on the left"
        );
        assert_eq!(px(&busy, 25, 7)[3], 0, "gap at the top right");

        let stale = rgba(Look::Stale);
        assert_eq!(
            px(&stale, 16, 16),
            [0xf9, 0x73, 0x16, 255],
            "amber, not green"
        );
        assert_eq!(
            px(&stale, 5, 16),
            [0xf9, 0x73, 0x16, 255],
            "a square reaches the sides"
        );
        assert_eq!(px(&stale, 4, 4)[3], 0, "with rounded corners");

        let err = rgba(Look::Error);
        assert_eq!(px(&err, 9, 26), [0xef, 0x44, 0x44, 255], "red triangle");
        assert_eq!(
            px(&err, 16, 15),
            [255, 255, 255, 255],
            "white exclamation mark"
        );
        assert_eq!(px(&err, 3, 4)[3], 0, "triangle, not a square");
    }

    #[test]
    fn shapes_differ_even_without_colour() {
        let alpha = |s| rgba(s).chunks(4).map(|p| p[3] > 127).collect::<Vec<_>>();
        let shapes = Look::ALL.map(alpha);
        for i in 0..shapes.len() {
            for j in i + 1..shapes.len() {
                assert_ne!(
                    shapes[i], shapes[j],
                    "states {i} and {j} have the same silhouette"
                );
            }
        }
    }
}
