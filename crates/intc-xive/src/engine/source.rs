//! Interrupt sources: PQ and LSI state, and the ESB MMIO pages.
//!
//! One status byte per source, in an atomic: the PQ bits (`0x3`) and the
//! LSI "asserted" bit (`0x4`), the layout QEMU migrates. Every transition is
//! a compare-and-swap on that byte, so device threads and vCPU threads touch
//! a source without any lock. The bytes are interleaved in memory (source
//! `i` lives at `(i % 64) * stride + i / 64`) so that 64 consecutive
//! sources, such as the IPIs of 64 vCPUs, sit on 64 different cache lines
//! instead of one line shared by all of them.
//!
//! ESB geometry: each source has `1 << shift` bytes of MMIO. With the
//! two-page shifts (13, 17) the even half-page is the trigger page and the
//! odd half-page the management page; with one page (12, 16) the single page
//! does both. Offsets inside a page decode as in the XIVE architecture:
//!
//! | Offset      | Load                          | Store                    |
//! |-------------|-------------------------------|--------------------------|
//! | 0x000-0x3FF | EOI, returns 1 if forwarded   | trigger                  |
//! | 0x400-0x7FF | EOI, returns 1 if forwarded   | store EOI (if enabled)   |
//! | 0x800-0xBFF | get PQ                        | inject (forward, no PQ)  |
//! | 0xC00-0xCFF | set PQ=00, return old         | set PQ=00                |
//! | 0xD00-0xDFF | set PQ=01, return old         | set PQ=01                |
//! | 0xE00-0xEFF | set PQ=10, return old         | set PQ=10                |
//! | 0xF00-0xFFF | set PQ=11, return old         | set PQ=11                |
//!
//! Any store to a trigger page triggers; loads from it are invalid.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};

use crate::engine::pq;
use crate::error::XiveError;

/// Status bit: an LSI's line is asserted.
pub const STATUS_ASSERTED: u8 = 0x04;

/// Receives the events a source forwards (the router, usually).
pub trait Notifier {
    /// Source `srcno` of a block forwarded an event; `pq_checked` is false
    /// when the source skipped the PQ check (PQ disabled).
    fn notify(&self, srcno: u32, pq_checked: bool);
}

/// Options of a source block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceConfig {
    /// Number of sources.
    pub nr_irqs: u32,
    /// log2 of the ESB MMIO size per source: 12 or 16 (one page), 13 or 17
    /// (trigger page + management page).
    pub esb_shift: u32,
    /// Stores at 0x400-0x7FF of the management page are EOIs.
    pub store_eoi: bool,
    /// MSIs skip the PQ check and always forward (PQ offloaded to the
    /// router).
    pub pq_disable: bool,
    /// PQ value every source gets at reset (QEMU: 01, off).
    pub reset_pq: u8,
}

impl SourceConfig {
    /// The sPAPR defaults: two 64K pages per source, no store EOI, reset to
    /// "off".
    pub fn spapr(nr_irqs: u32) -> Self {
        Self {
            nr_irqs,
            esb_shift: 17,
            store_eoi: false,
            pq_disable: false,
            reset_pq: pq::OFF,
        }
    }
}

/// A block of interrupt sources with their ESB pages.
#[derive(Debug)]
pub struct SourceBlock {
    cfg: SourceConfig,
    status: Box<[AtomicU8]>,
    /// Distance between consecutive sources in `status`.
    stride: usize,
    lsi: Box<[AtomicU64]>,
}

/// Sources interleaved per cache line.
const INTERLEAVE: usize = 64;

/// A decoded ESB access: which source, and the offset inside its page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct EsbAddr {
    srcno: u32,
    offset: u32,
    trigger_page: bool,
}

impl SourceBlock {
    /// Builds a block; every source starts with `reset_pq` and as an MSI.
    pub fn new(cfg: SourceConfig) -> Result<Self, XiveError> {
        if !matches!(cfg.esb_shift, 12 | 13 | 16 | 17) {
            return Err(XiveError::EsbShift(cfg.esb_shift));
        }
        if cfg.nr_irqs == 0 {
            return Err(XiveError::NoSources);
        }
        let stride = (cfg.nr_irqs as usize).div_ceil(INTERLEAVE);
        let status = (0..stride * INTERLEAVE)
            .map(|_| AtomicU8::new(cfg.reset_pq & 3))
            .collect();
        let lsi = (0..cfg.nr_irqs.div_ceil(64))
            .map(|_| AtomicU64::new(0))
            .collect();
        Ok(Self {
            cfg,
            status,
            stride,
            lsi,
        })
    }

    /// The block's configuration.
    pub fn config(&self) -> &SourceConfig {
        &self.cfg
    }

    /// Number of sources.
    pub fn nr_irqs(&self) -> u32 {
        self.cfg.nr_irqs
    }

    /// Size in bytes of the ESB MMIO window of the whole block.
    pub fn esb_len(&self) -> u64 {
        u64::from(self.cfg.nr_irqs) << self.cfg.esb_shift
    }

    /// Whether each source has a separate trigger page.
    pub fn has_2pages(&self) -> bool {
        matches!(self.cfg.esb_shift, 13 | 17)
    }

    /// Offset of source `srcno`'s management page in the block's window.
    pub fn mgmt_page_offset(&self, srcno: u32) -> u64 {
        let base = u64::from(srcno) << self.cfg.esb_shift;
        if self.has_2pages() {
            base + (1 << (self.cfg.esb_shift - 1))
        } else {
            base
        }
    }

    /// Offset of source `srcno`'s trigger page in the block's window.
    pub fn trigger_page_offset(&self, srcno: u32) -> u64 {
        u64::from(srcno) << self.cfg.esb_shift
    }

    /// Page shift reported to guests: the size of one page.
    pub fn page_shift(&self) -> u32 {
        if self.has_2pages() {
            self.cfg.esb_shift - 1
        } else {
            self.cfg.esb_shift
        }
    }

    #[inline]
    fn cell(&self, srcno: u32) -> Option<&AtomicU8> {
        if srcno >= self.cfg.nr_irqs {
            return None;
        }
        let i = srcno as usize;
        self.status
            .get((i % INTERLEAVE) * self.stride + i / INTERLEAVE)
    }

    /// Whether `srcno` is a level-sensitive source.
    pub fn is_lsi(&self, srcno: u32) -> bool {
        self.lsi
            .get(srcno as usize / 64)
            .is_some_and(|w| w.load(Ordering::Acquire) & (1 << (srcno % 64)) != 0)
    }

    /// Sets whether `srcno` is level-sensitive.
    pub fn set_lsi(&self, srcno: u32, lsi: bool) {
        if let Some(w) = self.lsi.get(srcno as usize / 64) {
            let bit = 1u64 << (srcno % 64);
            if lsi {
                w.fetch_or(bit, Ordering::AcqRel);
            } else {
                w.fetch_and(!bit, Ordering::AcqRel);
            }
        }
    }

    /// The status byte (PQ | asserted) of `srcno`; 0 for an unknown source.
    pub fn status(&self, srcno: u32) -> u8 {
        self.cell(srcno).map_or(0, |c| c.load(Ordering::Acquire))
    }

    /// Replaces the status byte of `srcno` (migration).
    pub fn set_status(&self, srcno: u32, status: u8) {
        if let Some(c) = self.cell(srcno) {
            c.store(status & (STATUS_ASSERTED | 3), Ordering::Release);
        }
    }

    /// The PQ bits of `srcno`.
    pub fn pq(&self, srcno: u32) -> u8 {
        self.status(srcno) & 3
    }

    /// Sets the PQ bits of `srcno`, returning the old ones.
    pub fn set_pq(&self, srcno: u32, value: u8) -> u8 {
        self.cell(srcno)
            .map_or(0, |c| pq::update(c, |_| (value & 3, ())).0 & 3)
    }

    /// Whether the LSI `srcno` is asserted.
    pub fn is_asserted(&self, srcno: u32) -> bool {
        self.status(srcno) & STATUS_ASSERTED != 0
    }

    /// Resets every source's status to the reset PQ (LSI types are kept, the
    /// asserted bits are cleared, as QEMU's reset does).
    pub fn reset(&self) {
        for c in self.status.iter() {
            c.store(self.cfg.reset_pq & 3, Ordering::Release);
        }
    }

    fn pq_disabled(&self, srcno: u32) -> bool {
        self.cfg.pq_disable && !self.is_lsi(srcno)
    }

    /// LSI assertion: sets the asserted bit; 00 becomes 10 and forwards.
    fn lsi_trigger(&self, c: &AtomicU8) -> bool {
        let mut old = c.load(Ordering::Acquire);
        loop {
            let (new, fwd) = if old & 3 == pq::RESET {
                ((old & !3) | pq::PENDING | STATUS_ASSERTED, true)
            } else {
                (old | STATUS_ASSERTED, false)
            };
            if new == old {
                return fwd;
            }
            match c.compare_exchange_weak(old, new, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return fwd,
                Err(cur) => old = cur,
            }
        }
    }

    /// Runs the trigger on `srcno`; returns whether to forward.
    pub fn trigger(&self, srcno: u32) -> bool {
        let Some(c) = self.cell(srcno) else {
            return false;
        };
        if self.pq_disabled(srcno) {
            return true;
        }
        let (old, fwd) = pq::update(c, pq::trigger);
        if self.is_lsi(srcno) && pq::trigger(old & 3).0 == pq::QUEUED {
            tracing::warn!("XIVE: queued an event on LSI IRQ {srcno}");
        }
        fwd
    }

    /// Runs the EOI on `srcno`; returns whether to forward (a latched
    /// trigger, or an LSI still asserted).
    pub fn eoi(&self, srcno: u32) -> bool {
        let Some(c) = self.cell(srcno) else {
            return false;
        };
        if self.pq_disabled(srcno) {
            tracing::warn!("XIVE: invalid EOI for IRQ {srcno}");
            return false;
        }
        let (old, fwd) = pq::update(c, pq::eoi);
        if self.is_lsi(srcno) && old & STATUS_ASSERTED != 0 {
            // A level still asserted triggers again (00 -> 10).
            return self.lsi_trigger(c);
        }
        fwd
    }

    /// Device input: for an LSI the line level, for an MSI a trigger when
    /// `level` is true (false is ignored). Forwarded events go to `n`.
    pub fn set_irq(&self, srcno: u32, level: bool, n: &impl Notifier) {
        let Some(c) = self.cell(srcno) else {
            return;
        };
        let fwd = if self.is_lsi(srcno) {
            if level {
                self.lsi_trigger(c)
            } else {
                c.fetch_and(!STATUS_ASSERTED, Ordering::AcqRel);
                false
            }
        } else {
            level && self.trigger(srcno)
        };
        if fwd {
            n.notify(srcno, !self.pq_disabled(srcno));
        }
    }

    fn decode(&self, addr: u64) -> Option<EsbAddr> {
        let srcno = addr >> self.cfg.esb_shift;
        if srcno >= u64::from(self.cfg.nr_irqs) {
            return None;
        }
        let trigger_page = self.has_2pages() && (addr >> (self.cfg.esb_shift - 1)) & 1 == 0;
        Some(EsbAddr {
            srcno: srcno as u32,
            offset: (addr & 0xFFF) as u32,
            trigger_page,
        })
    }

    /// ESB MMIO load at `addr` (offset in the block's window). Returns the
    /// value, or `None` for an invalid access (the CPU sees all-ones).
    pub fn esb_load(&self, addr: u64, n: &impl Notifier) -> Option<u64> {
        let a = self.decode(addr)?;
        if a.trigger_page {
            tracing::warn!(
                "XIVE: invalid load on IRQ {} trigger page at {addr:#x}",
                a.srcno
            );
            return None;
        }
        match a.offset {
            0x000..=0x7FF => {
                let fwd = self.eoi(a.srcno);
                if fwd {
                    n.notify(a.srcno, !self.pq_disabled(a.srcno));
                }
                Some(u64::from(fwd))
            }
            0x800..=0xBFF => Some(u64::from(self.pq(a.srcno))),
            _ => Some(u64::from(self.set_pq(a.srcno, (a.offset >> 8) as u8 & 3))),
        }
    }

    /// ESB MMIO store at `addr` (offset in the block's window). Returns
    /// false for an invalid access (ignored).
    pub fn esb_store(&self, addr: u64, n: &impl Notifier) -> bool {
        let Some(a) = self.decode(addr) else {
            return false;
        };
        let fwd = if a.trigger_page {
            self.trigger(a.srcno)
        } else {
            match a.offset {
                0x000..=0x3FF => self.trigger(a.srcno),
                0x400..=0x7FF => {
                    if !self.cfg.store_eoi {
                        tracing::warn!("XIVE: invalid Store EOI for IRQ {}", a.srcno);
                        return false;
                    }
                    self.eoi(a.srcno)
                }
                0x800..=0xBFF => true,
                _ => {
                    self.set_pq(a.srcno, (a.offset >> 8) as u8 & 3);
                    false
                }
            }
        };
        if fwd {
            n.notify(a.srcno, !self.pq_disabled(a.srcno));
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    #[derive(Default)]
    struct Rec(RefCell<Vec<u32>>);
    impl Notifier for Rec {
        fn notify(&self, srcno: u32, _pq_checked: bool) {
            self.0.borrow_mut().push(srcno);
        }
    }

    fn block() -> SourceBlock {
        let mut cfg = SourceConfig::spapr(4);
        cfg.reset_pq = pq::RESET;
        SourceBlock::new(cfg).unwrap()
    }

    #[test]
    fn lsi_retriggers_at_eoi_while_asserted() {
        let b = block();
        let n = Rec::default();
        b.set_lsi(1, true);
        b.set_irq(1, true, &n);
        assert_eq!(b.pq(1), pq::PENDING);
        assert!(b.is_asserted(1));
        // Second assertion while pending does nothing.
        b.set_irq(1, true, &n);
        assert_eq!(*n.0.borrow(), vec![1]);
        // Load EOI on the management page: still asserted -> forwarded.
        assert_eq!(b.esb_load(b.mgmt_page_offset(1), &n), Some(1));
        assert_eq!(*n.0.borrow(), vec![1, 1]);
        b.set_irq(1, false, &n);
        assert_eq!(b.esb_load(b.mgmt_page_offset(1), &n), Some(0));
        assert_eq!(b.pq(1), pq::RESET);
        assert_eq!(n.0.borrow().len(), 2);
    }

    #[test]
    fn trigger_page_loads_are_invalid_and_stores_trigger() {
        let b = block();
        let n = Rec::default();
        assert_eq!(b.esb_load(b.trigger_page_offset(2) + 0x800, &n), None);
        assert!(b.esb_store(b.trigger_page_offset(2) + 0xC00, &n));
        assert_eq!(*n.0.borrow(), vec![2]);
        assert_eq!(b.pq(2), pq::PENDING);
    }

    #[test]
    fn out_of_range_is_invalid() {
        let b = block();
        let n = Rec::default();
        assert_eq!(b.esb_load(4 << 17, &n), None);
        assert!(!b.esb_store(u64::MAX, &n));
        assert!(SourceBlock::new(SourceConfig {
            esb_shift: 14,
            ..SourceConfig::spapr(1)
        })
        .is_err());
    }
}
