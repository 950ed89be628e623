//! The XICS engine on its own: no registry, no machine, no sPAPR.
//!
//! Two presenters (vCPU 0 on server 0, vCPU 1 on server 1), two MSIs and
//! an LSI. Each vCPU runs the guest's handler loop: while its line is up,
//! accept (H_XIRR), print, end (H_EOI). Run with
//! `cargo run -p intc-xics --example two_presenters`.

use intc_xics::{SourceKind, Xics, XicsConfig, XICS_IPI};
use spapr_irq::IrqLine;

fn main() -> Result<(), intc_xics::XicsError> {
    // 16 sources from 0x1000, two servers.
    let xics = Xics::new(XicsConfig {
        offset: 0x1000,
        nr_irqs: 16,
        nr_servers: 2,
        max_vcpus: 2,
    })?;
    let lines = [IrqLine::detached(), IrqLine::detached()];
    for (vcpu, line) in lines.iter().enumerate() {
        xics.add_presenter(vcpu as u32, vcpu as u32, line.clone())?;
        // A presenter starts at CPPR 0 (closed); the guest opens it.
        xics.set_cppr(vcpu as u32, 0xFF)?;
    }

    // The "device tree" of this toy machine: two MSIs and an LSI.
    let (msi_a, msi_b, lsi) = (0x1000, 0x1001, 0x1002);
    xics.claim(msi_a, SourceKind::Msi)?;
    xics.claim(msi_b, SourceKind::Msi)?;
    xics.claim(lsi, SourceKind::Lsi)?;
    // Route them as ibm,set-xive would: priority 5 (Linux's default).
    xics.set_xive(msi_a, 0, 5)?;
    xics.set_xive(msi_b, 1, 5)?;
    xics.set_xive(lsi, 1, 3)?;

    // Devices fire.
    xics.set_irq(msi_a, true)?;
    xics.set_irq(msi_b, true)?;
    xics.set_irq(lsi, true)?;
    // vCPU 0 sends vCPU 1 an IPI at priority 4.
    xics.set_mfrr(1, 4)?;

    for (vcpu, line) in lines.iter().enumerate() {
        let vcpu = vcpu as u32;
        while line.is_raised() {
            let xirr = xics.accept(vcpu)?;
            let source = xirr & 0x00FF_FFFF;
            let what = match source {
                XICS_IPI => "IPI".to_string(),
                s if s == lsi => format!("LSI {s:#x}"),
                s => format!("MSI {s:#x}"),
            };
            let p = xics.presenter(vcpu).expect("presenter exists");
            println!(
                "vCPU {vcpu} accepts {what} (XIRR {xirr:08x}), now running at CPPR {:#04x}",
                p.cppr()
            );
            if source == XICS_IPI {
                xics.set_mfrr(vcpu, 0xFF)?; // the guest clears its MFRR first
            }
            if source == lsi {
                xics.set_irq(lsi, false)?; // the handler quiets the device
            }
            // End it, restoring the CPPR from before the accept.
            xics.eoi(vcpu, xirr)?;
        }
        println!("vCPU {vcpu} has nothing more pending");
    }
    Ok(())
}
