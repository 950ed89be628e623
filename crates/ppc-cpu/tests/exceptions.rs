//! Interrupt delivery per vector: SRR0, SRR1 (interrupt bits and copied
//! MSR bits), DAR/DSISR, the new MSR (LE from LPCR[ILE], ME kept), and
//! interrupts taken right after the instruction that unmasks them.

mod common;

use std::sync::atomic::AtomicU32;
use std::sync::Arc;

use common::{machine, Machine, CODE};
use ppc_cpu::asm::*;
use ppc_cpu::regs::msr;
use ppc_cpu::{vector, MmioResult, VcpuExit};

/// A machine whose every vector holds `sc 1`, so a taken interrupt exits
/// with NIP = vector + 4.
fn with_vectors(model: &str) -> Machine {
    let m = machine(model, 1 << 20);
    for v in (0x100..0x1000).step_by(0x20) {
        m.load(v, &[sc(1)], false);
    }
    m
}

fn expect_vector(m: &mut Machine, e: VcpuExit, vec: u64) {
    assert!(matches!(e, VcpuExit::Hcall { .. }), "{e:?}");
    assert_eq!(m.vcpu.nip(), vec + 4, "interrupt vector");
}

const SRR1_INT_MASK: u64 = 0x0000_ffff_ffff_0000;

#[test]
fn illegal_instruction_program_interrupt() {
    for word in [0u32, 0x1234_5678] {
        let mut m = with_vectors("power9");
        let e = m.run(&[nop(), word]);
        expect_vector(&mut m, e, vector::PROGRAM);
        let (srr0, srr1) = m.vcpu.srr();
        assert_eq!(srr0, CODE + 4);
        assert_eq!(srr1 & SRR1_INT_MASK, 0x80000);
        // SRR1 copies the MSR: SF and ME were set.
        assert_eq!(srr1 & (msr::SF | msr::ME), msr::SF | msr::ME);
        // New MSR: SF, ME kept, big-endian (ILE clear), EE/PR/IR/DR clear.
        assert_eq!(m.vcpu.msr(), msr::SF | msr::ME);
    }
}

#[test]
fn privileged_instruction_in_problem_state() {
    let mut m = with_vectors("power9");
    m.vcpu.set_msr(msr::SF | msr::ME | msr::PR);
    let e = m.run(&[mfmsr(3)]);
    expect_vector(&mut m, e, vector::PROGRAM);
    let (srr0, srr1) = m.vcpu.srr();
    assert_eq!((srr0, srr1 & SRR1_INT_MASK), (CODE, 0x40000));
    assert_ne!(srr1 & msr::PR, 0);
    assert_eq!(m.vcpu.msr() & msr::PR, 0);
}

#[test]
fn trap_program_interrupt() {
    let mut m = with_vectors("power9");
    let e = m.run(&[li(3, 1), tw(31, 0, 0)]);
    expect_vector(&mut m, e, vector::PROGRAM);
    let (srr0, srr1) = m.vcpu.srr();
    assert_eq!((srr0, srr1 & SRR1_INT_MASK), (CODE + 4, 0x20000));
    // tdi with a false condition does nothing.
    let mut m = with_vectors("power9");
    let e = m.run(&[li(3, 1), tdi(4, 3, 1 + 1)]);
    assert!(matches!(e, VcpuExit::Hcall { opcode: 1, .. }), "{e:?}");
}

#[test]
fn system_call_srr0_is_next() {
    let mut m = with_vectors("power9");
    let e = m.run(&[nop(), sc(0)]);
    expect_vector(&mut m, e, vector::SYSCALL);
    assert_eq!(m.vcpu.srr().0, CODE + 8);
}

#[test]
fn hcall_from_problem_state_is_refused() {
    let mut m = with_vectors("power9");
    m.vcpu.set_msr(msr::SF | msr::ME | msr::PR);
    let e = m.run(&[li(3, 0x58), sc(1), mr(4, 3), sc(0)]);
    expect_vector(&mut m, e, vector::SYSCALL);
    assert_eq!(m.g(4), (-3i64) as u64);
}

#[test]
fn decrementer_taken_right_after_mtmsrd() {
    let mut m = with_vectors("power8");
    // DEC = 0 goes negative at once; EE enabled by mtmsrd L=1.
    let e = m.run(&[
        li(3, 0),
        mtspr(22, 3),
        nop(),
        li(4, 0),
        ori(4, 4, 0x8000),
        mtmsrd(4, 1),
        li(5, 7),
    ]);
    expect_vector(&mut m, e, vector::DECREMENTER);
    let (srr0, srr1) = m.vcpu.srr();
    assert_eq!(srr0, CODE + 24, "taken after the mtmsrd");
    assert_ne!(srr1 & msr::EE, 0);
    assert_eq!(m.g(5), 0);
}

#[test]
fn large_decrementer_write_is_not_negative() {
    let mut m = with_vectors("power9");
    // LPCR[LD] is set at reset on POWER9: 0x7fffffff is positive, and so is
    // 0xffffffff (bit 55 is the sign).
    let e = m.run(&[
        li(3, -1),
        rlwinm(3, 3, 0, 1, 31, false),
        mtspr(22, 3),
        li(4, 0),
        ori(4, 4, 0x8000),
        mtmsrd(4, 1),
        mfspr(5, 22),
    ]);
    assert!(matches!(e, VcpuExit::Hcall { .. }));
    assert_eq!(m.vcpu.nip(), CODE + 32);
    assert!(m.g(5) <= 0x7fff_ffff && m.g(5) > 0x7000_0000);
}

#[test]
fn external_interrupt_after_unmask() {
    let mut m = with_vectors("power9");
    let line = Arc::new(AtomicU32::new(1));
    m.vcpu.set_external_interrupt(line.clone());
    let e = m.run(&[li(4, 0), ori(4, 4, 0x8000), mtmsrd(4, 1), li(5, 9)]);
    expect_vector(&mut m, e, vector::EXTERNAL);
    assert_eq!(m.vcpu.srr().0, CODE + 12);
    assert_eq!(m.g(5), 0);
}

#[test]
fn external_input_can_be_a_closure() {
    let mut m = with_vectors("power9");
    let word = Arc::new(AtomicU32::new(0));
    let w2 = word.clone();
    m.vcpu.set_external_interrupt(Arc::new(move || {
        w2.load(std::sync::atomic::Ordering::Acquire) != 0
    }));
    let e = m.run(&[li(4, 0), ori(4, 4, 0x8000), mtmsrd(4, 1), li(5, 9)]);
    assert!(matches!(e, VcpuExit::Hcall { .. }));
    assert_eq!(m.g(5), 9, "nothing asserted: runs through");
    word.store(4, std::sync::atomic::Ordering::Release);
    let e = m.run(&[nop(), nop()]);
    expect_vector(&mut m, e, vector::EXTERNAL);
}

#[test]
fn interrupts_little_endian_with_ile() {
    let mut m = with_vectors("power9");
    m.vcpu.set_interrupt_little_endian(true);
    // The vector is little-endian now: put an LE `sc 1` at 0x700.
    m.load(0x700, &[sc(1)], true);
    let e = m.run(&[0]);
    expect_vector(&mut m, e, vector::PROGRAM);
    assert_eq!(m.vcpu.msr(), msr::SF | msr::ME | msr::LE);
}

#[test]
fn alignment_on_unaligned_lwarx_keeps_target() {
    let mut m = with_vectors("power9");
    let e = m.run(&[li(3, 0x2001), li(4, 77), lwarx(4, 0, 3)]);
    expect_vector(&mut m, e, vector::ALIGNMENT);
    assert_eq!(m.vcpu.dar_dsisr().0, 0x2001);
    assert_eq!(m.g(4), 77);
    assert_eq!(m.vcpu.srr().0, CODE + 8);
}

#[test]
fn string_ops_raise_alignment_in_little_endian() {
    let mut m = with_vectors("power9");
    m.vcpu.set_msr(msr::SF | msr::ME | msr::LE);
    let lswi = x(5, 3, 8, 597, false);
    let words = [li(3, 0x2000), lswi, sc(1)];
    m.load(CODE, &words, true);
    m.vcpu.set_nip(CODE);
    let e = m.resume();
    expect_vector(&mut m, e, vector::ALIGNMENT);
    assert_eq!(m.vcpu.srr().0, CODE + 4);
    // Big-endian, lswi loads bytes.
    let mut m = with_vectors("power9");
    m.write_u64_be(0x2000, 0x0102_0304_0506_0708);
    let e = m.run(&[li(3, 0x2000), x(5, 3, 6, 597, false)]);
    assert!(matches!(e, VcpuExit::Hcall { .. }));
    assert_eq!((m.g(5), m.g(6)), (0x0102_0304, 0x0506_0000));
}

#[test]
fn machine_check_on_bad_real_address_load_and_fetch() {
    let mut m = with_vectors("power9");
    let mut w = load_imm64(3, 0x4000_0000).to_vec();
    w.push(lwz(4, 3, 0));
    let e = m.run(&w);
    let VcpuExit::Mmio(req) = e else {
        panic!("{e:?}")
    };
    assert_eq!((req.addr, req.size, req.write), (0x4000_0000, 4, None));
    m.vcpu.complete_mmio(&req, MmioResult::Unassigned);
    let e = m.resume();
    expect_vector(&mut m, e, vector::MACHINE_CHECK);
    let (srr0, srr1) = m.vcpu.srr();
    assert_eq!(srr0, CODE + 20);
    assert_ne!(srr1 & 0x20_0000, 0, "d-side: SRR1[42]");
    assert_eq!(m.vcpu.dar_dsisr().0, 0x4000_0000);
    // Instruction fetch: SRR0 = the bad address, SRR1[42] clear.
    let mut m = with_vectors("power9");
    let mut w = load_imm64(3, 0x4000_0000).to_vec();
    w.extend([mtctr(3), bctr()]);
    let e = m.run(&w);
    expect_vector(&mut m, e, vector::MACHINE_CHECK);
    let (srr0, srr1) = m.vcpu.srr();
    assert_eq!(srr0, 0x4000_0000);
    assert_eq!(srr1 & 0x20_0000, 0);
}

#[test]
fn mmio_load_completes_with_device_value() {
    let mut m = with_vectors("power9");
    m.vcpu.set_msr(msr::SF | msr::ME | msr::LE);
    let mut w = load_imm64(3, 0x6000_0000).to_vec();
    w.extend([lwz(4, 3, 0), addi(4, 4, 1), sc(1)]);
    m.load(CODE, &w, true);
    m.vcpu.set_nip(CODE);
    let VcpuExit::Mmio(req) = m.resume() else {
        panic!()
    };
    // Device returns bytes 11 22 33 44; a little-endian lwz reads 0x44332211.
    m.vcpu.complete_mmio(&req, MmioResult::Done(0x1122_3344));
    let e = m.resume();
    assert!(matches!(e, VcpuExit::Hcall { .. }), "{e:?}");
    assert_eq!(m.g(4), 0x4433_2212);
}

#[test]
fn facility_unavailable_interrupts() {
    for (word, vec) in [
        (d(50, 1, 3, 0), vector::FP_UNAVAILABLE), // lfd
        (0x1000_0000, vector::VEC_UNAVAILABLE),   // vaddubm
        (0xf000_0000, vector::VSX_UNAVAILABLE),   // VSX opcode 60
    ] {
        let mut m = with_vectors("power9");
        let e = m.run(&[word]);
        expect_vector(&mut m, e, vec);
        assert_eq!(m.vcpu.srr().0, CODE);
    }
}

#[test]
fn single_step_trace() {
    let mut m = with_vectors("power9");
    m.vcpu.set_msr(msr::SF | msr::ME | msr::SE);
    let e = m.run(&[li(3, 1), li(4, 2)]);
    expect_vector(&mut m, e, vector::TRACE);
    let (srr0, srr1) = m.vcpu.srr();
    assert_eq!(srr0, CODE + 4);
    assert_ne!(srr1 & 0x4000_0000, 0);
    assert_ne!(srr1 & msr::SE, 0);
    assert_eq!(m.vcpu.spr(796), Some(CODE), "SIAR = traced instruction");
    assert_eq!(m.g(3), 1);
    assert_eq!(m.g(4), 0);
}

#[test]
fn branch_trace() {
    let mut m = with_vectors("power9");
    m.vcpu.set_msr(msr::SF | msr::ME | msr::BE);
    let e = m.run(&[li(3, 1), b(8), li(3, 5), li(4, 2)]);
    expect_vector(&mut m, e, vector::TRACE);
    assert_eq!(m.vcpu.srr().0, CODE + 12, "SRR0 = branch target");
    assert_eq!(m.g(3), 1);
}

#[test]
fn msr_rules_for_the_guest() {
    let mut m = with_vectors("power9");
    // mtmsrd L=0 with ME and LE clear: neither changes; L=1 only EE/RI.
    let e = m.run(&[
        li(3, 0),
        mtmsrd(3, 0),
        mfmsr(4),
        li(5, -1),
        mtmsrd(5, 1),
        mfmsr(6),
    ]);
    assert!(matches!(e, VcpuExit::Hcall { .. }));
    assert_eq!(m.g(4), msr::ME);
    assert_eq!(m.g(6), msr::ME | msr::EE | msr::RI);
    // rfid cannot clear ME or set HV.
    let mut m = with_vectors("power9");
    let target = CODE + 4 * 8;
    let e = m.run(&[
        li(3, target as i32),
        mtspr(26, 3),
        li(4, 0),
        oris(4, 4, 0x1000), // HV (bit 3) in the upper half after the shift below
        sldi(4, 4, 32),
        mtspr(27, 4),
        rfid(),
        nop(),
        mfmsr(5),
    ]);
    assert!(matches!(e, VcpuExit::Hcall { .. }), "{e:?}");
    assert_eq!(m.g(5), msr::ME);
}

#[test]
fn prefixed_illegal_sets_srr1_prefix_bit_on_power10() {
    let mut m = with_vectors("power10");
    let e = m.run(&[0x0400_0123, 0x00ba_dc0d]);
    expect_vector(&mut m, e, vector::PROGRAM);
    let srr1 = m.vcpu.srr().1;
    assert_eq!(srr1 & 0x2000_0000, 0x2000_0000);
    assert_eq!(
        srr1 & 0x0000_ffff_0000_0000 | srr1 & 0xffff_0000 & !0x2000_0000,
        0x80000
    );
}

#[test]
fn doorbell_between_threads() {
    let m0 = with_vectors("power9");
    let core = ppc_cpu::SmtCore::new(2);
    let mut v1 = ppc_cpu::Vcpu::new(
        ppc_cpu::CpuModel::by_name("power9").unwrap(),
        &m0.mem,
        m0.shared.clone(),
        m0.tb.clone(),
        1,
    );
    let mut m0 = m0;
    m0.vcpu.attach_core(core.clone(), 0);
    v1.attach_core(core.clone(), 1);
    // Thread 0: msgsndp to thread 1 (type 5 << 27 | tir 1).
    let msgsndp = x(0, 0, 3, 142, false);
    let e = m0.run(&[li(3, 5), sldi(3, 3, 27), ori(3, 3, 1), msgsndp]);
    assert!(matches!(e, VcpuExit::Hcall { .. }));
    assert!(core.pending(1));
    assert!(v1.interrupt_pending());
    // Thread 1 enables EE and takes 0xa00.
    m0.load(
        0x8000,
        &[li(4, 0), ori(4, 4, 0x8000), mtmsrd(4, 1), nop()],
        false,
    );
    v1.set_nip(0x8000);
    let e = v1.run(1000);
    assert!(matches!(e, VcpuExit::Hcall { .. }), "{e:?}");
    assert_eq!(v1.nip(), vector::DOORBELL + 4);
    assert!(!core.pending(1));
}

#[test]
fn interrupt_storm_still_returns_to_the_machine() {
    // The program vector itself holds an illegal word: every attempt
    // faults again; run() must still come back when the budget runs out.
    let mut m = machine("power9", 1 << 20);
    m.load(CODE, &[0], false);
    m.vcpu.set_nip(CODE);
    assert_eq!(m.vcpu.run(10_000), VcpuExit::BudgetExhausted);
    assert_eq!(m.vcpu.nip(), 0x700);
    // Same for a fetch that faults at the vector (AIL off, bad real address).
    let mut m = machine("power9", 1 << 20);
    m.vcpu.set_nip(0x4000_0000);
    assert_eq!(m.vcpu.run(10_000), VcpuExit::BudgetExhausted);
}

#[test]
fn scv_without_fscr_scv_is_facility_unavailable() {
    let mut m = with_vectors("power9");
    let e = m.run(&[0x4400_0001]); // scv 0
    expect_vector(&mut m, e, vector::FAC_UNAVAILABLE);
    assert_eq!(m.vcpu.srr().0, CODE);
    assert_eq!(m.vcpu.spr(153).unwrap() >> 56, 12, "FSCR[IC] = SCV");
    // Before ISA 3.0 it is an illegal instruction.
    let mut m = with_vectors("power8");
    let e = m.run(&[0x4400_0001]);
    expect_vector(&mut m, e, vector::PROGRAM);
}
