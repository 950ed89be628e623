//! The ESB PQ state machine.
//!
//! Two bits per event source: P (an event was forwarded and not yet
//! EOIed) and Q (another trigger arrived meanwhile). `01` is "off": triggers
//! are dropped. The same machine runs on source ESBs and on the ESn/ESe
//! bits of an END.
//!
//! | Event   | 00        | 10     | 11        | 01     |
//! |---------|-----------|--------|-----------|--------|
//! | trigger | 10, fwd   | 11     | 11        | 01     |
//! | EOI     | 00        | 00     | 10, fwd   | 01     |

use std::sync::atomic::{AtomicU8, Ordering};

/// P bit value.
pub const P: u8 = 0b10;
/// Q bit value.
pub const Q: u8 = 0b01;
/// PQ = 00: ready.
pub const RESET: u8 = 0b00;
/// PQ = 10: one event forwarded.
pub const PENDING: u8 = 0b10;
/// PQ = 11: forwarded and another trigger latched.
pub const QUEUED: u8 = 0b11;
/// PQ = 01: off.
pub const OFF: u8 = 0b01;

/// Trigger: returns the new PQ and whether the event is forwarded.
#[inline]
pub const fn trigger(pq: u8) -> (u8, bool) {
    match pq & 3 {
        RESET => (PENDING, true),
        PENDING | QUEUED => (QUEUED, false),
        _ => (OFF, false),
    }
}

/// EOI: returns the new PQ and whether a latched event is forwarded.
#[inline]
pub const fn eoi(pq: u8) -> (u8, bool) {
    match pq & 3 {
        RESET | PENDING => (RESET, false),
        QUEUED => (PENDING, true),
        _ => (OFF, false),
    }
}

/// Applies `f` to the PQ bits (the low two bits) of an atomic status byte,
/// leaving its other bits as they are; returns (old byte, f's result).
#[inline]
pub fn update<R>(cell: &AtomicU8, mut f: impl FnMut(u8) -> (u8, R)) -> (u8, R) {
    let mut old = cell.load(Ordering::Acquire);
    loop {
        let (pq, r) = f(old & 3);
        let new = (old & !3) | (pq & 3);
        if new == old {
            return (old, r);
        }
        match cell.compare_exchange_weak(old, new, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return (old, r),
            Err(cur) => old = cur,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_cell_by_cell() {
        assert_eq!(trigger(RESET), (PENDING, true));
        assert_eq!(trigger(PENDING), (QUEUED, false));
        assert_eq!(trigger(QUEUED), (QUEUED, false));
        assert_eq!(trigger(OFF), (OFF, false));
        assert_eq!(eoi(RESET), (RESET, false));
        assert_eq!(eoi(PENDING), (RESET, false));
        assert_eq!(eoi(QUEUED), (PENDING, true));
        assert_eq!(eoi(OFF), (OFF, false));
    }

    #[test]
    fn update_keeps_other_bits() {
        let cell = AtomicU8::new(0x04);
        let (old, fwd) = update(&cell, trigger);
        assert_eq!(old, 0x04);
        assert!(fwd);
        assert_eq!(cell.load(Ordering::Relaxed), 0x06);
    }
}
