//! Concurrency: device threads trigger while vCPU threads acknowledge, read
//! their queues and EOI through the ESB pages, 4 threads, 100k triggers.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use common::{Harness, QueueReader, PRIO};
use intc_xive::spapr::SpaprXive;

const TRIGGERS: u64 = 100_000;
const FIRST: u32 = 0x1300;
const NR: u32 = 256;

fn setup() -> Arc<Harness> {
    let t = Harness::new(2, 2);
    for s in 0..2 {
        t.linux_queue(s);
    }
    for l in FIRST..FIRST + NR {
        t.x.claim_irq(l, false).unwrap();
        t.linux_source(l, l % 2, l);
    }
    Arc::new(t)
}

fn xorshift(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

struct Shared {
    armed: Vec<AtomicBool>,
    triggered: Vec<AtomicU32>,
    delivered: Vec<AtomicU32>,
    in_flight: Vec<AtomicBool>,
    total: AtomicU64,
    done: AtomicBool,
}

impl Shared {
    fn new() -> Arc<Self> {
        let v = |b| (0..NR).map(|_| AtomicBool::new(b)).collect();
        let n = || (0..NR).map(|_| AtomicU32::new(0)).collect();
        Arc::new(Self {
            armed: v(true),
            triggered: n(),
            delivered: n(),
            in_flight: v(false),
            total: AtomicU64::new(0),
            done: AtomicBool::new(false),
        })
    }
}

/// A vCPU thread running Linux's fetch/EOI loop; `exact` expects every
/// EOI to find PQ = 10 (no trigger ever raced).
fn consumer(t: Arc<Harness>, sh: Arc<Shared>, vcpu: u32, exact: bool) -> u64 {
    let mut q = QueueReader::new(Harness::queue_page(vcpu), 16);
    let mut consumed = 0u64;
    loop {
        let done = sh.done.load(Ordering::SeqCst);
        let nsr = t.ack(vcpu) >> 8;
        let mut got = false;
        while let Some(eisn) = q.pop(&t.mem) {
            got = true;
            consumed += 1;
            assert!((FIRST..FIRST + NR).contains(&eisn), "bad EISN {eisn:#x}");
            assert_eq!(eisn % 2, vcpu, "delivered to the wrong vCPU");
            let i = (eisn - FIRST) as usize;
            assert!(
                !sh.in_flight[i].swap(true, Ordering::SeqCst),
                "LISN {eisn:#x} delivered twice without an EOI"
            );
            sh.delivered[i].fetch_add(1, Ordering::SeqCst);
            let old = t.esb(eisn, 0xC00);
            sh.in_flight[i].store(false, Ordering::SeqCst);
            if exact {
                assert_eq!(old, 2, "PQ at EOI");
                sh.armed[i].store(true, Ordering::SeqCst);
            } else if old & 1 != 0 {
                // Q was set: the guest fires the latched event again.
                t.trigger(eisn);
            }
        }
        t.cppr(vcpu, 0xFF);
        if !got && done && nsr == 0 {
            return consumed;
        }
        if !got {
            t.inputs[vcpu as usize].wait(Some(Duration::from_millis(1)));
        }
    }
}

fn producer(t: Arc<Harness>, sh: Arc<Shared>, seed: u64, exact: bool) {
    let mut s = seed;
    loop {
        if sh.total.load(Ordering::SeqCst) >= TRIGGERS {
            return;
        }
        let r = xorshift(&mut s);
        let i = (r % u64::from(NR)) as usize;
        let lisn = FIRST + i as u32;
        if exact
            && sh.armed[i]
                .compare_exchange(true, false, Ordering::SeqCst, Ordering::SeqCst)
                .is_err()
        {
            std::hint::spin_loop();
            continue;
        }
        if sh.total.fetch_add(1, Ordering::SeqCst) >= TRIGGERS {
            sh.armed[i].store(true, Ordering::SeqCst);
            return;
        }
        sh.triggered[i].fetch_add(1, Ordering::SeqCst);
        if r & 0x100 == 0 {
            t.x.set_irq(lisn, true);
        } else {
            t.store(0, SpaprXive::trigger_page(lisn), 8, 0);
        }
    }
}

fn run(exact: bool) -> (Arc<Harness>, Arc<Shared>, u64) {
    let t = setup();
    let sh = Shared::new();
    let consumers: Vec<_> = (0..2)
        .map(|v| {
            let (t, sh) = (Arc::clone(&t), Arc::clone(&sh));
            thread::spawn(move || consumer(t, sh, v, exact))
        })
        .collect();
    let producers: Vec<_> = (0..2u64)
        .map(|p| {
            let (t, sh) = (Arc::clone(&t), Arc::clone(&sh));
            thread::spawn(move || producer(t, sh, 0x9E37_79B9 + p * 7919, exact))
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }
    sh.done.store(true, Ordering::SeqCst);
    let consumed: u64 = consumers.into_iter().map(|c| c.join().unwrap()).sum();
    (t, sh, consumed)
}

#[test]
fn every_trigger_becomes_exactly_one_queue_entry() {
    let (t, sh, consumed) = run(true);
    assert_eq!(consumed, TRIGGERS, "no event lost or duplicated");
    for i in 0..NR as usize {
        assert_eq!(
            sh.triggered[i].load(Ordering::SeqCst),
            sh.delivered[i].load(Ordering::SeqCst),
            "LISN {:#x}",
            FIRST + i as u32
        );
    }
    // Each slot was written once: the END advanced by exactly what was read.
    let mut per_vcpu = [0u64; 2];
    for i in 0..NR {
        per_vcpu[(i % 2) as usize] += u64::from(sh.delivered[i as usize].load(Ordering::SeqCst));
    }
    for v in 0..2 {
        let entries = 16384;
        let (gen, idx) = t.queue_pos(v, PRIO);
        assert_eq!(idx, per_vcpu[v as usize] % entries, "vCPU {v} index");
        assert_eq!(
            gen,
            1 ^ ((per_vcpu[v as usize] / entries) & 1),
            "vCPU {v} generation"
        );
    }
}

#[test]
fn racing_triggers_never_duplicate_and_never_stick() {
    let (t, sh, consumed) = run(false);
    assert!(consumed > 0 && consumed <= TRIGGERS);
    for i in 0..NR {
        let trig = sh.triggered[i as usize].load(Ordering::SeqCst);
        let del = sh.delivered[i as usize].load(Ordering::SeqCst);
        assert!(del <= trig, "more deliveries than triggers");
        assert_eq!(trig > 0, del > 0, "a triggered source was never delivered");
        assert_eq!(
            t.esb(FIRST + i, 0x800),
            0,
            "LISN {:#x} left pending",
            FIRST + i
        );
    }
    for v in 0..2 {
        assert!(!t.raised(v));
    }
}
