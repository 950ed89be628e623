//! Thread Interrupt Management Area: how an offset in the four 64K views
//! decodes into a special operation or a raw register access.
//!
//! The TIMA is four pages (HW, HV, OS, USER from the lowest address), each
//! showing the same 64 register bytes with less privilege. Offsets with bit
//! 0x800 are special operations with side effects; below 0x800 a matching
//! special operation (CPPR stores, context push) wins, else the access is a
//! raw 4- or 8-byte register access filtered byte by byte through the page's
//! access map. An operation defined for a page is reachable from that page
//! and from every more privileged (lower) page.

use crate::engine::regs::tm;
use crate::engine::tctx::TctxState;

/// A TIMA view (page index, offset bits 16-17).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Page {
    /// Hardware view (most privileged).
    Hw = 0,
    /// Hypervisor view.
    Hv = 1,
    /// Operating-system view.
    Os = 2,
    /// User view.
    User = 3,
}

impl Page {
    /// The view an offset in the TIMA falls in.
    pub fn of(offset: u64) -> Page {
        match (offset >> tm::PAGE_SHIFT) & 3 {
            0 => Page::Hw,
            1 => Page::Hv,
            2 => Page::Os,
            _ => Page::User,
        }
    }
}

/// Per-byte access of each view: 0 none, 1 write, 2 read, 3 read/write.
pub const VIEWS: [[u8; 64]; 4] = [
    // HW
    [
        3, 0, 0, 0, 0, 0, 0, 0, 3, 3, 3, 3, 0, 0, 0, 0, // QW0 user
        3, 3, 3, 3, 3, 3, 0, 2, 3, 3, 3, 3, 0, 0, 0, 0, // QW1 OS
        0, 0, 3, 3, 0, 0, 0, 0, 3, 3, 3, 3, 0, 0, 0, 0, // QW2 pool
        3, 3, 3, 3, 0, 3, 0, 2, 3, 0, 0, 3, 3, 3, 3, 0, // QW3 phys
    ],
    // HV
    [
        3, 0, 0, 0, 0, 0, 0, 0, 3, 3, 3, 3, 0, 0, 0, 0, //
        3, 3, 3, 3, 3, 3, 0, 2, 3, 3, 3, 3, 0, 0, 0, 0, //
        0, 0, 3, 3, 0, 0, 0, 0, 0, 3, 3, 3, 0, 0, 0, 0, //
        3, 3, 3, 3, 0, 3, 0, 2, 3, 0, 0, 3, 0, 0, 0, 0, //
    ],
    // OS
    [
        3, 0, 0, 0, 0, 0, 0, 0, 3, 3, 3, 3, 0, 0, 0, 0, //
        2, 3, 2, 2, 2, 2, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, //
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, //
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, //
    ],
    // USER
    [
        3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, //
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, //
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, //
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, //
    ],
];

/// A special TIMA operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TmOp {
    /// OS CPPR store (1 byte at QW1+1).
    SetOsCppr,
    /// Push the OS context: write QW1 word 2 (4 bytes, HV page).
    PushOsCtx,
    /// PHYS CPPR store (1 byte at QW3+1, HV page).
    SetHvCppr,
    /// Write the first byte of QW3 word 2 (VT).
    VtPush,
    /// Read the first byte of QW3 word 2.
    VtPoll,
    /// Acknowledge the OS ring (2-byte load at 0x810).
    AckOs,
    /// Mark an OS priority pending (1-byte store at 0x812).
    SetOsPending,
    /// Pull the OS context (4/8-byte load at 0x818, HV page).
    PullOsCtx,
    /// Acknowledge the hypervisor rings (2-byte load at 0x830, HV page).
    AckHv,
    /// Pull the pool context (4/8-byte load at 0x828, HV page).
    PullPoolCtx,
}

struct OpDesc {
    page: Page,
    offset: u64,
    size: u8,
    write: bool,
    op: TmOp,
}

const fn op(page: Page, offset: u64, size: u8, write: bool, op: TmOp) -> OpDesc {
    OpDesc {
        page,
        offset,
        size,
        write,
        op,
    }
}

/// The POWER9 (gen1) operation table that sPAPR uses.
const OPS: [OpDesc; 12] = [
    op(
        Page::Os,
        (tm::QW1_OS + tm::CPPR) as u64,
        1,
        true,
        TmOp::SetOsCppr,
    ),
    op(
        Page::Hv,
        (tm::QW1_OS + tm::WORD2) as u64,
        4,
        true,
        TmOp::PushOsCtx,
    ),
    op(
        Page::Hv,
        (tm::QW3_HV_PHYS + tm::CPPR) as u64,
        1,
        true,
        TmOp::SetHvCppr,
    ),
    op(
        Page::Hv,
        (tm::QW3_HV_PHYS + tm::WORD2) as u64,
        1,
        true,
        TmOp::VtPush,
    ),
    op(
        Page::Hv,
        (tm::QW3_HV_PHYS + tm::WORD2) as u64,
        1,
        false,
        TmOp::VtPoll,
    ),
    op(Page::Os, tm::SPC_ACK_OS_REG, 2, false, TmOp::AckOs),
    op(
        Page::Os,
        tm::SPC_SET_OS_PENDING,
        1,
        true,
        TmOp::SetOsPending,
    ),
    op(Page::Hv, tm::SPC_PULL_OS_CTX, 4, false, TmOp::PullOsCtx),
    op(Page::Hv, tm::SPC_PULL_OS_CTX, 8, false, TmOp::PullOsCtx),
    op(Page::Hv, tm::SPC_ACK_HV_REG, 2, false, TmOp::AckHv),
    op(Page::Hv, tm::SPC_PULL_POOL_CTX, 4, false, TmOp::PullPoolCtx),
    op(Page::Hv, tm::SPC_PULL_POOL_CTX, 8, false, TmOp::PullPoolCtx),
];

/// What an access at `offset` (in the whole TIMA) of `size` bytes is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded {
    /// A special operation.
    Op(TmOp),
    /// A raw register access.
    Raw,
    /// Nothing: logged, loads see all-ones.
    Invalid,
}

/// Decodes an access.
pub fn decode(offset: u64, size: u8, write: bool) -> Decoded {
    let page = Page::of(offset);
    let op_offset = offset & tm::ADDRESS_MASK;
    let found = OPS
        .iter()
        .find(|o| o.page >= page && o.offset == op_offset && o.size == size && o.write == write);
    match found {
        Some(o) => Decoded::Op(o.op),
        None if offset & tm::SPECIAL_OP != 0 => Decoded::Invalid,
        None => Decoded::Raw,
    }
}

/// Byte mask of a raw access through `page`'s map, MSB first.
fn raw_mask(page: Page, reg: usize, size: u8, write: bool) -> u64 {
    let want = if write { 1 } else { 2 };
    let view = &VIEWS[page as usize];
    let mut mask = 0u64;
    for i in 0..size as usize {
        let allowed = view.get(reg + i).is_some_and(|a| a & want != 0);
        if allowed {
            mask |= 0xFF << (8 * (size as usize - i - 1));
        }
    }
    mask
}

/// Raw register load; `None` when not allowed (size, USER ring, map).
pub fn raw_read(st: &TctxState, offset: u64, size: u8) -> Option<u64> {
    let reg = (offset & tm::REG_OFFSET) as usize;
    let mask = raw_mask(Page::of(offset), reg, size, false);
    if !(size == 4 || size == 8) || mask == 0 || offset & tm::RING_OFFSET == 0 {
        return None;
    }
    let mut v = 0u64;
    for i in 0..size as usize {
        let b = st.regs.get(reg + i).copied().unwrap_or(0);
        v |= u64::from(b) << (8 * (size as usize - i - 1));
    }
    Some(v & mask)
}

/// Raw register store; false when not allowed.
pub fn raw_write(st: &mut TctxState, offset: u64, size: u8, value: u64) -> bool {
    let reg = (offset & tm::REG_OFFSET) as usize;
    let mask = raw_mask(Page::of(offset), reg, size, true);
    if !(size == 4 || size == 8) || mask == 0 || offset & tm::RING_OFFSET == 0 {
        return false;
    }
    for i in 0..size as usize {
        let shift = 8 * (size as usize - i - 1);
        let byte_mask = (mask >> shift) as u8;
        if byte_mask != 0 {
            if let Some(r) = st.regs.get_mut(reg + i) {
                *r = (value >> shift) as u8 & byte_mask;
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    const OS: u64 = 2 << 16;
    const HV: u64 = 1 << 16;
    const USER: u64 = 3 << 16;

    #[test]
    fn decode_special_ops_and_privilege() {
        assert_eq!(decode(OS + 0x810, 2, false), Decoded::Op(TmOp::AckOs));
        assert_eq!(decode(HV + 0x810, 2, false), Decoded::Op(TmOp::AckOs));
        assert_eq!(decode(USER + 0x810, 2, false), Decoded::Invalid);
        assert_eq!(decode(OS + 0x810, 4, false), Decoded::Invalid);
        assert_eq!(decode(OS + 0x818, 4, false), Decoded::Invalid);
        assert_eq!(decode(HV + 0x818, 8, false), Decoded::Op(TmOp::PullOsCtx));
        // Snoop-port bits are ignored.
        assert_eq!(decode(OS + 0x990, 2, false), Decoded::Op(TmOp::AckOs));
        assert_eq!(decode(OS + 0x11, 1, true), Decoded::Op(TmOp::SetOsCppr));
        assert_eq!(decode(OS + 0x18, 4, true), Decoded::Raw);
        assert_eq!(decode(HV + 0x18, 4, true), Decoded::Op(TmOp::PushOsCtx));
        assert_eq!(decode(OS + 0xC10, 1, true), Decoded::Invalid);
    }

    #[test]
    fn raw_access_follows_the_maps() {
        let mut st = TctxState::new(0);
        st.set_word2(crate::engine::tctx::Ring::Os, 0x8000_0400);
        // OS view: QW1 word 0 readable except AGE.
        assert_eq!(raw_read(&st, OS + 0x14, 4), Some(0xFF00_00FF));
        assert_eq!(raw_read(&st, OS + 0x10, 4), Some(0x0000_00FF));
        // Word 2 of QW1 is not readable from the OS view (not in its map).
        assert_eq!(raw_read(&st, OS + 0x18, 4), None);
        assert_eq!(raw_read(&st, HV + 0x18, 4), Some(0x8000_0400));
        // Sizes other than 4 and 8 and the USER ring are refused.
        assert_eq!(raw_read(&st, HV + 0x10, 2), None);
        assert_eq!(raw_read(&st, HV, 4), None);
        // Writes: the OS view may write only CPPR among QW1 word 0.
        assert!(raw_write(&mut st, OS + 0x10, 4, 0x1122_3344));
        assert_eq!(st.regs[0x10..0x14], [0x00, 0x22, 0x00, 0xFF]);
        assert!(!raw_write(&mut st, USER + 0x10, 4, 0));
        // 8-byte access at the end of the registers stays in bounds.
        assert_eq!(raw_read(&st, 0x3C, 8), Some(0));
    }
}
