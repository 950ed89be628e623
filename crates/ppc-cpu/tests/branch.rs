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

/// D-form word.
fn dform(op: u32, rt: u32, ra: u32, imm: i32) -> u32 {
    (op << 26) | (rt << 21) | (ra << 16) | (imm as u32 & 0xffff)
}

#[test]
fn compare_then_branch_pairs_set_cr_and_branch_for_every_compare_kind() {
    // The decoder runs a compare and the bc after it as one unit; the CR
    // fields and the branch outcomes must be those of the two instructions.
    let mut m = machine("power9", 1 << 20);
    let cmpw = |bf: u32, ra: u32, rb: u32| x(bf << 2, ra, rb, 0, false);
    let cmplw = |bf: u32, ra: u32, rb: u32| x(bf << 2, ra, rb, 32, false);
    let mut w = load_imm64(3, 0xffff_ffff_0000_0001).to_vec();
    w.extend([
        li(4, 2),
        cmpd(1, 3, 4), // signed 64: r3 < r4
        bt(1, 0, 8),
        li(10, 1),     // skipped
        cmpw(2, 3, 4), // signed 32: 1 < 2
        bt(2, 0, 8),
        li(11, 1),      // skipped
        cmpld(3, 3, 4), // unsigned 64: r3 > r4
        bt(3, 1, 8),
        li(12, 1),      // skipped
        cmplw(4, 3, 4), // unsigned 32: 1 < 2, bgt not taken
        bt(4, 1, 8),
        li(13, 1),                   // runs
        dform(11, 5 << 2 | 1, 4, 2), // cmpdi cr5,r4,2
        bf(5, 2, 8),                 // bne: not taken
        li(14, 1),                   // runs
        dform(10, 6 << 2 | 1, 4, 3), // cmpldi cr6,r4,3
        bt(6, 0, 8) | 1,             // bltl: taken, links
        li(15, 1),                   // skipped
        mflr(16),
        mfcr(17),
    ]);
    // Signed 32-bit: 0x8000_0000 is negative in the low word only.
    w.extend(load_imm64(6, 0x8000_0000));
    w.extend([cmpw(7, 6, 4), bt(7, 0, 8), li(18, 1), mfcr(19)]);
    // A bc on another field than the compare's reads the older CR0 (0),
    // and one testing SO (clear) falls through too.
    w.extend([
        cmpd(1, 4, 4),
        bt(0, 2, 8),
        li(20, 1),
        cmpd(1, 4, 4),
        bt(1, 3, 8),
        li(21, 1),
    ]);
    done(m.run(&w));
    assert_eq!((m.g(18), m.g(19)), (0, 0x0884_8288));
    assert_eq!((m.g(20), m.g(21)), (1, 1));
    assert_eq!(
        (m.g(10), m.g(11), m.g(12), m.g(13), m.g(14), m.g(15)),
        (0, 0, 0, 1, 1, 0)
    );
    // bltl sits at index 22 of the code (5 words of load_imm64 + 17).
    assert_eq!(m.g(16), CODE + 4 * 23);
    assert_eq!(m.g(17), 0x0884_8280);
}

#[test]
fn chained_blocks_count_every_instruction() {
    // A call-heavy loop runs as a chain of cached blocks; the retired
    // instruction count stays exact (fused compare/branch pairs count 2).
    let mut m = machine("power9", 1 << 20);
    let iterations = 30_000u64;
    let before = m.vcpu.instructions();
    done(m.run(&[
        li(3, 0),
        li(4, 0),
        bl(20), // loop (CODE + 8): call f
        addi(4, 4, 1),
        cmpdi(0, 4, iterations as i32),
        bt(0, 0, -12), // blt loop
        b(12),         // -> sc 1 at CODE + 36
        addi(3, 3, 3), // f (CODE + 28)
        blr(),
    ]));
    assert_eq!((m.g(3), m.g(4)), (3 * iterations, iterations));
    // 2 before the loop, 6 per iteration, the final b, and the sc.
    assert_eq!(m.vcpu.instructions() - before, 2 + 6 * iterations + 1 + 1);
}

#[test]
fn a_chained_loop_sees_its_callee_patched_without_leaving_the_chain() {
    // The loop calls a subroutine on another page; in iteration 5 it
    // rewrites the subroutine (no icbi). Every later call runs the new code.
    let mut m = machine("power9", 1 << 20);
    let sub = 0x5000;
    m.load(sub, &[li(5, 1), blr()], false);
    let patch = li(5, 2);
    done(m.run(&[
        li(3, 0),
        li(4, 0),
        li(9, sub as i32),
        addis(10, 0, (patch >> 16) as i32),
        ori(10, 10, patch & 0xffff),
        mtctr(9),    // loop (CODE + 20)
        0x4e80_0421, // bctrl
        add(3, 3, 5),
        addi(4, 4, 1),
        cmpdi(0, 4, 5),
        bf(0, 2, 8), // bne skip
        stw(10, 9, 0),
        cmpdi(0, 4, 10), // skip
        bt(0, 0, -32),   // blt loop
    ]));
    assert_eq!(m.g(3), 5 + 5 * 2);
}

#[test]
fn conditional_branches_fall_through_inside_a_block() {
    // Not-taken conditional branches (fused after a compare or not)
    // continue in the same decoded block; taken ones leave it.
    let mut m = machine("power9", 1 << 20);
    let before = m.vcpu.instructions();
    done(m.run(&[
        li(3, 0),
        li(4, 0),
        li(5, 0),
        addi(4, 4, 1),      // loop (CODE + 12)
        dform(28, 4, 6, 1), // andi. r6,r4,1
        bt(0, 2, 8),        // beq (even): skip
        addi(3, 3, 1),      // odd count
        cmpdi(0, 4, 50),    // skip
        bf(0, 2, 8),        // bne: skip the next unless r4 == 50
        addi(5, 5, 1),
        cmpdi(0, 4, 100),
        bt(0, 0, -32), // blt loop
    ]));
    assert_eq!((m.g(3), m.g(4), m.g(5)), (50, 100, 1));
    // 3 + 7 per iteration + 50 odd increments + 1 + the sc.
    assert_eq!(m.vcpu.instructions() - before, 3 + 7 * 100 + 50 + 1 + 1);
}

#[test]
fn add_compare_branch_loops_run_like_three_instructions() {
    // add/addi + compare + bc triples (run as one unit) in 64- and 32-bit,
    // signed and unsigned, register and immediate compares.
    let mut m = machine("power9", 1 << 20);
    let cmplw = |bf: u32, ra: u32, rb: u32| x(bf << 2, ra, rb, 32, false);
    let mut w = vec![li(3, 0x100), li(4, 7), li(5, 0x200), li(6, 0)];
    w.extend([
        addi(6, 6, 1), // loop 1: unsigned 64-bit register compare
        add(3, 3, 4),
        cmpld(0, 5, 3),
        bt(0, 1, -12), // bgt
        li(7, -10),
        li(8, 3),
        li(9, 5),
        add(7, 7, 8), // loop 2: signed 64-bit register compare
        cmpd(1, 7, 9),
        bt(1, 0, -8), // blt cr1
        li(11, 3),
    ]);
    w.extend(load_imm64(10, 0x1_0000_0000));
    w.extend([
        addi(10, 10, 1), // loop 3: unsigned 32-bit register compare
        cmplw(2, 10, 11),
        bt(2, 0, -8), // blt cr2
        li(12, 0),
        li(13, 1),
        add(12, 12, 13), // loop 4: signed 32-bit immediate compare
        cmpwi(3, 12, 4),
        bf(3, 2, -8), // bne cr3
        li(14, 0),
        addi(14, 14, 2), // loop 5: unsigned 64-bit immediate compare
        cmpldi(4, 14, 9),
        bt(4, 0, -8), // blt cr4
    ]);
    done(m.run(&w));
    assert_eq!((m.g(3), m.g(6)), (0x203, 37));
    assert_eq!(m.g(7), 5);
    assert_eq!(m.g(10), 0x1_0000_0003);
    assert_eq!(m.g(12), 4);
    assert_eq!(m.g(14), 10);
    // CR fields of the last compares: cr0 LT (0x200 < 0x203), cr1 EQ
    // (5 = 5), cr2 EQ (3 = 3), cr3 EQ (4 = 4), cr4 GT (10 > 9).
    assert_eq!(m.vcpu.cr() >> 12, 0x0008_2224);
}

#[test]
fn load_compare_branch_triples_scan_memory_and_stop_at_an_mmio_load() {
    // A load right before a fused compare+bc runs with them; when the load
    // leaves RAM the exit comes at the load, before the compare.
    let mut m = machine("power9", 1 << 20);
    m.load(0x6000, &[0, 0, 0x0000_0500, 0, 0x1234_5678], false);
    done(m.run(&[
        li(3, 0x6000),
        li(4, 0),
        0x7ca3_20ae,         // loop: lbzx r5,r3,r4
        cmpwi(0, 5, 0),      //
        bf(0, 2, 12),        // bne found
        addi(4, 4, 1),       //
        b(-16),              // b loop
        lwz(6, 3, 16),       // found: lwz + unsigned compare, not taken
        cmpldi(1, 6, 5),     //
        bt(1, 0, 8),         // blt cr1
        li(7, 1),            // runs
        dform(40, 8, 3, 18), // lhz r8,18(r3) = 0x5678
        cmpwi(2, 8, 0x5678),
        bt(2, 2, 8), // beq cr2
        li(9, 1),    // skipped
    ]));
    assert_eq!((m.g(4), m.g(5)), (10, 5));
    assert_eq!(
        (m.g(6), m.g(7), m.g(8), m.g(9)),
        (0x1234_5678, 1, 0x5678, 0)
    );

    let mut m = machine("power9", 1 << 20);
    let e = m.run(&[
        addis(3, 0, 0x1000), // r3 = 0x1000_0000, outside RAM
        lwz(5, 3, 0),
        cmpwi(0, 5, 7),
        bt(0, 2, 8), // beq
        li(6, 1),    // skipped once the load returns 7
        li(7, 1),
    ]);
    let VcpuExit::Mmio(req) = e else {
        panic!("{e:?}")
    };
    assert_eq!((req.addr, req.size, req.write), (0x1000_0000, 4, None));
    assert_eq!(m.vcpu.nip(), CODE + 4);
    assert_eq!(m.vcpu.cr(), 0, "the compare has not run");
    m.vcpu.complete_mmio(&req, ppc_cpu::MmioResult::Done(7));
    done(m.resume());
    assert_eq!((m.g(5), m.g(6), m.g(7)), (7, 0, 1));
    assert_eq!(m.vcpu.cr() >> 28, 2);
}
