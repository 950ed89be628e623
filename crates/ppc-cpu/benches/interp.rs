//! Guest instructions per second on a sieve loop, in real mode and under
//! radix translation (4 KiB pages, identity map).
//!
//! Groups: `sieve` measures wall time; `sieve_cpu` measures the thread's
//! CPU time, which stays meaningful on a machine shared with other jobs
//! (the throughput line is then instructions per CPU-second); `calls_cpu`
//! runs a call-heavy loop of short blocks (no self-loops) to show the
//! per-block dispatch cost.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ppc_cpu::asm::*;
use ppc_cpu::regs::msr;
use ppc_cpu::{CpuModel, CpuShared, Timebase, Vcpu, VcpuExit};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

#[path = "../tests/common/radix.rs"]
mod radix;

/// The sieve of Eratosthenes over 64 KiB at 0x100000, forever.
fn sieve() -> Vec<u32> {
    vec![
        addis(3, 0, 0x10), // 0: r3 = array
        li(4, 0),          // 4
        addis(5, 0, 1),    // 8: N = 0x10000
        li(6, 1),          // 12
        li(10, 0),         // 16
        stbx(6, 3, 4),     // 20: init
        addi(4, 4, 1),     // 24
        cmpd(0, 4, 5),     // 28
        bt(0, 0, -12),     // 32: blt init
        li(7, 2),          // 36
        mulld(8, 7, 7),    // 40: outer
        cmpd(0, 8, 5),     // 44
        bf(0, 0, 44),      // 48: bge done (-> 92)
        lbzx(9, 3, 7),     // 52
        cmpdi(0, 9, 0),    // 56
        bt(0, 2, 20),      // 60: beq next (-> 80)
        stbx(10, 3, 8),    // 64: inner
        add(8, 8, 7),      // 68
        cmpd(0, 8, 5),     // 72
        bt(0, 0, -12),     // 76: blt inner
        addi(7, 7, 1),     // 80: next
        b(-44),            // 84: b outer (-> 40)
        nop(),             // 88
        b(-92),            // 92: done: b start
    ]
}

/// A loop that calls a small leaf function each iteration (three short
/// blocks per iteration, no self-loop): per-block dispatch cost.
fn calls() -> Vec<u32> {
    vec![
        addis(3, 0, 0x10), // 0: r3 = data
        li(4, 0),          // 4
        bl(20),            // 8: loop: call f (-> 28)
        addi(4, 4, 1),     // 12
        cmpdi(0, 4, 1000), // 16
        bt(0, 0, -12),     // 20: blt loop (-> 8)
        b(-24),            // 24: -> 0
        ld(5, 3, 0),       // 28: f: load, add, store, return
        add(5, 5, 4),      // 32
        std(5, 3, 0),      // 36
        blr(),             // 40
    ]
}

fn setup(radix_on: bool) -> (Vcpu, GuestMemoryMmap, Arc<CpuShared>) {
    setup_with(radix_on, &sieve())
}

fn setup_with(radix_on: bool, code: &[u32]) -> (Vcpu, GuestMemoryMmap, Arc<CpuShared>) {
    let mem = GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(0), 16 << 20)]).unwrap();
    let shared = CpuShared::new(&mem);
    let mut v = Vcpu::new(
        CpuModel::by_name("power9").unwrap(),
        &mem,
        shared.clone(),
        Timebase::new(),
        0,
    );
    for (i, w) in code.iter().enumerate() {
        mem.write_slice(&w.to_be_bytes(), GuestAddress(0x1000 + 4 * i as u64))
            .unwrap();
    }
    v.set_nip(0x1000);
    if radix_on {
        let mut r = radix::Radix::new(&mem, 0x20_0000, 1, 0x30_0000);
        r.identity(4 << 20);
        shared.set_process_table(0x20_0000, 0);
        v.set_spr(48, 1);
        v.set_msr(msr::SF | msr::ME | msr::IR | msr::DR);
    }
    (v, mem, shared)
}

/// CPU time consumed by this thread.
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0);
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn bench(c: &mut Criterion) {
    const BUDGET: u64 = 20_000_000;
    for (group, cpu_time) in [("sieve", false), ("sieve_cpu", true), ("calls_cpu", true)] {
        let mut g = c.benchmark_group(group);
        g.throughput(Throughput::Elements(BUDGET));
        g.sample_size(10);
        for (name, radix_on) in [("real_mode", false), ("radix", true)] {
            let (mut v, _mem, _shared) = if group.starts_with("calls") {
                setup_with(radix_on, &calls())
            } else {
                setup(radix_on)
            };
            g.bench_function(name, |b| {
                b.iter_custom(|iters| {
                    let (t, c0) = (Instant::now(), thread_cpu_time());
                    for _ in 0..iters {
                        let before = v.instructions();
                        let e = v.run(BUDGET);
                        assert_eq!(e, VcpuExit::BudgetExhausted);
                        assert!(v.instructions() - before >= BUDGET);
                    }
                    if cpu_time {
                        thread_cpu_time() - c0
                    } else {
                        t.elapsed()
                    }
                })
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
