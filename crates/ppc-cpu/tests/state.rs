//! Reset state, save/restore, SPR rights and widths, H_SET_MODE setters,
//! start-cpu.

mod common;

use common::machine;
use ppc_cpu::asm::*;
use ppc_cpu::regs::{lpcr, msr};
use ppc_cpu::{CpuModel, Family, StateError, VcpuExit};

#[test]
fn reset_matches_qemu_pseries() {
    let m = machine("power9", 1 << 20);
    let mut v = m.vcpu;
    assert_eq!(v.nip(), 0x100);
    assert_eq!(v.msr(), msr::SF | msr::ME);
    assert_eq!(v.lpcr(), 0x3f008);
    assert_eq!(v.spr(287), Some(0x004e_1200));
    // DEC = 0xffffffff at reset, counting down since (512 per microsecond).
    let dec = v.spr(22).unwrap();
    assert!((0xf000_0000..=0xffff_ffff).contains(&dec), "{dec:#x}");
    for r in 0..32 {
        assert_eq!(v.gpr(r), 0);
    }
    let p8 = machine("power8", 1 << 20).vcpu;
    assert_eq!(p8.lpcr() & lpcr::LD, 0);
}

#[test]
fn start_cpu_sets_entry_r3_and_msr() {
    let mut m = machine("power9", 1 << 20);
    m.vcpu.set_msr(msr::SF | msr::ME | msr::LE | msr::EE);
    m.vcpu.start(0x4000, 7);
    assert_eq!(
        (m.vcpu.nip(), m.g(3), m.vcpu.msr()),
        (0x4000, 7, msr::SF | msr::ME)
    );
}

#[test]
fn save_restore_round_trip() {
    let mut m = machine("power9", 1 << 20);
    let e = m.run(&[
        li(3, 11),
        li(4, 12),
        mtctr(3),
        mtlr(4),
        li(5, 0x55),
        mtspr(272, 5),
        mtspr(815, 5),
        mtspr(48, 3),
    ]);
    assert!(matches!(e, VcpuExit::Hcall { .. }));
    m.vcpu.set_spr(795, 0x1234);
    let s = m.vcpu.save();
    let json = serde_json::to_string(&s).unwrap();
    let back: ppc_cpu::VcpuState = serde_json::from_str(&json).unwrap();
    let mut other = machine("power9", 1 << 20);
    other.vcpu.restore(&back).unwrap();
    let mut restored = other.vcpu.save();
    // The decrementer kept counting between save and the check.
    assert!(
        s.dec - restored.dec < 512_000_000,
        "{:#x} {:#x}",
        s.dec,
        restored.dec
    );
    restored.dec = s.dec;
    assert_eq!(restored, s);
    assert_eq!(other.vcpu.ctr(), 11);
    assert_eq!(other.vcpu.spr(795), Some(0x1234));
    assert_eq!(other.vcpu.spr(48), Some(11));
    let mut p8 = machine("power8", 1 << 20);
    assert!(matches!(
        p8.vcpu.restore(&s),
        Err(StateError::PvrMismatch { .. })
    ));
    let mut bad = s.clone();
    bad.sprs.push((4000, 1));
    assert_eq!(other.vcpu.restore(&bad), Err(StateError::BadSpr(4000)));
}

#[test]
fn spr_rights_and_widths() {
    let mut m = machine("power9", 1 << 20);
    m.load(0x700, &[sc(1)], false);
    // 32-bit SPR reads back with the upper half clear.
    let e = m.run(&[
        li(3, -1),
        mtspr(18, 3),
        mfspr(4, 18),
        mtspr(48, 3),
        mfspr(5, 48),
    ]);
    assert!(matches!(e, VcpuExit::Hcall { .. }));
    assert_eq!((m.g(4), m.g(5)), (0xffff_ffff, 0xffff_ffff));
    // Unknown SPR: illegal instruction.
    let e = m.run(&[mfspr(3, 1000)]);
    assert!(matches!(e, VcpuExit::Hcall { .. }));
    assert_eq!(
        (m.vcpu.nip(), m.vcpu.srr().1 & 0xffff_0000),
        (0x704, 0x80000)
    );
    // Privileged SPR from problem state: privileged instruction.
    m.vcpu.set_msr(msr::SF | msr::ME | msr::PR);
    let e = m.run(&[mfspr(3, 272)]);
    assert!(matches!(e, VcpuExit::Hcall { .. }));
    assert_eq!(m.vcpu.srr().1 & 0xffff_0000, 0x40000);
    // User SPRs work in problem state (TAR, user MMCR0 alias).
    m.vcpu.set_msr(msr::SF | msr::ME | msr::PR);
    let e = m.run(&[li(3, 5), mtspr(815, 3), mfspr(4, 815), mfspr(5, 268)]);
    assert!(matches!(e, VcpuExit::Hcall { .. }));
    assert_eq!(m.g(4), 5);
    // The model's SPR sets differ.
    assert!(ppc_cpu::spr_count(Family::Power10) > ppc_cpu::spr_count(Family::Power9));
    assert!(ppc_cpu::spr_count(Family::Power9) > ppc_cpu::spr_count(Family::Power8));
    let mut p8 = machine("power8", 1 << 20);
    assert_eq!(p8.vcpu.spr(48), None, "no PIDR before ISA 3.0");
}

#[test]
fn timebase_and_decrementer_are_consistent() {
    let mut m = machine("power8", 1 << 20);
    let e = m.run(&[
        li(3, 0x7fff),
        sldi(3, 3, 16),
        mtspr(22, 3),
        mfspr(4, 268),
        mfspr(5, 22),
        mfspr(6, 268),
    ]);
    assert!(matches!(e, VcpuExit::Hcall { .. }));
    let (tb1, dec, tb2) = (m.g(4), m.g(5), m.g(6));
    assert!(tb2 >= tb1);
    assert!(
        dec <= 0x7fff_0000 && 0x7fff_0000 - dec <= tb2 - tb1 + 512_000,
        "{dec:#x}"
    );
}

#[test]
fn set_mode_setters() {
    let mut m = machine("power9", 1 << 20);
    m.vcpu.set_interrupt_little_endian(true);
    assert_ne!(m.vcpu.lpcr() & lpcr::ILE, 0);
    assert!(m.vcpu.set_ail(3));
    assert_eq!(m.vcpu.lpcr() & lpcr::AIL, 3 << lpcr::AIL_SHIFT);
    assert!(!m.vcpu.set_ail(1));
    let mut p10 = machine("power10", 1 << 20);
    assert!(!p10.vcpu.set_ail(2));
    // With AIL=3 and relocation on, interrupts go to 0xc000000000004000+.
    assert_eq!(CpuModel::by_name("POWER9").unwrap().pvr, 0x004e_1200);
}

#[test]
fn compat_mode_makes_newer_instructions_illegal() {
    let mut m = machine("power9", 1 << 20);
    m.load(0x700, &[sc(1)], false);
    m.vcpu.set_compat(Some(ppc_cpu::IsaLevel::V2_07));
    // cnttzd is ISA 3.0.
    let e = m.run(&[li(3, 8), x(3, 4, 0, 570, false)]);
    assert!(matches!(e, VcpuExit::Hcall { .. }));
    assert_eq!(m.vcpu.nip(), 0x704);
    m.vcpu.set_compat(None);
    let e = m.run(&[li(3, 8), x(3, 4, 0, 570, false)]);
    assert!(matches!(e, VcpuExit::Hcall { .. }));
    assert_eq!(m.g(4), 3);
}
