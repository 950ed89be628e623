//! `info pic` text in QEMU's layout.
//!
//! ```text
//! CPU 0 XIRR=00000000 ((nil)) PP=ff MFRR=ff
//! ICS 1000..1fff 0x1000
//!   1000 MSI ff 00
//! ```
//!
//! QEMU prints host pointers in two places: the presenter's `xirr_owner`
//! (the ICS that owns the pending XISR, or `(nil)`) and the ICS object.
//! Pointers are per-run noise, so this prints fixed tokens instead:
//! `(nil)` exactly where QEMU prints `(nil)` (nothing pending, or the IPI),
//! and [`ICS_TOKEN`], `0x1000`, where QEMU would print the ICS's address,
//! in both places. `0x1000` is the ICS offset, the one thing that names
//! the sole ICS of a pseries machine.

use std::fmt;

use crate::engine::Xics;
use crate::icp::{XICS_IPI, XISR_MASK};

/// What stands for the ICS's address in the `%p` columns.
pub const ICS_TOKEN: &str = "0x1000";

/// Writes one `CPU ...` line per presenter, in vCPU order, then the ICS
/// header and one line per claimed source.
pub fn write_info_pic(xics: &Xics, out: &mut dyn fmt::Write) -> fmt::Result {
    for vcpu in xics.vcpus() {
        let Some(p) = xics.presenter(vcpu) else {
            continue;
        };
        let xisr = p.xirr & XISR_MASK;
        let owner = if xisr == 0 || xisr == XICS_IPI {
            "(nil)"
        } else {
            ICS_TOKEN
        };
        writeln!(
            out,
            "CPU {} XIRR={:08x} ({}) PP={:02x} MFRR={:02x}",
            vcpu, p.xirr, owner, p.pending_priority, p.mfrr
        )?;
    }
    let first = xics.offset();
    writeln!(
        out,
        "ICS {:4x}..{:4x} {}",
        first,
        first + xics.nr_irqs() - 1,
        ICS_TOKEN
    )?;
    for irq in first..first + xics.nr_irqs() {
        let Some(s) = xics.source(irq) else { continue };
        if !s.is_claimed() {
            continue;
        }
        writeln!(
            out,
            "  {:4x} {} {:02x} {:02x}",
            irq,
            if s.is_lsi() { "LSI" } else { "MSI" },
            s.priority,
            s.status
        )?;
    }
    Ok(())
}
