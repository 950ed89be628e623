//! Criterion benches of the XIVE hot paths, through `dyn InterruptController`
//! as the machine calls it:
//!
//! - MSI cycle: device `set_irq` -> source PQ -> EAS -> END queue write ->
//!   presenter -> TIMA ACK -> queue read -> ESB EOI (load 0xC00) -> CPPR
//!   store 0xFF;
//! - IPI cycle: the same with the trigger being a store to the vCPU's IPI
//!   trigger page.
//!
//! Each at 64 and 8192 LISNs routed (the working set the cycle walks) and
//! 4 and 1024 thread contexts, on one thread, and on two threads driving
//! two contexts at once (one iteration = one cycle on each thread). A
//! counting global allocator checks that no cycle allocates.

use std::hint::black_box;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use intc_xive::spapr::{SpaprXive, TM_BASE};
use spapr_irq::papr::hcall::{H_INT_SET_QUEUE_CONFIG, H_INT_SET_SOURCE_CONFIG};
use spapr_irq::{Caller, ControllerConfig, InterruptController, VcpuDesc, VcpuIrqInputs};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

#[global_allocator]
static GLOBAL: alloc_count::Counting = alloc_count::Counting;

const TIMA_OS: u64 = TM_BASE + 0x20000;
const PRIO: u64 = 6;
const QSHIFT: u32 = 16;

struct Fixture {
    x: Arc<dyn InterruptController>,
    mem: GuestMemoryMmap,
    /// LISNs routed to vCPU 0 and to vCPU 1.
    lisns: [Vec<u32>; 2],
}

fn qpage(v: u32) -> u64 {
    0x100_0000 + u64::from(v) * 0x1_0000
}

fn fixture(contexts: u32, nr_lisns: u32) -> Fixture {
    let mem = GuestMemoryMmap::from_ranges(&[(GuestAddress(0), 32 << 20)]).unwrap();
    let x = (spapr_irq::backend("xive").unwrap().factory)(&ControllerConfig {
        nr_xirqs: spapr_irq::numbering::NR_XIRQS,
        nr_servers: contexts,
        guest_memory: mem.clone(),
    })
    .unwrap();
    for i in 0..contexts {
        x.cpu_intc_create(&VcpuDesc {
            index: i,
            server: i,
            pir: i,
            line: VcpuIrqInputs::new().line(1),
        })
        .unwrap();
        x.cpu_intc_reset(i);
    }
    x.activate(contexts).unwrap();
    let c = Caller {
        vcpu: 0,
        timebase: 0,
    };
    for v in 0..2u32 {
        let r = x.hcall(
            c,
            H_INT_SET_QUEUE_CONFIG,
            &[1, v.into(), PRIO, qpage(v), QSHIFT.into()],
        );
        assert_eq!(r.ret, 0);
        x.mmio_write(
            Caller {
                vcpu: v,
                timebase: 0,
            },
            TIMA_OS + 0x11,
            1,
            0xFF,
        )
        .unwrap();
    }
    // The working set: LISNs from the top of the space, plus both IPIs.
    let nr_irqs = 0x1000 + spapr_irq::numbering::NR_XIRQS;
    let mut lisns = [Vec::new(), Vec::new()];
    for n in 0..nr_lisns {
        let lisn = nr_irqs - 1 - n;
        if lisn < 2 {
            continue; // the IPIs of vCPUs 0 and 1 stay theirs
        }
        if !x.is_claimed(lisn) {
            x.claim_irq(lisn, false).unwrap();
        }
        lisns[(n % 2) as usize].push(lisn);
    }
    for (v, set) in lisns.iter().enumerate() {
        for &l in set.iter().chain([v as u32].iter()) {
            let r = x.hcall(
                c,
                H_INT_SET_SOURCE_CONFIG,
                &[2, l.into(), v as u64, PRIO, l.into()],
            );
            assert_eq!(r.ret, 0);
            x.mmio_read(c, SpaprXive::mgmt_page(l) + 0xC00, 8).unwrap();
        }
    }
    Fixture { x, mem, lisns }
}

/// One vCPU's side of the cycles.
struct Driver<'a> {
    f: &'a Fixture,
    vcpu: u32,
    idx: u64,
    toggle: u32,
    next: usize,
}

impl<'a> Driver<'a> {
    fn new(f: &'a Fixture, vcpu: u32) -> Self {
        Self {
            f,
            vcpu,
            idx: 0,
            toggle: 0,
            next: 0,
        }
    }

    #[inline]
    fn cycle(&mut self, ipi: bool) {
        let x = &*self.f.x;
        let c = Caller {
            vcpu: self.vcpu,
            timebase: 0,
        };
        let lisn = if ipi {
            self.vcpu
        } else {
            let set = &self.f.lisns[self.vcpu as usize];
            let l = set[self.next];
            self.next = if self.next + 1 == set.len() {
                0
            } else {
                self.next + 1
            };
            l
        };
        if ipi {
            x.mmio_write(c, SpaprXive::trigger_page(lisn), 8, 0)
                .unwrap();
        } else {
            x.set_irq(lisn, true);
        }
        let ack = x.mmio_read(c, TIMA_OS + 0x810, 2).unwrap();
        debug_assert_eq!(ack, 0x8006);
        let addr = qpage(self.vcpu) + 4 * self.idx;
        let raw: u32 = self
            .f
            .mem
            .load(GuestAddress(addr), Ordering::Acquire)
            .unwrap();
        let word = u32::from_be_bytes(raw.to_ne_bytes());
        assert_ne!(word >> 31, self.toggle, "queue entry missing");
        let eisn = word & 0x7FFF_FFFF;
        self.idx = (self.idx + 1) & ((1 << (QSHIFT - 2)) - 1);
        if self.idx == 0 {
            self.toggle ^= 1;
        }
        let old = x
            .mmio_read(c, SpaprXive::mgmt_page(eisn) + 0xC00, 8)
            .unwrap();
        debug_assert_eq!(old, 2);
        x.mmio_write(c, TIMA_OS + 0x11, 1, 0xFF).unwrap();
        black_box((ack, old));
    }
}

/// Runs `n` cycles on one thread per listed vCPU at once; returns the
/// longest thread's time.
fn run_threads(vcpus: &[u32], ipi: bool, n: u64, drivers: &mut [Driver]) -> Duration {
    if vcpus.len() == 1 {
        let d = &mut drivers[0];
        let t = Instant::now();
        for _ in 0..n {
            d.cycle(ipi);
        }
        return t.elapsed();
    }
    let barrier = Barrier::new(drivers.len());
    std::thread::scope(|s| {
        let handles: Vec<_> = drivers
            .iter_mut()
            .map(|d| {
                let b = &barrier;
                s.spawn(move || {
                    b.wait();
                    let t = Instant::now();
                    for _ in 0..n {
                        d.cycle(ipi);
                    }
                    t.elapsed()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .max()
            .unwrap()
    })
}

fn check_no_alloc(vcpus: &[u32], ipi: bool, drivers: &mut [Driver]) {
    run_threads(vcpus, ipi, 1000, drivers);
    let before = alloc_count::allocations();
    // Thread spawning allocates; count single-threaded cycles per driver.
    for d in drivers.iter_mut() {
        for _ in 0..10_000 {
            d.cycle(ipi);
        }
    }
    let after = alloc_count::allocations();
    assert_eq!(after - before, 0, "the cycle allocated");
}

/// CPU time of the calling thread.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the
    // call; CLOCK_THREAD_CPUTIME_ID is supported on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0);
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// CPU time per cycle of each of `drivers` running at once: on a loaded
/// machine wall time mostly measures the scheduler, while a thread's CPU
/// time per cycle grows only with real contention (shared cache lines,
/// locks) between the two threads.
fn cpu_per_cycle(ipi: bool, n: u64, drivers: &mut [Driver]) -> Vec<f64> {
    let barrier = Barrier::new(drivers.len());
    std::thread::scope(|s| {
        let handles: Vec<_> = drivers
            .iter_mut()
            .map(|d| {
                let b = &barrier;
                s.spawn(move || {
                    b.wait();
                    let t = thread_cpu();
                    for _ in 0..n {
                        d.cycle(ipi);
                    }
                    (thread_cpu() - t).as_nanos() as f64 / n as f64
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// Prints thread-CPU-time per cycle, one thread then two threads, and the
/// two-thread throughput it implies on two free cores.
fn cpu_time_report() {
    const N: u64 = 200_000;
    println!("thread CPU time per cycle (ns), {N} cycles per thread:");
    for (kind, ipi) in [("msi", false), ("ipi", true)] {
        for contexts in [4u32, 1024] {
            for lisns in [64u32, 8192] {
                let f = fixture(contexts, lisns);
                let mut drivers: Vec<Driver> = (0..2).map(|v| Driver::new(&f, v)).collect();
                cpu_per_cycle(ipi, N / 10, &mut drivers);
                // Median of five runs of each.
                let median = |mut v: Vec<f64>| {
                    v.sort_by(f64::total_cmp);
                    v[v.len() / 2]
                };
                let one = median(
                    (0..5)
                        .map(|_| cpu_per_cycle(ipi, N, &mut drivers[..1])[0])
                        .collect(),
                );
                let two = median(
                    (0..5)
                        .map(|_| {
                            let t = cpu_per_cycle(ipi, N, &mut drivers);
                            t.iter().cloned().fold(0.0, f64::max)
                        })
                        .collect(),
                );
                println!(
                    "  {kind}/ctx{contexts}/lisn{lisns}: 1 thread {one:.0}, 2 threads (slower of the two) {two:.0} -> throughput x{:.2}",
                    2.0 * one / two
                );
            }
        }
    }
}

fn bench(c: &mut Criterion) {
    for (kind, ipi) in [("msi", false), ("ipi", true)] {
        let mut g = c.benchmark_group(kind);
        g.sample_size(20)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2));
        for contexts in [4u32, 1024] {
            for lisns in [64u32, 8192] {
                let f = fixture(contexts, lisns);
                // The drivers follow their queues across the runs.
                let mut drivers: Vec<Driver> = (0..2).map(|v| Driver::new(&f, v)).collect();
                for threads in [1usize, 2] {
                    let vcpus: Vec<u32> = (0..threads as u32).collect();
                    let ds = &mut drivers[..threads];
                    check_no_alloc(&vcpus, ipi, ds);
                    let id = format!("ctx{contexts}/lisn{lisns}/thr{threads}");
                    g.bench_function(&id, |b| b.iter_custom(|n| run_threads(&vcpus, ipi, n, ds)));
                }
            }
        }
        g.finish();
    }
    println!("allocations during the checked cycles: 0 (asserted)");
    cpu_time_report();
}

criterion_group!(benches, bench);
criterion_main!(benches);
