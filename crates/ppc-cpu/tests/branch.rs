//! Branches: every BO form used by compilers (bdnz, conditional, always),
//! LR/CTR/TAR targets, link forms, `bcl 20,31` as a PC read, 32-bit mode.

mod common;

use common::{machine, CODE};
use ppc_cpu::asm::*;
use ppc_cpu::VcpuExit;

fn done(e: VcpuExit) {
    assert!(matches!(e, VcpuExit::Hcall { .. }), "{e:?}");
}

#[test]
fn bdnz_loop_counts() {
    let mut m = machine("power9", 1 << 20);
    done(m.run(&[li(3, 0), li(4, 10), mtctr(4), addi(3, 3, 2), bdnz(-4)]));
    assert_eq!(m.g(3), 20);
    assert_eq!(m.vcpu.ctr(), 0);
}

#[test]
fn conditional_branches() {
    let mut m = machine("power9", 1 << 20);
    done(m.run(&[
        li(3, 5),
        cmpdi(1, 3, 5),
        bt(1, 2, 8), // beq cr1 -> skip next
        li(4, 1),
        bf(1, 2, 8), // bne cr1: not taken
        li(5, 1),
        // bdz with CTR=1: decrement to 0, taken (BO=18).
        li(6, 1),
        mtctr(6),
        bc(18, 0, 8),
        li(7, 1),
    ]));
    assert_eq!((m.g(4), m.g(5), m.g(7)), (0, 1, 0));
}

#[test]
fn link_forms_and_pc_read() {
    let mut m = machine("power9", 1 << 20);
    done(m.run(&[
        bc(20, 31, 4) | 1, // bcl 20,31,.+4
        mflr(3),
        bl(12),
        li(5, 9),
        b(12),
        mflr(4), // subroutine: r4 = return address
        blr(),
        nop(),
    ]));
    assert_eq!(m.g(3), CODE + 4);
    assert_eq!(m.g(4), CODE + 12);
    assert_eq!(m.g(5), 9);
}

#[test]
fn bcctr_and_bctar_and_invalid_bcctr() {
    let mut m = machine("power9", 1 << 20);
    done(m.run(&[
        li(3, (CODE + 16) as i32),
        mtctr(3),
        bctr(),
        li(4, 1), // skipped
        mtspr(815, 3),
        li(5, (CODE + 36) as i32),
        mtspr(815, 5),
        0x4e80_0460, // bctar
        li(6, 1),    // skipped
    ]));
    assert_eq!((m.g(4), m.g(6)), (0, 0));
    // bcctr with BO[2]=0 (decrement CTR) is an invalid form.
    let mut m = machine("power9", 1 << 20);
    m.load(0x700, &[sc(1)], false);
    done(m.run(&[bc(16, 0, 0) & !(16 << 26) | (19 << 26) | (528 << 1)]));
    assert_eq!(m.vcpu.nip(), 0x704);
}

#[test]
fn thirty_two_bit_mode_ctr_and_lr() {
    let mut m = machine("power9", 1 << 20);
    m.vcpu.set_msr(ppc_cpu::regs::msr::ME);
    // CTR = 0x1_0000_0001: in 32-bit mode bdnz tests only the low word.
    let mut w = load_imm64(3, 0x1_0000_0002).to_vec();
    w.extend([mtctr(3), bdnz(8), li(4, 1), bdnz(8), li(5, 1)]);
    done(m.run(&w));
    assert_eq!((m.g(4), m.g(5)), (0, 1));
}

#[test]
fn addresses_stay_right_after_a_branch_followed_at_decode_time() {
    // b +12 is followed while decoding; the bcl/mflr after its target must
    // still see their own addresses, and a store patching code in the
    // followed part must take effect.
    let mut m = machine("power9", 1 << 20);
    let patch = li(7, 7);
    done(m.run(&[
        b(12),
        li(3, 1),          // skipped
        li(4, 1),          // skipped
        bc(20, 31, 4) | 1, // CODE + 12
        mflr(5),
        addis(8, 0, (patch >> 16) as i32),
        ori(8, 8, patch & 0xffff),
        li(9, (CODE + 40) as i32),
        stw(8, 9, 0),
        nop(),
        li(7, 3), // CODE + 40, patched to li r7,7
    ]));
    assert_eq!((m.g(3), m.g(4)), (0, 0));
    assert_eq!(m.g(5), CODE + 16);
    assert_eq!(m.g(7), 7);
}
