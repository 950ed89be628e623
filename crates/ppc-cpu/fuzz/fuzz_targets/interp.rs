//! Fuzzes the interpreter: arbitrary instruction words in every MSR mode.
//!
//! Each input builds a fresh 8 MiB machine with one vCPU (POWER8, POWER9 or
//! POWER10), a radix tree mapping the first 8 MiB for PID 1 (quadrant 0)
//! and PID 0 (quadrant 3, where AIL=3 puts the vectors), and a handler at
//! every interrupt vector that steps over the interrupted instruction and
//! returns with `rfid` (in the interrupt endianness LPCR[ILE] gives).
//!
//! The first input byte picks the set-up:
//! - even: the MSR is built from input bits (SF, LE, PR, IR, DR, EE, FP,
//!   VEC, VSX, SE, BE), LPCR[ILE] and AIL from others, GPRs from the input
//!   (half of them pointing into RAM), and the rest of the input is
//!   instruction words, written at 0x20000 in the MSR's byte order;
//! - odd: a whole `VcpuState` (what a migration stream carries: any MSR,
//!   LPCR, SPRs, compat mode, decrementer, NIP) is restored from the input,
//!   then the same code runs.
//!
//! The vCPU then runs in slices of 2,000 instructions, at most 16 times,
//! until it reaches the `sc 1` placed after the input's words; other
//! hcalls get H_SUCCESS, MMIO loads get an input value or nothing
//! (machine check), `wait` and budget exits go on.
//!
//! Oracle: no panic (overflow checks are on); every `run` returns within
//! its budget (the instruction count never moves by more than the budget
//! plus one decoded block and one faulting instruction); NIP stays word aligned (when it started so); MSR[HV] is never set by the guest;
//! the state saves, restores and saves again to the same value.

#![no_main]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use ppc_cpu::asm::{addi, mfspr, mtspr, rfid};
use ppc_cpu::regs::msr;
use ppc_cpu::{CpuModel, CpuShared, IsaLevel, MmioResult, Timebase, Vcpu, VcpuExit, VcpuState};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

#[path = "../../tests/common/radix.rs"]
#[allow(dead_code, clippy::all)]
mod radix;

const RAM: u64 = 8 << 20;
const CODE: u64 = 0x2_0000;
const DATA: u64 = 0x40_0000;
const PRTB: u64 = 0x70_0000;
const POOL: u64 = 0x71_0000;
const BUDGET: u64 = 2_000;
const SLICES: usize = 16;
const MODELS: [&str; 3] = ["power8_v2.0", "power9_v2.2", "power10_v2.0"];

/// Reads the input front to back; zeros once it runs out.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
    fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    fn u64(&mut self) -> u64 {
        u64::from(self.u32()) << 32 | u64::from(self.u32())
    }
}

fn write_words(mem: &GuestMemoryMmap, addr: u64, words: &[u32], le: bool) {
    for (i, w) in words.iter().enumerate() {
        let b = if le { w.to_le_bytes() } else { w.to_be_bytes() };
        mem.write_slice(&b, GuestAddress(addr + 4 * i as u64))
            .unwrap();
    }
}

/// At every 0x20 from 0x100 to 0x1000 (and at its AIL=3 image at
/// 0x4000 + vector): SRR0 += 4, then rfid.
fn install_vectors(mem: &GuestMemoryMmap, le: bool) {
    let handler = [mfspr(0, 26), addi(0, 0, 4), mtspr(26, 0), rfid()];
    for base in [0, 0x4000] {
        for v in (0x100..0x1000).step_by(0x20) {
            write_words(mem, base + v, &handler, le);
        }
    }
}

fn machine(model: &'static CpuModel) -> (GuestMemoryMmap, Arc<CpuShared>, Vcpu) {
    let mem = GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(0), RAM as usize)]).unwrap();
    let shared = CpuShared::new(&mem);
    let vcpu = Vcpu::new(model, &mem, shared.clone(), Timebase::new(), 0);
    (mem, shared, vcpu)
}

fn map_radix(mem: &GuestMemoryMmap) {
    let rwx = radix::READ | radix::RW | radix::EXEC | radix::R | radix::C;
    let mut user = radix::Radix::new(mem, PRTB, 1, POOL);
    let mut a = 0;
    while a < RAM {
        user.map(a, a, 21, rwx);
        a += 2 << 20;
    }
    let mut kernel = radix::Radix::new(mem, PRTB, 0, user.next);
    let mut a = 0;
    while a < RAM {
        kernel.map(0xc000_0000_0000_0000 | a, a, 21, rwx | radix::PRIV);
        a += 2 << 20;
    }
}

/// A state as a stream could carry it, from input bytes.
fn state_from(inp: &mut Input, model: &'static CpuModel) -> VcpuState {
    let mut gpr = [0u64; 32];
    for g in gpr.iter_mut() {
        *g = inp.u64();
    }
    let nsprs = usize::from(inp.u8() % 8);
    let sprs = (0..nsprs)
        .map(|_| ((inp.u32() % 1024) as u16, inp.u64()))
        .collect();
    let compat = match inp.u8() % 8 {
        0 => Some(IsaLevel::V2_05),
        1 => Some(IsaLevel::V2_06),
        2 => Some(IsaLevel::V2_07),
        3 => Some(IsaLevel::V3_00),
        4 => Some(IsaLevel::V3_10),
        _ => None,
    };
    let mut nip = inp.u64();
    if inp.u8() & 1 == 0 {
        nip = CODE;
    }
    VcpuState {
        pvr: model.pvr,
        gpr,
        cr: inp.u32(),
        xer: inp.u64(),
        lr: inp.u64(),
        ctr: inp.u64(),
        msr: inp.u64(),
        nip,
        srr0: inp.u64(),
        srr1: inp.u64(),
        dar: inp.u64(),
        dsisr: inp.u64(),
        cfar: inp.u64(),
        tar: inp.u64(),
        sprg: [inp.u64(), inp.u64(), inp.u64(), inp.u64()],
        pidr: inp.u64() & 0xF,
        lpcr: inp.u64(),
        dec: inp.u64(),
        sprs,
        compat,
    }
}

fn same_but_time(a: &VcpuState, b: &VcpuState) -> bool {
    let strip = |s: &VcpuState| VcpuState {
        dec: 0,
        ..s.clone()
    };
    strip(a) == strip(b)
}

fuzz_target!(|data: &[u8]| {
    let mut inp = Input(data);
    let sel = inp.u8();
    let model = CpuModel::by_name(MODELS[usize::from(sel >> 1) % MODELS.len()]).unwrap();
    let (mem, shared, mut vcpu) = machine(model);
    map_radix(&mem);
    shared.set_process_table(PRTB, 0);

    let irq = Arc::new(AtomicBool::new(false));
    let line = Arc::clone(&irq);
    vcpu.set_external_interrupt(Arc::new(move || line.load(Ordering::Relaxed)));

    let restored = sel & 1 == 1;
    let (ile, mmio_values) = if restored {
        let st = state_from(&mut inp, model);
        // A state from a stream: the machine checks only PVR and SPR
        // numbers before restoring it, so any other value must be safe.
        vcpu.restore(&st).expect("PVR and SPR numbers are valid");
        let ile = st.lpcr & ppc_cpu::regs::lpcr::ILE != 0;
        (ile, inp.u64())
    } else {
        let m = inp.u32();
        let bit = |n: u32, v: u64| if m & (1 << n) != 0 { v } else { 0 };
        let msr_v = msr::ME
            | bit(0, msr::SF)
            | bit(1, msr::LE)
            | bit(2, msr::PR)
            | bit(3, msr::IR)
            | bit(4, msr::DR)
            | bit(5, msr::EE)
            | bit(6, msr::FP)
            | bit(7, msr::VEC)
            | bit(8, msr::VSX)
            | if m & (0xF << 9) == 0 { msr::SE } else { 0 }
            | if m & (0xF << 13) == 0 { msr::BE } else { 0 };
        let ile = m & (1 << 17) != 0;
        vcpu.set_interrupt_little_endian(ile);
        let _ = vcpu.set_ail(u64::from(m >> 18) & 3);
        vcpu.set_spr(48, u64::from(m >> 20) & 1);
        for r in 1..32 {
            let v = inp.u64();
            let v = if r % 2 == 0 { DATA + (v & 0xF_FFF8) } else { v };
            vcpu.set_gpr(r, v);
        }
        vcpu.set_msr(msr_v);
        vcpu.set_nip(CODE);
        (ile, inp.u64())
    };
    irq.store(mmio_values & 1 != 0, Ordering::Relaxed);
    install_vectors(&mem, ile);

    let le = vcpu.msr() & msr::LE != 0;
    let words: Vec<u32> = inp
        .0
        .chunks(4)
        .take(1024)
        .map(|c| {
            let mut b = [0u8; 4];
            b[..c.len()].copy_from_slice(c);
            u32::from_be_bytes(b)
        })
        .collect();
    write_words(&mem, CODE, &words, le);
    // The end: an hcall the loop stops at.
    let end = CODE + 4 * words.len() as u64;
    write_words(&mem, end, &[ppc_cpu::asm::sc(1)], le);
    shared.invalidate_code(0, RAM);

    let hv_at_start = vcpu.msr() & msr::HV;
    let aligned_start = vcpu.nip() & 3 == 0;
    for slice in 0..SLICES {
        let before = vcpu.instructions();
        let exit = vcpu.run(BUDGET);
        let done = vcpu.instructions() - before;
        // A decoded block (at most one page, 1024 words) runs whole once
        // started, plus one faulting instruction.
        assert!(
            done <= BUDGET + 1025,
            "run({BUDGET}) executed {done} instructions"
        );
        if aligned_start {
            assert_eq!(vcpu.nip() & 3, 0, "NIP {:#x} not word aligned", vcpu.nip());
        }
        assert_eq!(
            vcpu.msr() & msr::HV,
            hv_at_start,
            "MSR[HV] changed: {:#x}",
            vcpu.msr()
        );
        match exit {
            VcpuExit::Hcall { .. } if vcpu.nip() == end + 4 => break,
            VcpuExit::Hcall { .. } => vcpu.set_hcall_result(&[0]),
            VcpuExit::Mmio(req) => {
                let result = if (mmio_values >> (slice % 64)) & 2 != 0 {
                    MmioResult::Done(mmio_values.rotate_left(slice as u32) & mask(req.size))
                } else {
                    MmioResult::Unassigned
                };
                vcpu.complete_mmio(&req, result);
            }
            VcpuExit::Idle => {
                let _ = vcpu.interrupt_pending();
                let _ = vcpu.time_to_next_event();
                irq.store(!irq.load(Ordering::Relaxed), Ordering::Relaxed);
            }
            VcpuExit::BudgetExhausted => {}
            VcpuExit::Unimplemented { .. } | VcpuExit::Checkstop => break,
        }
    }

    // Migration of whatever state the guest reached.
    let saved = vcpu.save();
    let (_m2, _s2, mut other) = machine(model);
    other.restore(&saved).expect("own state restores");
    assert!(
        same_but_time(&saved, &other.save()),
        "state changed in a save/restore"
    );
});

fn mask(size: u8) -> u64 {
    if size >= 8 {
        u64::MAX
    } else {
        (1u64 << (8 * u32::from(size))) - 1
    }
}
