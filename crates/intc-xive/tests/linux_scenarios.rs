//! The XIVE scenarios of reference/linux-guest-intc.md section 6 (5-27),
//! one test each, driven through the controller as the machine calls it.

mod common;

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::{Harness, QueueReader, PRIO, TIMA_OS};
use intc_xive::engine::{
    nvt::NvtTable, End, Notifier, Router, RouterConfig, SourceBlock, SourceConfig,
};
use intc_xive::spapr::SpaprXive;
use spapr_irq::dt::RecordingSink;
use spapr_irq::papr::{h, hcall::*};
use vm_memory::{GuestAddress, GuestMemoryMmap};

const EO: u32 = 0x8000_0000;

#[test]
fn s05_priority_7_is_reserved_and_linux_picks_6() {
    let t = Harness::new(2, 2);
    let mut sink = RecordingSink::default();
    t.x.dt_root_properties(&mut sink).unwrap();
    let v = sink.property("ibm,plat-res-int-priorities").unwrap();
    assert_eq!(v, [0, 0, 0, 7, 0, 0, 0, 0xF8]);
    // Linux: highest unreserved priority in 0..7.
    let reserved = |p: u32| (7..7 + 0xF8).contains(&p);
    assert_eq!((0..8).rev().find(|p| !reserved(*p)), Some(6));
    assert_eq!(t.hc(H_INT_GET_QUEUE_INFO, &[0, 0, 7]).ret, h::P3);
    assert_eq!(
        t.hc(H_INT_SET_QUEUE_CONFIG, &[1, 0, 7, 0x10000, 16]).ret,
        h::P3
    );
    assert_eq!(t.hc(H_INT_GET_QUEUE_CONFIG, &[0, 0, 7]).ret, h::P3);
    assert_eq!(t.hc(H_INT_SET_SOURCE_CONFIG, &[2, 0, 0, 7, 1]).ret, h::P4);
    t.linux_queue(0);
    t.linux_source(0, 0, 1);
}

#[test]
fn s06_set_queue_config_errors_and_reset_stops_writes() {
    let t = Harness::new(2, 2);
    let q = Harness::queue_page(0);
    assert_eq!(
        t.hc(H_INT_SET_QUEUE_CONFIG, &[1, 0, PRIO, q + 0x1000, 16])
            .ret,
        h::P4
    );
    assert_eq!(
        t.hc(H_INT_SET_QUEUE_CONFIG, &[1, 0, PRIO, q, 13]).ret,
        h::P5
    );
    assert_eq!(
        t.hc(H_INT_SET_QUEUE_CONFIG, &[2, 0, PRIO, q, 16]).ret,
        h::PARAMETER
    );
    assert_eq!(
        t.hc(H_INT_SET_QUEUE_CONFIG, &[1, 5, PRIO, q, 16]).ret,
        h::P2
    );
    t.linux_queue(0);
    t.linux_source(0, 0, 0x11);
    assert_eq!(
        t.hc(H_INT_SET_QUEUE_CONFIG, &[0, 0, PRIO, 0, 0]).ret,
        h::SUCCESS
    );
    t.trigger(0);
    assert_eq!(t.entry(0, 0), 0, "nothing written after the reset");
    assert!(!t.raised(0));
    assert_eq!(t.queue_pos(0, PRIO), (0, 0));
}

#[test]
fn s07_generation_bit_and_three_wraps_of_a_4k_queue() {
    let t = Harness::new(2, 2);
    let q = Harness::queue_page(0);
    assert_eq!(t.hc(H_INT_SET_QUEUE_CONFIG, &[1, 0, PRIO, q, 12]).ret, 0);
    t.cppr(0, 0xFF);
    t.linux_source(1, 0, 0x99);
    let mut reader = QueueReader::new(q, 12);
    let mut seen = 0;
    for n in 0..3 * 1024 + 5 {
        t.trigger(1);
        assert!(t.raised(0));
        assert_eq!(t.ack(0), 0x8006);
        if n == 0 {
            assert_eq!(t.entry(0, 0), 0x8000_0099, "first entry has bit 31 set");
        }
        if n == 1024 {
            assert_eq!(t.entry(0, 0), 0x0000_0099, "after a wrap bit 31 is clear");
        }
        assert_eq!(reader.pop(&t.mem), Some(0x99));
        assert_eq!(reader.pop(&t.mem), None);
        seen += 1;
        assert_eq!(t.esb(1, 0xC00), 2);
        t.cppr(0, 0xFF);
    }
    assert_eq!(seen, 3 * 1024 + 5);
    assert_eq!(
        t.queue_pos(0, PRIO),
        (0, 5),
        "three wraps: generation 1^1^1^1"
    );
}

#[test]
fn s08_get_source_info_on_ipi_lsi_unknown_and_flags() {
    let t = Harness::new(2, 2);
    let r = t.hc(H_INT_GET_SOURCE_INFO, &[0, 1]);
    assert_eq!(r.out[0] & 0x8, 0, "IPIs never need H_INT_ESB");
    assert_eq!(r.out[1] & 0xFFFF, 0);
    assert_eq!(r.out[2] & 0xFFFF, 0);
    assert_eq!(r.out[3], 16);
    t.x.claim_irq(0x1201, true).unwrap();
    assert_eq!(
        t.hc(H_INT_GET_SOURCE_INFO, &[0, 0x1201]).out,
        [0xC, u64::MAX, u64::MAX, 16]
    );
    assert_eq!(t.hc(H_INT_GET_SOURCE_INFO, &[0, 0x1FFF]).ret, h::P2);
    assert_eq!(t.hc(H_INT_GET_SOURCE_INFO, &[0, 0x2000]).ret, h::P2);
    assert_eq!(t.hc(H_INT_GET_SOURCE_INFO, &[1, 1]).ret, h::PARAMETER);
}

#[test]
fn s09_mapping_masks_and_masked_triggers_are_dropped() {
    let t = Harness::new(2, 2);
    t.x.claim_irq(0x1300, false).unwrap();
    t.linux_queue(0);
    assert_eq!(t.esb(0x1300, 0xC00), 1);
    assert_eq!(t.esb(0x1300, 0xD00), 0, "returns the old PQ");
    assert_eq!(t.esb(0x1300, 0x800), 1);
    t.hc(H_INT_SET_SOURCE_CONFIG, &[2, 0x1300, 0, PRIO, 5]);
    t.trigger(0x1300);
    t.x.set_irq(0x1300, true);
    assert_eq!(t.esb(0x1300, 0x800), 1);
    assert_eq!(t.entry(0, 0), 0);
    assert!(!t.raised(0));
}

#[test]
fn s10_one_event_one_entry_ipb_and_exception() {
    let t = Harness::new(2, 2);
    t.x.claim_irq(0x1300, false).unwrap();
    t.linux_queue(1);
    t.linux_source(0x1300, 1, 42);
    t.x.set_irq(0x1300, true);
    assert_eq!(t.entry(1, 0), 0x8000_0000 | 42);
    assert_eq!(t.entry(1, 1), 0);
    let w0 = t.os_w0(1);
    assert_eq!(w0 >> 24, 0x80, "NSR.EO");
    assert_eq!((w0 >> 8) & 0xFF, 0x02, "IPB bit of priority 6");
    assert!(t.raised(1));
    assert!(!t.raised(0));
}

#[test]
fn s11_second_trigger_before_eoi_is_latched_in_q() {
    let t = Harness::new(2, 2);
    t.x.claim_irq(0x1300, false).unwrap();
    t.linux_queue(0);
    t.linux_source(0x1300, 0, 42);
    t.trigger(0x1300);
    t.trigger(0x1300);
    assert_eq!(t.esb(0x1300, 0x800), 3);
    assert_eq!(t.entry(0, 1), 0);
    assert_eq!(t.esb(0x1300, 0xC00), 3, "EOI returns the old PQ 11");
    t.trigger(0x1300); // the guest re-fires because Q was set
    assert_eq!(t.entry(0, 1), 0x8000_0000 | 42);
    assert_eq!(t.entry(0, 2), 0);
}

#[test]
fn s12_ack_returns_nsr_and_cppr() {
    let t = Harness::new(2, 2);
    t.linux_queue(0);
    t.linux_source(0, 0, 3);
    t.trigger(0);
    assert!(t.raised(0));
    assert_eq!(t.ack(0), 0x8006);
    assert_eq!(t.os_w0(0) & 0x00FF_FF00, 0x0006_0000, "CPPR 6, IPB clear");
    assert!(!t.raised(0));
    assert_eq!(t.ack(0), 0x0006);
}

#[test]
fn s13_event_while_cppr_6_waits_for_cppr_ff() {
    let t = Harness::new(2, 2);
    t.linux_queue(0);
    t.linux_source(0, 0, 3);
    t.cppr(0, 6);
    t.trigger(0);
    assert_eq!(t.entry(0, 0), 0x8000_0003);
    assert_eq!((t.os_w0(0) >> 8) & 0xFF, 0x02);
    assert!(!t.raised(0));
    assert_eq!(t.os_w0(0) & EO, 0);
    t.cppr(0, 0xFF);
    assert!(t.raised(0));
    assert_eq!(t.ack(0), 0x8006);
}

#[test]
fn s14_cppr_0_holds_events_until_raised() {
    let t = Harness::new(2, 2);
    t.linux_queue(0);
    t.linux_source(0, 0, 3);
    t.trigger(0);
    assert!(t.raised(0));
    t.cppr(0, 0);
    assert!(!t.raised(0), "CPPR 0 drops the exception");
    assert_eq!(t.ack(0), 0x0000);
    assert_eq!((t.os_w0(0) >> 8) & 0xFF, 0x02, "still pending in IPB");
    t.cppr(0, 0xFF);
    assert!(t.raised(0));
    assert_eq!(t.ack(0), 0x8006);
}

#[test]
fn s15_ipi_from_cpu0_wakes_cpu1_and_shared_eisn_lisns_both_deliver() {
    let t = Harness::new(2, 2);
    t.linux_queue(0);
    t.linux_queue(1);
    // Per-node IPI virq: both IPI LISNs carry EISN 16.
    t.linux_source(0, 0, 16);
    t.linux_source(1, 1, 16);
    let inputs = Arc::clone(&t.inputs[1]);
    let sleeper = thread::spawn(move || inputs.wait(Some(Duration::from_secs(30))));
    thread::sleep(Duration::from_millis(20));
    // CPU 0 stores to CPU 1's IPI trigger page.
    t.store(0, SpaprXive::trigger_page(1), 8, 0);
    assert_ne!(sleeper.join().unwrap(), 0, "CPU 1 woke with its line up");
    assert_eq!(t.ack(1), 0x8006);
    assert_eq!(t.entry(1, 0), 0x8000_0010);
    t.store(1, SpaprXive::trigger_page(0), 8, 0);
    assert_eq!(t.ack(0), 0x8006);
    assert_eq!(t.entry(0, 0), 0x8000_0010);
}

#[test]
fn s16_store_eoi_is_not_advertised_on_spapr_and_works_in_the_engine() {
    let t = Harness::new(2, 2);
    t.linux_queue(0);
    t.linux_source(0, 0, 1);
    assert_eq!(t.hc(H_INT_GET_SOURCE_INFO, &[0, 0]).out[0] & 1, 0);
    t.trigger(0);
    t.trigger(0);
    t.store(0, SpaprXive::mgmt_page(0) + 0x400, 8, 0);
    assert_eq!(t.esb(0, 0x800), 3, "store EOI ignored without the flag");
    // 0xE40 decodes as SET_PQ_10.
    assert_eq!(t.esb(0, 0xE40), 3);
    assert_eq!(t.esb(0, 0x800), 2);

    // An engine source block with store EOI.
    let mem = GuestMemoryMmap::from_ranges(&[(GuestAddress(0), 0x10_0000)]).unwrap();
    let r = Router::new(
        RouterConfig {
            block: 0,
            nr_eas: 4,
            nr_ends: 1,
            nr_contexts: 1,
            end_esb_shift: 16,
        },
        NvtTable::new(0, 1),
        mem.clone(),
    );
    let src = SourceBlock::new(SourceConfig {
        store_eoi: true,
        reset_pq: 0,
        ..SourceConfig::spapr(4)
    })
    .unwrap();
    r.endt().set(0, End::with_queue(0x1000, 12, 0, 0, 6, true));
    r.eat()
        .set(2, intc_xive::engine::Eas::route(0, 0, 9, false));
    let mut q = QueueReader::new(0x1000, 12);
    src.esb_store(src.trigger_page_offset(2), &r);
    src.esb_store(src.trigger_page_offset(2), &r);
    assert_eq!(q.pop(&mem), Some(9));
    assert!(src.esb_store(src.mgmt_page_offset(2) + 0x400, &r));
    assert_eq!(src.pq(2), 2, "11 -> 10");
    assert_eq!(q.pop(&mem), Some(9), "and a new event");
    src.esb_store(src.mgmt_page_offset(2) + 0x400, &r);
    assert_eq!(src.pq(2), 0, "10 -> 00");
    assert_eq!(q.pop(&mem), None);
    r.notify(3, true); // invalid EAS: dropped
    assert_eq!(q.pop(&mem), None);
}

#[test]
fn s17_lsi_through_h_int_esb() {
    let t = Harness::new(2, 2);
    t.x.claim_irq(0x1200, true).unwrap();
    t.linux_queue(0);
    t.hc(H_INT_SET_SOURCE_CONFIG, &[2, 0x1200, 0, PRIO, 0x20]);
    assert_eq!(t.hc(H_INT_ESB, &[0, 0x1200, 0xC00, 0]).out[0], 1);
    t.x.set_irq(0x1200, true);
    assert_eq!(t.entry(0, 0), 0x8000_0020);
    // EOI load while still asserted: a new event.
    assert_eq!(t.hc(H_INT_ESB, &[0, 0x1200, 0x000, 0]).out[0], 1);
    assert_eq!(t.entry(0, 1), 0x8000_0020);
    t.x.set_irq(0x1200, false);
    assert_eq!(t.hc(H_INT_ESB, &[0, 0x1200, 0x000, 0]).out[0], 0);
    assert_eq!(t.entry(0, 2), 0);
    assert_eq!(t.hc(H_INT_ESB, &[0, 0x1200, 0x20000, 0]).ret, h::P3);
    assert_eq!(t.hc(H_INT_ESB, &[3, 0x1200, 0, 0]).ret, h::PARAMETER);
}

#[test]
fn s18_mask_with_event_in_flight_neither_loses_nor_duplicates() {
    let t = Harness::new(2, 2);
    t.x.claim_irq(0x1300, false).unwrap();
    t.linux_queue(0);
    t.linux_source(0x1300, 0, 7);
    t.trigger(0x1300);
    assert_eq!(t.esb(0x1300, 0xD00), 2, "mask: saved P");
    t.trigger(0x1300);
    assert_eq!(t.esb(0x1300, 0xE00), 1, "unmask with saved P");
    assert_eq!(t.esb(0x1300, 0xC00), 2, "EOI of the in-flight event");
    assert_eq!(t.entry(0, 0), 0x8000_0007);
    assert_eq!(t.entry(0, 1), 0);
}

#[test]
fn s19_retrigger_delivers_exactly_one_event() {
    let t = Harness::new(2, 2);
    t.x.claim_irq(0x1300, false).unwrap();
    t.linux_queue(0);
    t.linux_source(0x1300, 0, 7);
    assert_eq!(t.esb(0x1300, 0xF00), 0);
    assert_eq!(t.esb(0x1300, 0xC00), 3);
    assert_eq!(t.entry(0, 0), 0);
    t.trigger(0x1300);
    assert_eq!(t.entry(0, 0), 0x8000_0007);
    assert_eq!(t.entry(0, 1), 0);
}

#[test]
fn s20_retarget_leaves_old_entries_and_sends_new_ones_to_the_new_cpu() {
    let t = Harness::new(2, 2);
    t.x.claim_irq(0x1300, false).unwrap();
    t.linux_queue(0);
    t.linux_queue(1);
    t.linux_source(0x1300, 0, 7);
    t.trigger(0x1300);
    assert_eq!(
        t.hc(H_INT_SET_SOURCE_CONFIG, &[2, 0x1300, 1, PRIO, 7]).ret,
        0
    );
    assert_eq!(t.esb(0x1300, 0xC00), 2);
    t.trigger(0x1300);
    assert_eq!(t.entry(0, 0), 0x8000_0007);
    assert_eq!(t.entry(0, 1), 0);
    assert_eq!(t.entry(1, 0), 0x8000_0007);
}

#[test]
fn s21_priority_ff_masks_for_any_target() {
    let t = Harness::new(2, 2);
    t.x.claim_irq(0x1300, false).unwrap();
    t.linux_queue(0);
    t.linux_source(0x1300, 0, 7);
    let r = t.hc(
        H_INT_SET_SOURCE_CONFIG,
        &[2, 0x1300, 0xDEAD, 0xFF, 0x7FFF_FFFF],
    );
    assert_eq!(r.ret, h::SUCCESS);
    assert_eq!(t.hc(H_INT_GET_SOURCE_CONFIG, &[0, 0x1300]).out[1], 0xFF);
    t.trigger(0x1300);
    assert_eq!(t.entry(0, 0), 0);
}

#[test]
fn s22_get_source_config_ignores_junk_registers() {
    let t = Harness::new(2, 2);
    t.linux_queue(1);
    t.linux_source(1, 1, 0x1234);
    let r = t.hc(H_INT_GET_SOURCE_CONFIG, &[0, 1, 0xAAAA, 0xBBBB, 0xCCCC]);
    assert_eq!(r.ret, h::SUCCESS);
    assert_eq!((r.nout, &r.out[..3]), (3, &[1, PRIO, 0x1234][..]));
}

#[test]
fn s23_cpu_offline_and_online_again() {
    let t = Harness::new(2, 2);
    t.linux_queue(1);
    t.linux_source(1, 1, 16);
    t.trigger(1);
    assert_eq!(t.ack(1), 0x8006);
    t.cppr(1, 0);
    assert_eq!(t.esb(1, 0xD00), 2);
    assert_eq!(t.hc(H_INT_SET_SOURCE_CONFIG, &[2, 1, 1, 0xFF, 16]).ret, 0);
    assert_eq!(t.hc(H_INT_SET_QUEUE_CONFIG, &[0, 1, PRIO, 0, 0]).ret, 0);
    t.trigger(1);
    assert_eq!(t.entry(1, 1), 0, "nothing written into the freed page");
    // Online again: a fresh queue at generation 1, index 0.
    let q2 = Harness::queue_page(1) + 0x40_0000;
    assert_eq!(t.hc(H_INT_SET_QUEUE_CONFIG, &[1, 1, PRIO, q2, 16]).ret, 0);
    assert_eq!(t.queue_pos(1, PRIO), (1, 0));
    t.linux_source(1, 1, 16);
    t.cppr(1, 0xFF);
    t.trigger(1);
    assert_eq!(t.word(q2), 0x8000_0010);
}

#[test]
fn s24_h_int_reset_masks_everything_and_stays_xive() {
    let t = Harness::new(2, 2);
    t.x.claim_irq(0x1300, false).unwrap();
    t.linux_queue(0);
    t.linux_source(0x1300, 0, 7);
    t.linux_source(0, 0, 16);
    assert_eq!(t.hc(H_INT_RESET, &[0]).ret, h::SUCCESS);
    for lisn in [0, 1, 0x1300] {
        assert_eq!(t.esb(lisn, 0x800), 1, "PQ 01");
        assert_eq!(
            t.hc(H_INT_GET_SOURCE_CONFIG, &[0, lisn.into()]).out[1],
            0xFF
        );
        assert!(t.x.is_claimed(lisn));
    }
    assert_eq!(
        t.hc(H_INT_GET_QUEUE_CONFIG, &[0, 0, PRIO]).out,
        [0, 0, 0, 0]
    );
    assert!(t.x.is_active());
    // The next kernel sets everything up again.
    t.linux_queue(0);
    t.linux_source(0x1300, 0, 8);
    t.trigger(0x1300);
    assert_eq!(t.entry(0, 0), 0x8000_0008);
}

#[test]
fn s25_sync() {
    let t = Harness::new(2, 2);
    assert_eq!(t.hc(H_INT_SYNC, &[0, 1]).ret, h::SUCCESS);
    assert_eq!(t.hc(H_INT_SYNC, &[1, 1]).ret, h::PARAMETER);
}

#[test]
fn s26_queue_for_a_vcpu_not_started_yet() {
    let t = Harness::new(2, 2);
    // Configured from CPU 0 for CPU 1, whose CPPR is still 0.
    assert_eq!(
        t.hc(
            H_INT_SET_QUEUE_CONFIG,
            &[1, 1, PRIO, Harness::queue_page(1), 16]
        )
        .ret,
        0
    );
    t.linux_source(1, 1, 16);
    t.trigger(1);
    assert_eq!(t.entry(1, 0), 0x8000_0010);
    assert!(!t.raised(1));
    t.cppr(1, 0xFF);
    assert!(t.raised(1));
    assert_eq!(t.ack(1), 0x8006);
}

#[test]
fn s27_cede_returns_at_once_when_pending_and_wakes_on_notification() {
    let t = Harness::new(2, 2);
    t.linux_queue(0);
    t.linux_source(0, 0, 16);
    t.trigger(0);
    let start = Instant::now();
    assert_ne!(t.inputs[0].wait(Some(Duration::from_secs(30))), 0);
    assert!(start.elapsed() < Duration::from_secs(10));
    assert_eq!(t.ack(0), 0x8006);
    assert_eq!(t.esb(0, 0xC00), 2);
    t.cppr(0, 0xFF);
    let inputs = Arc::clone(&t.inputs[0]);
    let sleeper = thread::spawn(move || inputs.wait(Some(Duration::from_secs(30))));
    thread::sleep(Duration::from_millis(20));
    t.x.set_irq(0, true);
    assert_ne!(sleeper.join().unwrap(), 0);
    // The OS view's NSR shows the exception.
    assert_eq!(t.load(0, TIMA_OS + 0x10, 4) as u32 & EO, EO);
}
