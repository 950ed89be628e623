//! The active controller over a machine's life: XICS after reset in dual
//! mode, what the guest chose at CAS (without a reset), XICS again after
//! the next reset; the MMIO windows and hcall answers follow it.

mod common;

use spapr_irq::papr::{h, hcall};

const H_CAS: u64 = 0xF002;
const ESB_BASE: u64 = 0x0006_0100_0000_0000;

/// Writes a Linux-style architecture vector asking for `byte23` at `addr`.
fn write_vector(m: &spapr_machine::machine::Machine, addr: u64, byte23: u8) {
    let mut v = Vec::new();
    for (mask, pvr) in [(0xffff_ffffu32, 0x0f00_0005u32), (0, 0xffff_ffff)] {
        v.extend_from_slice(&mask.to_be_bytes());
        v.extend_from_slice(&pvr.to_be_bytes());
    }
    v.push(4); // five vectors
    v.extend_from_slice(&[2, 0, 0, 0x80]); // OV1: ISA 3.00
    v.extend_from_slice(&[0, 0, 0, 0, 0, 0]); // OV2..OV4
    let mut ov5 = [0u8; 26];
    ov5[22] = byte23;
    ov5[23] = 0x40; // radix
    v.push(25);
    v.extend_from_slice(&ov5);
    assert!(m.ram().write(addr, &v));
}

fn cas(m: &spapr_machine::machine::Machine, byte23: u8) -> u64 {
    write_vector(m, 0x10_0000, byte23);
    let r = m
        .call_hcall(
            0,
            H_CAS,
            [0x10_0000, 0x20_0000, 0x10_0000, 0, 0, 0, 0, 0, 0],
        )
        .unwrap();
    r[0]
}

#[test]
fn dual_mode_follows_cas_and_returns_to_xics_at_reset() {
    let m = common::machine("pseries", 2, "demo", "");
    assert_eq!(m.irq().active().unwrap().name, "xics");
    assert!(m.irq().mmio_regions().is_empty());
    // XIVE hcalls answer H_FUNCTION while XICS is active.
    let r = m
        .call_hcall(
            0,
            hcall::H_INT_GET_SOURCE_INFO,
            [0, 0x1000, 0, 0, 0, 0, 0, 0, 0],
        )
        .unwrap();
    assert_eq!(r[0] as i64, h::FUNCTION);
    assert_eq!(
        m.call_mmio(0, ESB_BASE + 0x1000 * 0x20000 + 0x10800, 8, None),
        None
    );

    assert_eq!(cas(&m, 0x40) as i64, h::SUCCESS);
    assert_eq!(m.irq().active().unwrap().name, "xive");
    assert!(!m.irq().mmio_regions().is_empty());
    assert!(m.info_pic().contains("LISN"));
    // The tree handed back has the XIVE node and says 0x40.
    let mut hdr = [0u8; 4];
    assert!(m.ram().read(0x20_0000, &mut hdr));
    assert_eq!(hdr, [1, 0, 0, 0]);
    let tree = fdt::Fdt::from_dtb(&m.fdt()).unwrap();
    assert!(tree
        .nodes()
        .iter()
        .any(|(p, _)| p.starts_with("/interrupt-controller@")));
    // XIVE hcalls now work; XICS ones get QEMU's H_HARDWARE.
    let r = m
        .call_hcall(
            0,
            hcall::H_INT_GET_SOURCE_INFO,
            [0, 0x1000, 0, 0, 0, 0, 0, 0, 0],
        )
        .unwrap();
    assert_eq!(r[0] as i64, h::SUCCESS);
    let r = m
        .call_hcall(0, hcall::H_CPPR, [0xff, 0, 0, 0, 0, 0, 0, 0, 0])
        .unwrap();
    assert_eq!(r[0] as i64, h::HARDWARE);
    // An ESB load answers through the MMIO window.
    assert!(m
        .call_mmio(0, ESB_BASE + 0x1000 * 0x20000 + 0x10800, 8, None)
        .is_some());

    m.reset().unwrap();
    assert_eq!(m.irq().active().unwrap().name, "xics");
    assert!(m.irq().mmio_regions().is_empty());
    assert_eq!(m.ov5_intc(), 0);
    let r = m
        .call_hcall(0, hcall::H_CPPR, [0xff, 0, 0, 0, 0, 0, 0, 0, 0])
        .unwrap();
    assert_eq!(r[0] as i64, h::SUCCESS);
}

#[test]
fn single_controller_machines_refuse_the_other_mode() {
    let m = common::machine("pseries,ic-mode=xics", 1, "demo", "");
    assert_eq!(cas(&m, 0x40) as i64, h::HARDWARE);
    assert!(m.is_finished() || m.irq().active().unwrap().name == "xics");
    let m = common::machine("pseries,ic-mode=xive", 1, "demo", "");
    assert_eq!(m.irq().active().unwrap().name, "xive");
    // XICS hcalls are not registered at all: H_FUNCTION.
    let r = m
        .call_hcall(0, hcall::H_CPPR, [0xff, 0, 0, 0, 0, 0, 0, 0, 0])
        .unwrap();
    assert_eq!(r[0] as i64, h::FUNCTION);
}
