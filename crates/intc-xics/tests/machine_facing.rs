//! What the machine sees of the controller besides the guest calls: the
//! registry entry, `info pic`, the device-tree node and the migration
//! sections.

mod common;

use common::Harness;
use migration::{MigrationError, SectionState};
use spapr_irq::papr::h;

#[test]
fn the_registry_lists_xics_with_its_cas_mode() {
    let names: Vec<_> = spapr_irq::backends().iter().map(|b| b.name).collect();
    assert!(names.contains(&"xics"), "{names:?}");
    let b = spapr_irq::backend("xics").unwrap();
    assert_eq!(b.capability, "xics");
    assert_eq!(b.cas_ov5, 0x00);
    assert_eq!(b.cas_mode, "XICS legacy");
    assert_eq!(b.line_bit, 0);
    assert_eq!(b.kvm_device_type, Some(3));
    assert_eq!(b.order, 0);
    assert_eq!(
        spapr_irq::backend_for_cas(0x00).map(|b| b.name),
        Some("xics")
    );
    let c = (b.factory)(&common::config(0x1000, 2)).unwrap();
    assert_eq!(c.name(), "xics");
    assert!(!c.is_active(), "built inactive; the machine activates");
}

#[test]
fn info_pic_after_reset_matches_qemu_7_2_ic_mode_xics() {
    let t = Harness::new(2);
    t.claim_defaults();
    // reference/qemu-7.2/info-pic-reset.md, `-machine pseries-7.2,
    // ic-mode=xics`, the ICS pointer replaced by our fixed token.
    let expected = "\
CPU 0 XIRR=00000000 ((nil)) PP=ff MFRR=ff
CPU 1 XIRR=00000000 ((nil)) PP=ff MFRR=ff
ICS 1000..1fff 0x1000
  1000 MSI ff 00
  1001 MSI ff 00
  1100 MSI ff 00
  1101 MSI ff 00
  1102 MSI ff 00
  1103 MSI ff 00
  1200 LSI ff 00
  1201 LSI ff 00
  1202 LSI ff 00
  1203 LSI ff 00
";
    assert_eq!(t.info_pic(), expected);
}

#[test]
fn info_pic_of_a_pseries_3_0_sized_ics() {
    let t = Harness::with(0x400, 2, 2);
    t.c.claim_irq(0x1000, false).unwrap();
    t.c.claim_irq(0x1004, true).unwrap();
    let text = t.info_pic();
    assert!(text.contains("ICS 1000..13ff 0x1000\n  1000 MSI ff 00\n  1004 LSI ff 00\n"));
}

#[test]
fn info_pic_shows_pending_owner_priority_and_status() {
    let t = Harness::new(2);
    t.claim_defaults();
    assert_eq!(t.cppr(0, 0xFF), h::SUCCESS);
    assert_eq!(t.set_xive(0x1100, 0, 5), 0);
    assert_eq!(t.set_xive(0x1200, 0, 3), 0);
    t.c.set_irq(0x1100, true); // presented, then displaced by the LSI
    t.c.set_irq(0x1200, true);
    assert_eq!(t.ipi(0, 1, 4), h::SUCCESS); // vCPU 1 is at CPPR 0: held
    let text = t.info_pic();
    assert!(text.starts_with(
        "CPU 0 XIRR=ff001200 (0x1000) PP=03 MFRR=ff\nCPU 1 XIRR=00000000 ((nil)) PP=ff MFRR=04\n"
    ));
    assert!(text.contains("  1100 MSI 05 04\n"), "{text}"); // REJECTED
    assert!(text.contains("  1200 LSI 03 03\n"), "{text}"); // ASSERTED|SENT
    assert_eq!(t.cppr(1, 0xFF), h::SUCCESS);
    assert!(t
        .info_pic()
        .contains("CPU 1 XIRR=ff000002 ((nil)) PP=04 MFRR=04\n"));
}

#[test]
fn dt_node_through_the_trait() {
    let t = Harness::new(2);
    let mut sink = spapr_irq::dt::RecordingSink::default();
    t.c.dt_node(&mut sink, 8, 0x1111).unwrap();
    assert_eq!(
        sink.events.first(),
        Some(&spapr_irq::dt::DtEvent::Begin(
            "interrupt-controller".into()
        ))
    );
    assert_eq!(
        sink.property("ibm,interrupt-server-ranges").unwrap(),
        [0, 0, 0, 0, 0, 0, 0, 8]
    );
    assert_eq!(sink.property("compatible").unwrap(), b"IBM,ppc-xicp\0");
    let mut root = spapr_irq::dt::RecordingSink::default();
    t.c.dt_root_properties(&mut root).unwrap();
    assert!(root.events.is_empty());
}

// ---- migration --------------------------------------------------------

/// A busy source machine: pending, rejected, masked-pending and asserted
/// state on two vCPUs.
fn busy() -> Harness {
    let t = Harness::new(2);
    t.claim_defaults();
    for cpu in 0..2 {
        assert_eq!(t.cppr(cpu, 0xFF), h::SUCCESS);
    }
    assert_eq!(t.set_xive(0x1100, 0, 5), 0);
    assert_eq!(t.set_xive(0x1101, 1, 6), 0);
    assert_eq!(t.set_xive(0x1200, 1, 2), 0);
    t.c.set_irq(0x1100, true);
    t.c.set_irq(0x1101, true);
    t.c.set_irq(0x1200, true); // displaces 0x1101 on vCPU 1
    t.c.set_irq(0x1000, true); // masked: masked-pending
    assert_eq!(t.ipi(1, 0, 7), h::SUCCESS);
    let x = t.xirr(0); // vCPU 0 is now in its handler at CPPR 5
    assert_eq!(x, 0xFF00_1100);
    t
}

fn sections(t: &Harness) -> Vec<(String, u32, u32, SectionState)> {
    t.c.migratables()
        .iter()
        .map(|m| {
            (
                m.name().to_owned(),
                m.instance_id(),
                m.version_id(),
                m.save().unwrap(),
            )
        })
        .collect()
}

/// Loads `saved` into `dst` the two-phase way a machine does.
fn load(dst: &Harness, saved: &[(String, u32, u32, SectionState)]) -> Result<(), MigrationError> {
    let targets = dst.c.migratables();
    let mut prepared = Vec::new();
    for (name, instance, version, state) in saved {
        let m = targets
            .iter()
            .find(|m| m.name() == name && m.instance_id() == *instance)
            .expect("section exists on the destination");
        prepared.push((m.clone(), m.prepare_load(*version, state)?));
    }
    for (m, p) in prepared {
        m.apply_load(p);
    }
    for m in &targets {
        m.post_load()?;
    }
    dst.c.post_load();
    Ok(())
}

#[test]
fn sections_are_shaped_like_qemus() {
    let t = busy();
    let s = sections(&t);
    let ids: Vec<_> = s.iter().map(|(n, i, v, _)| (n.as_str(), *i, *v)).collect();
    assert_eq!(
        ids,
        [("ics", 0, 1), ("icp/server", 0, 1), ("icp/server", 1, 1)]
    );
    for m in t.c.migratables() {
        assert_eq!(m.minimum_version_id(), 1);
        assert!(m.subsection_names().is_empty());
        assert!(!m.absent_is_reset_state());
    }
    let ics: intc_xics::state::IcsFields = s[0].3.decode("ics").unwrap();
    assert_eq!(ics.nr_irqs, 0x1000);
    assert_eq!(ics.irqs.len(), 0x1000);
    let e = ics.irqs[0x100];
    assert_eq!(
        (e.server, e.priority, e.saved_priority, e.status, e.flags),
        (0, 5, 5, 0, 2)
    );
    assert_eq!(ics.irqs[0x101].status, 0x04, "rejected");
    assert_eq!(ics.irqs[0].status, 0x08, "masked pending");
    assert_eq!(ics.irqs[0x200].status, 0x03, "asserted, sent");
    assert_eq!(ics.irqs[0x200].flags, 1);
    let icp0: intc_xics::state::IcpFields = s[1].3.decode("icp/server").unwrap();
    assert_eq!(
        (icp0.xirr, icp0.pending_priority, icp0.mfrr),
        (0x0500_0000, 0xFF, 7)
    );
    let icp1: intc_xics::state::IcpFields = s[2].3.decode("icp/server").unwrap();
    assert_eq!(
        (icp1.xirr, icp1.pending_priority, icp1.mfrr),
        (0xFF00_1200, 2, 0xFF)
    );
}

#[test]
fn round_trip_reproduces_the_state_and_the_guest_carries_on() {
    let src = busy();
    let saved = sections(&src);
    let dst = Harness::new(2);
    dst.claim_defaults();
    load(&dst, &saved).unwrap();
    assert_eq!(dst.info_pic(), src.info_pic());
    assert!(!dst.raised(0) && dst.raised(1), "lines follow XISR");
    // vCPU 1 takes the LSI, then the rejected MSI comes back after the EOI.
    let x = dst.xirr(1);
    assert_eq!(x, 0xFF00_1200);
    dst.c.set_irq(0x1200, false);
    assert_eq!(dst.eoi(1, x), h::SUCCESS);
    assert_eq!(dst.xirr(1), 0xFF00_1101);
    // vCPU 0 ends its MSI; the IPI (MFRR 7) is then presented.
    assert_eq!(dst.eoi(0, 0xFF00_1100), h::SUCCESS);
    assert_eq!(dst.xirr(0), 0xFF00_0002);
}

#[test]
fn post_load_resends_what_was_rejected() {
    let src = Harness::new(1);
    src.c.claim_irq(0x1300, false).unwrap();
    assert_eq!(src.set_xive(0x1300, 0, 5), 0);
    src.c.set_irq(0x1300, true); // rejected: CPPR 0
    assert_eq!(src.cppr(0, 0xFF), h::SUCCESS); // delivered
    assert_eq!(src.cppr(0, 0), h::SUCCESS); // rejected again
    let mut saved = sections(&src);
    // Open the presenter in the stream, as if the guest had just raised
    // CPPR without the resend having run.
    let f = intc_xics::state::IcpFields {
        xirr: 0xFF00_0000,
        pending_priority: 0xFF,
        mfrr: 0xFF,
    };
    saved[1].3 = SectionState::encode("icp/server", &f).unwrap();
    let dst = Harness::new(1);
    dst.c.claim_irq(0x1300, false).unwrap();
    load(&dst, &saved).unwrap();
    assert!(dst.raised(0), "post_load resend delivered the rejected MSI");
    assert_eq!(dst.xirr(0), 0xFF00_1300);
}

fn ics_fields(t: &Harness) -> intc_xics::state::IcsFields {
    sections(t)[0].3.decode("ics").unwrap()
}

fn refuse(dst: &Harness, name: &str, instance: u32, version: u32, state: SectionState) -> String {
    let before = dst.info_pic();
    let m = dst
        .c
        .migratables()
        .into_iter()
        .find(|m| m.name() == name && m.instance_id() == instance)
        .unwrap();
    let err = m.prepare_load(version, &state).unwrap_err().to_string();
    assert_eq!(before, dst.info_pic(), "a refused stream changes nothing");
    err
}

#[test]
fn an_ics_of_another_size_is_refused() {
    let src = Harness::with(0x400, 2, 2);
    let state = sections(&src)[0].3.clone();
    let dst = busy();
    assert_eq!(
        refuse(&dst, "ics", 0, 1, state),
        "ics: nr_irqs: 1000 != 400"
    );
    let mut f = ics_fields(&dst);
    f.irqs.pop();
    let err = refuse(&dst, "ics", 0, 1, SectionState::encode("ics", &f).unwrap());
    assert_eq!(err, "ics: 4095 source entries for nr_irqs 4096");
}

type Breaker = fn(&mut intc_xics::state::IcsIrqFields);

#[test]
fn bad_source_entries_are_refused() {
    // Four server slots, two of them with a vCPU.
    let dst = Harness::with(0x1000, 4, 2);
    dst.claim_defaults();
    assert_eq!(dst.set_xive(0x1100, 0, 5), 0);
    let cases: [(&str, Breaker); 5] = [
        ("invalid flags 0x3", |e| e.flags = 3),
        ("invalid flags 0x4", |e| e.flags = 4),
        ("invalid status 0x40", |e| e.status = 0x40),
        ("server 2 has no vCPU", |e| e.server = 2),
        ("server 9 is out of range", |e| {
            e.server = 9;
            e.priority = 0xFF
        }),
    ];
    for (want, break_it) in cases {
        let mut f = ics_fields(&dst);
        break_it(&mut f.irqs[0x100]);
        let err = refuse(&dst, "ics", 0, 1, SectionState::encode("ics", &f).unwrap());
        assert!(err.starts_with("ics: source 0x1100: "), "{err}");
        assert!(err.contains(want), "{err}");
    }
    // A masked source may name any server slot; an unclaimed one anything.
    let mut f = ics_fields(&dst);
    f.irqs[0x100].priority = 0xFF;
    f.irqs[0x100].server = 3;
    f.irqs[0x555].server = u32::MAX;
    f.irqs[0x555].priority = 3;
    let m = dst.c.migratables().into_iter().next().unwrap();
    assert!(m
        .prepare_load(1, &SectionState::encode("ics", &f).unwrap())
        .is_ok());
}

#[test]
fn a_presenter_state_naming_no_source_is_refused() {
    let dst = busy();
    for xisr in [1u32, 3, 0xFFF, 0x2000, 0xFF_FFFF] {
        let f = intc_xics::state::IcpFields {
            xirr: 0xFF00_0000 | xisr,
            pending_priority: 5,
            mfrr: 0xFF,
        };
        let err = refuse(
            &dst,
            "icp/server",
            1,
            1,
            SectionState::encode("x", &f).unwrap(),
        );
        assert_eq!(
            err,
            format!(
                "icp/server: vCPU 1: XISR {xisr:#x} is neither 0, the IPI nor a source of the ICS"
            )
        );
    }
    for xisr in [0u32, 2, 0x1000, 0x1FFF] {
        let f = intc_xics::state::IcpFields {
            xirr: xisr,
            pending_priority: 5,
            mfrr: 0xFF,
        };
        let m = dst.c.migratables().into_iter().nth(1).unwrap();
        assert!(m
            .prepare_load(1, &SectionState::encode("x", &f).unwrap())
            .is_ok());
    }
}

#[test]
fn versions_and_garbage_are_refused() {
    let dst = busy();
    let good = sections(&dst);
    assert_eq!(
        refuse(&dst, "ics", 0, 2, good[0].3.clone()),
        "ics: incoming version_id 2 is too new for local version_id 1"
    );
    assert_eq!(
        refuse(&dst, "icp/server", 0, 0, good[1].3.clone()),
        "icp/server: incoming version_id 0 is too old for local minimum version_id 1"
    );
    let garbage = SectionState {
        fields: vec![0xC1, 0x00, 0xFF],
        subsections: Vec::new(),
    };
    assert!(refuse(&dst, "ics", 0, 1, garbage.clone()).starts_with("ics: cannot decode state"));
    assert!(refuse(&dst, "icp/server", 1, 1, garbage).starts_with("icp/server: cannot decode"));
    // The ICP section of the other mode's field set (XIVE's) is not ours.
    let wrong = SectionState::encode(
        "x",
        &intc_xics::state::IcsFields {
            nr_irqs: 1,
            irqs: Vec::new(),
        },
    )
    .unwrap();
    assert!(refuse(&dst, "icp/server", 0, 1, wrong).starts_with("icp/server: cannot decode"));
}

#[test]
fn destroyed_presenters_leave_the_stream() {
    let t = Harness::new(3);
    t.c.cpu_intc_destroy(1);
    let ids: Vec<_> =
        t.c.migratables()
            .iter()
            .map(|m| (m.name().to_owned(), m.instance_id()))
            .collect();
    assert_eq!(
        ids,
        [
            ("ics".into(), 0),
            ("icp/server".into(), 0),
            ("icp/server".into(), 2)
        ]
    );
    assert!(!t.info_pic().contains("CPU 1 "));
}

#[test]
fn the_inactive_controller_holds_no_line_up() {
    // Dual mode: the machine switches XICS off at CAS with an interrupt
    // pending, and back on at the next reset or an incoming migration.
    let t = busy();
    assert!(t.raised(1));
    t.c.deactivate();
    assert!(!t.raised(0) && !t.raised(1));
    t.c.activate(2).unwrap();
    assert!(t.raised(1), "the pending LSI drives the line again");
    assert!(!t.raised(0));
    // A stream loaded into an inactive controller raises nothing either.
    let saved = sections(&t);
    let dst = Harness::new(2);
    dst.claim_defaults();
    dst.c.deactivate();
    let targets = dst.c.migratables();
    for (name, instance, version, state) in &saved {
        let m = targets
            .iter()
            .find(|m| m.name() == name && m.instance_id() == *instance)
            .unwrap();
        m.apply_load(m.prepare_load(*version, state).unwrap());
    }
    assert!(!dst.raised(1));
    dst.c.activate(2).unwrap();
    assert!(dst.raised(1));
    assert_eq!(dst.info_pic(), t.info_pic());
}

#[test]
fn a_new_controller_is_inactive_and_drives_its_lines_once_activated() {
    let b = spapr_irq::backend("xics").unwrap();
    let c = (b.factory)(&common::config(0x1000, 1)).unwrap();
    let line = spapr_irq::IrqLine::detached();
    c.cpu_intc_create(&spapr_irq::VcpuDesc {
        index: 0,
        server: 0,
        pir: 0,
        line: line.clone(),
    })
    .unwrap();
    assert!(!c.is_active());
    c.activate(1).unwrap();
    let caller = spapr_irq::Caller {
        vcpu: 0,
        timebase: 0,
    };
    assert_eq!(
        c.hcall(caller, spapr_irq::papr::hcall::H_CPPR, &[0xFF]).ret,
        0
    );
    assert_eq!(
        c.hcall(caller, spapr_irq::papr::hcall::H_IPI, &[0, 3]).ret,
        0
    );
    assert!(line.is_raised());
}
