//! Fuzzes what a hostile guest can reach without running code: hcalls with
//! any number and registers, RTAS buffers placed anywhere in guest RAM,
//! ESB and TIMA loads and stores of every size and offset, CAS option
//! vectors, plus device input (MSIs, LSIs, console, powerdown), interleaved,
//! on a machine in each ic-mode (xics, xive, dual, pseries-3.0 legacy,
//! pseries-4.2 dual) with 1 to 3 vCPUs.
//!
//! Input: byte 0 picks the machine and vCPUs, byte 1 a prelude (CAS for
//! XIVE or XICS, a guest driver's init and routes, MSIs for a device); then
//! steps, each a kind byte and its operands. Addresses in operands are
//! encoded so that most land in the guest's buffers (RTAS buffer, CAS
//! vector, queue pages), some at the end of RAM, some anywhere.
//!
//! Invariants after every step:
//! - nothing panics;
//! - guest RAM changed only inside what the step's operands declared as
//!   the machine's to write (the RTAS return words, the ranges RTAS calls
//!   and hcalls take as output buffers, the CAS buffer, the page of
//!   H_PAGE_INIT, the bytes of H_LOGICAL_CI_STORE, the VPA) and the event
//!   queues the guest registered (before or after the step);
//! - XICS (while active): a presenter with an interrupt (XISR) presents it
//!   at a priority more favoured than its CPPR, one without has PP=ff, an
//!   IPI more favoured than CPPR is presented (or something better is),
//!   XISR names the IPI or a claimed source;
//! - XIVE (while active, unless the guest wrote raw TIMA registers or used
//!   the HV/HW views, which lets it break its own context as on QEMU): the
//!   OS ring's PIPR is the most favoured priority of its IPB, its exception
//!   bit is set exactly when PIPR < CPPR; every event queue shown is one
//!   the guest registered;
//! - at the end, for one input in sixteen: the state the guest reached
//!   migrates into a fresh machine of the same type and shows the same
//!   `info pic` there.

#![no_main]

#[path = "../../tests/reliability_guest/mod.rs"]
#[allow(dead_code, clippy::all)]
mod reliability_guest;
#[path = "support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use reliability_guest::{self as g, Guest, Intc, MaskHow};
use spapr_irq::papr::hcall as hc;
use spapr_machine::hcall::op;
use spapr_machine::machine::Machine;
use support::{Input, RamWatch, MACHINES};

/// Where the fuzzer's own buffers go.
const ARENA: u64 = g::RTAS_BUF;
const ARENA_SIZE: u64 = 0x80_0000;
const RAM_SIZE: u64 = 256 << 20;

/// Every hcall number either side implements, and some that nobody does.
const HCALLS: [u64; 37] = [
    op::H_SET_SPRG0,
    op::H_SET_DABR,
    op::H_PAGE_INIT,
    op::H_LOGICAL_CI_LOAD,
    op::H_LOGICAL_CI_STORE,
    op::H_GET_TERM_CHAR,
    op::H_PUT_TERM_CHAR,
    op::H_REGISTER_VPA,
    op::H_CEDE,
    op::H_CONFER,
    op::H_PROD,
    op::H_VIO_SIGNAL,
    op::H_GET_CPU_CHARACTERISTICS,
    op::H_SET_MODE,
    op::H_REGISTER_PROCESS_TABLE,
    op::H_RTAS,
    op::H_CAS,
    op::H_UPDATE_DT,
    hc::H_EOI,
    hc::H_CPPR,
    hc::H_IPI,
    hc::H_IPOLL,
    hc::H_XIRR,
    hc::H_XIRR_X,
    hc::H_INT_GET_SOURCE_INFO,
    hc::H_INT_SET_SOURCE_CONFIG,
    hc::H_INT_GET_SOURCE_CONFIG,
    hc::H_INT_GET_QUEUE_INFO,
    hc::H_INT_SET_QUEUE_CONFIG,
    hc::H_INT_GET_QUEUE_CONFIG,
    hc::H_INT_SET_OS_REPORTING_LINE,
    hc::H_INT_GET_OS_REPORTING_LINE,
    hc::H_INT_ESB,
    hc::H_INT_SYNC,
    hc::H_INT_RESET,
    0x300, // H_RANDOM
    0x1C8, // H_GET_CPU_CHARACTERISTICS again: weight
];

/// RTAS tokens: the machine's, XICS's, the PHB's, and unknown ones.
const TOKENS: [u32; 26] = [
    0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x200A, 0x200B, 0x200C,
    0x200D, 0x200E, 0x200F, 0x2012, 0x2013, 0x2014, 0x2015, 0x2016, 0x2017, 0x2018, 0x2019, 0x201F,
    0x2009, 0x1FFF,
];

/// Interrupt numbers devices drive: EPOW, hot-plug, vty, nvram, the PHB
/// LSIs, MSIs, IPIs, and some nobody claimed.
const IRQS: [u32; 16] = [
    0x1000, 0x1001, 0x1100, 0x1101, 0x1200, 0x1201, 0x1202, 0x1203, 0x1300, 0x1301, 0x1302, 0x1303,
    0, 1, 0x1FFF, 0x2000,
];

/// An operand: mostly inside the fuzzer's buffers, sometimes anywhere.
fn operand(inp: &mut Input) -> u64 {
    match inp.u8() % 10 {
        0..=2 => ARENA + u64::from(inp.u32()) % ARENA_SIZE,
        3 | 4 => u64::from(inp.u8()),
        5 => RAM_SIZE - 1 - u64::from(inp.u16()),
        6 => Guest::queue_page(u32::from(inp.u8() % 4), inp.u8() % 8),
        7 => u64::from(inp.u8() % 16),
        8 => u64::from(inp.u16()) << 4,
        _ => inp.u64(),
    }
}

/// Byte ranges a step declares as the machine's to write.
#[derive(Default)]
struct Allowed(Vec<(u64, u64)>);

impl Allowed {
    fn add(&mut self, addr: u64, len: u64) {
        self.0.push((addr, addr.saturating_add(len)));
    }
    fn everything(&mut self) {
        self.0.push((0, u64::MAX));
    }
    fn has(&self, a: u64) -> bool {
        self.0.iter().any(|&(s, e)| s <= a && a < e)
    }
}

/// The fuzzed machine and what the guest declared.
struct Run {
    m: Arc<Machine>,
    machine: &'static str,
    smp: u32,
    guest: Guest,
    /// XIVE queues registered, by (server, priority): (page, size).
    queues: BTreeMap<(u64, u64), (u64, u64)>,
    /// The guest wrote raw TIMA registers or used the HV/HW views.
    tima_tainted: bool,
    /// The step made a raw H_EOI.
    eoi: bool,
    /// XICS presenters an H_EOI left presenting an interrupt at a
    /// priority its new CPPR does not let through (H_EOI sets the CPPR
    /// byte and keeps XISR, as on QEMU): by CPU line, (XISR, PP).
    eoi_stale: BTreeMap<u32, (u32, u32)>,
    ram: RamWatch,
}

impl Run {
    /// An hcall as the guest makes it; records queue registrations.
    fn hcall(&mut self, vcpu: u32, opcode: u64, args: [u64; 9], allowed: &mut Allowed) {
        match opcode {
            op::H_PAGE_INIT => allowed.add(args[1], 4096),
            op::H_LOGICAL_CI_STORE => allowed.add(args[1], 8),
            op::H_REGISTER_VPA => allowed.add(args[2], 4096),
            op::H_CAS => allowed.add(args[1], args[2]),
            op::H_RTAS => self.declare_rtas(args[0], allowed),
            _ => {}
        }
        if opcode == hc::H_EOI {
            self.eoi = true;
        }
        let Some(r) = self.m.call_hcall(vcpu, opcode, args) else {
            return;
        };
        match opcode {
            hc::H_INT_SET_QUEUE_CONFIG if r[0] == 0 => {
                let key = (args[1], args[2]);
                if args[4] == 0 {
                    self.queues.remove(&key);
                } else {
                    self.queues.insert(key, (args[3], 1u64 << (args[4] & 63)));
                }
            }
            hc::H_INT_RESET if r[0] == 0 => self.queues.clear(),
            _ => {}
        }
    }

    /// The output ranges of the RTAS buffer at `addr` as it is in RAM now:
    /// its return words and the (address, length) output arguments of
    /// the calls that take them.
    fn declare_rtas(&self, addr: u64, allowed: &mut Allowed) {
        let ram = self.m.ram();
        let word = |i: u64| ram.read_be32(addr.wrapping_add(4 * i)).map(u64::from);
        let (Some(token), Some(nargs), Some(nret)) = (word(0), word(1), word(2)) else {
            return;
        };
        allowed.add(addr.wrapping_add(12 + 4 * nargs), 4 * nret.min(64));
        let arg = |i: u64| if i < nargs { word(3 + i) } else { None };
        let out = match token {
            0x2008 => (arg(1), arg(2)), // get-system-parameter
            0x200E => (arg(4), arg(5)), // check-exception
            0x2012 => (arg(1), arg(2)), // nvram-fetch
            _ => (None, None),
        };
        if let (Some(a), Some(n)) = out {
            allowed.add(a, n);
        }
    }

    /// A raw RTAS buffer written at `addr` (the guest's own write).
    fn rtas(&mut self, inp: &mut Input, allowed: &mut Allowed) {
        let token = match inp.u8() {
            k if usize::from(k) < TOKENS.len() * 8 => TOKENS[usize::from(k) % TOKENS.len()],
            _ => inp.u32(),
        };
        let nargs = u32::from(inp.u8() % 12);
        let nret = u32::from(inp.u8() % 12);
        let (nargs, nret) = match inp.u8() {
            0xFF => (inp.u32(), inp.u32()),
            _ => (nargs, nret),
        };
        let addr = if inp.u8() < 0xE0 {
            g::RTAS_BUF + u64::from(inp.u8()) * 4
        } else {
            operand(inp)
        };
        let mut buf = Vec::new();
        for w in [token, nargs, nret] {
            buf.extend_from_slice(&w.to_be_bytes());
        }
        for _ in 0..nargs.min(16) {
            let v = operand(inp) as u32;
            buf.extend_from_slice(&v.to_be_bytes());
        }
        // The guest's own write: declared, and a failure (outside RAM)
        // just leaves a buffer the machine must refuse.
        allowed.add(addr, buf.len() as u64);
        let _ = self.m.ram().write(addr, &buf);
        let vcpu = u32::from(inp.u8()) % (self.smp + 1);
        self.hcall(vcpu, op::H_RTAS, [addr, 0, 0, 0, 0, 0, 0, 0, 0], allowed);
    }

    /// An ESB, TIMA or stray MMIO access.
    fn mmio(&mut self, inp: &mut Input) {
        let kind = inp.u8();
        let addr = match kind % 4 {
            0 | 1 => {
                let lisn = u64::from(inp.u16() % 0x2100);
                let page = u64::from(inp.u8() & 1) << 16;
                g::VC_BASE + (lisn << 17) + page + u64::from(inp.u16())
            }
            2 => g::TM_BASE + (u64::from(inp.u8() % 4) << 16) + u64::from(inp.u16() % 0x1000),
            _ => operand(inp),
        };
        let size = match inp.u8() {
            s @ 0..=0xEF => [1, 2, 4, 8][usize::from(s % 4)],
            s => s & 0xF,
        };
        let store = inp.u8() & 1 == 1;
        let value = if store { Some(inp.u64()) } else { None };
        let vcpu = u32::from(inp.u8()) % (self.smp + 1);
        if addr.wrapping_sub(g::TM_BASE) < 4 << 16 {
            let view = (addr - g::TM_BASE) >> 16;
            let special = addr & 0x800 != 0;
            if view < 2 || (store && !special && matches!(size, 4 | 8)) {
                self.tima_tainted = true;
            }
        }
        let _ = self.m.call_mmio(vcpu, addr, size, value);
    }

    /// CAS with a vector built from the input.
    fn cas(&mut self, inp: &mut Input, allowed: &mut Allowed) {
        let at = g::CAS_VECTOR + u64::from(inp.u8()) * 8;
        let mut v = Vec::new();
        for _ in 0..inp.u8() % 4 {
            let (mask, value) = match inp.u8() % 4 {
                0 => (0, 0),
                1 => (0xFFFF_FFFF, 0x0F00_0005),
                2 => (0xFFFF_0000, 0x004E_0000),
                _ => (inp.u32(), inp.u32()),
            };
            v.extend_from_slice(&mask.to_be_bytes());
            v.extend_from_slice(&value.to_be_bytes());
        }
        v.extend_from_slice(&0u32.to_be_bytes());
        v.extend_from_slice(&0xFFFF_FFFFu32.to_be_bytes());
        let count = inp.u8() % 8;
        v.push(count);
        for n in 0..=count {
            let len = match inp.u8() {
                l if l < 0xF0 => {
                    if n == 4 {
                        25
                    } else {
                        l % 8
                    }
                }
                l => l,
            };
            v.push(len);
            let mut body = inp.bytes(usize::from(len) + 1);
            body.resize(usize::from(len) + 1, 0);
            if n == 4 && body.len() > 23 {
                // Byte 23 of OV5 (interrupt mode), byte 24 (MMU).
                body[22] = [0x00, 0x40, 0x80, 0xC0][usize::from(inp.u8() % 4)];
            }
            v.extend_from_slice(&body);
        }
        allowed.add(at, v.len() as u64);
        assert!(self.m.ram().write(at, &v));
        let flags = u64::from(inp.u8() >> 4) << 60;
        let (buf, size) = match inp.u8() % 4 {
            0 => (operand(inp), operand(inp)),
            1 => (g::CAS_BUF, u64::from(inp.u16())),
            _ => (g::CAS_BUF, g::CAS_BUF_SIZE),
        };
        let vcpu = u32::from(inp.u8() % 2);
        self.hcall(
            vcpu,
            op::H_CAS,
            [at | flags, buf, size, 0, 0, 0, 0, 0, 0],
            allowed,
        );
    }

    /// One step; returns what it declared.
    fn step(&mut self, inp: &mut Input) -> Allowed {
        let mut allowed = Allowed::default();
        let n = self.smp;
        match inp.u8() % 16 {
            0..=3 => {
                let opcode = match inp.u8() {
                    k if k < 0xF8 => HCALLS[usize::from(k) % HCALLS.len()],
                    _ => inp.u64(),
                };
                let vcpu = u32::from(inp.u8()) % (n + 1);
                let mut args = [0u64; 9];
                let count = usize::from(inp.u8() % 10);
                for a in args.iter_mut().take(count) {
                    *a = operand(inp);
                }
                self.hcall(vcpu, opcode, args, &mut allowed);
            }
            4 | 5 => self.rtas(inp, &mut allowed),
            6..=8 => self.mmio(inp),
            9 => self.cas(inp, &mut allowed),
            10 => {
                let irq = match inp.u8() {
                    k if k < 0xF0 => IRQS[usize::from(k) % IRQS.len()],
                    _ => inp.u32(),
                };
                match inp.u8() % 3 {
                    0 => self.m.pulse_irq(irq),
                    1 => self.m.set_irq(irq, true),
                    _ => self.m.set_irq(irq, false),
                }
            }
            11 => match inp.u8() % 4 {
                0 => {
                    let len = usize::from(inp.u8() % 40);
                    let bytes = inp.bytes(len);
                    self.m.console_input(&bytes);
                }
                1 => self.m.powerdown(),
                2 => {
                    let k = inp.u8();
                    let kind = if k & 1 == 0 {
                        spapr_irq::MsiKind::Msi
                    } else {
                        spapr_irq::MsiKind::MsiX
                    };
                    let _ = self.m.irq().msi_alloc(u32::from(k >> 1), kind);
                }
                _ => {
                    let first = u32::from(inp.u16());
                    self.m.irq().msi_free(first, u32::from(inp.u8()));
                }
            },
            12 => {
                // The guest driver's own moves: queue pages, RTAS buffer.
                allowed.add(g::RTAS_BUF, 4096);
                allowed.add(g::QUEUE_BASE, g::ARENA_END - g::QUEUE_BASE);
                let vcpu = u32::from(inp.u8()) % n;
                let irq = IRQS[usize::from(inp.u8()) % IRQS.len()];
                let prio = inp.u8() % 8;
                match inp.u8() % 6 {
                    0 => {
                        self.guest.route(&self.m, irq, vcpu, prio);
                    }
                    1 => {
                        let _ = self.guest.accept_one(&self.m, vcpu);
                    }
                    2 => self.guest.set_cppr(&self.m, vcpu, prio),
                    3 => self.guest.mask(&self.m, irq, MaskHow::Source),
                    4 => self.guest.unmask(&self.m, irq, MaskHow::Source),
                    _ => self.guest.ipi(&self.m, vcpu, u32::from(inp.u8()) % n, prio),
                }
                self.sync_guest_queues();
            }
            13 => {
                // Machine reset: images and the device tree are rewritten.
                allowed.everything();
                let _ = self.m.reset();
                self.queues.clear();
                self.tima_tainted = false;
            }
            _ => {
                let _ = self.m.info_pic();
                let _ = self.m.info_cpus();
            }
        }
        allowed
    }

    /// Queues the guest driver configured through its own hcalls.
    fn sync_guest_queues(&mut self) {
        self.queues
            .retain(|_, &mut (p, _)| !(g::QUEUE_BASE..g::ARENA_END).contains(&p));
        if self.guest.intc == Intc::Xive && self.m.irq().active().map(|b| b.name) == Some("xive") {
            for v in 0..self.smp {
                let server = u64::from(self.guest.servers[v as usize]);
                for prio in 0..7u64 {
                    let r = self.m.call_hcall(
                        0,
                        hc::H_INT_GET_QUEUE_CONFIG,
                        [0, server, prio, 0, 0, 0, 0, 0, 0],
                    );
                    if let Some(r) = r.filter(|r| r[0] == 0 && r[3] != 0) {
                        self.queues.insert((server, prio), (r[2], 1 << r[3]));
                    }
                }
            }
        }
    }
}

/// XICS presenter lines: `CPU n XIRR=xxxxxxxx (..) PP=pp MFRR=mm`.
///
/// A raw H_EOI (`eoi`) may leave a presented interrupt behind a CPPR that
/// would not let it through: that presentation is remembered in `stale`
/// and exempt from the priority checks until the presenter changes.
fn check_xics(
    pic: &str,
    eoi: bool,
    stale: &mut BTreeMap<u32, (u32, u32)>,
    claimed: impl Fn(u32) -> bool,
) {
    for l in pic.lines().filter(|l| l.starts_with("CPU ")) {
        let field = |k: &str| {
            let v = l.split(k).nth(1).expect(k);
            u32::from_str_radix(&v[..v.find(' ').unwrap_or(v.len())], 16).expect(k)
        };
        let (xirr, pp, mfrr) = (field("XIRR="), field("PP="), field("MFRR="));
        let (cppr, xisr) = (xirr >> 24, xirr & 0xFF_FFFF);
        let cpu = l
            .split_whitespace()
            .nth(1)
            .and_then(|n| n.parse::<u32>().ok())
            .expect("CPU number");
        if xisr != 0 && pp >= cppr && (eoi || stale.get(&cpu) == Some(&(xisr, pp))) {
            stale.insert(cpu, (xisr, pp));
            assert!(xisr == 2 || claimed(xisr), "XISR names no source: {l}");
            continue;
        }
        stale.remove(&cpu);
        if xisr == 0 {
            assert_eq!(pp, 0xFF, "no XISR but a pending priority: {l}");
        } else {
            assert!(pp < cppr, "XISR presented at PP >= CPPR: {l}");
            assert!(xisr == 2 || claimed(xisr), "XISR names no source: {l}");
        }
        if mfrr < cppr {
            assert!(
                xisr != 0 && pp <= mfrr,
                "an IPI more favoured than CPPR is not presented: {l}"
            );
        }
    }
}

/// XIVE: OS rings and event queues.
fn check_xive(pic: &str, tainted: bool, queues: &BTreeMap<(u64, u64), (u64, u64)>) {
    for l in pic.lines() {
        let w: Vec<&str> = l.split_whitespace().collect();
        if !tainted && w.len() >= 10 && w[0].starts_with("CPU[") && w[1] == "OS" {
            let b = |i: usize| u8::from_str_radix(w[i], 16).unwrap();
            let (nsr, cppr, ipb, pipr) = (b(2), b(3), b(4), b(9));
            let want = if ipb == 0 {
                0xFF
            } else {
                ipb.leading_zeros() as u8
            };
            assert_eq!(pipr, want, "PIPR is not IPB's most favoured priority: {l}");
            assert_eq!(
                nsr & 0x80 != 0,
                pipr < cppr,
                "NSR.EO disagrees with PIPR < CPPR: {l}"
            );
        }
        if let Some(at) = l.find(" @") {
            let addr = &l[at + 2..];
            let addr =
                u64::from_str_radix(&addr[..addr.find(' ').unwrap_or(addr.len())], 16).unwrap();
            assert!(
                queues.values().any(|&(p, _)| p == addr),
                "event queue @{addr:#x} was never registered: {l}"
            );
        }
    }
}

fn run(data: &[u8]) {
    let mut inp = Input(data);
    let sel = inp.u8();
    let machine = MACHINES[usize::from(sel) % MACHINES.len()];
    let smp = 1 + u32::from(sel >> 4) % 3;
    let m = g::build(machine, smp);
    let prelude = inp.u8();
    let xive = prelude & 1 != 0 && machine != "pseries,ic-mode=xics" && machine != "pseries-3.0";
    if prelude & 2 != 0 || machine == "pseries,ic-mode=xive" {
        g::cas(&m, xive);
    }
    let intc = if m.irq().active().map(|b| b.name) == Some("xive") {
        Intc::Xive
    } else {
        Intc::Xics
    };
    let mut guest = Guest::new(&m, intc);
    if prelude & 4 != 0 {
        guest.init(&m, &[6, 3]);
    }
    if prelude & 8 != 0 {
        let _ = m.irq().msi_alloc(4, spapr_irq::MsiKind::MsiX);
    }
    let ram = RamWatch::new(&m);
    let mut r = Run {
        m,
        machine,
        smp,
        guest,
        queues: BTreeMap::new(),
        tima_tainted: false,
        eoi: false,
        eoi_stale: BTreeMap::new(),
        ram,
    };
    r.sync_guest_queues();
    let mut steps = 0;
    // Everything any step handed over, for the full comparison at the end.
    let mut all_allowed = Allowed::default();
    while !inp.is_empty() && steps < 64 {
        steps += 1;
        let before: Vec<(u64, u64)> = r.queues.values().copied().collect();
        r.eoi = false;
        let allowed = r.step(&mut inp);
        let mut ranges: Vec<(u64, u64)> = allowed.0.clone();
        ranges.extend(
            before
                .iter()
                .chain(r.queues.values())
                .map(|&(p, n)| (p, p.saturating_add(n))),
        );
        let everything = ranges.iter().any(|&(s, e)| s == 0 && e == u64::MAX);
        all_allowed.0.extend(
            ranges
                .iter()
                .copied()
                .filter(|&(s, e)| !(s == 0 && e == u64::MAX)),
        );
        let Run { m, ram, .. } = &mut r;
        let check = |a: u64| ranges.iter().any(|&(s, e)| s <= a && a < e);
        let res = if everything {
            ram.check(m, check)
        } else {
            let pages = ram.candidates(&ranges);
            ram.check_pages(m, pages, check)
        };
        if let Err(s) = res {
            panic!("step {steps}: guest RAM written outside what the guest handed over: {s:?}");
        }
        let pic = r.m.info_pic();
        match r.m.irq().active().map(|b| b.name) {
            Some("xics") => {
                let m = &r.m;
                check_xics(&pic, r.eoi, &mut r.eoi_stale, |irq| m.irq().is_claimed(irq));
            }
            Some("xive") => check_xive(&pic, r.tima_tainted, &r.queues),
            _ => {}
        }
    }
    // A write no step declared, anywhere in RAM.
    let Run { m, ram, .. } = &mut r;
    if let Err(s) = ram.check(m, |a| all_allowed.has(a)) {
        panic!("guest RAM written outside anything the guest handed over: {s:?}");
    }
    if prelude & 0xF0 == 0xF0 {
        // Whatever the guest reached must migrate to a machine like it.
        let stream = r.m.save_state(Vec::new()).expect("a reachable state saves");
        let dst = g::build(r.machine, r.smp);
        if let Err(e) = dst.load_state(stream.as_slice()) {
            panic!("a state the guest reached does not migrate: {e}");
        }
        // The destination ran its post-load hook (XICS resends): the
        // source runs the same before the two are compared.
        let _ = r.m.irq().post_load(r.m.ov5_intc());
        assert_eq!(
            r.m.info_pic(),
            dst.info_pic(),
            "info pic changed by migration"
        );
    }
}

fuzz_target!(|data: &[u8]| run(data));
