//! Reservations across vCPUs (larx/stcx at every size, contended
//! increments on real threads), idle exits and wake-up conditions.

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use common::{machine, DATA};
use ppc_cpu::asm::*;
use ppc_cpu::regs::msr;
use ppc_cpu::{CpuModel, Vcpu, VcpuExit};

fn done(e: VcpuExit) {
    assert!(matches!(e, VcpuExit::Hcall { .. }), "{e:?}");
}

#[test]
fn larx_stcx_sizes_and_failure() {
    let mut m = machine("power9", 1 << 20);
    m.write_u64_be(DATA, 0x1122_3344_5566_7788);
    let lbarx = |rt, ra, rb| x(rt, ra, rb, 52, false);
    let stbcx = |rs, ra, rb| x(rs, ra, rb, 694, true);
    let e = m.run(&[
        li(3, DATA as i32),
        li(0, 0),
        ldarx(4, 0, 3),
        addi(4, 4, 1),
        stdcx(4, 0, 3),
        mfcr(5),
        stdcx(4, 0, 3), // no reservation any more: fails
        mfcr(6),
        lbarx(7, 0, 3),
        li(8, 0x55),
        stbcx(8, 0, 3),
        mfcr(9),
        lwarx(10, 0, 3),
        li(11, 8),
        stwcx(10, 3, 11), // different address: fails
        mfcr(12),
    ]);
    done(e);
    assert_eq!(m.g(4), 0x1122_3344_5566_7789);
    assert_eq!(m.g(5) >> 28, 0b0010);
    assert_eq!(m.g(6) >> 28, 0b0000);
    assert_eq!(m.g(7), 0x11);
    assert_eq!(m.g(9) >> 28, 0b0010);
    assert_eq!(m.read_u64_be(DATA), 0x5522_3344_5566_7789);
    assert_eq!(m.g(12) >> 28, 0);
}

#[test]
fn another_vcpus_stcx_kills_the_reservation() {
    let mut m = machine("power9", 1 << 20);
    let mut v1 = Vcpu::new(
        CpuModel::by_name("power9").unwrap(),
        &m.mem,
        m.shared.clone(),
        m.tb.clone(),
        1,
    );
    // vCPU 0 takes a reservation and stops (hcall) before its stcx.
    m.load(
        0x3000,
        &[
            li(3, DATA as i32),
            lwarx(4, 0, 3),
            sc(1),
            stwcx(4, 0, 3),
            mfcr(5),
            sc(1),
        ],
        false,
    );
    m.vcpu.set_nip(0x3000);
    done(m.vcpu.run(100));
    // vCPU 1 does a complete larx/stcx pair writing the same value back.
    m.load(
        0x4000,
        &[li(3, DATA as i32), lwarx(4, 0, 3), stwcx(4, 0, 3), sc(1)],
        false,
    );
    v1.set_nip(0x4000);
    done(v1.run(100));
    done(m.vcpu.run(100));
    assert_eq!(
        m.g(5) >> 28,
        0,
        "reservation lost to the other vCPU's store"
    );
}

#[test]
fn contended_atomic_increments_on_threads() {
    const PER_CPU: i32 = 20_000;
    let m = machine("power9", 1 << 20);
    // loop: lwarx r4,0,r3; addi r4,r4,1; stwcx. r4,0,r3; bne- loop; bdnz loop
    let code = [
        li(3, DATA as i32),
        li(5, PER_CPU),
        mtctr(5),
        lwarx(4, 0, 3),
        addi(4, 4, 1),
        stwcx(4, 0, 3),
        bf(0, 2, -12),
        bdnz(-16),
        sc(1),
    ];
    m.load(0x3000, &code, false);
    let handles: Vec<_> = (0..2)
        .map(|i| {
            let mut v = Vcpu::new(
                CpuModel::by_name("power9").unwrap(),
                &m.mem,
                m.shared.clone(),
                m.tb.clone(),
                i,
            );
            std::thread::spawn(move || {
                v.set_nip(0x3000);
                loop {
                    match v.run(10_000) {
                        VcpuExit::BudgetExhausted => continue,
                        e => {
                            assert!(matches!(e, VcpuExit::Hcall { .. }), "{e:?}");
                            break;
                        }
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(m.read_u32_be(DATA), 2 * PER_CPU as u32);
}

#[test]
fn quadword_reservation() {
    let mut m = machine("power9", 1 << 20);
    m.write_u64_be(DATA, 1);
    m.write_u64_be(DATA + 8, 2);
    let lqarx = x(6, 0, 3, 276, false);
    let stqcx = x(8, 0, 3, 182, true);
    done(m.run(&[
        li(3, DATA as i32),
        lqarx,
        li(8, 10),
        li(9, 20),
        stqcx,
        mfcr(10),
    ]));
    assert_eq!((m.g(6), m.g(7)), (1, 2));
    assert_eq!(m.g(10) >> 28, 0b0010);
    assert_eq!((m.read_u64_be(DATA), m.read_u64_be(DATA + 8)), (10, 20));
}

#[test]
fn migration_drops_the_reservation() {
    let mut m = machine("power9", 1 << 20);
    m.load(
        0x3000,
        &[
            li(3, DATA as i32),
            lwarx(4, 0, 3),
            sc(1),
            stwcx(4, 0, 3),
            mfcr(5),
            sc(1),
        ],
        false,
    );
    m.vcpu.set_nip(0x3000);
    done(m.vcpu.run(100));
    let s = m.vcpu.save();
    m.vcpu.restore(&s).unwrap();
    done(m.vcpu.run(100));
    assert_eq!(m.g(5) >> 28, 0);
}

#[test]
fn wait_exits_idle_and_wakes_on_interrupts() {
    let mut m = machine("power9", 1 << 20);
    m.load(0x900, &[sc(1)], false);
    // pause_short (wait WC=2) is only a hint.
    let e = m.run(&[x(2, 0, 0, 30, false), li(3, 1)]);
    assert!(matches!(e, VcpuExit::Hcall { opcode: 1, .. }), "{e:?}");
    let e = m.run(&[x(0, 0, 0, 30, false), li(3, 1)]);
    assert_eq!(e, VcpuExit::Idle);
    assert!(!m.vcpu.interrupt_pending());
    let line = Arc::new(AtomicU32::new(0));
    m.vcpu.set_external_interrupt(line.clone());
    line.store(1, Ordering::SeqCst);
    assert!(m.vcpu.interrupt_pending());
    line.store(0, Ordering::SeqCst);
    // H_CEDE-style: EE set by the machine, DEC soon negative.
    assert!(m.vcpu.set_spr(22, 1000));
    let t = m.vcpu.time_to_next_event().unwrap();
    assert!(t.as_nanos() <= 2000 + 100, "{t:?}");
    m.vcpu.cede();
    assert_ne!(m.vcpu.msr() & msr::EE, 0);
    std::thread::sleep(std::time::Duration::from_millis(1));
    assert!(m.vcpu.interrupt_pending());
    let e = m.resume();
    assert!(matches!(e, VcpuExit::Hcall { .. }));
    assert_eq!(m.vcpu.nip(), 0x904, "decrementer taken after the idle");
}
