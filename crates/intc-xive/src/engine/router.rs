//! The router: from a source event to a queue entry and a presented
//! exception.
//!
//! 1. EAS lookup for the LISN (unknown: dropped and logged); if the source
//!    did not check PQ, the router's own PQ copy is checked; invalid EAS:
//!    dropped and logged; masked: dropped silently.
//! 2. END lookup; missing or invalid: dropped and logged.
//! 3. ENQUEUE: the EISN is written into the queue (a failed write loses the
//!    event, is logged, and leaves the index where it was).
//! 4. Unless SILENT_ESCALATE: format 0 with priority 0xFF is a masked END;
//!    without UCOND_NOTIFY the ESn PQ bits coalesce notifications; the NVT
//!    is looked up through the owner's [`NvtBackend`] and presented. If no
//!    context took it and BACKLOG is set, the priority is recorded in the
//!    NVT's IPB.
//! 5. ESCALATE_CTL: unless UNCOND_ESCALATE the ESe PQ bits coalesce; then
//!    words 4-5 of the END are routed as an EAS (bounded to a few hops).
//!
//! The END lock is held from the queue write to the ESn update, never while
//! presenting, so vCPUs and devices meet on nothing wider than one END or
//! one thread context.

use std::sync::atomic::AtomicU8;

use vm_memory::GuestMemoryMmap;

use crate::engine::eas::{Eas, EasTable};
use crate::engine::end::{End, EndTable};
use crate::engine::nvt::NvtBackend;
use crate::engine::pq;
use crate::engine::presenter::{MatchResult, Presenter};
use crate::engine::regs::{end, get_field32, priority_to_ipb, set_field32, tm};
use crate::engine::source::Notifier;
use crate::engine::tctx::Ring;
use crate::engine::tima::{self, Decoded, TmOp};

/// Escalations followed for one event before giving up (a loop of ENDs
/// escalating into each other is a configuration error).
const MAX_HOPS: usize = 8;

/// Sizes and identity of a router.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouterConfig {
    /// Block id of this router's EAS, END and NVT.
    pub block: u8,
    /// Number of EAS entries (LISNs).
    pub nr_eas: u32,
    /// Number of ENDs.
    pub nr_ends: u32,
    /// Number of thread-context slots of the presenter.
    pub nr_contexts: u32,
    /// log2 of one END ESB page (two pages per END: ESn, ESe).
    pub end_esb_shift: u32,
}

/// The XIVE router with its presenter.
#[derive(Debug)]
pub struct Router<N> {
    cfg: RouterConfig,
    eat: EasTable,
    endt: EndTable,
    nvt: N,
    presenter: Presenter,
    mem: GuestMemoryMmap,
    pq: Box<[AtomicU8]>,
}

impl<N: NvtBackend> Router<N> {
    /// Builds a router over guest memory `mem` (where queues are written).
    pub fn new(cfg: RouterConfig, nvt: N, mem: GuestMemoryMmap) -> Self {
        Self {
            eat: EasTable::new(cfg.nr_eas),
            endt: EndTable::new(cfg.nr_ends),
            presenter: Presenter::new(cfg.nr_contexts, cfg.block),
            pq: (0..cfg.nr_eas).map(|_| AtomicU8::new(pq::RESET)).collect(),
            cfg,
            nvt,
            mem,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &RouterConfig {
        &self.cfg
    }
    /// The EAS table.
    pub fn eat(&self) -> &EasTable {
        &self.eat
    }
    /// The END table.
    pub fn endt(&self) -> &EndTable {
        &self.endt
    }
    /// The presenter.
    pub fn presenter(&self) -> &Presenter {
        &self.presenter
    }
    /// The NVT backend.
    pub fn nvt(&self) -> &N {
        &self.nvt
    }
    /// Guest memory.
    pub fn memory(&self) -> &GuestMemoryMmap {
        &self.mem
    }

    /// An event from source `index` of block `block`.
    pub fn notify_lisn(&self, block: u8, index: u32, pq_checked: bool) {
        let Some(eas) = (block == self.cfg.block)
            .then(|| self.eat.get(index))
            .flatten()
        else {
            tracing::warn!("XIVE: Unknown LISN {:x}", (u32::from(block) << 28) | index);
            return;
        };
        if !pq_checked {
            let Some(cell) = self.pq.get(index as usize) else {
                return;
            };
            if !pq::update(cell, pq::trigger).1 {
                return;
            }
        }
        if !eas.is_valid() {
            tracing::warn!("XIVE: invalid LISN {index:x}");
            return;
        }
        if eas.is_masked() {
            return;
        }
        self.end_notify(eas);
    }

    /// An END trigger: the event data of `eas` goes to its END.
    pub fn end_notify(&self, eas: Eas) {
        let mut eas = eas;
        for _ in 0..MAX_HOPS {
            match self.end_notify_one(eas) {
                Some(next) => eas = next,
                None => return,
            }
        }
        tracing::warn!("XIVE: escalation loop at END {:x}", eas.end_index());
    }

    /// One END step; returns the escalation EAS to route next, if any.
    fn end_notify_one(&self, eas: Eas) -> Option<Eas> {
        let (blk, idx, data) = (eas.end_block(), eas.end_index(), eas.end_data());
        let Some(mut g) = (blk == self.cfg.block)
            .then(|| self.endt.lock(idx))
            .flatten()
        else {
            tracing::warn!("XIVE: No END {blk:x}/{idx:x}");
            return None;
        };
        if !g.is_valid() {
            tracing::warn!("XIVE: END {blk:x}/{idx:x} is invalid");
            return None;
        }
        if g.is_enqueue() {
            if let Err(e) = g.enqueue(&self.mem, data) {
                tracing::warn!("{e}");
            }
        }
        let e: End = *g;
        if !e.is_silent_escalation() {
            let (format, priority) = (e.format(), e.priority());
            if format == 0 && priority == 0xFF {
                return None;
            }
            if !e.is_notify() && !es_trigger(&mut g, end::W1_ESN) {
                return None;
            }
            drop(g);
            let (nblk, nidx) = (e.nvt_block(), e.nvt_index());
            let Some(nvt) = self.nvt.get_nvt(nblk, nidx) else {
                tracing::warn!("XIVE: no NVT {nblk:x}/{nidx:x}");
                return None;
            };
            if !nvt.is_valid() {
                tracing::warn!("XIVE: NVT {nblk:x}/{nidx:x} is invalid");
                return None;
            }
            let found =
                self.presenter
                    .notify(format, nblk, nidx, e.ignore(), priority, e.log_server_id());
            if found == MatchResult::Matched {
                return None;
            }
            tracing::debug!("XIVE: NVT {nblk:x}/{nidx:x} is not dispatched");
            if e.is_backlog() {
                if format == 1 {
                    tracing::warn!("XIVE: END {blk:x}/{idx:x} invalid config: F1 & backlog");
                    return None;
                }
                let mut nvt = nvt;
                nvt.set_ipb(nvt.ipb() | priority_to_ipb(priority));
                if let Err(err) = self.nvt.write_nvt(nblk, nidx, &nvt, 4) {
                    tracing::warn!("{err}");
                }
            }
        } else {
            drop(g);
        }
        if !e.is_escalate() {
            return None;
        }
        if !e.is_uncond_escalation() {
            let mut g = self.endt.lock(idx)?;
            if !es_trigger(&mut g, end::W1_ESE) {
                return None;
            }
        }
        Some(Eas((u64::from(e.w[4]) << 32) | u64::from(e.w[5])))
    }

    /// Size in bytes of the END ESB window (two pages per END).
    pub fn end_esb_len(&self) -> u64 {
        u64::from(self.cfg.nr_ends) << (self.cfg.end_esb_shift + 1)
    }

    /// END ESB load at `addr` in the END ESB window: EOI, get or set of
    /// the ESn (even page) or ESe (odd page) bits. The EOI result is
    /// returned but, as in QEMU, a latched event is not re-routed. `None`
    /// for an invalid access. Stores are invalid.
    pub fn end_esb_load(&self, addr: u64) -> Option<u64> {
        let shift = self.cfg.end_esb_shift;
        let idx = u32::try_from(addr >> (shift + 1)).ok()?;
        let Some(mut g) = self.endt.lock(idx) else {
            tracing::warn!("XIVE: No END {:x}/{idx:x}", self.cfg.block);
            return None;
        };
        if !g.is_valid() {
            tracing::warn!("XIVE: END {:x}/{idx:x} is invalid", self.cfg.block);
            return None;
        }
        let mask = if (addr >> shift) & 1 == 0 {
            end::W1_ESN
        } else {
            end::W1_ESE
        };
        let old = get_field32(mask, g.w[1]) as u8;
        let (new, ret) = match addr & 0xFFF {
            0x000..=0x7FF => {
                let (n, fwd) = pq::eoi(old);
                (n, u64::from(fwd))
            }
            0x800..=0xBFF => (old, u64::from(old)),
            off => (((off >> 8) & 3) as u8, u64::from(old)),
        };
        g.w[1] = set_field32(mask, g.w[1], u32::from(new));
        Some(ret)
    }

    /// TIMA load by thread context `ctx` at `offset` (in the four-page
    /// TIMA). `None` for an invalid access (all-ones to the CPU).
    pub fn tima_read(&self, ctx: u32, offset: u64, size: u8) -> Option<u64> {
        let p = &self.presenter;
        let r = match tima::decode(offset, size, false) {
            Decoded::Invalid => None,
            Decoded::Raw => p
                .with_context(ctx, false, |st| tima::raw_read(st, offset, size))
                .flatten(),
            Decoded::Op(op) => match op {
                TmOp::AckOs => p.with_context(ctx, false, |st| u64::from(st.accept(Ring::Os))),
                TmOp::AckHv => p.with_context(ctx, false, |st| u64::from(st.accept(Ring::Phys))),
                TmOp::VtPoll => p.with_context(ctx, false, |st| {
                    u64::from(st.regs[tm::QW3_HV_PHYS + tm::WORD2])
                }),
                TmOp::PullOsCtx => p.with_context(ctx, true, |st| u64::from(st.pull_os())),
                TmOp::PullPoolCtx => p.with_context(ctx, true, |st| u64::from(st.pull_pool())),
                _ => None,
            },
        };
        if r.is_none() {
            tracing::warn!("XIVE: invalid read access to TIMA @{offset:#x}");
        }
        r
    }

    /// TIMA store by thread context `ctx`; false for an invalid access
    /// (ignored).
    pub fn tima_write(&self, ctx: u32, offset: u64, size: u8, value: u64) -> bool {
        let p = &self.presenter;
        let done = match tima::decode(offset, size, true) {
            Decoded::Invalid => None,
            Decoded::Raw => p
                .with_context(ctx, true, |st| tima::raw_write(st, offset, size, value))
                .filter(|ok| *ok),
            Decoded::Op(op) => match op {
                TmOp::SetOsCppr => {
                    p.with_context(ctx, false, |st| st.set_cppr(Ring::Os, value as u8))
                }
                TmOp::SetHvCppr => {
                    p.with_context(ctx, false, |st| st.set_cppr(Ring::Phys, value as u8))
                }
                TmOp::VtPush => p.with_context(ctx, true, |st| {
                    st.regs[tm::QW3_HV_PHYS + tm::WORD2] = value as u8;
                }),
                TmOp::SetOsPending => p.with_context(ctx, false, |st| {
                    st.ipb_update(Ring::Os, priority_to_ipb(value as u8));
                }),
                TmOp::PushOsCtx => self.push_os_ctx(ctx, value as u32).then_some(()),
                _ => None,
            }
            .map(|_| true),
        };
        if done.is_none() {
            tracing::warn!("XIVE: invalid write access at TIMA @{offset:#x}");
        }
        done.is_some()
    }

    /// Pushes an OS context into thread context `ctx`: writes QW1 word 2
    /// and, when VO is set, merges the NVT's saved IPB (cleared in the NVT)
    /// into the OS ring, which may signal. False if `ctx` is not attached.
    pub fn push_os_ctx(&self, ctx: u32, word2: u32) -> bool {
        self.presenter
            .with_context(ctx, true, |st| {
                st.set_word2(Ring::Os, word2);
                if word2 & tm::QW1W2_VO == 0 {
                    return;
                }
                let cam = word2 & tm::QW1W2_OS_CAM;
                let (blk, idx) = ((cam >> 19) as u8, cam & 0x7FFFF);
                let Some(mut nvt) = self.nvt.get_nvt(blk, idx) else {
                    tracing::warn!("XIVE: invalid NVT {blk:x}/{idx:x}");
                    return;
                };
                let ipb = nvt.ipb();
                if ipb != 0 {
                    nvt.set_ipb(0);
                    if let Err(e) = self.nvt.write_nvt(blk, idx, &nvt, 4) {
                        tracing::warn!("{e}");
                    }
                }
                st.ipb_update(Ring::Os, ipb);
            })
            .is_some()
    }
}

/// Runs a trigger on the ESn or ESe bits of a locked END; true to forward.
fn es_trigger(e: &mut End, mask: u32) -> bool {
    let old = get_field32(mask, e.w[1]) as u8;
    let (new, fwd) = pq::trigger(old);
    e.w[1] = set_field32(mask, e.w[1], u32::from(new));
    fwd
}

impl<N: NvtBackend> Notifier for Router<N> {
    #[inline]
    fn notify(&self, srcno: u32, pq_checked: bool) {
        self.notify_lisn(self.cfg.block, srcno, pq_checked);
    }
}
