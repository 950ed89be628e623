//! Random operations against a small independent reference model of the
//! sPAPR XIVE (sources, queues, OS rings), comparing every observable:
//! load results, ACK values, lines, the OS ring registers and the queues.

mod common;

use common::{Harness, TIMA_OS};
use intc_xive::spapr::SpaprXive;
use proptest::prelude::*;
use spapr_irq::papr::hcall::*;

/// LISNs of the model and their (vCPU, priority).
const LISNS: [u32; 6] = [0, 1, 0x1300, 0x1301, 0x1302, 0x1303];
const ROUTES: [(usize, u8); 6] = [(0, 6), (1, 6), (0, 2), (1, 4), (0, 6), (1, 2)];
const QSHIFT: u32 = 12;
const ENTRIES: usize = 1 << (QSHIFT - 2);

fn qpage(vcpu: usize, prio: u8) -> u64 {
    0x20_0000 + (vcpu as u64) * 0x10_0000 + u64::from(prio) * 0x1000
}

#[derive(Debug, Clone)]
enum Op {
    SetIrq(usize),
    TriggerStore(usize),
    EsbLoad(usize, u64),
    EsbStore(usize, u64),
    Cppr(usize, u8),
    Ack(usize),
}

fn op() -> impl Strategy<Value = Op> {
    let l = 0..LISNS.len();
    let load_off = prop::sample::select(vec![0x000u64, 0x400, 0x800, 0xC00, 0xD00, 0xE00, 0xF00]);
    let store_off = prop::sample::select(vec![0xC00u64, 0xD00, 0xE00, 0xF00, 0x400]);
    let cppr = prop_oneof![Just(0xFFu8), 0u8..8, any::<u8>()];
    prop_oneof![
        3 => l.clone().prop_map(Op::SetIrq),
        3 => l.clone().prop_map(Op::TriggerStore),
        3 => (l.clone(), load_off).prop_map(|(l, o)| Op::EsbLoad(l, o)),
        1 => (l, store_off).prop_map(|(l, o)| Op::EsbStore(l, o)),
        2 => (0..2usize, cppr).prop_map(|(v, c)| Op::Cppr(v, c)),
        3 => (0..2usize).prop_map(Op::Ack),
    ]
}

/// The reference model.
#[derive(Default)]
struct Model {
    pq: [u8; 6],
    /// Per vCPU, per priority: (index, generation, memory words).
    queues: Vec<Vec<(usize, u32, Vec<u32>)>>,
    cppr: [u8; 2],
    ipb: [u8; 2],
    eo: [bool; 2],
}

impl Model {
    fn new() -> Self {
        Self {
            pq: [0; 6],
            queues: (0..2)
                .map(|_| (0..8).map(|_| (0, 1, vec![0; ENTRIES])).collect())
                .collect(),
            cppr: [0xFF; 2],
            ipb: [0; 2],
            eo: [false; 2],
        }
    }

    fn pipr(&self, v: usize) -> u8 {
        (0..8)
            .find(|p| self.ipb[v] & (0x80 >> p) != 0)
            .unwrap_or(0xFF)
    }

    fn deliver(&mut self, l: usize) {
        let (v, prio) = ROUTES[l];
        let q = &mut self.queues[v][prio as usize];
        q.2[q.0] = (q.1 << 31) | (LISNS[l] + 0x100);
        q.0 = (q.0 + 1) % ENTRIES;
        if q.0 == 0 {
            q.1 ^= 1;
        }
        self.ipb[v] |= 0x80 >> prio;
        if self.pipr(v) < self.cppr[v] {
            self.eo[v] = true;
        }
    }

    fn trigger(&mut self, l: usize) {
        match self.pq[l] {
            0 => {
                self.pq[l] = 2;
                self.deliver(l);
            }
            2 | 3 => self.pq[l] = 3,
            _ => {}
        }
    }

    fn eoi(&mut self, l: usize) -> u64 {
        match self.pq[l] {
            3 => {
                self.pq[l] = 2;
                self.deliver(l);
                1
            }
            1 => 0,
            _ => {
                self.pq[l] = 0;
                0
            }
        }
    }

    /// Applies `op`; returns the value a load returns, if any.
    fn apply(&mut self, op: &Op) -> Option<u64> {
        match *op {
            Op::SetIrq(l) | Op::TriggerStore(l) => {
                self.trigger(l);
                None
            }
            Op::EsbLoad(l, off) => Some(match off {
                0x000 | 0x400 => self.eoi(l),
                0x800 => u64::from(self.pq[l]),
                _ => {
                    let old = self.pq[l];
                    self.pq[l] = ((off >> 8) & 3) as u8;
                    u64::from(old)
                }
            }),
            Op::EsbStore(l, off) => {
                if off != 0x400 {
                    self.pq[l] = ((off >> 8) & 3) as u8;
                }
                None
            }
            Op::Cppr(v, c) => {
                self.cppr[v] = if c > 7 { 0xFF } else { c };
                self.eo[v] = self.pipr(v) < self.cppr[v];
                None
            }
            Op::Ack(v) => {
                let nsr = if self.eo[v] { 0x80u64 } else { 0 };
                if self.eo[v] {
                    let p = self.pipr(v);
                    self.cppr[v] = p;
                    self.ipb[v] &= !(0x80 >> p);
                    self.eo[v] = false;
                }
                Some((nsr << 8) | u64::from(self.cppr[v]))
            }
        }
    }
}

fn setup() -> Harness {
    let t = Harness::new(2, 2);
    for (i, l) in LISNS.iter().enumerate() {
        if *l >= 0x1000 {
            t.x.claim_irq(*l, false).unwrap();
        }
        let (v, prio) = ROUTES[i];
        let r = t.hc(
            H_INT_SET_QUEUE_CONFIG,
            &[1, v as u64, prio.into(), qpage(v, prio), 12],
        );
        assert_eq!(r.ret, 0);
        let r = t.hc(
            H_INT_SET_SOURCE_CONFIG,
            &[2, (*l).into(), v as u64, prio.into(), u64::from(*l + 0x100)],
        );
        assert_eq!(r.ret, 0);
        t.esb(*l, 0xC00);
    }
    for v in 0..2 {
        t.cppr(v, 0xFF);
    }
    t
}

fn run(t: &Harness, op: &Op) -> Option<u64> {
    match *op {
        Op::SetIrq(l) => {
            t.x.set_irq(LISNS[l], true);
            None
        }
        Op::TriggerStore(l) => {
            t.store(0, SpaprXive::trigger_page(LISNS[l]), 8, 0);
            None
        }
        Op::EsbLoad(l, off) => Some(t.esb(LISNS[l], off)),
        Op::EsbStore(l, off) => {
            t.store(1, SpaprXive::mgmt_page(LISNS[l]) + off, 8, 0);
            None
        }
        Op::Cppr(v, c) => {
            t.cppr(v as u32, c.into());
            None
        }
        Op::Ack(v) => Some(t.ack(v as u32)),
    }
}

fn compare(t: &Harness, m: &Model, full: bool) -> Result<(), TestCaseError> {
    for v in 0..2usize {
        prop_assert_eq!(t.raised(v as u32), m.eo[v], "line of vCPU {}", v);
        let w0 = t.load(v as u32, TIMA_OS + 0x10, 4);
        let pipr = t.load(v as u32, TIMA_OS + 0x14, 4) & 0xFF;
        let nsr = if m.eo[v] { 0x80u64 } else { 0 };
        let want = (nsr << 24) | (u64::from(m.cppr[v]) << 16) | (u64::from(m.ipb[v]) << 8) | 0xFF;
        prop_assert_eq!(w0, want, "QW1 word 0 of vCPU {}", v);
        prop_assert_eq!(pipr, u64::from(m.pipr(v)));
        for (prio, q) in m.queues[v].iter().enumerate() {
            if !ROUTES.contains(&(v, prio as u8)) {
                continue;
            }
            prop_assert_eq!(
                t.queue_pos(v as u32, prio as u64),
                (u64::from(q.1), q.0 as u64)
            );
            let range: Vec<usize> = if full {
                (0..ENTRIES).collect()
            } else {
                vec![(q.0 + ENTRIES - 1) % ENTRIES]
            };
            for i in range {
                prop_assert_eq!(
                    t.word(qpage(v, prio as u8) + 4 * i as u64),
                    q.2[i],
                    "queue {}/{} [{}]",
                    v,
                    prio,
                    i
                );
            }
        }
    }
    if full {
        for (i, l) in LISNS.iter().enumerate() {
            prop_assert_eq!(t.esb(*l, 0x800), u64::from(m.pq[i]));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn controller_matches_the_reference_model(ops in prop::collection::vec(op(), 1..160)) {
        let t = setup();
        let mut m = Model::new();
        for op in &ops {
            let got = run(&t, op);
            let want = m.apply(op);
            prop_assert_eq!(got, want, "result of {:?}", op);
            compare(&t, &m, false)?;
        }
        compare(&t, &m, true)?;
    }
}
