//! Random sequences of device input, accept, EOI, CPPR, IPI, poll and
//! routing calls, run against the controller and against a plain reference
//! model written here from the fact sheet (QEMU's algorithm, whole-ICS
//! resend walks, no concurrency, no cleverness) plus the four documented
//! deviations. Every reply and, after every step, every line, presenter
//! and source state must agree.

use std::sync::Arc;

use intc_xics::SpaprXics;
use proptest::prelude::*;
use spapr_irq::papr::{h, hcall};
use spapr_irq::{Caller, HcallReply, InterruptController, IrqLine, VcpuDesc};

const BASE: u32 = 0x1000;
const NR_IRQS: u32 = 0x100;
const VCPUS: u32 = 3;
/// One server slot more than vCPUs: server 3 exists as a number but has no
/// presenter.
const NR_SERVERS: u32 = 4;
/// (irq, lsi) claimed in both; spans several bitmap words.
const CLAIMED: [(u32, bool); 8] = [
    (0x1000, false),
    (0x1001, false),
    (0x1002, true),
    (0x1003, false),
    (0x103F, false),
    (0x1040, true),
    (0x1041, false),
    (0x10FF, true),
];
/// A valid but unclaimed source.
const UNCLAIMED: u32 = 0x1080;

const ASSERTED: u8 = 0x01;
const SENT: u8 = 0x02;
const REJECTED: u8 = 0x04;
const MASKED_PENDING: u8 = 0x08;
const LSI: u8 = 0x01;
const MSI: u8 = 0x02;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Src {
    server: u32,
    prio: u8,
    saved: u8,
    status: u8,
    flags: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Icp {
    cppr: u8,
    xisr: u32,
    pp: u8,
    mfrr: u8,
    raised: bool,
}

const ICP_RESET: Icp = Icp {
    cppr: 0,
    xisr: 0,
    pp: 0xFF,
    mfrr: 0xFF,
    raised: false,
};

/// The reference model: the fact sheet's rules, one after the other.
struct Model {
    srcs: Vec<Src>,
    icps: Vec<Icp>,
}

impl Model {
    fn new() -> Self {
        let mut srcs = vec![
            Src {
                server: 0,
                prio: 0xFF,
                saved: 0xFF,
                status: 0,
                flags: 0
            };
            NR_IRQS as usize
        ];
        for (irq, lsi) in CLAIMED {
            srcs[(irq - BASE) as usize].flags = if lsi { LSI } else { MSI };
        }
        Self {
            srcs,
            icps: vec![ICP_RESET; VCPUS as usize],
        }
    }

    fn src(&mut self, irq: u32) -> Option<&mut Src> {
        let i = irq.checked_sub(BASE)?;
        self.srcs.get_mut(i as usize)
    }

    fn reject(&mut self, irq: u32) {
        if let Some(s) = self.src(irq) {
            if s.flags & LSI != 0 {
                s.status &= !SENT;
            } else if s.flags & MSI != 0 {
                s.status |= REJECTED;
            }
        }
    }

    fn present(&mut self, server: u32, irq: u32, prio: u8) {
        let Some(icp) = self.icps.get(server as usize).copied() else {
            self.reject(irq);
            return;
        };
        if prio >= icp.cppr || (icp.xisr != 0 && icp.pp <= prio) {
            self.reject(irq);
            return;
        }
        if icp.xisr != 0 && icp.xisr != 2 {
            self.reject(icp.xisr);
        }
        let icp = &mut self.icps[server as usize];
        icp.xisr = irq;
        icp.pp = prio;
        icp.raised = true;
    }

    fn check_ipi(&mut self, v: usize) {
        let icp = self.icps[v];
        if icp.xisr != 0 && icp.pp <= icp.mfrr {
            return;
        }
        if icp.xisr != 0 && icp.xisr != 2 {
            self.reject(icp.xisr);
        }
        let icp = &mut self.icps[v];
        icp.xisr = 2;
        icp.pp = icp.mfrr;
        icp.raised = true;
    }

    fn ics_resend(&mut self) {
        for i in 0..NR_IRQS as usize {
            let s = self.srcs[i];
            let irq = BASE + i as u32;
            if s.flags & LSI != 0 {
                if s.prio != 0xFF && s.status & ASSERTED != 0 && s.status & SENT == 0 {
                    self.srcs[i].status |= SENT;
                    self.present(s.server, irq, s.prio);
                }
            } else if s.flags & MSI != 0 && s.status & REJECTED != 0 {
                self.srcs[i].status &= !REJECTED;
                if s.prio == 0xFF {
                    self.srcs[i].status |= MASKED_PENDING;
                } else {
                    self.present(s.server, irq, s.prio);
                }
            }
        }
    }

    fn icp_resend(&mut self, v: usize) {
        if self.icps[v].mfrr < self.icps[v].cppr {
            self.check_ipi(v);
        }
        self.ics_resend();
    }

    fn set_irq(&mut self, irq: u32, level: bool) {
        let Some(s) = self.src(irq).copied() else {
            return;
        };
        let i = (irq - BASE) as usize;
        if s.flags & LSI != 0 {
            let st = &mut self.srcs[i];
            if level {
                st.status |= ASSERTED;
            } else {
                st.status &= !ASSERTED;
            }
            let st = *st;
            if st.prio != 0xFF && st.status & ASSERTED != 0 && st.status & SENT == 0 {
                self.srcs[i].status |= SENT;
                self.present(st.server, irq, st.prio);
            }
        } else if s.flags & MSI != 0 && level {
            if s.prio == 0xFF {
                self.srcs[i].status |= MASKED_PENDING;
            } else {
                self.present(s.server, irq, s.prio);
            }
        }
    }

    fn accept(&mut self, v: usize) -> u32 {
        let icp = &mut self.icps[v];
        let old = (icp.cppr as u32) << 24 | icp.xisr;
        if icp.xisr != 0 {
            icp.raised = false;
            icp.cppr = icp.pp;
            icp.xisr = 0;
            icp.pp = 0xFF;
        }
        old
    }

    fn eoi(&mut self, v: usize, xirr: u32) -> i64 {
        self.icps[v].cppr = (xirr >> 24) as u8;
        let irq = xirr & 0xFF_FFFF;
        let in_ics = (BASE..BASE + NR_IRQS).contains(&irq);
        if in_ics && self.srcs[(irq - BASE) as usize].flags & LSI != 0 {
            self.srcs[(irq - BASE) as usize].status &= !SENT;
        }
        if self.icps[v].xisr == 0 {
            self.icp_resend(v);
        }
        if irq == 2 || in_ics {
            h::SUCCESS
        } else {
            h::PARAMETER
        }
    }

    fn set_cppr(&mut self, v: usize, cppr: u8) {
        let old = self.icps[v].cppr;
        self.icps[v].cppr = cppr;
        let icp = self.icps[v];
        if cppr < old {
            if icp.xisr != 0 && cppr <= icp.pp {
                let icp = &mut self.icps[v];
                let x = icp.xisr;
                icp.xisr = 0;
                icp.pp = 0xFF;
                icp.raised = false;
                if x != 2 {
                    self.reject(x);
                }
            }
        } else if icp.xisr == 0 {
            self.icp_resend(v);
        }
    }

    fn write_xive(&mut self, irq: u32, server: u32, prio: u8, saved: u8) {
        let i = (irq - BASE) as usize;
        let s = &mut self.srcs[i];
        s.server = server;
        s.prio = prio;
        s.saved = saved;
        let s = *s;
        if s.flags & LSI != 0 {
            if s.prio != 0xFF && s.status & ASSERTED != 0 && s.status & SENT == 0 {
                self.srcs[i].status |= SENT;
                self.present(server, irq, prio);
            }
        } else if s.flags & MSI != 0 {
            let waiting = s.status & (MASKED_PENDING | REJECTED);
            if prio == 0xFF {
                if waiting & REJECTED != 0 {
                    self.srcs[i].status = (s.status & !REJECTED) | MASKED_PENDING;
                }
            } else if waiting != 0 {
                self.srcs[i].status &= !(MASKED_PENDING | REJECTED);
                self.present(server, irq, prio);
            }
        }
    }

    fn reset(&mut self) {
        for s in &mut self.srcs {
            *s = Src {
                server: 0,
                prio: 0xFF,
                saved: 0xFF,
                status: 0,
                flags: s.flags,
            };
        }
        self.icps = vec![ICP_RESET; VCPUS as usize];
    }
}

/// Interrupt numbers the operations pick from: the claimed ones, an
/// unclaimed one, and two outside the ICS.
const NUMBERS: [u32; 11] = [
    0x1000, 0x1001, 0x1002, 0x1003, 0x103F, 0x1040, 0x1041, 0x10FF, UNCLAIMED, 0x0FFF, 0x1100,
];
/// What an EOI may name besides those: nothing and the IPI.
const EOI_EXTRA: [u32; 2] = [0, 2];

#[derive(Debug, Clone)]
enum Op {
    SetIrq(usize, bool),
    Xirr(u32),
    XirrX(u32),
    /// EOI with the XIRR this vCPU accepted last (what Linux does).
    EoiLast(u32),
    /// EOI with an arbitrary CPPR byte and source.
    Eoi(u32, u8, usize),
    Cppr(u32, u8),
    Ipi(u32, u32, u8),
    Ipoll(u32),
    SetXive(usize, u32, u32),
    GetXive(usize),
    IntOff(usize),
    IntOn(usize),
    Reset,
}

fn prio() -> impl Strategy<Value = u8> {
    prop_oneof![
        Just(0u8),
        Just(4),
        Just(5),
        Just(6),
        Just(0xFF),
        any::<u8>()
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let vcpu = 0..VCPUS;
    let server = 0..NR_SERVERS + 1;
    let number = 0..NUMBERS.len();
    prop_oneof![
        6 => (number.clone(), any::<bool>()).prop_map(|(n, l)| Op::SetIrq(n, l)),
        5 => vcpu.clone().prop_map(Op::Xirr),
        1 => vcpu.clone().prop_map(Op::XirrX),
        5 => vcpu.clone().prop_map(Op::EoiLast),
        1 => (vcpu.clone(), prio(), 0..NUMBERS.len() + EOI_EXTRA.len())
            .prop_map(|(v, c, n)| Op::Eoi(v, c, n)),
        3 => (vcpu.clone(), prio()).prop_map(|(v, c)| Op::Cppr(v, c)),
        3 => (vcpu.clone(), server.clone(), prio()).prop_map(|(v, s, m)| Op::Ipi(v, s, m)),
        1 => server.clone().prop_map(Op::Ipoll),
        4 => (number.clone(), server, prop_oneof![prio().prop_map(u32::from), Just(0x100u32)])
            .prop_map(|(n, s, p)| Op::SetXive(n, s, p)),
        1 => number.clone().prop_map(Op::GetXive),
        2 => number.clone().prop_map(Op::IntOff),
        2 => number.prop_map(Op::IntOn),
        1 => vcpu.prop_map(|_| Op::Reset),
    ]
}

struct Real {
    c: Arc<SpaprXics>,
    lines: Vec<IrqLine>,
}

impl Real {
    fn new() -> Self {
        let c = Arc::new(SpaprXics::new(NR_IRQS, NR_SERVERS).unwrap());
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
        for (irq, lsi) in CLAIMED {
            c.claim_irq(irq, lsi).unwrap();
        }
        c.activate(NR_SERVERS).unwrap();
        let r = Self { c, lines };
        r.reset();
        r
    }

    fn reset(&self) {
        self.c.reset();
        for v in 0..VCPUS {
            self.c.cpu_intc_reset(v);
        }
    }

    fn hcall(&self, vcpu: u32, opcode: u64, args: &[u64]) -> HcallReply {
        let caller = Caller {
            vcpu,
            timebase: 0x77 + vcpu as u64,
        };
        (self.c.as_ref() as &dyn InterruptController).hcall(caller, opcode, args)
    }

    fn rtas(&self, token: u32, args: &[u32], nret: usize) -> Vec<u32> {
        let mut rets = vec![0u32; nret];
        let caller = Caller {
            vcpu: 0,
            timebase: 0,
        };
        (self.c.as_ref() as &dyn InterruptController).rtas(caller, token, args, &mut rets);
        rets
    }
}

fn reply(ret: i64, out: &[u64]) -> HcallReply {
    let mut r = HcallReply::ret(ret);
    r.nout = out.len() as u8;
    r.out[..out.len()].copy_from_slice(out);
    r
}

/// Runs one op on both; returns (real, model) observations.
fn step(real: &Real, model: &mut Model, stacks: &mut [Vec<u32>], op: &Op) -> (String, String) {
    use intc_xics::spapr::*;
    let in_ics = |irq: u32| (BASE..BASE + NR_IRQS).contains(&irq);
    match *op {
        Op::SetIrq(n, level) => {
            (real.c.as_ref() as &dyn InterruptController).set_irq(NUMBERS[n], level);
            if in_ics(NUMBERS[n]) {
                model.set_irq(NUMBERS[n], level);
            }
            (String::new(), String::new())
        }
        Op::Xirr(v) | Op::XirrX(v) => {
            let x = matches!(op, Op::XirrX(_));
            let opcode = if x { hcall::H_XIRR_X } else { hcall::H_XIRR };
            let r = real.hcall(v, opcode, &[]);
            let xirr = model.accept(v as usize);
            if xirr & 0xFF_FFFF != 0 {
                stacks[v as usize].push(xirr);
            }
            let m = if x {
                reply(h::SUCCESS, &[xirr as u64, 0x77 + v as u64])
            } else {
                reply(h::SUCCESS, &[xirr as u64])
            };
            (format!("{r:?}"), format!("{m:?}"))
        }
        Op::EoiLast(v) => {
            let Some(xirr) = stacks[v as usize].pop() else {
                return (String::new(), String::new());
            };
            let r = real.hcall(v, hcall::H_EOI, &[xirr as u64]);
            let m = reply(model.eoi(v as usize, xirr), &[]);
            (format!("{r:?}"), format!("{m:?}"))
        }
        Op::Eoi(v, cppr, n) => {
            let src = NUMBERS
                .iter()
                .chain(EOI_EXTRA.iter())
                .nth(n)
                .copied()
                .unwrap();
            let xirr = (cppr as u32) << 24 | src;
            let r = real.hcall(v, hcall::H_EOI, &[xirr as u64]);
            let m = reply(model.eoi(v as usize, xirr), &[]);
            (format!("{r:?}"), format!("{m:?}"))
        }
        Op::Cppr(v, cppr) => {
            let r = real.hcall(v, hcall::H_CPPR, &[cppr as u64]);
            model.set_cppr(v as usize, cppr);
            (format!("{r:?}"), format!("{:?}", reply(h::SUCCESS, &[])))
        }
        Op::Ipi(v, server, mfrr) => {
            let r = real.hcall(v, hcall::H_IPI, &[server as u64, mfrr as u64]);
            let m = if server < VCPUS {
                model.icps[server as usize].mfrr = mfrr;
                if mfrr < model.icps[server as usize].cppr {
                    model.check_ipi(server as usize);
                }
                reply(h::SUCCESS, &[])
            } else {
                reply(h::PARAMETER, &[])
            };
            (format!("{r:?}"), format!("{m:?}"))
        }
        Op::Ipoll(server) => {
            let r = real.hcall(0, hcall::H_IPOLL, &[server as u64]);
            let m = match model.icps.get(server as usize) {
                Some(i) => reply(
                    h::SUCCESS,
                    &[((i.cppr as u64) << 24) | i.xisr as u64, i.mfrr as u64],
                ),
                None => reply(h::PARAMETER, &[]),
            };
            (format!("{r:?}"), format!("{m:?}"))
        }
        Op::SetXive(n, server, prio) => {
            let irq = NUMBERS[n];
            let r = real.rtas(RTAS_IBM_SET_XIVE, &[irq, server, prio], 1);
            let ok = in_ics(irq) && server < VCPUS && prio <= 0xFF;
            if ok {
                model.write_xive(irq, server, prio as u8, prio as u8);
            }
            (
                format!("{r:?}"),
                format!("{:?}", [if ok { 0 } else { -3i32 as u32 }]),
            )
        }
        Op::GetXive(n) => {
            let irq = NUMBERS[n];
            let r = real.rtas(RTAS_IBM_GET_XIVE, &[irq], 3);
            let m = match model.src(irq) {
                Some(s) => vec![0, s.server, s.prio as u32],
                None => vec![-3i32 as u32, 0, 0],
            };
            (format!("{r:?}"), format!("{m:?}"))
        }
        Op::IntOff(n) | Op::IntOn(n) => {
            let irq = NUMBERS[n];
            let off = matches!(op, Op::IntOff(_));
            let token = if off {
                RTAS_IBM_INT_OFF
            } else {
                RTAS_IBM_INT_ON
            };
            let r = real.rtas(token, &[irq], 1);
            let m = match model.src(irq).copied() {
                Some(s) => {
                    if off {
                        model.write_xive(irq, s.server, 0xFF, s.prio);
                    } else {
                        model.write_xive(irq, s.server, s.saved, s.saved);
                    }
                    0
                }
                None => -3i32 as u32,
            };
            (format!("{r:?}"), format!("{:?}", [m]))
        }
        Op::Reset => {
            real.reset();
            model.reset();
            for s in stacks.iter_mut() {
                s.clear();
            }
            (String::new(), String::new())
        }
    }
}

/// Unclaimed sources in their reset state are left out of the dumps, so
/// that a failure shows only what matters (both sides filter alike).
fn is_reset_unclaimed(server: u32, prio: u8, saved: u8, status: u8, flags: u8) -> bool {
    (server, prio, saved, status, flags) == (0, 0xFF, 0xFF, 0, 0)
}

/// Everything observable, from the controller.
fn real_state(real: &Real) -> String {
    let e = real.c.engine();
    let mut out = String::new();
    for v in 0..VCPUS {
        let p = e.presenter(v).unwrap();
        out += &format!(
            "cpu{v} xirr={:08x} pp={:02x} mfrr={:02x} line={}\n",
            p.xirr,
            p.pending_priority,
            p.mfrr,
            real.lines[v as usize].is_raised()
        );
    }
    for irq in BASE..BASE + NR_IRQS {
        let s = e.source(irq).unwrap();
        if is_reset_unclaimed(s.server, s.priority, s.saved_priority, s.status, s.flags) {
            continue;
        }
        out += &format!(
            "{irq:x} {} {:02x} {:02x} {:02x} {:02x}\n",
            s.server, s.priority, s.saved_priority, s.status, s.flags
        );
    }
    out
}

/// Everything observable, from the model.
fn model_state(m: &Model) -> String {
    let mut out = String::new();
    for (v, i) in m.icps.iter().enumerate() {
        out += &format!(
            "cpu{v} xirr={:08x} pp={:02x} mfrr={:02x} line={}\n",
            (i.cppr as u32) << 24 | i.xisr,
            i.pp,
            i.mfrr,
            i.raised
        );
    }
    for (n, s) in m.srcs.iter().enumerate() {
        if is_reset_unclaimed(s.server, s.prio, s.saved, s.status, s.flags) {
            continue;
        }
        out += &format!(
            "{:x} {} {:02x} {:02x} {:02x} {:02x}\n",
            BASE + n as u32,
            s.server,
            s.prio,
            s.saved,
            s.status,
            s.flags
        );
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn controller_matches_the_reference_model(
        boot in proptest::collection::vec((0..VCPUS, prio()), CLAIMED.len()),
        ops in proptest::collection::vec(op(), 1..200),
    ) {
        let real = Real::new();
        let mut model = Model::new();
        let mut stacks = vec![Vec::new(); VCPUS as usize];
        prop_assert_eq!(real_state(&real), model_state(&model));
        // Half the cases start from a booted guest: presenters open, every
        // claimed source routed; the rest start from reset.
        let booted = boot[0].1 % 2 == 0;
        let boot_ops: Vec<Op> = if booted {
            (0..VCPUS)
                .map(|v| Op::Cppr(v, 0xFF))
                .chain(boot.iter().enumerate().map(|(n, &(s, p))| Op::SetXive(n, s, p as u32)))
                .collect()
        } else {
            Vec::new()
        };
        for (i, op) in boot_ops.iter().chain(ops.iter()).enumerate() {
            let (r, m) = step(&real, &mut model, &mut stacks, op);
            prop_assert_eq!(r, m, "reply of step {} {:?}", i, op);
            prop_assert_eq!(real_state(&real), model_state(&model), "state after step {} {:?}", i, op);
        }
    }
}

#[test]
fn the_model_and_the_controller_agree_on_a_hand_written_busy_sequence() {
    // A deterministic smoke run of the comparison machinery, so a broken
    // harness cannot pass silently.
    let real = Real::new();
    let mut model = Model::new();
    let mut stacks = vec![Vec::new(); VCPUS as usize];
    let ops = [
        Op::Cppr(0, 0xFF),
        Op::Cppr(1, 0xFF),
        Op::SetXive(0, 0, 5),
        Op::SetXive(2, 0, 3),
        Op::SetIrq(0, true),
        Op::SetIrq(2, true),
        Op::Ipi(1, 0, 4),
        Op::Xirr(0),
        Op::SetIrq(0, true),
        Op::EoiLast(0),
        Op::Xirr(0),
        Op::Cppr(0, 0),
        Op::SetXive(0, 1, 5),
        Op::Xirr(1),
        Op::EoiLast(1),
        Op::EoiLast(0),
        Op::Cppr(0, 0xFF),
    ];
    let mut accepted = Vec::new();
    for op in &ops {
        let (r, m) = step(&real, &mut model, &mut stacks, op);
        assert_eq!(r, m, "{op:?}");
        assert_eq!(real_state(&real), model_state(&model), "{op:?}");
        if matches!(op, Op::Xirr(_)) {
            accepted.push(r);
        }
    }
    assert_eq!(accepted.len(), 3);
    assert!(
        accepted[0].contains(&format!("{}", 0xFF00_1002u32)),
        "{accepted:?}"
    );
}

#[test]
fn a_msi_masked_while_pending_then_rejected_is_kept_for_the_unmask() {
    let real = Real::new();
    let mut model = Model::new();
    let mut stacks = vec![Vec::new(); VCPUS as usize];
    let ops = [
        Op::Cppr(0, 0xFF),
        Op::SetXive(0, 0, 5),
        Op::SetIrq(0, true), // pending on vCPU 0
        Op::IntOff(0),       // masked while pending
        Op::Cppr(0, 0),      // rejected while masked
        Op::Cppr(0, 0xFF),   // resend pass: kept as masked-pending
        Op::IntOn(0),        // presented
        Op::Xirr(0),
    ];
    for op in &ops {
        let (r, m) = step(&real, &mut model, &mut stacks, op);
        assert_eq!(r, m, "{op:?}");
        assert_eq!(real_state(&real), model_state(&model), "{op:?}");
    }
    assert_eq!(stacks[0], [0xFF00_1000]);
}
