//! The presenter: thread contexts, and matching an NVT to the context it is
//! dispatched on.
//!
//! Contexts live in a fixed array of slots (one lock each, on its own cache
//! lines) created with the presenter; the owner attaches a slot when a
//! thread appears and detaches it when it goes. Matching goes through the
//! [`CamIndex`]: the CAM line of the NVT names the context directly, so the
//! cost does not grow with the number of contexts. The index is updated
//! whenever a ring's word 2 may have changed (push, pull, raw writes,
//! reset, migration).
//!
//! Matching rules (POWER9, format 0, no "ignore" bit): the PHYS ring
//! answers to the thread's hardware CAM line while VT is set, the POOL ring
//! to its CAM while VP is set, the OS ring to its CAM while VO is set; a
//! context matching on several rings uses the most privileged. Format 1
//! (user-level EBB) matches the USER ring of a context whose OS CAM matches
//! and whose VU and logical server match. Two contexts answering to the same
//! NVT is a configuration error: logged ("already found a thread context"),
//! and the notification is not presented, as QEMU 8.2 does.

use parking_lot::{Mutex, MutexGuard};
use spapr_irq::IrqLine;

use crate::engine::cam::CamIndex;
use crate::engine::nvt::cam_line;
use crate::engine::regs::{get_field32, priority_to_ipb, tm};
use crate::engine::tctx::{Ring, TctxState};
use crate::error::XiveError;

/// Result of presenting a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchResult {
    /// A context took it: IPB updated, exception signalled if CPPR allows.
    Matched,
    /// No context is dispatched with that NVT.
    NotFound,
    /// The match could not be made (unsupported mode, duplicate contexts).
    Error,
}

#[derive(Debug)]
struct Slot {
    attached: bool,
    st: TctxState,
    /// CAM keys currently in the index for the OS, POOL and PHYS rings.
    keys: [Option<u32>; 3],
}

#[repr(align(64))]
#[derive(Debug)]
struct ContextCell(Mutex<Slot>);

/// Thread contexts and the CAM index.
#[derive(Debug)]
pub struct Presenter {
    block: u8,
    slots: Box<[ContextCell]>,
    cams: CamIndex,
}

fn key_slot(ring: Ring) -> Option<usize> {
    match ring {
        Ring::Os => Some(0),
        Ring::Pool => Some(1),
        Ring::Phys => Some(2),
        Ring::User => None,
    }
}

const KEY_RINGS: [Ring; 3] = [Ring::Os, Ring::Pool, Ring::Phys];

impl Presenter {
    /// A presenter with `capacity` context slots, in `block` (for the
    /// hardware CAM lines).
    pub fn new(capacity: u32, block: u8) -> Self {
        Self {
            block,
            slots: (0..capacity)
                .map(|_| {
                    ContextCell(Mutex::new(Slot {
                        attached: false,
                        st: TctxState::new(0),
                        keys: [None; 3],
                    }))
                })
                .collect(),
            cams: CamIndex::default(),
        }
    }

    /// Number of slots.
    pub fn capacity(&self) -> u32 {
        self.slots.len() as u32
    }

    /// The CAM index (statistics and tests).
    pub fn cams(&self) -> &CamIndex {
        &self.cams
    }

    fn slot(&self, id: u32) -> Option<MutexGuard<'_, Slot>> {
        self.slots.get(id as usize).map(|c| c.0.lock())
    }

    fn reindex(&self, id: u32, slot: &mut Slot) {
        let new = if slot.attached {
            slot.st.cam_keys(self.block)
        } else {
            [None; 3]
        };
        for (i, ring) in KEY_RINGS.iter().enumerate() {
            if new[i] != slot.keys[i] {
                if let Some(old) = slot.keys[i] {
                    self.cams.remove(old, id, *ring);
                }
                if let Some(cam) = new[i] {
                    self.cams.insert(cam, id, *ring);
                }
                slot.keys[i] = new[i];
            }
        }
    }

    /// Attaches slot `id` to a thread with `pir` and its output lines; the
    /// context starts in the reset state.
    pub fn attach(
        &self,
        id: u32,
        pir: u32,
        os_line: Option<IrqLine>,
        hv_line: Option<IrqLine>,
    ) -> Result<(), XiveError> {
        let mut s = self.slot(id).ok_or(XiveError::NoSlot(id))?;
        if s.attached {
            return Err(XiveError::SlotInUse(id));
        }
        s.attached = true;
        s.st = TctxState::new(pir);
        s.st.os_line = os_line;
        s.st.hv_line = hv_line;
        s.st.reset();
        self.reindex(id, &mut s);
        Ok(())
    }

    /// Detaches slot `id`: lowers its lines and removes it from the index.
    pub fn detach(&self, id: u32) -> bool {
        let Some(mut s) = self.slot(id) else {
            return false;
        };
        if !s.attached {
            return false;
        }
        s.st.reset();
        s.attached = false;
        s.st.os_line = None;
        s.st.hv_line = None;
        self.reindex(id, &mut s);
        true
    }

    /// Whether slot `id` is attached.
    pub fn is_attached(&self, id: u32) -> bool {
        self.slot(id).is_some_and(|s| s.attached)
    }

    /// Runs `f` on context `id` under its lock; `reindex` says whether `f`
    /// may have changed a word 2. `None` if the slot is not attached.
    #[inline]
    pub fn with_context<R>(
        &self,
        id: u32,
        reindex: bool,
        f: impl FnOnce(&mut TctxState) -> R,
    ) -> Option<R> {
        let mut s = self.slot(id)?;
        if !s.attached {
            return None;
        }
        let r = f(&mut s.st);
        if reindex {
            self.reindex(id, &mut s);
        }
        Some(r)
    }

    /// Resets context `id` (registers only; the lines stay connected).
    pub fn reset_context(&self, id: u32) -> bool {
        self.with_context(id, true, |st| st.reset()).is_some()
    }

    /// A copy of context `id`'s registers.
    pub fn regs(&self, id: u32) -> Option<[u8; 64]> {
        self.with_context(id, false, |st| st.regs)
    }

    /// Ids of the attached contexts, in order.
    pub fn attached(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.capacity()).filter(|id| self.is_attached(*id))
    }

    /// Presents a notification for NVT `block/index` at `priority` (END
    /// words 6 and 7 give `format`, `ignore` and `logic_serv`).
    pub fn notify(
        &self,
        format: u32,
        block: u8,
        index: u32,
        ignore: bool,
        priority: u8,
        logic_serv: u32,
    ) -> MatchResult {
        let cam = cam_line(block, index);
        if format == 0 && ignore {
            tracing::warn!("XIVE: no support for LS NVT {block:x}/{index:x}");
            return MatchResult::Error;
        }
        // A context may be pushed or pulled between the lookup and taking
        // its lock; the match is then verified again, a few times at most.
        for _ in 0..4 {
            let mut first: Option<(u32, Ring)> = None;
            let mut many = false;
            self.cams.for_each(cam, |ctx, ring| {
                if format != 0 && ring != Ring::Os {
                    return;
                }
                match first {
                    None => first = Some((ctx, ring)),
                    Some((c, r)) if c == ctx => {
                        if ring > r {
                            first = Some((ctx, ring));
                        }
                    }
                    Some(_) => many = true,
                }
            });
            if many {
                tracing::warn!("XIVE: already found a thread context NVT {block:x}/{index:x}");
                return MatchResult::Error;
            }
            let Some((ctx, ring)) = first else {
                return MatchResult::NotFound;
            };
            let Some(mut s) = self.slot(ctx) else {
                return MatchResult::NotFound;
            };
            let still = s.attached && key_slot(ring).is_some_and(|k| s.keys[k] == Some(cam));
            if !still {
                continue;
            }
            if format == 0 {
                s.st.ipb_update(ring, priority_to_ipb(priority));
                return MatchResult::Matched;
            }
            let qw0w2 = s.st.word2(Ring::User);
            if qw0w2 & tm::QW0W2_VU != 0 && get_field32(tm::QW0W2_LOGIC_SERV, qw0w2) == logic_serv {
                s.st.ipb_update(Ring::User, priority_to_ipb(priority));
                return MatchResult::Matched;
            }
            return MatchResult::NotFound;
        }
        MatchResult::NotFound
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::regs::tm;

    #[test]
    fn match_by_os_cam_and_follow_pushes() {
        let p = Presenter::new(4, 0);
        let line = IrqLine::detached();
        p.attach(2, 2, Some(line.clone()), None).unwrap();
        assert_eq!(p.notify(0, 0, 0x402, false, 6, 0), MatchResult::NotFound);
        p.with_context(2, true, |st| {
            st.set_word2(Ring::Os, tm::QW1W2_VO | 0x402);
            st.set_cppr(Ring::Os, 0xFF);
        });
        assert_eq!(p.notify(0, 0, 0x402, false, 6, 0), MatchResult::Matched);
        assert!(line.is_raised());
        // A second context with the same CAM makes the match ambiguous.
        p.attach(3, 3, None, None).unwrap();
        p.with_context(3, true, |st| st.set_word2(Ring::Os, tm::QW1W2_VO | 0x402));
        assert_eq!(p.notify(0, 0, 0x402, false, 6, 0), MatchResult::Error);
        p.detach(3);
        assert_eq!(p.notify(0, 0, 0x402, false, 6, 0), MatchResult::Matched);
        assert_eq!(p.cams().len(), 1);
        assert_eq!(p.notify(0, 0, 0x402, true, 6, 0), MatchResult::Error);
    }

    #[test]
    fn phys_ring_matches_the_hardware_cam() {
        let p = Presenter::new(1, 0);
        p.attach(0, 5, None, None).unwrap();
        p.with_context(0, true, |st| st.set_word2(Ring::Phys, tm::QW3W2_VT));
        assert_eq!(p.notify(0, 0, 0x85, false, 1, 0), MatchResult::Matched);
        assert_eq!(p.regs(0).unwrap()[tm::QW3_HV_PHYS + tm::IPB], 0x40);
    }
}
