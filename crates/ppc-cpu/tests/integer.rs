//! Fixed-point instruction groups: arithmetic with CA/OV, logical,
//! rotate/shift, compares and CR ops, expected values computed by hand.

mod common;

use common::machine;
use ppc_cpu::asm::*;
use ppc_cpu::VcpuExit;

fn run(words: &[u32]) -> common::Machine {
    let mut m = machine("power9", 1 << 20);
    let e = m.run(words);
    assert!(matches!(e, VcpuExit::Hcall { .. }), "{e:?}");
    m
}

#[test]
fn add_immediate_and_shifted() {
    let m = run(&[li(3, -5), addis(4, 3, 1), addi(5, 4, 0x7fff)]);
    assert_eq!(m.g(3), (-5i64) as u64);
    assert_eq!(m.g(4), 0x1_0000 - 5);
    assert_eq!(m.g(5), 0x1_0000 - 5 + 0x7fff);
}

#[test]
fn carrying_adds_and_extended() {
    // addic r4 = -1 + 1 = 0 with CA; adde r5 = 0 + 0 + CA = 1.
    let m = run(&[
        li(3, -1),
        d(12, 4, 3, 1),
        li(6, 0),
        xo(5, 6, 6, 138, false, false),
        mfspr(7, 1),
    ]);
    assert_eq!(m.g(4), 0);
    assert_eq!(m.g(5), 1);
    assert_eq!(m.g(7), 0, "adde consumed nothing new: CA cleared");
    // subfic: 5 - 3 with CA=1 (no borrow).
    let m = run(&[li(3, 3), d(8, 4, 3, 5), mfspr(5, 1)]);
    assert_eq!(m.g(4), 2);
    assert_ne!(m.g(5) & (1 << 29), 0);
}

#[test]
fn overflow_forms_set_ov_and_so() {
    // addo r5 = i64::MAX + 1 -> OV, SO; CR0 via addo. : LT and SO.
    let mut w = load_imm64(3, i64::MAX as u64).to_vec();
    w.extend([li(4, 1), xo(5, 3, 4, 266, true, true), mfspr(6, 1), mfcr(7)]);
    let m = run(&w);
    assert_eq!(m.g(5), 1 << 63);
    assert_eq!(m.g(6) & 0xc000_0000, 0xc000_0000);
    assert_eq!(m.g(7) >> 28, 0b1001);
}

#[test]
fn multiply_divide() {
    let m = run(&[
        li(3, -7),
        li(4, 3),
        mulld(5, 3, 4),
        xo(6, 3, 4, 489, false, false), // divd
        xo(7, 3, 4, 457, false, false), // divdu
        xo(8, 3, 4, 73, false, false),  // mulhd
        xo(9, 4, 0, 491, false, false), // divw r4/0 (QEMU: r4)
    ]);
    assert_eq!(m.g(5), (-21i64) as u64);
    assert_eq!(m.g(6), (-2i64) as u64);
    // (2^64 - 7) / 3, unsigned.
    assert_eq!(m.g(7), 0x5555_5555_5555_5553);
    assert_eq!(m.g(8), u64::MAX);
    assert_eq!(m.g(9), 3);
}

#[test]
fn logical_and_record_forms() {
    let m = run(&[
        li(3, 0x0ff0),
        li(4, 0x00ff),
        x(3, 5, 4, 28, false),  // and
        x(3, 6, 4, 444, false), // or
        x(3, 7, 4, 316, true),  // xor.
        mfcr(8),
        x(3, 9, 4, 124, false),  // nor
        x(3, 10, 0, 986, false), // extsw
        x(9, 11, 0, 58, false),  // cntlzd of nor result
    ]);
    assert_eq!(m.g(5), 0xf0);
    assert_eq!(m.g(6), 0xfff);
    assert_eq!(m.g(7), 0xf0f);
    assert_eq!(m.g(8) >> 28, 0b0100);
    assert_eq!(m.g(9), !0xfffu64);
    assert_eq!(m.g(11), 0);
}

#[test]
fn rotates_and_shifts() {
    let mut w = load_imm64(3, 0x8000_0000_0000_00f1).to_vec();
    w.extend([
        rlwinm(4, 3, 4, 24, 31, false), // (low word rotl 4) & 0xff
        md(5, 3, 1, 0, 0, false),       // rldicl r5,r3,1,0 (rotl 1)
        sldi(6, 3, 4),
        // sradi r7,r3,4 (XS form: xo 413, sh=4)
        (31 << 26) | (3 << 21) | (7 << 16) | (4 << 11) | (413 << 2),
    ]);
    w.extend([mfspr(8, 1), li(9, 36), x(3, 10, 9, 24, false)]); // slw by 36 -> 0
    let m = run(&w);
    assert_eq!(m.g(4), 0x10);
    assert_eq!(m.g(5), 0x1e3);
    assert_eq!(m.g(6), 0xf10);
    assert_eq!(m.g(7), 0xf800_0000_0000_000f);
    assert_ne!(
        m.g(8) & (1 << 29),
        0,
        "sradi shifted out ones of a negative: CA"
    );
    assert_eq!(m.g(10), 0);
}

#[test]
fn compares_and_cr_moves() {
    let m = run(&[
        li(3, -1),
        li(4, 1),
        cmpd(0, 3, 4),  // LT
        cmpld(1, 3, 4), // GT (unsigned)
        cmpdi(2, 4, 1), // EQ
        cmpwi(3, 3, -1),
        mfcr(5),
        li(6, 0),
        mtcrf(0x80, 6), // clear CR0
        mfcr(7),
    ]);
    assert_eq!(m.g(5) >> 16, 0x8422);
    assert_eq!(m.g(7) >> 16, 0x0422);
}

#[test]
fn cr_logical_and_isel() {
    // crxor 0,0,0 clears bit 0; cror 1,2,2 copies EQ into GT.
    let crxor = (19 << 26) | (193 << 1);
    let cror = (19 << 26) | (1 << 21) | (2 << 16) | (2 << 11) | (449 << 1);
    let isel = |rt: u32, ra: u32, rb: u32, bc: u32| {
        (31 << 26) | (rt << 21) | (ra << 16) | (rb << 11) | (bc << 6) | (15 << 1)
    };
    let m = run(&[
        li(3, 5),
        cmpdi(0, 3, 5), // EQ
        cror,
        crxor,
        mfcr(4),
        li(5, 10),
        li(6, 20),
        isel(7, 5, 6, 1), // GT set -> r5
        isel(8, 5, 6, 0), // LT clear -> r6
    ]);
    assert_eq!(m.g(4) >> 28, 0b0110);
    assert_eq!(m.g(7), 10);
    assert_eq!(m.g(8), 20);
}

#[test]
fn thirty_two_bit_mode_truncates_and_compares_low_word() {
    let mut m = machine("power9", 1 << 20);
    m.vcpu.set_msr(ppc_cpu::regs::msr::ME);
    let e = m.run(&[li(3, -1), d(13, 4, 3, 1), mfcr(5)]);
    assert!(matches!(e, VcpuExit::Hcall { .. }));
    // addic. in 32-bit mode: result low word 0 -> EQ; CA from bit 32.
    assert_eq!(m.g(5) >> 28, 0b0010);
    assert_ne!(m.vcpu.xer() & (1 << 29), 0);
}

#[test]
fn or_dot_with_equal_registers_is_not_a_priority_nop() {
    // or r1,r1,r1 is a priority hint, but or. r3,r3,r3 records CR0.
    let m = run(&[
        li(3, -1),
        x(3, 3, 3, 444, true),
        mfcr(4),
        x(1, 1, 1, 444, false),
    ]);
    assert_eq!(m.g(4) >> 28, 0b1000);
}
