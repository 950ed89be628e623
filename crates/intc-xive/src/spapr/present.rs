//! What the sPAPR XIVE shows: `info pic` text and its device-tree node.

use std::fmt::{self, Write};

use spapr_irq::{DtError, DtSink};
use vm_memory::{Bytes, GuestAddress};

use super::{Inner, HV_PRIO, NVT_BASE, TM_BASE};
use crate::engine::regs::tm;
use crate::engine::{End, Ring};

/// `info pic` in QEMU's layout: each vCPU's thread context, then every
/// valid LISN with its PQ, EISN and, when routed to a valid END, the
/// target, priority, queue index/entries, address, generation and a window
/// of six queue words.
pub(crate) fn print_info(x: &Inner, out: &mut dyn Write) -> fmt::Result {
    let p = x.router.presenter();
    for id in p.attached() {
        let Some(regs) = p.regs(id) else { continue };
        writeln!(
            out,
            "CPU[{id:04x}]:   QW   NSR CPPR IPB LSMFB ACK# INC AGE PIPR  W2"
        )?;
        for ring in Ring::ALL {
            let r = &regs[ring.offset()..ring.offset() + 16];
            let w2 = u32::from_be_bytes([r[8], r[9], r[10], r[11]]);
            writeln!(
                out,
                "CPU[{id:04x}]: {:>4}    {:02x}   {:02x}  {:02x}    {:02x}   {:02x}  {:02x}  {:02x}   {:02x}  {w2:08x}",
                ring.name(),
                r[tm::NSR],
                r[tm::CPPR],
                r[tm::IPB],
                r[tm::LSMFB],
                r[tm::ACK_CNT],
                r[tm::INC],
                r[tm::AGE],
                r[tm::PIPR],
            )?;
        }
    }
    writeln!(out, "  LISN         PQ    EISN     CPU/PRIO EQ")?;
    for lisn in 0..x.nr_irqs {
        let Some(eas) = x.router.eat().get(lisn).filter(|e| e.is_valid()) else {
            continue;
        };
        let status = x.source.status(lisn);
        write!(
            out,
            "  {lisn:08x} {} {}{}{} {} {:08x} ",
            if x.source.is_lsi(lisn) { "LSI" } else { "MSI" },
            if status & 2 != 0 { 'P' } else { '-' },
            if status & 1 != 0 { 'Q' } else { '-' },
            if status & 4 != 0 { 'A' } else { ' ' },
            if eas.is_masked() { "M" } else { " " },
            eas.end_data(),
        )?;
        if !eas.is_masked() {
            if let Some(end) = x
                .router
                .endt()
                .get(eas.end_index())
                .filter(|e| e.is_valid())
            {
                print_end(x, &end, out)?;
            }
        }
        writeln!(out)?;
    }
    Ok(())
}

/// C's `% 6d`: a space for the sign, then the digits, right-aligned in 6.
fn space_signed(v: u32) -> String {
    format!("{:>6}", format!(" {v}"))
}

fn print_end(x: &Inner, end: &End, out: &mut dyn Write) -> fmt::Result {
    let target = end.nvt_index().wrapping_sub(NVT_BASE) as i32;
    let entries = end.qentries();
    let qindex = end.qindex();
    write!(
        out,
        "{target:>3}/{} {}/{entries:>5} @{:x} ^{}",
        end.priority(),
        space_signed(qindex),
        end.qaddr(),
        end.qgen()
    )?;
    // The window QEMU prints: six entries ending at the current index.
    write!(out, " [ ")?;
    let width = 6u32;
    let mut idx = qindex.wrapping_sub(width - 1) & (entries - 1);
    for i in 0..width {
        let Some(addr) = end.entry_addr(idx) else {
            break;
        };
        let mut b = [0u8; 4];
        if x.router
            .memory()
            .read_slice(&mut b, GuestAddress(addr))
            .is_err()
        {
            tracing::warn!("XIVE: failed to read EQ @{addr:#x}");
            return Ok(());
        }
        let marker = if i == width - 1 { "^" } else { "" };
        write!(out, "{marker}{:08x} ", u32::from_be_bytes(b))?;
        idx = (idx + 1) & (entries - 1);
    }
    write!(out, "]")
}

/// Name of the node: `interrupt-controller@<USER page address>`.
pub(crate) fn node_name() -> String {
    format!("interrupt-controller@{:x}", TM_BASE + (3 << tm::PAGE_SHIFT))
}

/// Root property `ibm,plat-res-int-priorities`: the priorities reserved by
/// the hypervisor, `<hv_prio, 0xFF - hv_prio>`.
pub(crate) fn dt_root_properties(sink: &mut dyn DtSink) -> Result<(), DtError> {
    sink.property_cells(
        "ibm,plat-res-int-priorities",
        &[u32::from(HV_PRIO), 0xFF - u32::from(HV_PRIO)],
    )
}

/// The `ibm,power-ivpe` node, properties in QEMU's order.
pub(crate) fn dt_node(sink: &mut dyn DtSink, nr_servers: u32, phandle: u32) -> Result<(), DtError> {
    let page = 1u64 << tm::PAGE_SHIFT;
    sink.begin_node(&node_name())?;
    sink.property_string("device_type", "power-ivpe")?;
    // USER page then OS page, each (64-bit address, 64-bit size).
    sink.property_u64s("reg", &[TM_BASE + 3 * page, page, TM_BASE + 2 * page, page])?;
    sink.property_string("compatible", "ibm,power-ivpe")?;
    // Only 64K event queues are advertised.
    sink.property_cells("ibm,xive-eq-sizes", &[16])?;
    // The IPI LISNs.
    sink.property_cells("ibm,xive-lisn-ranges", &[0, nr_servers])?;
    sink.property_null("interrupt-controller")?;
    sink.property_u32("#interrupt-cells", 2)?;
    sink.property_phandle(phandle)?;
    sink.end_node()
}
