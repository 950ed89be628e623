//! The XIVE engine with no machine: two thread contexts, one queue each,
//! events triggered through ESB stores, acknowledged through the TIMA, read
//! from the queues and EOIed through the ESB management page.
//!
//! Run with `cargo run -p intc-xive --example engine`.

use intc_xive::engine::regs::tm;
use intc_xive::engine::{
    cam_line, Eas, End, NvtTable, Router, RouterConfig, SourceBlock, SourceConfig,
};
use spapr_irq::IrqLine;
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

/// Offset of the OS view in the TIMA.
const TIMA_OS: u64 = 2 << 16;
/// Offset of the HV view in the TIMA.
const TIMA_HV: u64 = 1 << 16;
const BLOCK: u8 = 0;
const PRIO: u8 = 5;

fn main() {
    // 1 MiB of guest RAM, where the event queues live.
    let mem = GuestMemoryMmap::from_ranges(&[(GuestAddress(0), 1 << 20)]).unwrap();

    // Eight sources with one 64K page each (trigger and management).
    let sources = SourceBlock::new(SourceConfig {
        nr_irqs: 8,
        esb_shift: 16,
        store_eoi: false,
        pq_disable: false,
        reset_pq: 0b00,
    })
    .unwrap();

    // A router with 8 EAS, 2 ENDs, 2 thread contexts, and an NVT table.
    let router = Router::new(
        RouterConfig {
            block: BLOCK,
            nr_eas: 8,
            nr_ends: 2,
            nr_contexts: 2,
            end_esb_shift: 16,
        },
        NvtTable::new(BLOCK, 2),
        mem.clone(),
    );

    // Two threads; NVT t is dispatched on context t (pushed through the
    // HV view as a hypervisor would), CPPR opened through the OS view.
    let lines: Vec<IrqLine> = (0..2).map(|_| IrqLine::detached()).collect();
    for t in 0..2u32 {
        router
            .presenter()
            .attach(t, t, Some(lines[t as usize].clone()), None)
            .unwrap();
        let cam = tm::QW1W2_VO | cam_line(BLOCK, t);
        assert!(router.tima_write(t, TIMA_HV + 0x18, 4, u64::from(cam)));
        assert!(router.tima_write(t, TIMA_OS + 0x11, 1, 0xFF));
    }

    // END t: a 4K queue at 0x1000 * (t + 1) for NVT t, always notify.
    for t in 0..2u32 {
        let q = 0x1000 * u64::from(t + 1);
        router
            .endt()
            .set(t, End::with_queue(q, 12, BLOCK, t, PRIO, true));
    }
    // Source s goes to END s % 2 with event data 0x100 + s.
    for s in 0..8u32 {
        router
            .eat()
            .set(s, Eas::route(BLOCK, s % 2, 0x100 + s, false));
    }

    // Trigger sources 2 and 3 with ESB stores.
    for s in [2, 3] {
        sources.esb_store(sources.trigger_page_offset(s), &router);
    }

    for t in 0..2u32 {
        assert!(lines[t as usize].is_raised());
        let ack = router.tima_read(t, TIMA_OS + 0x810, 2).unwrap();
        println!("thread {t}: ACK -> {ack:#06x} (NSR << 8 | CPPR)");
        let mut entry = [0u8; 4];
        let q = 0x1000 * u64::from(t + 1);
        mem.read_slice(&mut entry, GuestAddress(q)).unwrap();
        let word = u32::from_be_bytes(entry);
        let eisn = word & 0x7FFF_FFFF;
        println!(
            "thread {t}: queue[0] = {word:#010x} (generation {}, EISN {eisn:#x})",
            word >> 31
        );
        let src = eisn - 0x100;
        // EOI: set PQ to 00 through the management page (returns old PQ).
        let old = sources.esb_load(sources.mgmt_page_offset(src) + 0xC00, &router);
        println!("thread {t}: EOI of source {src}, old PQ {old:?}");
        router.tima_write(t, TIMA_OS + 0x11, 1, 0xFF);
    }
}
