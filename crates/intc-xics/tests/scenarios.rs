//! The XICS scenarios of `reference/linux-guest-intc.md` section 6
//! (numbers 28 to 42), one named test each, driven through the hypercalls
//! and RTAS calls a Linux guest issues.

mod common;

use common::Harness;
use spapr_irq::papr::{h, hcall};

const MSI: u32 = 0x1300;
const MSI2: u32 = 0x1301;
const LSI: u32 = 0x1200;

/// Two vCPUs with open CPPRs (Linux does H_CPPR(0xFF) at boot), an MSI and
/// an LSI routed to vCPU 0 at Linux's default priority 5.
fn booted() -> Harness {
    let t = Harness::new(2);
    t.c.claim_irq(MSI, false).unwrap();
    t.c.claim_irq(MSI2, false).unwrap();
    t.c.claim_irq(LSI, true).unwrap();
    for cpu in 0..2 {
        assert_eq!(t.cppr(cpu, 0xFF), h::SUCCESS);
    }
    assert_eq!(t.set_xive(MSI, 0, 5), 0);
    assert_eq!(t.int_on(MSI), 0);
    assert_eq!(t.set_xive(LSI, 0, 5), 0);
    t
}

#[test]
fn s28_msi_raised_while_cppr_0_is_held_and_delivered_when_cppr_opens() {
    let t = Harness::new(1);
    t.c.claim_irq(MSI, false).unwrap();
    // The presenter is fresh from reset: CPPR 0.
    assert_eq!(t.ipoll(0), (0x0000_0000, 0xFF));
    assert_eq!(t.set_xive(MSI, 0, 5), 0);
    t.c.set_irq(MSI, true);
    assert!(!t.raised(0), "CPPR 0 holds everything");
    assert_eq!(t.ipoll(0).0 & 0xFF_FFFF, 0);
    assert_eq!(t.cppr(0, 0xFF), h::SUCCESS);
    assert!(t.raised(0));
    assert_eq!(t.xirr(0), 0xFF00_0000 | MSI);
}

#[test]
fn s29_h_xirr_with_nothing_pending_returns_cppr_and_changes_nothing() {
    let t = booted();
    assert_eq!(t.xirr(0), 0xFF00_0000);
    assert_eq!(t.ipoll(0), (0xFF00_0000, 0xFF));
    // Also at a closed CPPR: it stays closed (QEMU would open it to 0xFF).
    assert_eq!(t.cppr(1, 0), h::SUCCESS);
    assert_eq!(t.xirr(1), 0x0000_0000);
    assert_eq!(t.ipoll(1), (0x0000_0000, 0xFF));
    assert!(!t.raised(0) && !t.raised(1));
}

#[test]
fn s30_accept_then_eoi_restores_cppr_and_a_trigger_in_between_is_presented_again() {
    let t = booted();
    t.c.set_irq(MSI, true);
    assert!(t.raised(0));
    let xirr = t.xirr(0);
    assert_eq!(xirr, 0xFF00_0000 | MSI);
    assert!(!t.raised(0));
    assert_eq!(t.ipoll(0).0 >> 24, 5, "CPPR is the accepted priority");
    // The device fires again while the first one is in service.
    t.c.set_irq(MSI, true);
    assert!(!t.raised(0), "priority 5 does not beat CPPR 5");
    assert_eq!(t.eoi(0, xirr), h::SUCCESS);
    assert_eq!(t.ipoll(0).0 >> 24, 0xFF);
    assert!(t.raised(0), "the second trigger is presented after the EOI");
    assert_eq!(t.xirr(0), 0xFF00_0000 | MSI);
    assert_eq!(t.eoi(0, 0xFF00_0000 | MSI), h::SUCCESS);
    assert!(!t.raised(0), "exactly two presentations for two triggers");
    assert_eq!(t.xirr(0), 0xFF00_0000);
}

#[test]
fn s31_ipi_is_presented_at_mfrr_priority_and_ended_without_coming_back() {
    let t = booted();
    assert_eq!(t.ipi(0, 1, 4), h::SUCCESS);
    assert!(t.raised(1));
    assert_eq!(t.ipoll(1), (0xFF00_0002, 4));
    assert_eq!(t.xirr(1), 0xFF00_0002);
    assert_eq!(t.ipoll(1).0 >> 24, 4, "CPPR 4 while the IPI is handled");
    assert_eq!(t.ipi(1, 1, 0xFF), h::SUCCESS, "the handler clears its MFRR");
    assert_eq!(t.eoi(1, 0xFF00_0002), h::SUCCESS);
    assert!(!t.raised(1));
    assert_eq!(t.ipoll(1), (0xFF00_0000, 0xFF));
}

#[test]
fn s32_interrupt_displaced_by_an_ipi_is_presented_after_the_ipi_eoi() {
    let t = booted();
    t.c.set_irq(MSI, true);
    assert_eq!(t.ipoll(0).0, 0xFF00_0000 | MSI);
    assert_eq!(t.ipi(1, 0, 4), h::SUCCESS);
    assert_eq!(t.ipoll(0).0, 0xFF00_0002, "the IPI took the XISR");
    let x = t.xirr(0);
    assert_eq!(x, 0xFF00_0002);
    assert_eq!(t.ipi(0, 0, 0xFF), h::SUCCESS);
    assert_eq!(t.eoi(0, x), h::SUCCESS);
    assert!(t.raised(0), "the MSI was not lost");
    assert_eq!(t.xirr(0), 0xFF00_0000 | MSI);
}

#[test]
fn s33_raising_cppr_rejects_the_pending_interrupt_and_lowering_it_presents_it_again() {
    for closed in [5u8, 0] {
        let t = booted();
        t.c.set_irq(MSI, true);
        assert!(t.raised(0));
        assert_eq!(t.cppr(0, closed), h::SUCCESS);
        assert!(!t.raised(0));
        assert_eq!(t.ipoll(0).0, (closed as u32) << 24, "XISR cleared");
        assert_eq!(t.cppr(0, 0xFF), h::SUCCESS);
        assert!(t.raised(0));
        assert_eq!(t.xirr(0), 0xFF00_0000 | MSI);
    }
}

#[test]
fn s34_masked_source_holds_a_trigger_and_unmask_presents_it_exactly_once() {
    let t = booted();
    assert_eq!(t.set_xive(MSI2, 0, 0xFF), 0);
    t.c.set_irq(MSI2, true);
    t.c.set_irq(MSI2, true);
    assert!(!t.raised(0));
    assert_eq!(t.ipoll(0).0, 0xFF00_0000);
    assert_eq!(t.set_xive(MSI2, 0, 5), 0);
    assert!(t.raised(0));
    let x = t.xirr(0);
    assert_eq!(x, 0xFF00_0000 | MSI2);
    assert_eq!(t.eoi(0, x), h::SUCCESS);
    assert!(!t.raised(0), "presented once");
    assert_eq!(t.xirr(0), 0xFF00_0000);
}

#[test]
fn s35_int_off_then_int_on_restores_the_priority() {
    let t = booted();
    assert_eq!(t.set_xive(MSI2, 1, 5), 0);
    assert_eq!(t.int_off(MSI2), 0);
    assert_eq!(t.get_xive(MSI2), (1, 0xFF));
    assert_eq!(t.int_on(MSI2), 0);
    assert_eq!(t.get_xive(MSI2), (1, 5));
    // QEMU's quirk, kept: int-off twice saves 0xFF, so int-on stays masked.
    assert_eq!(t.int_off(MSI2), 0);
    assert_eq!(t.int_off(MSI2), 0);
    assert_eq!(t.int_on(MSI2), 0);
    assert_eq!(t.get_xive(MSI2), (1, 0xFF));
}

#[test]
fn s36_get_xive_of_unconfigured_source_invalid_number_and_wrong_arity() {
    let t = booted();
    // Valid, never configured (not even claimed): status 0, priority 0xFF.
    assert_eq!(t.get_xive(0x1FFF), (0, 0xFF));
    assert_eq!(t.rtas(common::RTAS_IBM_GET_XIVE, &[0x2000], 3)[0], -3);
    assert_eq!(t.rtas(common::RTAS_IBM_GET_XIVE, &[0xFFF], 3)[0], -3);
    assert_eq!(t.rtas(common::RTAS_IBM_GET_XIVE, &[MSI], 1)[0], -3);
    assert_eq!(t.rtas(common::RTAS_IBM_GET_XIVE, &[MSI, 0], 3)[0], -3);
    assert_eq!(t.rtas(common::RTAS_IBM_SET_XIVE, &[MSI, 0], 1)[0], -3);
    assert_eq!(t.rtas(common::RTAS_IBM_SET_XIVE, &[MSI, 0, 5], 2)[0], -3);
    assert_eq!(t.rtas(common::RTAS_IBM_INT_ON, &[], 1)[0], -3);
    assert_eq!(t.rtas(common::RTAS_IBM_INT_OFF, &[MSI], 3)[0], -3);
}

#[test]
fn s37_ipi_and_ipoll_to_an_unknown_server_return_h_parameter() {
    let t = booted();
    for server in [2u64, 1000, u32::MAX as u64, 1 << 32, u64::MAX] {
        assert_eq!(t.ipi(0, server, 4), h::PARAMETER, "H_IPI {server:#x}");
        assert_eq!(
            t.hcall(0, hcall::H_IPOLL, &[server]).ret,
            h::PARAMETER,
            "H_IPOLL {server:#x}"
        );
    }
    assert!(!t.raised(0) && !t.raised(1));
}

#[test]
fn s38_eoi_of_unknown_source_is_h_parameter_but_updates_cppr_and_soft_eoi_is_harmless() {
    let t = booted();
    assert_eq!(t.cppr(0, 5), h::SUCCESS);
    for unknown in [
        0x0000_0000u32,
        0x0000_0001,
        0x0000_0FFF,
        0x0000_2000,
        0x00FF_FFFF,
    ] {
        assert_eq!(t.cppr(0, 5), h::SUCCESS);
        assert_eq!(
            t.eoi(0, 0x0700_0000 | unknown),
            h::PARAMETER,
            "{unknown:#x}"
        );
        assert_eq!(t.ipoll(0).0 >> 24, 7, "CPPR updated anyway");
    }
    // A valid source that was never presented (genirq soft resend).
    let before = t.info_pic();
    assert_eq!(t.eoi(0, 0xFF00_0000 | MSI2), h::SUCCESS);
    assert_eq!(t.ipoll(0), (0xFF00_0000, 0xFF));
    assert!(!t.raised(0));
    let after = t.info_pic();
    assert_eq!(
        before.replace("XIRR=07000000", "XIRR=ff000000"),
        after,
        "nothing but the CPPR changed"
    );
}

#[test]
fn s39_lsi_is_presented_again_while_asserted_and_not_after_deassertion() {
    let t = booted();
    t.c.set_irq(LSI, true);
    let x = t.xirr(0);
    assert_eq!(x, 0xFF00_0000 | LSI);
    assert_eq!(t.eoi(0, x), h::SUCCESS);
    assert!(t.raised(0), "still asserted: presented again");
    let x = t.xirr(0);
    assert_eq!(x, 0xFF00_0000 | LSI);
    t.c.set_irq(LSI, false);
    assert_eq!(t.eoi(0, x), h::SUCCESS);
    assert!(
        !t.raised(0),
        "deasserted before the EOI: not presented again"
    );
    assert_eq!(t.xirr(0), 0xFF00_0000);
}

#[test]
fn s40_cpu_unplug_cppr_0_rejects_pending_which_reaches_the_new_server_after_set_xive() {
    let t = booted();
    t.c.set_irq(MSI, true);
    assert!(t.raised(0));
    // xics_migrate_irqs_away on vCPU 0.
    assert_eq!(t.cppr(0, 0), h::SUCCESS);
    assert!(!t.raised(0));
    let (server, priority) = t.get_xive(MSI);
    assert_eq!((server, priority), (0, 5));
    assert_eq!(t.set_xive(MSI, 1, priority), 0);
    assert!(t.raised(1), "delivered to the new server");
    assert_eq!(t.xirr(1), 0xFF00_0000 | MSI);
    // H_CPPR(5) on the dying CPU: IPIs (priority 4) still get in, not 5.
    assert_eq!(t.cppr(0, 5), h::SUCCESS);
    assert_eq!(t.set_xive(MSI2, 0, 5), 0);
    t.c.set_irq(MSI2, true);
    assert!(!t.raised(0));
    assert_eq!(t.ipi(1, 0, 4), h::SUCCESS);
    assert!(t.raised(0));
    assert_eq!(t.xirr(0), 0x0500_0002);
}

#[test]
fn s41_kexec_flush_eoi_of_the_ipi_at_cppr_0_succeeds() {
    let t = booted();
    assert_eq!(t.cppr(0, 0), h::SUCCESS);
    assert_eq!(t.ipi(0, 0, 0xFF), h::SUCCESS);
    assert_eq!(t.eoi(0, 0x0000_0002), h::SUCCESS);
    assert_eq!(t.ipoll(0), (0, 0xFF));
    assert!(!t.raised(0));
}

#[test]
fn s42_h_xirr_x_returns_the_same_xirr_as_h_xirr_plus_the_timebase() {
    let t = booted();
    t.c.set_irq(MSI, true);
    let mut t2 = booted();
    t2.timebase = 0xABCD_EF01_2345;
    t2.c.set_irq(MSI, true);
    let plain = t.xirr(0);
    let r = t2.hcall(0, hcall::H_XIRR_X, &[]);
    assert_eq!(r.ret, h::SUCCESS);
    assert_eq!(r.nout, 2);
    assert_eq!(r.out[0] as u32, plain);
    assert_eq!(r.out[1], 0xABCD_EF01_2345);
}

// ---- Section 4 and 5 behaviours beyond the numbered scenarios ----------

#[test]
fn a_more_favoured_interrupt_displaces_the_pending_one_which_comes_back_later() {
    let t = booted();
    assert_eq!(t.set_xive(MSI2, 0, 3), 0);
    t.c.set_irq(MSI, true);
    t.c.set_irq(MSI2, true);
    let x = t.xirr(0);
    assert_eq!(x, 0xFF00_0000 | MSI2);
    assert!(!t.raised(0), "priority 5 waits behind CPPR 3");
    assert_eq!(t.eoi(0, x), h::SUCCESS);
    assert_eq!(t.xirr(0), 0xFF00_0000 | MSI);
}

#[test]
fn equal_priorities_are_served_lowest_number_first_after_rejection() {
    let t = booted();
    t.c.claim_irq(0x1400, false).unwrap();
    assert_eq!(t.set_xive(0x1400, 0, 5), 0);
    assert_eq!(t.set_xive(MSI2, 0, 5), 0);
    assert_eq!(t.cppr(0, 0), h::SUCCESS);
    // All three fire while the presenter is closed: all rejected.
    t.c.set_irq(0x1400, true);
    t.c.set_irq(MSI2, true);
    t.c.set_irq(MSI, true);
    assert_eq!(t.cppr(0, 0xFF), h::SUCCESS);
    let mut order = Vec::new();
    while t.raised(0) {
        let x = t.xirr(0);
        order.push(x & 0xFF_FFFF);
        assert_eq!(t.eoi(0, x), h::SUCCESS);
    }
    assert_eq!(order, [MSI, MSI2, 0x1400]);
}

#[test]
fn msi_level_low_is_ignored_and_unclaimed_sources_ignore_input() {
    let t = booted();
    t.c.set_irq(MSI, false);
    t.c.set_irq(0x1555, true);
    t.c.set_irq(0x0FFF, true);
    t.c.set_irq(0x2000, true);
    assert!(!t.raised(0) && !t.raised(1));
}

#[test]
fn linux_masking_sequence_loses_nothing() {
    // Linux masks with int-off then set-xive(irq, default, 0xFF) and
    // unmasks with set-xive(irq, server, 5) then int-on.
    let t = booted();
    assert_eq!(t.int_off(MSI), 0);
    assert_eq!(t.set_xive(MSI, 0, 0xFF), 0);
    t.c.set_irq(MSI, true);
    assert!(!t.raised(0));
    assert_eq!(t.set_xive(MSI, 1, 5), 0);
    assert_eq!(t.int_on(MSI), 0);
    assert!(t.raised(1));
    assert_eq!(t.xirr(1), 0xFF00_0000 | MSI);
    assert!(!t.raised(0));
}

#[test]
fn rejected_msi_that_gets_masked_waits_for_the_unmask() {
    let t = booted();
    t.c.set_irq(MSI, true);
    assert_eq!(t.cppr(0, 0), h::SUCCESS); // rejected
    assert_eq!(t.int_off(MSI), 0); // masked while rejected
    assert_eq!(t.cppr(0, 0xFF), h::SUCCESS); // resend pass: still masked
    assert!(!t.raised(0));
    assert_eq!(t.int_on(MSI), 0);
    assert!(t.raised(0), "kept as masked-pending, not dropped");
    assert_eq!(t.xirr(0), 0xFF00_0000 | MSI);
}

#[test]
fn lsi_unmasked_while_asserted_is_presented() {
    let t = booted();
    assert_eq!(t.int_off(LSI), 0);
    t.c.set_irq(LSI, true);
    assert!(!t.raised(0));
    assert_eq!(t.int_on(LSI), 0);
    assert_eq!(t.xirr(0), 0xFF00_0000 | LSI);
}

#[test]
fn machine_reset_masks_every_source_and_keeps_claims() {
    let t = booted();
    t.c.set_irq(LSI, true);
    t.c.reset();
    t.c.cpu_intc_reset(0);
    assert!(!t.raised(0));
    assert_eq!(t.get_xive(MSI), (0, 0xFF));
    assert_eq!(t.get_xive(LSI), (0, 0xFF));
    assert!(t.c.is_claimed(MSI) && t.c.is_claimed(LSI));
    assert_eq!(t.ipoll(0), (0, 0xFF));
}

#[test]
fn free_zeroes_the_source_as_qemu_does() {
    let t = booted();
    t.c.free_irq(MSI);
    assert!(!t.c.is_claimed(MSI));
    assert_eq!(t.get_xive(MSI), (0, 0));
    t.c.claim_irq(MSI, true).unwrap();
    assert_eq!(
        t.c.claim_irq(MSI, false).unwrap_err().to_string(),
        "IRQ 4864 is not free"
    );
    t.c.free_irq(0x42); // out of range: ignored
}
