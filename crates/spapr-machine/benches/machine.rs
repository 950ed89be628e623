//! The machine's interrupt and hypercall paths, driven through [`Machine`]
//! the way a vCPU thread and a device thread reach them (no guest code):
//!
//! - `hcall`: `H_CPPR(0xFF)` through [`Machine::call_hcall`] (hcall
//!   dispatch, the active controller's `dyn InterruptController::hcall`),
//!   on a 2-vCPU and a 256-vCPU machine, issued by the last vCPU; and two
//!   hcalls the machine serves itself, `H_CEDE` and `H_GET_TERM_CHAR`;
//! - `delivery`: one device interrupt from the device's `set_irq` to its
//!   EOI, on the last vCPU of a 2-vCPU and a 256-vCPU machine:
//!   - XICS (`ic-mode=xics`): `set_irq` -> `H_XIRR` -> `H_EOI`;
//!   - XIVE (`ic-mode=xive`): `set_irq` -> TIMA ACK load (OS page at
//!     0x810) -> event queue read in guest RAM -> ESB EOI load (0xC00) ->
//!     CPPR store 0xFF;
//!   - and the same with the vCPU's IPI instead of a device source
//!     (`xics_ipi`: `H_IPI`, `H_XIRR`, `H_IPI` 0xFF, `H_EOI`; `xive_ipi`:
//!     a store to the IPI's trigger page);
//! - `scaling`: the same cycles on one thread, then on two threads at
//!   once, each thread being the device and the target vCPU of its own
//!   source (vCPU 0 and vCPU 1). Besides criterion's wall time, each
//!   thread's CPU time per cycle is printed, since on a machine shared
//!   with other jobs wall time mostly measures the scheduler.
//!
//! A counting allocator reports the allocations of 10 000 cycles of each
//! path (`PERF alloc ...` lines; the target is zero). The `PERF` lines are
//! read by `cargo xtask bench`'s report.

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use intc_xive::spapr::{SpaprXive, TM_BASE};
use spapr_irq::papr::hcall::{
    H_CPPR, H_EOI, H_INT_SET_QUEUE_CONFIG, H_INT_SET_SOURCE_CONFIG, H_IPI, H_XIRR,
};
use spapr_irq::{Caller, MsiKind};
use spapr_machine::config::{ConfigRequest, MachineConfig};
use spapr_machine::hcall::op;
use spapr_machine::machine::{BootConfig, Machine, VIO_REG_BASE};

use intc_xics as _;

#[global_allocator]
static GLOBAL: alloc_count::Counting = alloc_count::Counting;

/// vCPU counts of the small and the large machine.
const SIZES: [u32; 2] = [2, 256];
const TIMA_OS: u64 = TM_BASE + 0x20000;
const PRIO: u64 = 6;
const QSHIFT: u32 = 16;

/// A machine (not started: the benches are its vCPUs).
fn machine(ic_mode: &str, smp: u32) -> Arc<Machine> {
    let cfg = MachineConfig::new(&ConfigRequest {
        machine: vec![format!("pseries,ic-mode={ic_mode}")],
        smp: Some(smp.to_string()),
        ram: Some("256M".into()),
        console: true,
        ..Default::default()
    })
    .expect("config");
    Machine::new(cfg, BootConfig::default(), None).expect("machine")
}

fn hcall(m: &Machine, vcpu: u32, opcode: u64, args: &[u64]) -> [u64; 10] {
    let mut a = [0u64; 9];
    a[..args.len()].copy_from_slice(args);
    m.call_hcall(vcpu, opcode, a).expect("vCPU exists")
}

/// The XIVE queue of `vcpu` in guest RAM.
fn qpage(vcpu: u32) -> u64 {
    0x100_0000 + u64::from(vcpu) * 0x1_0000
}

/// One vCPU and the device source routed to it.
struct Path {
    m: Arc<Machine>,
    xive: bool,
    /// An IPI to the vCPU itself instead of a device interrupt.
    ipi: bool,
    vcpu: u32,
    /// The device source, or the vCPU's IPI source (XIVE).
    irq: u32,
    /// The vCPU's interrupt server number.
    server: u64,
    /// XIVE queue position and generation.
    idx: u64,
    toggle: u32,
}

impl Path {
    /// Routes a fresh MSI (or, with `ipi`, the vCPU's own IPI) to `vcpu`
    /// with the guest-visible calls.
    fn new(m: &Arc<Machine>, xive: bool, ipi: bool, vcpu: u32) -> Self {
        let server = m.config().server_of(vcpu);
        let irq = if ipi {
            spapr_irq::numbering::IPI_BASE + server
        } else {
            m.irq().msi_alloc(1, MsiKind::MsiX).expect("an MSI")
        };
        let c = Caller { vcpu, timebase: 0 };
        if xive {
            let r = hcall(
                m,
                vcpu,
                H_INT_SET_QUEUE_CONFIG,
                // Always notify, as Linux asks.
                &[1, server.into(), PRIO, qpage(vcpu), QSHIFT.into()],
            );
            assert_eq!(r[0], 0, "H_INT_SET_QUEUE_CONFIG");
            let r = hcall(
                m,
                vcpu,
                H_INT_SET_SOURCE_CONFIG,
                &[2, irq.into(), server.into(), PRIO, irq.into()],
            );
            assert_eq!(r[0], 0, "H_INT_SET_SOURCE_CONFIG");
            // PQ 01 (off) after the claim: a load at 0xC00 sets it to 00.
            m.call_mmio(vcpu, SpaprXive::mgmt_page(irq) + 0xC00, 8, None)
                .expect("ESB page");
            m.call_mmio(vcpu, TIMA_OS + 0x11, 1, Some(0xFF))
                .expect("TIMA");
        } else if !ipi {
            let mut rets = [u32::MAX];
            m.irq().rtas(
                c,
                intc_xics::spapr::RTAS_IBM_SET_XIVE,
                &[irq, server, 5],
                &mut rets,
            );
            assert_eq!(rets[0], 0, "ibm,set-xive");
        }
        if !xive {
            assert_eq!(hcall(m, vcpu, H_CPPR, &[0xFF])[0], 0);
        }
        Self {
            m: Arc::clone(m),
            xive,
            ipi,
            vcpu,
            irq,
            server: server.into(),
            idx: 0,
            toggle: 0,
        }
    }

    /// Raise -> acknowledge -> EOI; returns what was acknowledged. The
    /// raise is the device's `set_irq`, or for an IPI `H_IPI(self, 4)`
    /// (XICS, cleared with `H_IPI(self, 0xFF)` before the EOI as Linux
    /// does) or a store to the IPI's ESB trigger page (XIVE).
    #[inline]
    fn cycle(&mut self) -> u64 {
        let m = &*self.m;
        let mut a = [0u64; 9];
        match (self.ipi, self.xive) {
            (false, _) => m.set_irq(self.irq, true),
            (true, false) => {
                a[0] = self.server;
                a[1] = 4;
                m.call_hcall(self.vcpu, H_IPI, a);
            }
            (true, true) => {
                m.call_mmio(self.vcpu, SpaprXive::trigger_page(self.irq), 8, Some(0));
            }
        }
        if !self.xive {
            let xirr = m.call_hcall(self.vcpu, H_XIRR, [0; 9]).unwrap()[1];
            if self.ipi {
                a[1] = 0xFF;
                m.call_hcall(self.vcpu, H_IPI, a);
            }
            a[0] = xirr;
            m.call_hcall(self.vcpu, H_EOI, a);
            return xirr;
        }
        let ack = m.call_mmio(self.vcpu, TIMA_OS + 0x810, 2, None).unwrap();
        let word = m
            .ram()
            .read_be32(qpage(self.vcpu) + 4 * self.idx)
            .expect("queue page in RAM");
        assert_ne!(word >> 31, self.toggle, "queue entry missing");
        self.idx = (self.idx + 1) & ((1 << (QSHIFT - 2)) - 1);
        if self.idx == 0 {
            self.toggle ^= 1;
        }
        let eisn = word & 0x7FFF_FFFF;
        m.call_mmio(self.vcpu, SpaprXive::mgmt_page(eisn) + 0xC00, 8, None);
        m.call_mmio(self.vcpu, TIMA_OS + 0x11, 1, Some(0xFF));
        ack
    }
}

/// Allocations made by `n` calls of `f`, after a warm-up.
fn allocations(n: u64, mut f: impl FnMut()) -> u64 {
    for _ in 0..100 {
        f();
    }
    let before = alloc_count::allocations();
    for _ in 0..n {
        f();
    }
    alloc_count::allocations() - before
}

fn hcall_bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("machine_hcall");
    let mut args = [0u64; 9];
    args[0] = 0xFF;
    let machines: Vec<(u32, Arc<Machine>)> =
        SIZES.iter().map(|&n| (n, machine("xics", n))).collect();
    for (smp, m) in &machines {
        let v = smp - 1;
        let id = format!("h_cppr/{smp}cpu");
        let n = allocations(10_000, || {
            assert_eq!(m.call_hcall(v, H_CPPR, args).unwrap()[0], 0);
        });
        println!("PERF alloc machine_hcall/{id} {n} per 10000");
        g.bench_function(&id, |b| {
            b.iter(|| black_box(m.call_hcall(v, H_CPPR, black_box(args))))
        });
    }
    let mut calls: Vec<_> = machines
        .iter()
        .map(|(smp, m)| {
            let v = smp - 1;
            move || {
                black_box(m.call_hcall(v, H_CPPR, black_box(args)));
            }
        })
        .collect();
    interleaved_growth("machine_hcall/h_cppr/256cpu", &mut calls);
    // Two hcalls the machine serves itself, on the interrupt workloads'
    // paths: H_CEDE (every IPI round trip; `call_hcall` returns without
    // idling) and H_GET_TERM_CHAR with no input (every console interrupt).
    let m = machine("xics", 2);
    let mut vty = [0u64; 9];
    vty[0] = VIO_REG_BASE.into();
    for (name, opcode, args) in [
        ("h_cede", op::H_CEDE, [0u64; 9]),
        ("h_get_term_char", op::H_GET_TERM_CHAR, vty),
    ] {
        let id = format!("{name}/2cpu");
        let n = allocations(10_000, || {
            assert_eq!(m.call_hcall(0, opcode, args).unwrap()[0], 0);
        });
        println!("PERF alloc machine_hcall/{id} {n} per 10000");
        g.bench_function(&id, |b| {
            b.iter(|| black_box(m.call_hcall(0, opcode, black_box(args))))
        });
    }
    g.finish();
}

fn delivery_bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("machine_delivery");
    for (name, xive, ipi) in [
        ("xics", false, false),
        ("xics_ipi", false, true),
        ("xive", true, false),
        ("xive_ipi", true, true),
    ] {
        let mode = if xive { "xive" } else { "xics" };
        let mut paths = Vec::new();
        for smp in SIZES {
            let m = machine(mode, smp);
            let mut p = Path::new(&m, xive, ipi, smp - 1);
            let expect = p.cycle();
            let id = format!("{name}/{smp}cpu");
            let n = allocations(10_000, || assert_eq!(p.cycle(), expect));
            println!("PERF alloc machine_delivery/{id} {n} per 10000");
            g.bench_function(&id, |b| b.iter(|| black_box(p.cycle())));
            paths.push(p);
        }
        let mut calls: Vec<_> = paths
            .iter_mut()
            .map(|p| {
                move || {
                    black_box(p.cycle());
                }
            })
            .collect();
        interleaved_growth(&format!("machine_delivery/{name}/256cpu"), &mut calls);
    }
    g.finish();
}

/// The cost of the last of `calls` over the first's, from medians of
/// batches run in turn (101 rounds of 1000 calls each): on a machine
/// shared with other jobs, criterion's one-after-the-other runs see
/// different loads. Prints `PERF growth <id> <ratio> ...`.
fn interleaved_growth(id: &str, calls: &mut [impl FnMut()]) {
    const BATCH: u32 = 1000;
    const ROUNDS: usize = 101;
    let mut samples = vec![Vec::with_capacity(ROUNDS); calls.len()];
    for _ in 0..ROUNDS {
        for (i, f) in calls.iter_mut().enumerate() {
            let t = Instant::now();
            for _ in 0..BATCH {
                f();
            }
            samples[i].push(t.elapsed().as_nanos() as f64 / f64::from(BATCH));
        }
    }
    let m: Vec<f64> = samples.into_iter().map(median).collect();
    let (first, last) = (m[0], m[m.len() - 1]);
    println!(
        "PERF growth {id} {:.3} (interleaved medians {first:.1} ns -> {last:.1} ns)",
        last / first
    );
}

/// Runs `n` cycles on each path at once, one thread each; returns the
/// longest wall time and each thread's CPU time.
fn run_threads(paths: &mut [Path], n: u64) -> (Duration, Vec<Duration>) {
    let barrier = Barrier::new(paths.len());
    let results: Vec<(Duration, Duration)> = std::thread::scope(|s| {
        let handles: Vec<_> = paths
            .iter_mut()
            .map(|p| {
                let b = &barrier;
                s.spawn(move || {
                    b.wait();
                    let (t, c) = (Instant::now(), thread_cpu());
                    for _ in 0..n {
                        black_box(p.cycle());
                    }
                    (t.elapsed(), thread_cpu() - c)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let wall = results.iter().map(|r| r.0).max().unwrap_or_default();
    (wall, results.into_iter().map(|r| r.1).collect())
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

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn scaling_bench(c: &mut Criterion) {
    const N: u64 = 100_000;
    let mut g = c.benchmark_group("machine_scaling");
    for (name, xive) in [("xics", false), ("xive", true)] {
        let m = machine(name, 2);
        let mut paths = vec![Path::new(&m, xive, false, 0), Path::new(&m, xive, false, 1)];
        for threads in [1usize, 2] {
            let ps = &mut paths[..threads];
            g.bench_function(format!("{name}/thr{threads}"), |b| {
                b.iter_custom(|n| run_threads(ps, n).0)
            });
        }
        // Medians of five runs, one thread then two, alternating.
        let (mut wall1, mut wall2, mut cpu1, mut cpu2) = (vec![], vec![], vec![], vec![]);
        for _ in 0..5 {
            let (w, c) = run_threads(&mut paths[..1], N);
            wall1.push(w.as_nanos() as f64 / N as f64);
            cpu1.push(c[0].as_nanos() as f64 / N as f64);
            let (w, c) = run_threads(&mut paths, N);
            wall2.push(w.as_nanos() as f64 / N as f64);
            let slower = c.iter().max().copied().unwrap_or_default();
            cpu2.push(slower.as_nanos() as f64 / N as f64);
        }
        let (w1, w2, c1, c2) = (median(wall1), median(wall2), median(cpu1), median(cpu2));
        // Throughput: cycles per second of all threads together.
        println!(
            "PERF scaling machine/{name} wall_1thr_ns={w1:.1} wall_2thr_ns={w2:.1} wall_x={:.2} cpu_1thr_ns={c1:.1} cpu_2thr_ns={c2:.1} cpu_x={:.2}",
            2.0 * w1 / w2,
            2.0 * c1 / c2
        );
    }
    g.finish();
}

criterion_group!(benches, hcall_bench, delivery_bench, scaling_bench);
criterion_main!(benches);
