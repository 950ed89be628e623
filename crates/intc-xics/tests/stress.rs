//! vCPU threads (H_XIRR, H_EOI, H_IPI, H_CPPR) and device threads
//! (set_irq, ibm,set-xive) on the controller at once: 100 000 MSIs plus
//! LSI assertions and IPIs, every one delivered exactly once.
//!
//! Each source has one trigger in flight at a time (a device re-fires it
//! only after a vCPU took it), so MSI coalescing cannot blur the count:
//! triggers and acceptances must match per source, and a source accepted
//! while not in flight would be a duplicate.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use intc_xics::spapr::RTAS_IBM_SET_XIVE;
use intc_xics::SpaprXics;
use spapr_irq::papr::{h, hcall};
use spapr_irq::{Caller, InterruptController, IrqLine, VcpuDesc};

const MSI_TRIGGERS: u64 = 100_000;
/// MSIs each device fires per round.
const ROUND: u64 = 4;
const NR_MSIS: u32 = 64;
const MSI_BASE: u32 = 0x1300;
const LSI: u32 = 0x1200;
const VCPUS: u32 = 2;

struct World {
    c: Arc<dyn InterruptController>,
    xics: Arc<SpaprXics>,
    lines: Vec<IrqLine>,
    /// Per source (MSIs, then the LSI): a trigger is in flight.
    armed: Vec<AtomicBool>,
    triggers: Vec<AtomicU64>,
    accepts: Vec<AtomicU64>,
    ipi_armed: Vec<AtomicBool>,
    ipis_sent: AtomicU64,
    ipis_taken: AtomicU64,
    rounds_done: [AtomicU64; 2],
    duplicates: AtomicU64,
    spurious: AtomicU64,
    errors: AtomicU64,
    stop: AtomicBool,
    stuck: AtomicBool,
}

impl World {
    fn new() -> Arc<Self> {
        let xics = Arc::new(SpaprXics::new(0x1000, VCPUS).unwrap());
        let c: Arc<dyn InterruptController> = xics.clone();
        let lines: Vec<_> = (0..VCPUS).map(|_| IrqLine::detached()).collect();
        for (i, line) in lines.iter().enumerate() {
            let i = i as u32;
            c.cpu_intc_create(&VcpuDesc {
                index: i,
                server: i,
                pir: i,
                line: line.clone(),
            })
            .unwrap();
        }
        c.activate(VCPUS).unwrap();
        for n in 0..NR_MSIS {
            c.claim_irq(MSI_BASE + n, false).unwrap();
        }
        c.claim_irq(LSI, true).unwrap();
        let n = NR_MSIS as usize + 1;
        let w = Arc::new(Self {
            c,
            xics,
            lines,
            armed: (0..n).map(|_| AtomicBool::new(false)).collect(),
            triggers: (0..n).map(|_| AtomicU64::new(0)).collect(),
            accepts: (0..n).map(|_| AtomicU64::new(0)).collect(),
            ipi_armed: (0..VCPUS).map(|_| AtomicBool::new(false)).collect(),
            ipis_sent: AtomicU64::new(0),
            ipis_taken: AtomicU64::new(0),
            rounds_done: [AtomicU64::new(0), AtomicU64::new(0)],
            duplicates: AtomicU64::new(0),
            spurious: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            stuck: AtomicBool::new(false),
        });
        for v in 0..VCPUS {
            w.check(w.hcall(v, hcall::H_CPPR, &[0xFF]));
        }
        for n in 0..NR_MSIS {
            w.set_xive(MSI_BASE + n, n % VCPUS);
        }
        w.set_xive(LSI, 1);
        w
    }

    fn hcall(&self, vcpu: u32, opcode: u64, args: &[u64]) -> i64 {
        let caller = Caller { vcpu, timebase: 0 };
        self.c.hcall(caller, opcode, args).ret
    }

    fn check(&self, ret: i64) {
        if ret != h::SUCCESS {
            self.errors.fetch_add(1, SeqCst);
        }
    }

    fn set_xive(&self, irq: u32, server: u32) {
        let mut rets = [u32::MAX];
        let caller = Caller {
            vcpu: 0,
            timebase: 0,
        };
        self.c
            .rtas(caller, RTAS_IBM_SET_XIVE, &[irq, server, 5], &mut rets);
        if rets[0] != 0 {
            self.errors.fetch_add(1, SeqCst);
        }
    }

    fn index(irq: u32) -> usize {
        if irq == LSI {
            NR_MSIS as usize
        } else {
            (irq - MSI_BASE) as usize
        }
    }

    /// Device thread `d` of two: in rounds, fires [`ROUND`] of its MSIs
    /// (the ones with `n % 2 == d`, rotating; and the LSI if `lsi`), waits
    /// until the vCPUs took all of them, then waits for the other device's
    /// round. Every round so ends with the whole machine quiet: an
    /// interrupt lost rather than late stops it. Re-routes one source now
    /// and then if `retarget`.
    fn device(&self, d: usize, lsi: bool, retarget: bool) {
        let rounds = MSI_TRIGGERS / 2 / ROUND;
        let mut next = d as u32;
        for round in 1..=rounds {
            let mut mine = Vec::new();
            for _ in 0..ROUND {
                let irq = MSI_BASE + next;
                next = (next + 2) % NR_MSIS;
                let i = Self::index(irq);
                self.armed[i].store(true, SeqCst);
                self.triggers[i].fetch_add(1, SeqCst);
                self.c.set_irq(irq, true);
                mine.push(i);
                if retarget && round % 97 == 0 {
                    self.set_xive(irq, (round / 97) as u32 % VCPUS);
                }
            }
            if lsi && round % 3 == 0 {
                let li = Self::index(LSI);
                self.armed[li].store(true, SeqCst);
                self.triggers[li].fetch_add(1, SeqCst);
                self.c.set_irq(LSI, true);
                mine.push(li);
            }
            // Watchdogs, not timing assertions: a lost interrupt would
            // otherwise stop the round forever.
            let deadline = Instant::now() + Duration::from_secs(60);
            while mine.iter().any(|&i| self.armed[i].load(SeqCst)) {
                if Instant::now() > deadline || self.stuck.load(SeqCst) {
                    self.stuck.store(true, SeqCst);
                    return;
                }
                thread::yield_now();
            }
            self.rounds_done[d].store(round, SeqCst);
            while self.rounds_done[1 - d].load(SeqCst) < round {
                if Instant::now() > deadline || self.stuck.load(SeqCst) {
                    self.stuck.store(true, SeqCst);
                    return;
                }
                thread::yield_now();
            }
        }
    }

    /// A vCPU thread: the guest's external interrupt handler, plus an IPI
    /// to the other vCPU now and then and a CPPR close/open cycle.
    fn vcpu(&self, v: u32) {
        let line = &self.lines[v as usize];
        let other = (v + 1) % VCPUS;
        let mut handled = 0u64;
        while !self.stop.load(SeqCst) {
            if !line.is_raised() {
                line.inputs().wait(Some(Duration::from_millis(2)));
                continue;
            }
            let r = self.c.hcall(
                Caller {
                    vcpu: v,
                    timebase: 0,
                },
                hcall::H_XIRR,
                &[],
            );
            self.check(r.ret);
            let xirr = r.out[0] as u32;
            let xisr = xirr & 0xFF_FFFF;
            match xisr {
                0 => {
                    self.spurious.fetch_add(1, SeqCst);
                    continue;
                }
                2 => {
                    self.check(self.hcall(v, hcall::H_IPI, &[v as u64, 0xFF]));
                    if !self.ipi_armed[v as usize].swap(false, SeqCst) {
                        self.duplicates.fetch_add(1, SeqCst);
                    }
                    self.ipis_taken.fetch_add(1, SeqCst);
                }
                irq => {
                    let i = Self::index(irq);
                    if irq == LSI {
                        self.c.set_irq(LSI, false); // the handler quiets the device
                    }
                    self.accepts[i].fetch_add(1, SeqCst);
                    if !self.armed[i].swap(false, SeqCst) {
                        self.duplicates.fetch_add(1, SeqCst);
                    }
                }
            }
            self.check(self.hcall(v, hcall::H_EOI, &[xirr as u64]));
            handled += 1;
            if handled % 64 == 0
                && self.ipi_armed[other as usize]
                    .compare_exchange(false, true, SeqCst, SeqCst)
                    .is_ok()
            {
                self.ipis_sent.fetch_add(1, SeqCst);
                self.check(self.hcall(v, hcall::H_IPI, &[other as u64, 4]));
            }
            if handled % 101 == 0 {
                // Close (rejecting what is pending), then reopen.
                self.check(self.hcall(v, hcall::H_CPPR, &[0]));
                self.check(self.hcall(v, hcall::H_CPPR, &[0xFF]));
            }
        }
    }

    fn settled(&self) -> bool {
        let all = |v: &[AtomicU64]| v.iter().map(|c| c.load(SeqCst)).collect::<Vec<_>>();
        all(&self.triggers) == all(&self.accepts)
            && self.ipis_sent.load(SeqCst) == self.ipis_taken.load(SeqCst)
    }

    fn dump(&self) -> String {
        let mut s = String::new();
        self.c.print_info(&mut s).unwrap();
        for (i, (t, a)) in self.triggers.iter().zip(&self.accepts).enumerate() {
            let (t, a) = (t.load(SeqCst), a.load(SeqCst));
            if t != a {
                s += &format!("source #{i}: {t} triggers, {a} accepted\n");
            }
        }
        s += &format!(
            "ipis sent {} taken {}\n",
            self.ipis_sent.load(SeqCst),
            self.ipis_taken.load(SeqCst)
        );
        s
    }
}

#[test]
fn four_threads_100k_interrupts_none_lost_none_twice() {
    let w = World::new();
    let vcpus: Vec<_> = (0..VCPUS)
        .map(|v| {
            let w = Arc::clone(&w);
            thread::spawn(move || w.vcpu(v))
        })
        .collect();
    let devices = [
        {
            let w = Arc::clone(&w);
            thread::spawn(move || w.device(0, true, false))
        },
        {
            let w = Arc::clone(&w);
            thread::spawn(move || w.device(1, false, true))
        },
    ];
    for d in devices {
        d.join().unwrap();
    }
    assert!(
        !w.stuck.load(SeqCst),
        "a round never completed: interrupts lost:\n{}",
        w.dump()
    );
    // Only IPIs can still be in flight; same watchdog.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !w.settled() {
        assert!(Instant::now() < deadline, "interrupts lost:\n{}", w.dump());
        thread::sleep(Duration::from_millis(5));
    }
    w.stop.store(true, SeqCst);
    for v in vcpus {
        v.join().unwrap();
    }
    let msis: u64 = w.accepts[..NR_MSIS as usize]
        .iter()
        .map(|a| a.load(SeqCst))
        .sum();
    assert_eq!(msis, MSI_TRIGGERS, "{}", w.dump());
    assert_eq!(w.duplicates.load(SeqCst), 0, "delivered twice");
    assert_eq!(w.spurious.load(SeqCst), 0, "line up with nothing pending");
    assert_eq!(w.errors.load(SeqCst), 0, "a call failed");
    assert!(w.accepts[NR_MSIS as usize].load(SeqCst) > 0, "the LSI ran");
    assert!(w.ipis_taken.load(SeqCst) > 0, "IPIs ran");
    // Quiet at the end: nothing raised, pending, rejected or held.
    for v in 0..VCPUS {
        assert!(!w.lines[v as usize].is_raised());
        let p = w.xics.engine().presenter(v).unwrap();
        assert_eq!((p.xirr, p.mfrr), (0xFF00_0000, 0xFF), "vCPU {v}");
    }
    for irq in (MSI_BASE..MSI_BASE + NR_MSIS).chain([LSI]) {
        let s = w.xics.engine().source(irq).unwrap();
        assert_eq!(s.status, 0, "source {irq:#x}: {s:?}");
    }
}
