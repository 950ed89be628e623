//! The engine on its own: escalation, backlog and resend, END ESB pages,
//! the hypervisor TIMA views, router-side PQ.

mod common;

use common::QueueReader;
use intc_xive::engine::regs::{end, tm};
use intc_xive::engine::{
    cam_line, Eas, End, Nvt, NvtBackend, NvtTable, Router, RouterConfig, SourceBlock, SourceConfig,
};
use spapr_irq::IrqLine;
use vm_memory::{GuestAddress, GuestMemoryMmap};

const OS: u64 = 2 << 16;
const HV: u64 = 1 << 16;
const USER: u64 = 3 << 16;

fn router(nvts: u32) -> (Router<NvtTable>, GuestMemoryMmap) {
    let mem = GuestMemoryMmap::from_ranges(&[(GuestAddress(0), 0x40_0000)]).unwrap();
    let r = Router::new(
        RouterConfig {
            block: 1,
            nr_eas: 16,
            nr_ends: 16,
            nr_contexts: 2,
            end_esb_shift: 16,
        },
        NvtTable::new(1, nvts),
        mem.clone(),
    );
    (r, mem)
}

fn source(n: u32, pq_disable: bool) -> SourceBlock {
    SourceBlock::new(SourceConfig {
        nr_irqs: n,
        esb_shift: 16,
        store_eoi: false,
        pq_disable,
        reset_pq: 0,
    })
    .unwrap()
}

/// Attaches context `id` with NVT `nvt` pushed through the HV view.
fn dispatch(r: &Router<NvtTable>, id: u32, nvt: u32) -> IrqLine {
    let line = IrqLine::detached();
    r.presenter()
        .attach(id, id, Some(line.clone()), None)
        .unwrap();
    assert!(r.tima_write(id, HV + 0x18, 4, u64::from(tm::QW1W2_VO | cam_line(1, nvt))));
    assert!(r.tima_write(id, OS + 0x11, 1, 0xFF));
    line
}

#[test]
fn escalation_routes_words_4_5_and_coalesces_on_ese() {
    let (r, mem) = router(4);
    // END 0: no queue target; escalates to END 1 with data 0x77.
    let mut e0 = End::with_queue(0x1000, 12, 1, 0, 3, true);
    e0.w[0] |= end::W0_ESCALATE_CTL | end::W0_SILENT_ESCALATE;
    e0.w[4] = (1 << 24) | 1;
    e0.w[5] = 0x77;
    r.endt().set(0, e0);
    r.endt().set(1, End::with_queue(0x2000, 12, 1, 1, 5, true));
    r.eat().set(3, Eas::route(1, 0, 0x33, false));
    let line = dispatch(&r, 1, 1);
    let src = source(4, false);
    let mut q0 = QueueReader::new(0x1000, 12);
    let mut q1 = QueueReader::new(0x2000, 12);
    src.esb_store(src.trigger_page_offset(3), &r);
    assert_eq!(q0.pop(&mem), Some(0x33), "still enqueued on END 0");
    assert_eq!(q1.pop(&mem), Some(0x77), "escalated into END 1");
    assert!(line.is_raised());
    // ESe is now 10: the next escalation is coalesced.
    assert_eq!(src.esb_load(src.mgmt_page_offset(3), &r), Some(0));
    src.esb_store(src.trigger_page_offset(3), &r);
    assert_eq!(q0.pop(&mem), Some(0x33));
    assert_eq!(q1.pop(&mem), None);
    // END ESB odd page of END 0 manages ESe: 11, reset to 00.
    let ese = 1 << 16; // END 0, odd page
    assert_eq!(r.end_esb_load(ese + 0x800), Some(3));
    assert_eq!(r.end_esb_load(ese + 0xC00), Some(3));
    src.esb_load(src.mgmt_page_offset(3), &r);
    src.esb_store(src.trigger_page_offset(3), &r);
    assert_eq!(q1.pop(&mem), Some(0x77));
    assert_eq!(r.end_esb_len(), 16 << 17);
}

#[test]
fn esn_coalesces_without_always_notify_and_end_esb_pages_manage_it() {
    let (r, mem) = router(4);
    r.endt().set(2, End::with_queue(0x3000, 12, 1, 2, 6, false));
    r.eat().set(0, Eas::route(1, 2, 5, false));
    r.eat().set(1, Eas::route(1, 2, 6, false));
    let line = dispatch(&r, 0, 2);
    let src = source(2, false);
    src.set_irq(0, true, &r);
    assert!(line.is_raised());
    assert_eq!(r.tima_read(0, OS + 0x810, 2), Some(0x8006));
    assert!(r.tima_write(0, OS + 0x11, 1, 0xFF));
    src.set_irq(1, true, &r);
    let mut q = QueueReader::new(0x3000, 12);
    assert_eq!(
        (q.pop(&mem), q.pop(&mem)),
        (Some(5), Some(6)),
        "both queued"
    );
    assert!(!line.is_raised(), "second notification coalesced by ESn");
    // Even page of END 2: ESn. EOI: 11 -> 10.
    let esn = 2 << 17;
    assert_eq!(r.end_esb_load(esn + 0x800), Some(3));
    assert_eq!(r.end_esb_load(esn), Some(1));
    assert_eq!(r.end_esb_load(esn + 0xC00), Some(2));
    assert_eq!(r.end_esb_load(5 << 17), None, "invalid END");
    assert_eq!(r.end_esb_load(99 << 17), None, "no END");
}

#[test]
fn backlog_records_in_the_nvt_and_push_resends() {
    let (r, mem) = router(4);
    let mut e = End::with_queue(0x1000, 12, 1, 3, 4, true);
    e.w[0] |= end::W0_BACKLOG;
    r.endt().set(0, e);
    r.eat().set(0, Eas::route(1, 0, 9, false));
    let line = IrqLine::detached();
    r.presenter()
        .attach(1, 1, Some(line.clone()), None)
        .unwrap();
    r.tima_write(1, OS + 0x11, 1, 0xFF);
    r.notify_lisn(1, 0, true);
    assert_eq!(QueueReader::new(0x1000, 12).pop(&mem), Some(9));
    assert_eq!(
        r.nvt().get_nvt(1, 3).unwrap().ipb(),
        0x08,
        "priority 4 in NVT w4"
    );
    assert!(!line.is_raised());
    // The hypervisor dispatches NVT 1/3: the IPB comes back and signals.
    assert!(r.tima_write(1, HV + 0x18, 4, u64::from(tm::QW1W2_VO | cam_line(1, 3))));
    assert!(line.is_raised());
    assert_eq!(r.nvt().get_nvt(1, 3).unwrap().ipb(), 0);
    assert_eq!(r.tima_read(1, OS + 0x810, 2), Some(0x8004));
    // Pull: returns word 2, clears VO, lowers the line.
    r.tima_write(1, OS + 0x812, 1, 2);
    assert!(line.is_raised());
    assert_eq!(
        r.tima_read(1, HV + 0x818, 4),
        Some(u64::from(tm::QW1W2_VO | cam_line(1, 3)))
    );
    assert!(!line.is_raised());
    assert_eq!(
        r.tima_read(1, HV + 0x18, 4),
        Some(u64::from(cam_line(1, 3)))
    );
    // Not dispatched any more: backlog again.
    r.notify_lisn(1, 0, true);
    assert_eq!(r.nvt().get_nvt(1, 3).unwrap().ipb(), 0x08);
    // Pulling from the OS view is refused.
    assert_eq!(r.tima_read(1, OS + 0x818, 4), None);
    // An invalid NVT is not presented.
    let mut bad = Nvt::VALID;
    bad.w[0] = 0;
    r.nvt().set(3, bad);
    r.notify_lisn(1, 0, true);
}

#[test]
fn hv_views_phys_and_pool_rings() {
    let (r, _mem) = router(256);
    let os = IrqLine::detached();
    let hv = IrqLine::detached();
    r.presenter()
        .attach(0, 0x21, Some(os.clone()), Some(hv.clone()))
        .unwrap();
    // VT push (1 byte) and poll; the PHYS ring answers to the HW CAM.
    assert!(r.tima_write(0, HV + 0x38, 1, 0x80));
    assert_eq!(r.tima_read(0, HV + 0x38, 1), Some(0x80));
    assert!(r.tima_write(0, HV + 0x31, 1, 0xFF));
    r.endt()
        .set(0, End::with_queue(0x1000, 12, 1, (1 << 7) | 0x21, 2, true));
    r.eat().set(0, Eas::route(1, 0, 1, false));
    r.notify_lisn(1, 0, true);
    assert!(hv.is_raised() && !os.is_raised());
    assert_eq!(r.tima_read(0, HV + 0x830, 2), Some(0x8002));
    assert!(!hv.is_raised());
    // Pool ring: raw write of QW2 word 2 from the HW view, signalled
    // through PHYS, acknowledged with ACK_HV.
    assert!(r.tima_write(0, 0x28, 4, u64::from(tm::QW2W2_VP | cam_line(1, 2))));
    r.tima_write(0, HV + 0x31, 1, 0xFF);
    r.endt().set(1, End::with_queue(0x2000, 12, 1, 2, 5, true));
    r.eat().set(1, Eas::route(1, 1, 1, false));
    r.notify_lisn(1, 1, true);
    assert!(hv.is_raised());
    assert_eq!(r.tima_read(0, HV + 0x830, 2), Some(0x4005));
    assert_eq!(
        r.tima_read(0, HV + 0x828, 8),
        Some(u64::from(tm::QW2W2_VP | cam_line(1, 2)))
    );
    r.notify_lisn(1, 1, true);
    assert!(!hv.is_raised(), "pool context pulled");
    // The USER view reaches no special operation and only QW0 NSR raw.
    assert_eq!(r.tima_read(0, USER + 0x810, 2), None);
    assert!(!r.tima_write(0, USER + 0x11, 1, 0xFF));
    // The OS view cannot push.
    assert!(!r.tima_write(0, OS + 0x18, 4, 0x8000_0001));
}

#[test]
fn router_checks_pq_for_sources_that_do_not() {
    let (r, mem) = router(4);
    r.endt().set(0, End::with_queue(0x1000, 12, 1, 0, 6, true));
    r.eat().set(0, Eas::route(1, 0, 4, false));
    let src = source(1, true);
    src.set_irq(0, true, &r);
    src.set_irq(0, true, &r);
    let mut q = QueueReader::new(0x1000, 12);
    assert_eq!(
        (q.pop(&mem), q.pop(&mem)),
        (Some(4), None),
        "router PQ 10 -> 11"
    );
    assert_eq!(src.pq(0), 0, "the source skipped its PQ");
    // Unknown block / LISN: dropped.
    r.notify_lisn(2, 0, true);
    r.notify_lisn(1, 99, true);
    assert_eq!(q.pop(&mem), None);
}

#[test]
fn a_failed_queue_write_loses_the_event_and_keeps_the_index() {
    let (r, _mem) = router(4);
    // A queue the engine's owner placed beyond guest RAM (0x40_0000 bytes).
    r.endt()
        .set(0, End::with_queue(0x80_0000, 12, 1, 0, 6, true));
    r.eat().set(0, Eas::route(1, 0, 1, false));
    let line = dispatch(&r, 0, 0);
    r.notify_lisn(1, 0, true);
    let e = r.endt().get(0).unwrap();
    assert_eq!((e.qindex(), e.qgen()), (0, 1), "index not advanced");
    // The notification itself still happens, as in QEMU.
    assert!(line.is_raised());
}
