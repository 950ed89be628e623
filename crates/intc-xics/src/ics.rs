//! The interrupt source controller (ICS): one atomic word per source and
//! the set of sources waiting for a resend.
//!
//! Each operation is one compare-and-swap on the source's word and returns
//! the delivery it decided on, if any; the engine performs the delivery
//! (which takes the target presenter's lock) afterwards. Rejections come
//! from presenters, with that presenter's lock held, and only touch the
//! source word and the pending set.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::pending::PendingSet;
use crate::source::{
    SourceKind, SourceState, FLAG_LSI, FLAG_MSI, STATUS_ASSERTED, STATUS_MASKED_PENDING,
    STATUS_REJECTED, STATUS_SENT,
};

/// A delivery the ICS decided on: present `irq` at `priority` to `server`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Delivery {
    pub(crate) irq: u32,
    pub(crate) server: u32,
    pub(crate) priority: u8,
}

/// The source table.
#[derive(Debug)]
pub(crate) struct Ics {
    offset: u32,
    words: Box<[AtomicU64]>,
    pub(crate) pending: PendingSet,
}

impl Ics {
    pub(crate) fn new(offset: u32, nr_irqs: u32) -> Self {
        let reset = SourceState::reset(0).pack();
        Self {
            offset,
            words: (0..nr_irqs).map(|_| AtomicU64::new(reset)).collect(),
            pending: PendingSet::new(nr_irqs),
        }
    }

    pub(crate) fn offset(&self) -> u32 {
        self.offset
    }

    pub(crate) fn nr_irqs(&self) -> u32 {
        self.words.len() as u32
    }

    /// Source index of global number `irq`, if this ICS covers it.
    #[inline]
    pub(crate) fn srcno(&self, irq: u32) -> Option<u32> {
        let s = irq.wrapping_sub(self.offset);
        (s < self.nr_irqs()).then_some(s)
    }

    #[inline]
    pub(crate) fn load(&self, srcno: u32) -> SourceState {
        SourceState::unpack(self.words[srcno as usize].load(Ordering::Acquire))
    }

    /// Overwrites a source (incoming migration, free).
    pub(crate) fn store(&self, srcno: u32, s: SourceState) {
        self.words[srcno as usize].store(s.pack(), Ordering::Release);
    }

    /// Compare-and-swap loop: `f` gets the current state and returns the new
    /// one (or `None` for no change) and a result.
    #[inline]
    fn update<R>(
        &self,
        srcno: u32,
        mut f: impl FnMut(SourceState) -> (Option<SourceState>, R),
    ) -> R {
        let word = &self.words[srcno as usize];
        let mut cur = word.load(Ordering::Acquire);
        loop {
            let (new, r) = f(SourceState::unpack(cur));
            let Some(new) = new else { return r };
            let packed = new.pack();
            if packed == cur {
                return r;
            }
            match word.compare_exchange_weak(cur, packed, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return r,
                Err(actual) => cur = actual,
            }
        }
    }

    #[inline]
    fn delivery(&self, srcno: u32, s: &SourceState) -> Delivery {
        Delivery {
            irq: self.offset + srcno,
            server: s.server,
            priority: s.priority,
        }
    }

    /// Marks a source for the resend pass when its new state needs one.
    #[inline]
    fn mark_if_needed(&self, srcno: u32, s: &SourceState) {
        if s.needs_resend() {
            self.pending.mark(srcno);
        }
    }

    /// Claims a source. Fails (returning the current state) if taken.
    pub(crate) fn claim(&self, srcno: u32, kind: SourceKind) -> Result<(), SourceState> {
        self.update(srcno, |mut s| {
            if s.is_claimed() {
                return (None, Err(s));
            }
            s.flags |= match kind {
                SourceKind::Lsi => FLAG_LSI,
                SourceKind::Msi => FLAG_MSI,
            };
            (Some(s), Ok(()))
        })
    }

    /// Device input. MSI: an edge when `level`; delivered, or remembered as
    /// masked-pending while masked. LSI: the line level; delivered when
    /// asserted, unmasked and not already sent. Unclaimed: `Err`.
    #[inline]
    pub(crate) fn set_irq(&self, srcno: u32, level: bool) -> Result<Option<Delivery>, ()> {
        self.update(srcno, |mut s| {
            if !s.is_claimed() {
                return (None, Err(()));
            }
            if s.is_lsi() {
                if level {
                    s.status |= STATUS_ASSERTED;
                } else {
                    s.status &= !STATUS_ASSERTED;
                }
                if s.needs_resend() {
                    s.status |= STATUS_SENT;
                    return (Some(s), Ok(Some(self.delivery(srcno, &s))));
                }
                (Some(s), Ok(None))
            } else if !level {
                (None, Ok(None))
            } else if s.is_masked() {
                s.status |= STATUS_MASKED_PENDING;
                (Some(s), Ok(None))
            } else {
                (None, Ok(Some(self.delivery(srcno, &s))))
            }
        })
    }

    /// A presenter gives `irq` back (QEMU `ics_reject`): MSI becomes
    /// rejected, LSI loses SENT; either is then marked for the resend pass.
    #[inline]
    pub(crate) fn reject(&self, irq: u32) {
        let Some(srcno) = self.srcno(irq) else { return };
        let new = self.update(srcno, |mut s| {
            if s.is_lsi() {
                s.status &= !STATUS_SENT;
            } else if s.flags & FLAG_MSI != 0 {
                s.status |= STATUS_REJECTED;
            } else {
                return (None, s);
            }
            (Some(s), s)
        });
        self.mark_if_needed(srcno, &new);
    }

    /// End of interrupt at the source: an LSI loses SENT (and is marked for
    /// the resend pass if still asserted); nothing for an MSI.
    #[inline]
    pub(crate) fn eoi(&self, srcno: u32) {
        let new = self.update(srcno, |mut s| {
            if !s.is_lsi() {
                return (None, s);
            }
            s.status &= !STATUS_SENT;
            (Some(s), s)
        });
        if new.is_lsi() {
            self.mark_if_needed(srcno, &new);
        }
    }

    /// One step of the resend pass (QEMU `ics_resend_lsi`/`_msi`).
    ///
    /// A rejected MSI that is masked by now is kept as masked-pending and
    /// delivered at unmask, where QEMU would drop it.
    #[inline]
    pub(crate) fn resend_one(&self, srcno: u32) -> Option<Delivery> {
        self.update(srcno, |mut s| {
            if !s.needs_resend() {
                return (None, None);
            }
            if s.is_lsi() {
                s.status |= STATUS_SENT;
                return (Some(s), Some(self.delivery(srcno, &s)));
            }
            s.status &= !STATUS_REJECTED;
            if s.is_masked() {
                s.status |= STATUS_MASKED_PENDING;
                return (Some(s), None);
            }
            (Some(s), Some(self.delivery(srcno, &s)))
        })
    }

    /// Re-routes a source (QEMU `ics_write_xive`); `f` computes the new
    /// server, priority and saved priority from the current state in the
    /// same atomic step. LSI: resent if now deliverable. MSI: a
    /// masked-pending or rejected interrupt is delivered once unmasked (QEMU
    /// only looks at masked-pending here and leaves a rejected one to the
    /// next resend pass); a rejected one that gets masked becomes
    /// masked-pending.
    pub(crate) fn write_xive(
        &self,
        srcno: u32,
        mut f: impl FnMut(&SourceState) -> (u32, u8, u8),
    ) -> (SourceState, Option<Delivery>) {
        self.update(srcno, |mut s| {
            let (server, priority, saved) = f(&s);
            s.server = server;
            s.priority = priority;
            s.saved_priority = saved;
            let mut delivery = None;
            if s.is_lsi() {
                if s.needs_resend() {
                    s.status |= STATUS_SENT;
                    delivery = Some(self.delivery(srcno, &s));
                }
            } else if s.flags & FLAG_MSI != 0 {
                let waiting = s.status & (STATUS_MASKED_PENDING | STATUS_REJECTED);
                if s.is_masked() {
                    if waiting & STATUS_REJECTED != 0 {
                        s.status = (s.status & !STATUS_REJECTED) | STATUS_MASKED_PENDING;
                    }
                } else if waiting != 0 {
                    s.status &= !(STATUS_MASKED_PENDING | STATUS_REJECTED);
                    delivery = Some(self.delivery(srcno, &s));
                }
            }
            (Some(s), (s, delivery))
        })
    }

    /// ICS reset: everything but the allocation cleared, every source
    /// masked.
    pub(crate) fn reset(&self) {
        for w in self.words.iter() {
            let flags = SourceState::unpack(w.load(Ordering::Acquire)).flags;
            w.store(SourceState::reset(flags).pack(), Ordering::Release);
        }
        self.pending.clear_all();
    }

    /// Rebuilds the pending set from the source states (after an incoming
    /// migration replaced them).
    pub(crate) fn rebuild_pending(&self) {
        self.pending.clear_all();
        for srcno in 0..self.nr_irqs() {
            let s = self.load(srcno);
            self.mark_if_needed(srcno, &s);
        }
    }
}
