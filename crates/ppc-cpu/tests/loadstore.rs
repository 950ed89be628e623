//! Load/store group: sizes, sign extension, update and indexed forms,
//! byte-reversed, little-endian data, multiple/quadword, dcbz, prefixed
//! (POWER10), and the decode cache's coherence with stores to code.

mod common;

use common::{machine, CODE, DATA};
use ppc_cpu::asm::*;
use ppc_cpu::regs::msr;
use ppc_cpu::VcpuExit;

fn done(e: VcpuExit) {
    assert!(matches!(e, VcpuExit::Hcall { .. }), "{e:?}");
}

#[test]
fn sizes_sign_extension_and_update_forms() {
    let mut m = machine("power9", 1 << 20);
    m.write_u64_be(DATA, 0x8081_8283_8485_8687);
    let e = m.run(&[
        li(3, DATA as i32),
        lbz(4, 3, 1),
        d(40, 5, 3, 2), // lhz
        d(42, 6, 3, 2), // lha
        lwz(7, 3, 4),
        ds(58, 8, 3, 4, 2), // lwa
        ld(9, 3, 0),
        mr(10, 3),
        d(33, 11, 10, 4), // lwzu r11,4(r10)
        li(12, 8),
        x(13, 10, 12, 53, false), // ldux r13,r10,r12 (r10 = DATA+4+8)
    ]);
    done(e);
    assert_eq!(m.g(4), 0x81);
    assert_eq!(m.g(5), 0x8283);
    assert_eq!(m.g(6), 0xffff_ffff_ffff_8283);
    assert_eq!(m.g(7), 0x8485_8687);
    assert_eq!(m.g(8), 0xffff_ffff_8485_8687);
    assert_eq!(m.g(9), 0x8081_8283_8485_8687);
    assert_eq!(m.g(11), 0x8485_8687);
    assert_eq!(m.g(10), DATA + 12);
}

#[test]
fn stores_and_byte_reversed() {
    let mut m = machine("power9", 1 << 20);
    let mut w = load_imm64(4, 0x1122_3344_5566_7788).to_vec();
    w.extend([
        li(3, DATA as i32),
        std(4, 3, 0),
        stw(4, 3, 8),
        d(44, 4, 3, 12), // sth
        stb(4, 3, 14),
        li(5, 16),
        x(4, 3, 5, 660, false), // stdbrx
        li(5, 24),
        x(4, 3, 5, 662, false), // stwbrx
        li(5, 0),
        x(6, 3, 5, 534, false), // lwbrx
        x(7, 3, 5, 790, false), // lhbrx
        x(8, 3, 5, 532, false), // ldbrx
    ]);
    done(m.run(&w));
    assert_eq!(m.read_u64_be(DATA), 0x1122_3344_5566_7788);
    assert_eq!(m.read_u64_be(DATA + 8), 0x5566_7788_7788_8800);
    assert_eq!(m.read_u64_be(DATA + 16), 0x8877_6655_4433_2211);
    assert_eq!(m.read_u32_be(DATA + 24), 0x8877_6655);
    assert_eq!(m.g(6), 0x4433_2211);
    assert_eq!(m.g(7), 0x2211);
    assert_eq!(m.g(8), 0x8877_6655_4433_2211);
}

#[test]
fn little_endian_data_and_code() {
    let mut m = machine("power9", 1 << 20);
    m.write_u64_be(DATA, 0x0102_0304_0506_0708);
    m.vcpu.set_msr(msr::SF | msr::ME | msr::LE);
    let w = [
        li(3, DATA as i32),
        lwz(4, 3, 0),
        ld(5, 3, 0),
        li(6, 0x1234),
        d(44, 6, 3, 8),
        sc(1),
    ];
    m.load(CODE, &w, true);
    m.vcpu.set_nip(CODE);
    done(m.resume());
    assert_eq!(m.g(4), 0x0403_0201);
    assert_eq!(m.g(5), 0x0807_0605_0403_0201);
    assert_eq!(m.read_u32_be(DATA + 8) >> 16, 0x3412);
}

#[test]
fn endian_switch_with_rfid_like_fixup_endian() {
    // Big-endian code flips MSR[LE] with rfid into little-endian code.
    let mut m = machine("power9", 1 << 20);
    let le_code = 0x3000;
    m.load(le_code, &[li(3, 42), sc(1)], true);
    let e = m.run(&[
        li(4, le_code as i32),
        mtspr(26, 4),
        mfmsr(5),
        d(26, 5, 5, 1), // xori r5,r5,1
        mtspr(27, 5),
        rfid(),
    ]);
    assert!(matches!(e, VcpuExit::Hcall { opcode: 42, .. }), "{e:?}");
    assert_ne!(m.vcpu.msr() & msr::LE, 0);
}

#[test]
fn multiple_quadword_and_dcbz() {
    let mut m = machine("power9", 1 << 20);
    m.write_u64_be(DATA, 0x0000_0001_0000_0002);
    m.write_u64_be(DATA + 8, 0x0000_0003_0000_0004);
    let lq =
        |rt: u32, ra: u32, dq: i32| (56 << 26) | (rt << 21) | (ra << 16) | (dq as u32 & 0xfff0);
    let e = m.run(&[
        li(3, DATA as i32),
        d(46, 28, 3, 0), // lmw r28,0(r3)
        lq(6, 3, 0),
        li(10, -1),
        std(10, 3, 0x100),
        std(10, 3, 0x178),
        addi(9, 3, 0x140),
        dcbz(0, 9), // zeroes the 128-byte line at DATA+0x100
        ld(11, 3, 0x100),
        ld(12, 3, 0x178),
    ]);
    done(e);
    assert_eq!((m.g(28), m.g(29), m.g(30), m.g(31)), (1, 2, 3, 4));
    assert_eq!(
        (m.g(6), m.g(7)),
        (0x0000_0001_0000_0002, 0x0000_0003_0000_0004)
    );
    assert_eq!((m.g(11), m.g(12)), (0, 0));
}

#[test]
fn prefixed_loads_and_paddi_on_power10() {
    let mut m = machine("power10", 1 << 20);
    m.write_u64_be(DATA + 0x12340, 0x0123_4567_89ab_cdef);
    let e = m.run(&[
        li(3, DATA as i32),
        // pld r4, 0x12340(r3)
        0x0400_0001,
        (57 << 26) | (4 << 21) | (3 << 16) | 0x2340,
        // paddi r5, 0, 8, 1 (PC-relative): r5 = address of this paddi + 8
        0x0610_0000,
        (14 << 26) | (5 << 21) | 8,
        // plwz r6, 0x12344(r3)
        0x0600_0001,
        (32 << 26) | (6 << 21) | (3 << 16) | 0x2344,
    ]);
    done(e);
    assert_eq!(m.g(4), 0x0123_4567_89ab_cdef);
    assert_eq!(m.g(5), CODE + 12 + 8);
    assert_eq!(m.g(6), 0x89ab_cdef);
}

#[test]
fn stores_to_code_invalidate_decoded_blocks() {
    let mut m = machine("power9", 1 << 20);
    // A subroutine at 0x3000 returns 1; the guest runs it, patches it to
    // return 2 (store, then icbi/isync as the ISA requires), runs it again.
    let sub = 0x3000;
    m.load(sub, &[li(3, 1), blr()], false);
    let patch = li(3, 2);
    let e = m.run(&[
        li(9, sub as i32),
        mtctr(9),
        0x4e80_0421, // bctrl
        mr(20, 3),
        addis(10, 0, (patch >> 16) as i32),
        ori(10, 10, patch & 0xffff), // r10 = patch word
        stw(10, 9, 0),
        icbi(0, 9),
        isync(),
        mtctr(9),
        0x4e80_0421,
        mr(21, 3),
    ]);
    done(e);
    assert_eq!((m.g(20), m.g(21)), (1, 2));
}

#[test]
fn self_modifying_store_without_icbi_is_still_seen() {
    // A store into the current block ends the block; the patched
    // instruction executes in its new form.
    let mut m = machine("power9", 1 << 20);
    let patch = li(5, 7);
    let e = m.run(&[
        li(4, (CODE + 24) as i32),
        addis(6, 0, (patch >> 16) as i32),
        ori(6, 6, patch & 0xffff),
        li(5, 1),
        stw(6, 4, 0),
        nop(),
        li(5, 3), // at CODE + 24, replaced by li r5,7
    ]);
    done(e);
    assert_eq!(m.g(5), 7);
}

#[test]
fn prefixed_instruction_crossing_64_bytes_is_an_alignment_interrupt() {
    let mut m = machine("power10", 1 << 20);
    m.load(0x600, &[sc(1)], false);
    // 15 nops, then a prefix at offset 60 of the 64-byte line.
    let mut w = vec![nop(); 15];
    w.extend([0x0400_0001, (57 << 26) | (4 << 21) | (3 << 16)]);
    let e = m.run(&w);
    assert!(matches!(e, VcpuExit::Hcall { .. }), "{e:?}");
    assert_eq!(m.vcpu.nip(), 0x604);
    let (srr0, srr1) = m.vcpu.srr();
    assert_eq!(srr0, CODE + 60);
    assert_ne!(srr1 & 0x2000_0000, 0);
}
