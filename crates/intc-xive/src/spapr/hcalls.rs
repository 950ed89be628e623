//! The eleven `H_INT_*` hypercalls.
//!
//! Every call answers `H_FUNCTION` while XIVE is not the active (negotiated)
//! controller. Flags are PAPR MSB-0 bits of r4: bit 63 is 0x1, bit 62 is
//! 0x2, bit 61 0x4, bit 60 0x8. "LISN checks": a LISN beyond the table or
//! not claimed gets `H_P2`. "Target": a server with no vCPU. Priorities 7
//! and up are reserved.
//!
//! Where this differs from QEMU 7.2/8.2 on purpose:
//! - `H_INT_RESET` resets the routing state (sources off, EAS masked, END
//!   reset) as PAPR and KVM do; QEMU's emulated reset calls the device's
//!   reset method, which does not reach its machine-reset handler, so it
//!   changes nothing;
//! - `H_INT_GET_SOURCE_CONFIG` derives target and priority from the EAS's
//!   END index (server = index >> 3, priority = index & 7), QEMU reads them
//!   from that END's words 6 and 7, which gives garbage before the queue is
//!   configured; both agree once it is;
//! - `H_INT_GET_QUEUE_CONFIG` in debug mode returns the generation in PAPR
//!   flag bit 62 (0x2); QEMU shifts it to 1 << 62;
//! - `H_INT_ESB` accepts offsets inside the 64K management page only
//!   (`H_P3` beyond); QEMU accepts up to 128K, reaching the next LISN's
//!   trigger page.

use spapr_irq::papr::{h, hcall};
use spapr_irq::{Caller, HcallReply};

use super::{Inner, END_ESB_SHIFT, ESB_SHIFT, HV_PRIO, NVT_BASE, VC_BASE};
use crate::engine::regs::PRIORITY_MAX;
use crate::engine::{Eas, End};

/// GET_SOURCE_INFO output: manage through H_INT_ESB.
pub const SRC_H_INT_ESB: u64 = 0x8;
/// GET_SOURCE_INFO output: LSI.
pub const SRC_LSI: u64 = 0x4;
/// GET_SOURCE_INFO output: the management page also triggers.
pub const SRC_TRIGGER: u64 = 0x2;
/// GET_SOURCE_INFO output: store EOI supported.
pub const SRC_STORE_EOI: u64 = 0x1;
/// SET_SOURCE_CONFIG: set the EISN.
pub const SRC_SET_EISN: u64 = 0x2;
/// SET_SOURCE_CONFIG: mask the source.
pub const SRC_MASK: u64 = 0x1;
/// SET/GET_QUEUE_CONFIG: unconditional notify.
pub const END_ALWAYS_NOTIFY: u64 = 0x1;
/// GET_QUEUE_CONFIG input: return debug data.
pub const END_DEBUG: u64 = 0x1;
/// GET_QUEUE_CONFIG output (debug): generation bit, PAPR bit 62.
pub const END_GENERATION: u64 = 0x2;
/// H_INT_ESB: store (else load).
pub const ESB_STORE: u64 = 0x1;

fn arg(args: &[u64], i: usize) -> u64 {
    args.get(i).copied().unwrap_or(0)
}

fn ret(code: i64) -> HcallReply {
    HcallReply::ret(code)
}

/// Dispatches one of the H_INT_* hcalls.
pub(crate) fn hcall(x: &Inner, _caller: Caller, opcode: u64, args: &[u64]) -> HcallReply {
    if !x.active.load(std::sync::atomic::Ordering::Acquire) {
        return ret(h::FUNCTION);
    }
    match opcode {
        hcall::H_INT_GET_SOURCE_INFO => get_source_info(x, args),
        hcall::H_INT_SET_SOURCE_CONFIG => set_source_config(x, args),
        hcall::H_INT_GET_SOURCE_CONFIG => get_source_config(x, args),
        hcall::H_INT_GET_QUEUE_INFO => get_queue_info(x, args),
        hcall::H_INT_SET_QUEUE_CONFIG => set_queue_config(x, args),
        hcall::H_INT_GET_QUEUE_CONFIG => get_queue_config(x, args),
        hcall::H_INT_ESB => esb(x, args),
        hcall::H_INT_SYNC => sync(x, args),
        hcall::H_INT_RESET => reset(x, args),
        // H_INT_SET/GET_OS_REPORTING_LINE are not implemented (QEMU neither).
        _ => ret(h::FUNCTION),
    }
}

/// LISN checks: returns the EAS of a claimed LISN, or `H_P2`.
fn lisn_eas(x: &Inner, lisn: u64) -> Result<(u32, Eas), HcallReply> {
    let Some(l) = u32::try_from(lisn).ok().filter(|l| *l < x.nr_irqs) else {
        tracing::warn!("XIVE: Unknown LISN {lisn:x}");
        return Err(ret(h::P2));
    };
    match x.router.eat().get(l) {
        Some(e) if e.is_valid() => Ok((l, e)),
        _ => {
            tracing::warn!("XIVE: Invalid LISN {lisn:x}");
            Err(ret(h::P2))
        }
    }
}

fn prio_reserved(priority: u64) -> bool {
    if priority >= u64::from(HV_PRIO) {
        tracing::warn!("XIVE: priority {} is reserved", priority as i64);
        true
    } else {
        false
    }
}

fn get_source_info(x: &Inner, a: &[u64]) -> HcallReply {
    if arg(a, 0) != 0 {
        return ret(h::PARAMETER);
    }
    let (lisn, _) = match lisn_eas(x, arg(a, 1)) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let src = &x.source;
    let mut flags = 0;
    if !src.has_2pages() {
        flags |= SRC_TRIGGER;
    }
    if src.config().store_eoi {
        flags |= SRC_STORE_EOI;
    }
    // LSIs go through H_INT_ESB so that an EOI on an asserted line can be
    // re-triggered by the hypervisor.
    if src.is_lsi(lisn) {
        flags |= SRC_H_INT_ESB | SRC_LSI;
    }
    let via_hcall = flags & SRC_H_INT_ESB != 0;
    let mgmt = if via_hcall {
        u64::MAX
    } else {
        VC_BASE + src.mgmt_page_offset(lisn)
    };
    let trig = if src.has_2pages() && !via_hcall {
        VC_BASE + src.trigger_page_offset(lisn)
    } else {
        u64::MAX
    };
    HcallReply::ok(&[flags, mgmt, trig, u64::from(src.page_shift())])
}

fn set_source_config(x: &Inner, a: &[u64]) -> HcallReply {
    let (flags, target, priority, eisn) = (arg(a, 0), arg(a, 2), arg(a, 3), arg(a, 4));
    if flags & !(SRC_SET_EISN | SRC_MASK) != 0 {
        return ret(h::PARAMETER);
    }
    let (lisn, eas) = match lisn_eas(x, arg(a, 1)) {
        Ok(v) => v,
        Err(r) => return r,
    };
    // Priority 0xFF resets the route: valid, masked, no END, no EISN.
    let new = if priority == 0xFF {
        Eas::VALID_MASKED
    } else {
        if prio_reserved(priority) {
            return ret(h::P4);
        }
        let Some(end_idx) = x.end_of(target, priority as u8) else {
            return ret(h::P3);
        };
        let data = if flags & SRC_SET_EISN != 0 {
            eisn as u32 & 0x7FFF_FFFF
        } else {
            eas.end_data()
        };
        Eas::route(super::BLOCK, end_idx, data, flags & SRC_MASK != 0)
    };
    // Keep the bits a concurrent free may have changed out of the picture:
    // the LISN was valid above and the new word is written whole.
    x.router.eat().set(lisn, new);
    HcallReply::ok(&[])
}

fn get_source_config(x: &Inner, a: &[u64]) -> HcallReply {
    if arg(a, 0) != 0 {
        return ret(h::PARAMETER);
    }
    let (_, eas) = match lisn_eas(x, arg(a, 1)) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let idx = eas.end_index();
    let target = u64::from(idx >> 3);
    let priority = if eas.is_masked() {
        0xFF
    } else {
        u64::from(idx & 7)
    };
    HcallReply::ok(&[target, priority, u64::from(eas.end_data())])
}

/// Priority and target checks of the queue calls: `H_P3`, then `H_P2`.
fn queue_end(x: &Inner, target: u64, priority: u64) -> Result<u32, HcallReply> {
    if prio_reserved(priority) {
        return Err(ret(h::P3));
    }
    x.end_of(target, priority as u8).ok_or(ret(h::P2))
}

fn get_queue_info(x: &Inner, a: &[u64]) -> HcallReply {
    if arg(a, 0) != 0 {
        return ret(h::PARAMETER);
    }
    let idx = match queue_end(x, arg(a, 1), arg(a, 2)) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let Some(end) = x.router.endt().get(idx) else {
        return ret(h::HARDWARE);
    };
    let page = x.end_base() + (u64::from(idx) << (END_ESB_SHIFT + 1));
    let size = if end.is_enqueue() {
        u64::from(end.qsize()) + 12
    } else {
        0
    };
    HcallReply::ok(&[page, size])
}

fn set_queue_config(x: &Inner, a: &[u64]) -> HcallReply {
    let (flags, target, priority, qpage, qsize) =
        (arg(a, 0), arg(a, 1), arg(a, 2), arg(a, 3), arg(a, 4));
    if flags & !END_ALWAYS_NOTIFY != 0 {
        return ret(h::PARAMETER);
    }
    let idx = match queue_end(x, target, priority) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let end = match qsize {
        12 | 16 | 21 | 24 => {
            let len = 1u64 << qsize;
            if qpage & (len - 1) != 0 {
                tracing::warn!("XIVE: EQ @{qpage:#x} is not naturally aligned with {len:#x}");
                return ret(h::P4);
            }
            // The END holds 60 address bits; the queue must be guest RAM.
            if qpage >> 60 != 0 || !queue_in_ram(x, qpage, len) {
                tracing::warn!("XIVE: failed to map EQ @{qpage:#x}");
                return ret(h::P4);
            }
            End::with_queue(
                qpage,
                qsize as u32,
                super::BLOCK,
                NVT_BASE + (target as u32),
                priority as u8,
                flags & END_ALWAYS_NOTIFY != 0,
            )
        }
        // Reset the queue and stop queueing.
        0 => End::RESET,
        _ => {
            tracing::warn!("XIVE: invalid EQ size {qsize:x}");
            return ret(h::P5);
        }
    };
    x.router.endt().set(idx, end);
    HcallReply::ok(&[])
}

pub(crate) fn queue_in_ram(x: &Inner, qpage: u64, len: u64) -> bool {
    use vm_memory::{GuestAddress, GuestMemoryBackend};
    usize::try_from(len).is_ok_and(|l| {
        qpage.checked_add(len).is_some() && x.router.memory().check_range(GuestAddress(qpage), l)
    })
}

fn get_queue_config(x: &Inner, a: &[u64]) -> HcallReply {
    let flags = arg(a, 0);
    if flags & !END_DEBUG != 0 {
        return ret(h::PARAMETER);
    }
    let idx = match queue_end(x, arg(a, 1), arg(a, 2)) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let Some(end) = x.router.endt().get(idx) else {
        return ret(h::HARDWARE);
    };
    let mut out_flags = 0;
    if end.is_notify() {
        out_flags |= END_ALWAYS_NOTIFY;
    }
    let (qaddr, qsize) = if end.is_enqueue() {
        (end.qaddr(), u64::from(end.qsize()) + 12)
    } else {
        (0, 0)
    };
    let mut index = 0;
    if flags & END_DEBUG != 0 {
        if end.qgen() != 0 {
            out_flags |= END_GENERATION;
        }
        index = u64::from(end.qindex());
    }
    HcallReply::ok(&[out_flags, qaddr, qsize, index])
}

fn esb(x: &Inner, a: &[u64]) -> HcallReply {
    let (flags, offset) = (arg(a, 0), arg(a, 2));
    if flags & !ESB_STORE != 0 {
        return ret(h::PARAMETER);
    }
    let (lisn, _) = match lisn_eas(x, arg(a, 1)) {
        Ok(v) => v,
        Err(r) => return r,
    };
    if offset >= 1 << (ESB_SHIFT - 1) {
        return ret(h::P3);
    }
    let addr = x.source.mgmt_page_offset(lisn) + offset;
    if flags & ESB_STORE != 0 {
        if !x.source.esb_store(addr, &x.router) {
            tracing::warn!("XIVE: failed to access ESB @{:#x}", VC_BASE + addr);
        }
        HcallReply::ok(&[u64::MAX])
    } else {
        // An invalid load reads all-ones, as through the MMIO window.
        let v = x.source.esb_load(addr, &x.router).unwrap_or(u64::MAX);
        HcallReply::ok(&[v])
    }
}

fn sync(x: &Inner, a: &[u64]) -> HcallReply {
    if arg(a, 0) != 0 {
        return ret(h::PARAMETER);
    }
    if let Err(r) = lisn_eas(x, arg(a, 1)) {
        return r;
    }
    // Events are routed synchronously: everything triggered before this
    // call is already in its queue.
    HcallReply::ok(&[])
}

/// H_INT_RESET: every source off (PQ 01), every claimed LISN valid and
/// masked with no route, every END reset (queues disabled); the mode stays
/// XIVE. QEMU's emulated H_INT_RESET resets the device object, whose reset
/// does not include the EAT/ENDT reset handler registered for machine
/// reset, so there it changes nothing; this one does what PAPR and KVM do.
fn reset(x: &Inner, a: &[u64]) -> HcallReply {
    if arg(a, 0) != 0 {
        return ret(h::PARAMETER);
    }
    x.reset_routing();
    HcallReply::ok(&[])
}

const _: () = assert!(HV_PRIO <= PRIORITY_MAX + 1);
