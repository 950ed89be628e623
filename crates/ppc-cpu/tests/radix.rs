//! Radix MMU: walks through page tables built by the test (4K, 64K, 2M,
//! 1G pages), R/C updates, permission and segment faults, and the tlbie
//! broadcast between vCPUs.

mod common;

use common::{machine, Machine, CODE};
use ppc_cpu::asm::*;
use ppc_cpu::regs::msr;
use ppc_cpu::{vector, VcpuExit};

#[path = "common/radix.rs"]
mod radix;
use radix::*;

const PRTB: u64 = 0x20_0000;
const POOL: u64 = 0x30_0000;
const RELOC: u64 = msr::SF | msr::ME | msr::IR | msr::DR;

/// 8 MiB RAM, vectors hold `sc 1`, [0, 2 MiB) identity-mapped for PID 1.
fn radix_machine() -> (Machine, u64) {
    let m = machine("power9", 8 << 20);
    for v in (0x100..0x1000).step_by(0x20) {
        m.load(v, &[sc(1)], false);
    }
    let mut r = Radix::new(&m.mem, PRTB, 1, POOL);
    r.identity(2 << 20);
    let next = r.next;
    m.shared.set_process_table(PRTB, 0);
    let mut m = m;
    assert!(m.vcpu.set_spr(48, 1));
    m.vcpu.set_msr(RELOC);
    (m, next)
}

fn map(m: &Machine, next: &mut u64, ea: u64, pa: u64, shift: u32, flags: u64) {
    // Re-open the tree of PID 1 (root from the process table entry).
    let dw0 = m.read_u64_be(PRTB + 16);
    let mut r = Radix {
        mem: &m.mem,
        next: *next,
        root: dw0 & 0x0fff_ffff_ffff_ff00,
    };
    r.map(ea, pa, shift, flags);
    *next = r.next;
}

fn expect_vector(m: &Machine, e: VcpuExit, vec: u64) {
    assert!(matches!(e, VcpuExit::Hcall { .. }), "{e:?}");
    assert_eq!(m.vcpu.nip(), vec + 4);
}

#[test]
fn identity_map_runs_code_and_sets_reference_and_change() {
    let (mut m, _) = radix_machine();
    let e = m.run(&[li(3, 0x7000), li(4, 42), std(4, 3, 0), ld(5, 3, 0)]);
    assert!(matches!(e, VcpuExit::Hcall { .. }), "{e:?}");
    assert_eq!(m.g(5), 42);
    assert_eq!(m.read_u64_be(0x7000), 42);
}

#[test]
fn page_sizes_translate() {
    let (mut m, mut next) = radix_machine();
    m.write_u64_be(0x40_1008, 0x1111);
    m.write_u64_be(0x60_0010, 0x2222);
    m.write_u64_be(0x41_0018, 0x3333);
    let rw = READ | RW | R | C;
    map(&m, &mut next, 0x1_0000_0000, 0x40_1000, 12, rw);
    map(&m, &mut next, 0x2_0000_0000, 0x60_0000, 21, rw);
    map(&m, &mut next, 0x3_0000_0000, 0x41_0000, 16, rw);
    map(&m, &mut next, 0x40_0000_0000, 0, 30, rw);
    let mut w = Vec::new();
    w.extend(load_imm64(3, 0x1_0000_0008));
    w.push(ld(4, 3, 0));
    w.extend(load_imm64(3, 0x2_0000_0010));
    w.push(ld(5, 3, 0));
    w.extend(load_imm64(3, 0x3_0000_0018));
    w.push(ld(6, 3, 0));
    w.extend(load_imm64(3, 0x40_0060_0010)); // 1 GiB page at PA 0
    w.push(ld(7, 3, 0));
    let e = m.run(&w);
    assert!(matches!(e, VcpuExit::Hcall { .. }), "{e:?}");
    assert_eq!(
        (m.g(4), m.g(5), m.g(6), m.g(7)),
        (0x1111, 0x2222, 0x3333, 0x2222)
    );
}

#[test]
fn reference_and_change_bits_are_set_by_the_walk() {
    let (mut m, mut next) = radix_machine();
    map(&m, &mut next, 0x5000_0000, 0x40_2000, 12, READ | RW);
    let mut w = load_imm64(3, 0x5000_0000).to_vec();
    w.push(ld(4, 3, 0));
    let e = m.run(&w);
    assert!(matches!(e, VcpuExit::Hcall { .. }));
    // Find the PTE: it is the last table entry written; scan the pool.
    let mut found = None;
    for a in (POOL..next).step_by(8) {
        let v = m.read_u64_be(a);
        if v & 0x01ff_ffff_ffff_f000 == 0x40_2000 && v & LEAF != 0 {
            found = Some(v);
        }
    }
    let pte = found.expect("leaf");
    assert_ne!(pte & R, 0);
    assert_eq!(pte & C, 0, "a load sets R only");
    let mut w = load_imm64(3, 0x5000_0000).to_vec();
    w.push(std(4, 3, 0));
    m.run(&w);
    let mut c = false;
    for a in (POOL..next).step_by(8) {
        let v = m.read_u64_be(a);
        if v & 0x01ff_ffff_ffff_f000 == 0x40_2000 && v & LEAF != 0 {
            c = v & C != 0;
        }
    }
    assert!(c, "a store sets C");
}

#[test]
fn unmapped_load_and_store_give_dsi() {
    let (mut m, _) = radix_machine();
    let mut w = load_imm64(3, 0x7000_0000).to_vec();
    w.push(ld(4, 3, 8));
    let e = m.run(&w);
    expect_vector(&m, e, vector::DSI);
    assert_eq!(m.vcpu.dar_dsisr(), (0x7000_0008, 0x4000_0000));
    assert_eq!(m.vcpu.srr().0, CODE + 20);
    assert_eq!(
        m.vcpu.msr() & (msr::IR | msr::DR),
        0,
        "vectors run in real mode"
    );
    let (mut m, _) = radix_machine();
    let mut w = load_imm64(3, 0x7000_0000).to_vec();
    w.push(std(4, 3, 0));
    let e = m.run(&w);
    expect_vector(&m, e, vector::DSI);
    assert_eq!(m.vcpu.dar_dsisr(), (0x7000_0000, 0x4200_0000));
}

#[test]
fn protection_faults() {
    let (mut m, mut next) = radix_machine();
    map(&m, &mut next, 0x5000_0000, 0x40_3000, 12, READ | R | C);
    let mut w = load_imm64(3, 0x5000_0000).to_vec();
    w.extend([ld(4, 3, 0), std(4, 3, 0)]);
    let e = m.run(&w);
    expect_vector(&m, e, vector::DSI);
    assert_eq!(m.vcpu.dar_dsisr(), (0x5000_0000, 0x0a00_0000));
    // Privileged page from problem state.
    let (mut m, mut next) = radix_machine();
    map(
        &m,
        &mut next,
        0x5000_0000,
        0x40_3000,
        12,
        PRIV | READ | RW | R | C,
    );
    m.vcpu.set_msr(RELOC | msr::PR);
    let mut w = load_imm64(3, 0x5000_0000).to_vec();
    w.push(ld(4, 3, 0));
    let e = m.run(&w);
    expect_vector(&m, e, vector::DSI);
    assert_eq!(m.vcpu.dar_dsisr().1, 0x0800_0000);
}

#[test]
fn instruction_fetch_faults() {
    // No-execute page: ISI with SRR1 protection bit.
    let (mut m, mut next) = radix_machine();
    map(&m, &mut next, 0x5000_0000, 0x40_4000, 12, READ | RW | R | C);
    let mut w = load_imm64(3, 0x5000_0000).to_vec();
    w.extend([mtctr(3), bctr()]);
    let e = m.run(&w);
    expect_vector(&m, e, vector::ISI);
    let (srr0, srr1) = m.vcpu.srr();
    assert_eq!(srr0, 0x5000_0000);
    assert_eq!(srr1 & 0x4800_0000, 0x0800_0000);
    // Unmapped: ISI with the no-translation bit.
    let (mut m, _) = radix_machine();
    let mut w = load_imm64(3, 0x6000_0000).to_vec();
    w.extend([mtctr(3), bctr()]);
    let e = m.run(&w);
    expect_vector(&m, e, vector::ISI);
    assert_eq!(m.vcpu.srr().1 & 0x4800_0000, 0x4000_0000);
}

#[test]
fn segment_interrupts() {
    // EA >= 2^52 in quadrant 0.
    let (mut m, _) = radix_machine();
    let mut w = load_imm64(3, 1 << 52).to_vec();
    w.push(ld(4, 3, 0));
    let e = m.run(&w);
    expect_vector(&m, e, vector::DSEG);
    assert_eq!(m.vcpu.dar_dsisr().0, 1 << 52);
    // Quadrant 3 with an empty PID 0 entry: EA -4.
    let (mut m, _) = radix_machine();
    let e = m.run(&[li(3, -4), lwz(4, 3, 0)]);
    expect_vector(&m, e, vector::DSEG);
    assert_eq!(m.vcpu.dar_dsisr().0, (-4i64) as u64);
    // Fetch from quadrant 1: instruction segment interrupt.
    let (mut m, _) = radix_machine();
    let mut w = load_imm64(3, 0x4000_0000_0000_0000).to_vec();
    w.extend([mtctr(3), bctr()]);
    let e = m.run(&w);
    expect_vector(&m, e, vector::ISEG);
    assert_eq!(m.vcpu.srr().0, 0x4000_0000_0000_0000);
}

#[test]
fn tlbie_is_broadcast_to_other_vcpus() {
    let (mut m, mut next) = radix_machine();
    m.write_u64_be(0x40_5000, 1);
    m.write_u64_be(0x40_6000, 2);
    map(&m, &mut next, 0x5000_0000, 0x40_5000, 12, READ | RW | R | C);
    let mut v1 = ppc_cpu::Vcpu::new(
        ppc_cpu::CpuModel::by_name("power9").unwrap(),
        &m.mem,
        m.shared.clone(),
        m.tb.clone(),
        1,
    );
    v1.set_spr(48, 1);
    v1.set_msr(RELOC);
    let mut w = load_imm64(3, 0x5000_0000).to_vec();
    w.extend([ld(4, 3, 0), sc(1)]);
    m.load(0x9000, &w, false);
    let run_v1 = |v1: &mut ppc_cpu::Vcpu| {
        v1.set_nip(0x9000);
        let e = v1.run(1000);
        assert!(matches!(e, VcpuExit::Hcall { .. }), "{e:?}");
        v1.gpr(4)
    };
    assert_eq!(run_v1(&mut v1), 1);
    // Remap without tlbie: the TLB of vCPU 1 still holds the old page.
    map(&m, &mut next, 0x5000_0000, 0x40_6000, 12, READ | RW | R | C);
    assert_eq!(run_v1(&mut v1), 1, "software TLB caches the translation");
    // vCPU 0 runs tlbie; vCPU 1 sees the new mapping.
    let e = m.run(&[li(5, 0), tlbie(5, 5), sync()]);
    assert!(matches!(e, VcpuExit::Hcall { .. }));
    assert_eq!(run_v1(&mut v1), 2);
}

#[test]
fn ail3_relocates_interrupt_vectors() {
    let (mut m, _) = radix_machine();
    // Kernel quadrant (PID 0): map 0xc000000000004000.. onto real 0x4000.
    let mut k = Radix::new(&m.mem, PRTB, 0, 0x70_0000);
    k.map(0xc000_0000_0000_4000, 0x4000, 12, READ | RW | EXEC | R | C);
    m.load(0x4700, &[sc(1)], false);
    assert!(m.vcpu.set_ail(3));
    let e = m.run(&[0]);
    assert!(matches!(e, VcpuExit::Hcall { .. }), "{e:?}");
    assert_eq!(m.vcpu.nip(), 0xc000_0000_0000_4704);
    assert_eq!(m.vcpu.msr() & (msr::IR | msr::DR), msr::IR | msr::DR);
    assert_eq!(m.vcpu.srr().0, CODE);
    // Without relocation at the time of the interrupt, AIL does not apply.
    m.vcpu.set_msr(msr::SF | msr::ME);
    let e = m.run(&[0]);
    assert!(matches!(e, VcpuExit::Hcall { .. }), "{e:?}");
    assert_eq!(m.vcpu.nip(), 0x704);
}

#[test]
fn a_directory_change_is_seen_after_tlbie_despite_the_page_walk_cache() {
    // Two pages of one 2 MiB region: the first walk caches where the last
    // level is. The guest then points that directory entry at a new table
    // and runs tlbie: the next miss must walk the new table.
    let (mut m, mut next) = radix_machine();
    m.write_u64_be(0x40_5000, 1);
    m.write_u64_be(0x40_6000, 2);
    // Not in the page-walk-cache slot of the code at 0x9000.
    let ea = 0x50a0_0000u64;
    map(&m, &mut next, ea, 0x40_5000, 12, READ | RW | R | C);
    map(&m, &mut next, ea + 0x1000, 0x40_5000, 12, READ | RW | R | C);
    let load = |m: &mut Machine, at: u64| {
        let mut w = load_imm64(3, at).to_vec();
        w.extend([ld(4, 3, 0), sc(1)]);
        m.load(0x9000, &w, false);
        m.vcpu.set_nip(0x9000);
        let e = m.resume();
        assert!(matches!(e, VcpuExit::Hcall { .. }), "{e:?}");
        m.g(4)
    };
    assert_eq!(load(&mut m, ea), 1);
    assert_eq!(load(&mut m, ea + 0x1000), 1);
    // The level-2 entry for `ea` (root from the process table).
    let nlb = |pde: u64| pde & 0x0fff_ffff_ffff_ff00;
    let root = nlb(m.read_u64_be(PRTB + 16));
    let t1 = nlb(m.read_u64_be(root + 8 * ((ea >> 39) & 0x1fff)));
    let t2 = nlb(m.read_u64_be(t1 + 8 * ((ea >> 30) & 0x1ff)));
    let slot = t2 + 8 * ((ea >> 21) & 0x1ff);
    let new_table = 0x60_0000u64;
    for i in 0..512 {
        m.write_u64_be(new_table + 8 * i, 0);
    }
    let leaf = VALID | LEAF | 0x40_6000 | READ | RW | R | C;
    m.write_u64_be(new_table + 8 * ((ea + 0x1000) >> 12 & 0x1ff), leaf);
    m.write_u64_be(slot, VALID | new_table | 9);
    let e = m.run(&[li(5, 0), tlbie(5, 5), sync()]);
    assert!(matches!(e, VcpuExit::Hcall { .. }), "{e:?}");
    assert_eq!(load(&mut m, ea + 0x1000), 2);
    // The first page is not in the new table: DSI.
    let mut w = load_imm64(3, ea).to_vec();
    w.extend([ld(4, 3, 0), sc(1)]);
    m.load(0x9000, &w, false);
    m.vcpu.set_nip(0x9000);
    let e = m.resume();
    expect_vector(&m, e, vector::DSI);
}
