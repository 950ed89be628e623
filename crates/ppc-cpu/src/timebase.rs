//! The timebase (512 MHz, derived from the host's monotonic clock) and the
//! decrementer.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Timebase frequency, as every pseries machine advertises it.
pub const TIMEBASE_HZ: u64 = 512_000_000;

/// The machine's timebase: one per machine, shared (cloned) by every vCPU
/// so that TB is the same on all threads. TB = ticks since `epoch` plus an
/// offset (set on migration to continue the source's TB).
#[derive(Debug, Clone)]
pub struct Timebase {
    inner: Arc<TbInner>,
}

#[derive(Debug)]
struct TbInner {
    epoch: Instant,
    offset: AtomicU64,
}

impl Default for Timebase {
    fn default() -> Self {
        Self::new()
    }
}

impl Timebase {
    /// A timebase that reads 0 now.
    pub fn new() -> Self {
        Timebase {
            inner: Arc::new(TbInner {
                epoch: Instant::now(),
                offset: AtomicU64::new(0),
            }),
        }
    }

    /// The guest timebase now.
    #[inline]
    pub fn read(&self) -> u64 {
        self.host_ticks()
            .wrapping_add(self.inner.offset.load(Ordering::Relaxed))
    }

    /// Makes the timebase read `value` now (migration destination, or a
    /// machine reset to 0). Every vCPU sharing it sees the change.
    pub fn set(&self, value: u64) {
        let off = value.wrapping_sub(self.host_ticks());
        self.inner.offset.store(off, Ordering::Relaxed);
    }

    /// Host ticks (512 MHz) since this timebase's epoch.
    #[inline]
    pub fn host_ticks(&self) -> u64 {
        let ns = self.inner.epoch.elapsed().as_nanos() as u64;
        // 512 MHz = 64/125 ticks per nanosecond.
        ((ns as u128 * 64) / 125) as u64
    }

    /// Host nanoseconds corresponding to `ticks` timebase ticks.
    pub fn ticks_to_ns(ticks: u64) -> u64 {
        ((ticks as u128 * 125) / 64).min(u64::MAX as u128) as u64
    }
}

/// The decrementer of one vCPU: the value written and the TB at the write.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Decrementer {
    /// Value written (already truncated/sign-extended to the width).
    pub value: u64,
    /// Guest TB at the time of the write.
    pub tb_at_write: u64,
    /// Width in bits (32, or the large-decrementer width with `LPCR[LD]`).
    pub bits: u32,
}

impl Decrementer {
    /// The value at guest time `tb`, sign-extended from the width.
    #[inline]
    pub fn read(&self, tb: u64) -> u64 {
        let v = self.value.wrapping_sub(tb.wrapping_sub(self.tb_at_write));
        sext(v, self.bits)
    }

    /// Level of the decrementer exception: the value is negative.
    #[inline]
    pub fn negative(&self, tb: u64) -> bool {
        (self.read(tb) as i64) < 0
    }

    /// Writes a new value at guest time `tb`.
    pub fn write(&mut self, v: u64, tb: u64) {
        self.value = sext(v, self.bits);
        self.tb_at_write = tb;
    }

    /// Guest TB at which the value next becomes negative (if it is
    /// non-negative now), for idle timeouts.
    pub fn deadline(&self, tb: u64) -> Option<u64> {
        let now = self.read(tb) as i64;
        if now < 0 {
            None
        } else {
            Some(tb.wrapping_add(now as u64 + 1))
        }
    }
}

/// Sign-extends the low `bits` bits of `v`.
#[inline]
pub(crate) fn sext(v: u64, bits: u32) -> u64 {
    if bits >= 64 {
        v
    } else {
        let s = 64 - bits;
        (((v << s) as i64) >> s) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dec_counts_down_and_goes_negative() {
        let mut d = Decrementer {
            bits: 32,
            ..Default::default()
        };
        d.write(10, 1000);
        assert_eq!(d.read(1000), 10);
        assert_eq!(d.read(1010), 0);
        assert!(!d.negative(1010));
        assert!(d.negative(1011));
        assert_eq!(d.read(1011), u64::MAX);
        assert_eq!(d.deadline(1000), Some(1011));
        // 32-bit: writing a value with the MSB set is negative at once.
        d.write(0x8000_0000, 0);
        assert!(d.negative(0));
        // Large decrementer: 0x7fff_ffff is far from negative.
        d.bits = 56;
        d.write(0x7fff_ffff, 0);
        assert!(!d.negative(0));
    }

    #[test]
    fn tb_advances() {
        let tb = Timebase::new();
        let a = tb.host_ticks();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = tb.host_ticks();
        assert!(b - a >= 1_000_000, "{a} {b}");
        assert_eq!(Timebase::ticks_to_ns(512), 1000);
        tb.set(1 << 40);
        let c = tb.read();
        assert!((1 << 40..(1 << 40) + 512_000_000).contains(&c));
    }
}
