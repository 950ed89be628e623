//! The PQ state machine cell by cell, through the ESB MMIO pages of the
//! controller, for MSIs and LSIs, and every load/store offset range.

mod common;

use common::{Harness, PRIO};
use intc_xive::spapr::SpaprXive;

const LISN: u32 = 0x1300;

/// A harness with LISN routed to vCPU 0's queue, starting at `pq`.
fn at(pq: u64, lsi: bool) -> Harness {
    let t = Harness::new(2, 2);
    t.x.claim_irq(LISN, lsi).unwrap();
    t.linux_queue(0);
    t.linux_source(LISN, 0, 0x55);
    t.esb(LISN, 0xC00 + (pq << 8));
    assert_eq!(t.esb(LISN, 0x800), pq);
    t
}

fn events(t: &Harness) -> u64 {
    t.queue_pos(0, PRIO).1
}

#[test]
fn trigger_column_by_column() {
    // (start, end, forwarded)
    for (start, end, fwd) in [(0, 2, 1), (2, 3, 0), (3, 3, 0), (1, 1, 0)] {
        // Device input.
        let t = at(start, false);
        t.x.set_irq(LISN, true);
        assert_eq!(
            (t.esb(LISN, 0x800), events(&t)),
            (end, fwd),
            "set_irq from {start:02b}"
        );
        t.x.set_irq(LISN, false);
        assert_eq!(t.esb(LISN, 0x800), end, "MSI level 0 is ignored");
        // Store on the trigger page, any offset.
        let t = at(start, false);
        t.store(0, SpaprXive::trigger_page(LISN) + 0xF08, 8, 0);
        assert_eq!(
            (t.esb(LISN, 0x800), events(&t)),
            (end, fwd),
            "trigger page from {start:02b}"
        );
        // Store at 0x000-0x3FF of the management page.
        let t = at(start, false);
        t.store(0, SpaprXive::mgmt_page(LISN) + 0x3F8, 8, 0);
        assert_eq!(
            (t.esb(LISN, 0x800), events(&t)),
            (end, fwd),
            "mgmt store from {start:02b}"
        );
    }
}

#[test]
fn eoi_column_by_column() {
    for (start, end, fwd) in [(0, 0, 0), (2, 0, 0), (3, 2, 1), (1, 1, 0)] {
        for off in [0x000, 0x7F8] {
            let t = at(start, false);
            assert_eq!(t.esb(LISN, off), fwd, "load EOI result from {start:02b}");
            assert_eq!(
                (t.esb(LISN, 0x800), events(&t)),
                (end, fwd),
                "EOI from {start:02b}"
            );
        }
    }
}

#[test]
fn lsi_cells() {
    // Assert from each state: only 00 forwards.
    for (start, end, fwd) in [(0, 2, 1), (2, 2, 0), (3, 3, 0), (1, 1, 0)] {
        let t = at(start, true);
        t.x.set_irq(LISN, true);
        assert_eq!(
            (t.esb(LISN, 0x800), events(&t)),
            (end, fwd),
            "assert from {start:02b}"
        );
        assert_eq!(t.source_status(), end | 4);
        t.x.set_irq(LISN, false);
        assert_eq!(t.source_status(), end, "deassert clears only A");
    }
    // EOI while asserted re-runs the LSI trigger.
    let t = at(2, true);
    t.x.set_irq(LISN, true);
    assert_eq!(t.esb(LISN, 0x000), 1);
    assert_eq!((t.esb(LISN, 0x800), events(&t)), (2, 1));
    // Deasserted: plain EOI.
    t.x.set_irq(LISN, false);
    assert_eq!(t.esb(LISN, 0x000), 0);
    assert_eq!(t.esb(LISN, 0x800), 0);
}

trait Status {
    fn source_status(&self) -> u64;
}

impl Status for Harness {
    fn source_status(&self) -> u64 {
        // The status byte as migrated: visible in `info pic` (P, Q, A).
        let mut s = String::new();
        self.x.print_info(&mut s).unwrap();
        let line = s
            .lines()
            .find(|l| l.starts_with(&format!("  {LISN:08x}")))
            .unwrap()
            .to_owned();
        let f = &line[15..18];
        let mut v = 0;
        if &f[0..1] == "P" {
            v |= 2;
        }
        if &f[1..2] == "Q" {
            v |= 1;
        }
        if &f[2..3] == "A" {
            v |= 4;
        }
        v
    }
}

#[test]
fn set_pq_loads_and_stores_on_every_range() {
    for target in 0..4u64 {
        for start in 0..4u64 {
            for off in [0xC00 + (target << 8), 0xC00 + (target << 8) + 0xF8] {
                let t = at(start, false);
                assert_eq!(t.esb(LISN, off), start, "load {off:#x} returns the old PQ");
                assert_eq!(t.esb(LISN, 0x800), target);
                let t = at(start, false);
                t.store(0, SpaprXive::mgmt_page(LISN) + off, 8, 0);
                assert_eq!(t.esb(LISN, 0x800), target, "store {off:#x}");
                assert_eq!(events(&t), 0, "set PQ never forwards");
            }
        }
    }
}

#[test]
fn get_inject_store_eoi_and_invalid_accesses() {
    let t = at(3, false);
    assert_eq!(t.esb(LISN, 0xBF8), 3, "0x800-0xBFF is get");
    // Inject forwards without touching PQ.
    t.store(0, SpaprXive::mgmt_page(LISN) + 0x800, 8, 0);
    assert_eq!((t.esb(LISN, 0x800), events(&t)), (3, 1));
    // Store EOI is ignored without the flag.
    t.store(0, SpaprXive::mgmt_page(LISN) + 0x400, 8, 0);
    assert_eq!(t.esb(LISN, 0x800), 3);
    // Trigger-page loads are invalid.
    assert!(t
        .x
        .mmio_read(common::caller(0), SpaprXive::trigger_page(LISN), 8)
        .is_err());
    // Beyond the ESB window and bad sizes.
    let end = SpaprXive::trigger_page(0x2000);
    assert!(t.x.mmio_read(common::caller(0), end, 8).is_err());
    assert!(t
        .x
        .mmio_read(common::caller(0), SpaprXive::mgmt_page(LISN), 3)
        .is_err());
    // Smaller loads see the low bytes of the value.
    assert_eq!(t.load(0, SpaprXive::mgmt_page(LISN) + 0x800, 1), 3);
}
