//! A guest kernel's interrupt code without the guest: the hcalls, RTAS
//! calls, CAS and MMIO accesses Linux's XICS and XIVE drivers make, issued
//! through [`Machine::call_hcall`] and [`Machine::call_mmio`], with the
//! guest's own bookkeeping (event-queue indexes and generation bits, the
//! pending-priority mask, what each vCPU accepted) kept here.
//!
//! The guest state lives outside the machine, as a real guest's registers
//! and memory would travel with it: the same [`Guest`] drives a machine and,
//! after a migration, its destination.
//!
//! Shared by the reliability tests (no lost interrupts, migration faults,
//! limits) and by the fuzz targets in `crates/spapr-machine/fuzz`.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;

use spapr_irq::papr::hcall as hc;
use spapr_machine::config::{ConfigRequest, MachineConfig};
use spapr_machine::hcall::op;
use spapr_machine::machine::{BootConfig, Machine};

// Link the controllers so that their registrations are in the registry.
use intc_xics as _;
use intc_xive as _;

/// Where the guest keeps its RTAS argument buffer.
pub const RTAS_BUF: u64 = 0x0080_0000;
/// Where the guest writes its CAS architecture vector.
pub const CAS_VECTOR: u64 = 0x0080_1000;
/// The buffer the guest hands CAS for the updated device tree.
pub const CAS_BUF: u64 = 0x0081_0000;
/// Size of [`CAS_BUF`].
pub const CAS_BUF_SIZE: u64 = 0x0010_0000;
/// First XIVE event queue page; queue (vCPU `v`, priority `p`) is the
/// 64 KiB page at `QUEUE_BASE + ((v % 32) * 8 + p) * 64 KiB` (vCPUs 32
/// apart share pages: the tests with that many use only a few).
pub const QUEUE_BASE: u64 = 0x00A0_0000;
/// log2 of the queue size the guest uses (64 KiB, the only size the
/// machine advertises in `ibm,xive-eq-sizes`).
pub const QUEUE_SHIFT: u32 = 16;
/// End of the region this guest writes (everything it uses lies below).
pub const ARENA_END: u64 = QUEUE_BASE + 256 * (1 << QUEUE_SHIFT);

/// XIVE source ESB window.
pub const VC_BASE: u64 = intc_xive::spapr::VC_BASE;
/// XIVE TIMA.
pub const TM_BASE: u64 = intc_xive::spapr::TM_BASE;
/// The TIMA's OS view.
pub const TIMA_OS: u64 = TM_BASE + (2 << 16);
/// OS CPPR byte in a TIMA view.
pub const TM_OS_CPPR: u64 = 0x11;
/// Acknowledge (2-byte load) in the OS view.
pub const TM_SPC_ACK_OS: u64 = 0x810;
/// ESB management-page offsets.
pub const ESB_LOAD_EOI: u64 = 0x000;
/// Read PQ.
pub const ESB_GET: u64 = 0x800;
/// Set PQ=00 (on) and return the old value.
pub const ESB_SET_PQ_00: u64 = 0xC00;
/// Set PQ=01 (off) and return the old value.
pub const ESB_SET_PQ_01: u64 = 0xD00;

/// `H_INT_SET_SOURCE_CONFIG` flag: set the EISN (PAPR bit 62).
pub const SRC_SET_EISN: u64 = 0x2;
/// `H_INT_SET_SOURCE_CONFIG` flag: mask the source (PAPR bit 63).
pub const SRC_MASK: u64 = 0x1;

/// `H_INT_SET_QUEUE_CONFIG` flag: notify on every event (Linux always
/// sets it).
pub const END_ALWAYS_NOTIFY: u64 = 0x1;

/// RTAS tokens of the XICS calls.
pub const RTAS_SET_XIVE: u32 = intc_xics::spapr::RTAS_IBM_SET_XIVE;
/// `ibm,get-xive`.
pub const RTAS_GET_XIVE: u32 = intc_xics::spapr::RTAS_IBM_GET_XIVE;
/// `ibm,int-off`.
pub const RTAS_INT_OFF: u32 = intc_xics::spapr::RTAS_IBM_INT_OFF;
/// `ibm,int-on`.
pub const RTAS_INT_ON: u32 = intc_xics::spapr::RTAS_IBM_INT_ON;

/// A validated configuration for `-machine <machine> -smp <smp> -m 256M`
/// (the least RAM the machine accepts; migration skips the pages nobody
/// touched, so a mostly empty 256 MiB moves in milliseconds).
pub fn config(machine: &str, smp: u32) -> MachineConfig {
    MachineConfig::new(&ConfigRequest {
        machine: vec![machine.to_string()],
        smp: Some(smp.to_string()),
        ram: Some("256M".into()),
        console: true,
        ..Default::default()
    })
    .unwrap_or_else(|e| panic!("-machine {machine} -smp {smp}: {e}"))
}

/// A machine with no boot image (the built-in firmware), not started.
pub fn build(machine: &str, smp: u32) -> Arc<Machine> {
    let m = Machine::new(config(machine, smp), BootConfig::default(), None)
        .unwrap_or_else(|e| panic!("-machine {machine}: {e}"));
    // The arena must be free RAM: nothing the machine placed at reset.
    let mut b = vec![0u8; 4096];
    assert!(m.ram().read(RTAS_BUF, &mut b));
    assert!(b.iter().all(|&x| x == 0), "RTAS buffer overlaps boot data");
    m
}

/// Path of a bundled guest image (`guests/images/<name>.elf`), found from
/// the crate directory upwards.
pub fn guest_image(name: &str) -> String {
    let mut dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    loop {
        let p = dir.join("guests/images").join(format!("{name}.elf"));
        if p.exists() || !dir.pop() {
            return p.display().to_string();
        }
    }
}

/// A machine booting bundled guest `name` with `append`, not started.
pub fn boot_image(machine: &str, smp: u32, name: &str, append: &str) -> Arc<Machine> {
    let path = guest_image(name);
    let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    Machine::new(
        config(machine, smp),
        BootConfig {
            kernel: Some(spapr_machine::machine::Image { path, data }),
            append: append.to_string(),
            ..Default::default()
        },
        None,
    )
    .unwrap_or_else(|e| panic!("-machine {machine}: {e}"))
}

/// Everything a machine holds except what moves on its own while it is
/// stopped (timebase, time of day, decrementers): every section of a
/// saved stream as JSON, and a digest of each non-zero RAM page among
/// those the host ever populated.
pub fn fingerprint(m: &Arc<Machine>) -> (String, Vec<(u64, u64)>) {
    let stream = m.save_state(Vec::new()).expect("save");
    let insp = migration::inspect::inspect(stream.as_slice(), &migration::Limits::default());
    let mut text = String::new();
    for s in &insp.sections {
        let mut fields = s.fields.clone();
        if let Some(map) = fields.as_object_mut() {
            for volatile in ["timebase", "time_of_day_ns"] {
                map.remove(volatile);
            }
            if let Some(state) = map.get_mut("state").and_then(|v| v.as_object_mut()) {
                state.remove("dec");
            }
        }
        text += &format!(
            "{} {} {} {:?}\n",
            s.name, s.instance_id, fields, s.subsections
        );
    }
    (text, fingerprint_ram(m))
}

/// A digest of each non-zero RAM page among those the host populated.
pub fn fingerprint_ram(m: &Machine) -> Vec<(u64, u64)> {
    use std::hash::{Hash, Hasher};
    let digest = |b: &[u8]| {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        b.hash(&mut h);
        h.finish()
    };
    let zero = digest(&vec![0u8; spapr_machine::memory::HOST_PAGE as usize]);
    let mut pages = Vec::new();
    let page = spapr_machine::memory::HOST_PAGE;
    let mut buf = vec![0u8; page as usize];
    for (first, count) in m.ram().populated_runs() {
        for p in first..first + count {
            if m.ram().read(p * page, &mut buf) {
                let d = digest(&buf);
                if d != zero {
                    pages.push((p, d));
                }
            }
        }
    }
    pages
}

/// hcall `opcode` on vCPU `vcpu` with `args` (r4..); returns r3..r12.
pub fn hcall(m: &Machine, vcpu: u32, opcode: u64, args: &[u64]) -> [u64; 10] {
    let mut a = [0u64; 9];
    a[..args.len()].copy_from_slice(args);
    m.call_hcall(vcpu, opcode, a).expect("vCPU exists")
}

/// RTAS call `token` through `H_RTAS` with the buffer at [`RTAS_BUF`];
/// returns (hcall status, return words).
pub fn rtas(m: &Machine, vcpu: u32, token: u32, args: &[u32], nret: u32) -> (i64, Vec<u32>) {
    let mut buf = Vec::new();
    for w in [token, args.len() as u32, nret]
        .iter()
        .chain(args)
        .chain(std::iter::repeat_n(&0u32, nret as usize))
    {
        buf.extend_from_slice(&w.to_be_bytes());
    }
    assert!(m.ram().write(RTAS_BUF, &buf));
    let r = hcall(m, vcpu, op::H_RTAS, &[RTAS_BUF]);
    let rets = (0..nret)
        .map(|i| {
            m.ram()
                .read_be32(RTAS_BUF + 12 + 4 * (args.len() as u64 + u64::from(i)))
                .expect("in RAM")
        })
        .collect();
    (r[0] as i64, rets)
}

/// Writes an architecture vector the way Linux's prom_init lays it out
/// (PVR pairs, terminator, option vectors 1..5) at `addr`; returns its size.
pub fn write_cas_vector(m: &Machine, addr: u64, pvrs: &[(u32, u32)], ov5_23: u8) -> usize {
    let mut v = Vec::new();
    for &(mask, value) in pvrs {
        v.extend_from_slice(&mask.to_be_bytes());
        v.extend_from_slice(&value.to_be_bytes());
    }
    v.extend_from_slice(&0u32.to_be_bytes());
    v.extend_from_slice(&0xffff_ffffu32.to_be_bytes());
    let ov1 = [0u8, 0, 0x80];
    let mut ov5 = [0u8; 26];
    ov5[22] = ov5_23;
    let ovs: [&[u8]; 5] = [&ov1, &[0], &[0], &[0], &ov5];
    v.push((ovs.len() - 1) as u8);
    for ov in ovs {
        v.push((ov.len() - 1) as u8);
        v.extend_from_slice(ov);
    }
    assert!(m.ram().write(addr, &v));
    v.len()
}

/// CAS from vCPU 0 asking for XIVE exploitation or XICS; returns r3.
pub fn cas(m: &Machine, xive: bool) -> i64 {
    // Mask 0 matches the real PVR of any CPU model.
    write_cas_vector(m, CAS_VECTOR, &[(0, 0)], if xive { 0x40 } else { 0 });
    hcall(m, 0, op::H_CAS, &[CAS_VECTOR, CAS_BUF, CAS_BUF_SIZE])[0] as i64
}

/// The interrupt controller a guest drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intc {
    /// hcalls and RTAS (H_XIRR, H_EOI, ibm,set-xive...).
    Xics,
    /// H_INT_* hcalls, ESB pages, TIMA, event queues.
    Xive,
}

/// How a guest masks a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaskHow {
    /// XICS `ibm,int-off`; XIVE PQ=01 through the ESB page (Linux's way).
    Source,
    /// XICS `ibm,set-xive` priority 0xFF; XIVE a masked EAS through
    /// `H_INT_SET_SOURCE_CONFIG`.
    Route,
}

/// One XIVE event queue as the guest reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Queue {
    page: u64,
    index: u32,
    toggle: bool,
}

/// A guest's interrupt driver state, and what it saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guest {
    /// Which controller it drives.
    pub intc: Intc,
    /// Interrupt server number of each vCPU.
    pub servers: Vec<u32>,
    /// The guest's CPPR per vCPU (XIVE: restored after each handler).
    cppr: Vec<u8>,
    /// XIVE: priorities acknowledged and not yet emptied, per vCPU (bit p).
    pending: Vec<u8>,
    /// XIVE queues by (vCPU, priority).
    queues: BTreeMap<(u32, u8), Queue>,
    /// (source, route) per source the guest set up: XICS server and
    /// priority, XIVE target and priority.
    routes: BTreeMap<u32, (u32, u8)>,
    /// Sources the guest knows are level-triggered.
    lsis: Vec<u32>,
    /// XIVE sources the guest masked through their ESB page: Linux does
    /// not EOI those (`xive_irq_eoi` skips disabled interrupts).
    esb_masked: Vec<u32>,
    /// Interrupt numbers each vCPU's handler received, in order (XICS: the
    /// XISR, 2 for the IPI; XIVE: the EISN, which this guest sets to the
    /// LISN).
    pub accepted: Vec<Vec<u32>>,
    /// Every hcall and RTAS status the guest got, in order: two runs of
    /// the same workload must agree on it too.
    pub statuses: Vec<i64>,
    /// Whether the handler of an LSI silences its device (lowers the
    /// line) before the EOI, as a driver acknowledging its device does;
    /// otherwise the line stays as the device left it.
    pub lower_lsi_in_handler: bool,
}

impl Guest {
    /// A guest on `m` driving `intc`, before any setup.
    pub fn new(m: &Machine, intc: Intc) -> Self {
        let n = m.nr_vcpus() as usize;
        Self {
            intc,
            servers: (0..n as u32).map(|i| m.config().server_of(i)).collect(),
            cppr: vec![0; n],
            pending: vec![0; n],
            queues: BTreeMap::new(),
            routes: BTreeMap::new(),
            lsis: Vec::new(),
            esb_masked: Vec::new(),
            accepted: vec![Vec::new(); n],
            statuses: Vec::new(),
            lower_lsi_in_handler: false,
        }
    }

    fn note(&mut self, status: i64) -> i64 {
        self.statuses.push(status);
        status
    }

    fn hc(&mut self, m: &Machine, vcpu: u32, opcode: u64, args: &[u64]) -> [u64; 10] {
        let r = hcall(m, vcpu, opcode, args);
        self.note(r[0] as i64);
        r
    }

    fn rtas(&mut self, m: &Machine, token: u32, args: &[u32], nret: u32) -> Vec<u32> {
        let (st, rets) = rtas(m, 0, token, args, nret);
        self.note(st);
        if let Some(&r) = rets.first() {
            self.note(i64::from(r as i32));
        }
        rets
    }

    fn mmio_load(&mut self, m: &Machine, vcpu: u32, addr: u64, size: u8) -> u64 {
        let v = m.call_mmio(vcpu, addr, size, None);
        self.note(v.map_or(-1, |v| v as i64));
        v.unwrap_or(u64::MAX)
    }

    fn mmio_store(&mut self, m: &Machine, vcpu: u32, addr: u64, size: u8, value: u64) {
        let v = m.call_mmio(vcpu, addr, size, Some(value));
        self.note(if v.is_some() { 0 } else { -1 });
    }

    /// The page of XIVE queue (vCPU, priority).
    pub fn queue_page(vcpu: u32, prio: u8) -> u64 {
        QUEUE_BASE + (u64::from(vcpu % 32) * 8 + u64::from(prio % 8)) * (1 << QUEUE_SHIFT)
    }

    /// Driver initialisation: every vCPU opens its CPPR; under XIVE each
    /// vCPU gets a queue at each of `prios` and its IPI is routed to it at
    /// the first of them; under XICS IPIs need no setup.
    pub fn init(&mut self, m: &Machine, prios: &[u8]) {
        for v in 0..self.servers.len() as u32 {
            if self.intc == Intc::Xive {
                for &p in prios {
                    self.queue_config(m, v, p, true);
                }
                if let Some(&p) = prios.first() {
                    let server = self.servers[v as usize];
                    self.route(m, server, v, p);
                }
            }
            self.set_cppr(m, v, 0xFF);
        }
    }

    /// Declares `irq` level-triggered (the PHB LSIs).
    pub fn add_lsi(&mut self, irq: u32) {
        if !self.lsis.contains(&irq) {
            self.lsis.push(irq);
        }
    }

    fn is_lsi(&self, irq: u32) -> bool {
        self.lsis.contains(&irq)
    }

    /// Configures (or, with `enable` false, resets) the XIVE queue of
    /// `vcpu` at `prio`; the guest zeroes the page first, as Linux hands
    /// a fresh zeroed page to the hypervisor.
    pub fn queue_config(&mut self, m: &Machine, vcpu: u32, prio: u8, enable: bool) {
        let server = u64::from(self.servers[vcpu as usize]);
        let page = Self::queue_page(vcpu, prio);
        if enable {
            assert!(m.ram().zero(page, 1 << QUEUE_SHIFT));
            let r = self.hc(
                m,
                vcpu,
                hc::H_INT_SET_QUEUE_CONFIG,
                &[
                    END_ALWAYS_NOTIFY,
                    server,
                    u64::from(prio),
                    page,
                    u64::from(QUEUE_SHIFT),
                ],
            );
            if r[0] == 0 {
                self.queues.insert(
                    (vcpu, prio),
                    Queue {
                        page,
                        index: 0,
                        toggle: false,
                    },
                );
            }
        } else {
            let r = self.hc(
                m,
                vcpu,
                hc::H_INT_SET_QUEUE_CONFIG,
                &[0, server, u64::from(prio), 0, 0],
            );
            if r[0] == 0 {
                self.queues.remove(&(vcpu, prio));
            }
        }
    }

    /// Routes `irq` to `vcpu` at `prio` and enables it.
    pub fn route(&mut self, m: &Machine, irq: u32, vcpu: u32, prio: u8) {
        let server = self.servers[vcpu as usize];
        match self.intc {
            Intc::Xics => {
                self.rtas(m, RTAS_SET_XIVE, &[irq, server, u32::from(prio)], 1);
            }
            Intc::Xive => {
                let r = self.hc(
                    m,
                    0,
                    hc::H_INT_SET_SOURCE_CONFIG,
                    &[
                        SRC_SET_EISN,
                        u64::from(irq),
                        u64::from(server),
                        u64::from(prio),
                        u64::from(irq),
                    ],
                );
                if r[0] == 0 {
                    self.esb(m, 0, irq, ESB_SET_PQ_00);
                    self.esb_masked.retain(|&x| x != irq);
                }
            }
        }
        self.routes.insert(irq, (server, prio));
    }

    /// A management-page ESB load on `irq`: through `H_INT_ESB` for LSIs
    /// (as `H_INT_GET_SOURCE_INFO` tells guests to), through MMIO for MSIs.
    fn esb(&mut self, m: &Machine, vcpu: u32, irq: u32, offset: u64) -> u64 {
        if self.is_lsi(irq) {
            let r = self.hc(m, vcpu, hc::H_INT_ESB, &[0, u64::from(irq), offset]);
            r[1]
        } else {
            let addr = intc_xive::SpaprXive::mgmt_page(irq) + offset;
            self.mmio_load(m, vcpu, addr, 8)
        }
    }

    /// Masks `irq`.
    pub fn mask(&mut self, m: &Machine, irq: u32, how: MaskHow) {
        match (self.intc, how) {
            (Intc::Xics, MaskHow::Source) => {
                self.rtas(m, RTAS_INT_OFF, &[irq], 1);
            }
            (Intc::Xics, MaskHow::Route) => {
                let server = self.routes.get(&irq).map_or(self.servers[0], |r| r.0);
                self.rtas(m, RTAS_SET_XIVE, &[irq, server, 0xFF], 1);
            }
            (Intc::Xive, MaskHow::Source) => {
                self.esb(m, 0, irq, ESB_SET_PQ_01);
                if !self.esb_masked.contains(&irq) {
                    self.esb_masked.push(irq);
                }
            }
            (Intc::Xive, MaskHow::Route) => {
                let (server, prio) = self.routes.get(&irq).copied().unwrap_or((0, 0));
                self.hc(
                    m,
                    0,
                    hc::H_INT_SET_SOURCE_CONFIG,
                    &[SRC_MASK, u64::from(irq), u64::from(server), u64::from(prio)],
                );
            }
        }
    }

    /// Unmasks `irq` (undoes [`Guest::mask`] with the same `how`).
    pub fn unmask(&mut self, m: &Machine, irq: u32, how: MaskHow) {
        match (self.intc, how) {
            (Intc::Xics, MaskHow::Source) => {
                self.rtas(m, RTAS_INT_ON, &[irq], 1);
            }
            (Intc::Xive, MaskHow::Source) => {
                self.esb(m, 0, irq, ESB_SET_PQ_00);
                self.esb_masked.retain(|&x| x != irq);
            }
            (_, MaskHow::Route) => {
                if let Some(&(server, prio)) = self.routes.get(&irq) {
                    let vcpu = self.servers.iter().position(|&s| s == server).unwrap_or(0);
                    self.route(m, irq, vcpu as u32, prio);
                }
            }
        }
    }

    /// vCPU `from` sends an IPI to vCPU `to` (XICS: MFRR = `prio`; XIVE: a
    /// store to the target's IPI trigger page, routed at init).
    pub fn ipi(&mut self, m: &Machine, from: u32, to: u32, prio: u8) {
        let server = self.servers[to as usize];
        match self.intc {
            Intc::Xics => {
                self.hc(m, from, hc::H_IPI, &[u64::from(server), u64::from(prio)]);
            }
            Intc::Xive => {
                let addr = intc_xive::SpaprXive::trigger_page(server);
                self.mmio_store(m, from, addr, 8, 0);
            }
        }
    }

    /// The guest sets vCPU `vcpu`'s CPPR.
    pub fn set_cppr(&mut self, m: &Machine, vcpu: u32, cppr: u8) {
        self.cppr[vcpu as usize] = cppr;
        match self.intc {
            Intc::Xics => {
                self.hc(m, vcpu, hc::H_CPPR, &[u64::from(cppr)]);
            }
            Intc::Xive => self.mmio_store(m, vcpu, TIMA_OS + TM_OS_CPPR, 1, u64::from(cppr)),
        }
    }

    /// Runs vCPU `vcpu`'s external-interrupt handler for one interrupt, as
    /// Linux does: XICS accepts with H_XIRR, clears its MFRR for an IPI and
    /// EOIs; XIVE acknowledges through the TIMA, takes the next entry of
    /// the most favoured pending queue, EOIs the source through its ESB
    /// page and, when its queues are empty,
    /// restores its CPPR. Returns the interrupt handled, if any.
    pub fn accept_one(&mut self, m: &Machine, vcpu: u32) -> Option<u32> {
        let got = match self.intc {
            Intc::Xics => self.xics_accept(m, vcpu),
            Intc::Xive => self.xive_accept(m, vcpu),
        };
        if let Some(irq) = got {
            self.accepted[vcpu as usize].push(irq);
        }
        got
    }

    fn xics_accept(&mut self, m: &Machine, vcpu: u32) -> Option<u32> {
        let r = self.hc(m, vcpu, hc::H_XIRR, &[]);
        let xirr = r[1] as u32;
        let xisr = xirr & 0x00FF_FFFF;
        if r[0] != 0 || xisr == 0 {
            return None;
        }
        if xisr == 2 {
            let server = u64::from(self.servers[vcpu as usize]);
            self.hc(m, vcpu, hc::H_IPI, &[server, 0xFF]);
        }
        if self.lower_lsi_in_handler && self.is_lsi(xisr) {
            m.set_irq(xisr, false);
        }
        self.hc(m, vcpu, hc::H_EOI, &[u64::from(xirr)]);
        Some(xisr)
    }

    fn xive_accept(&mut self, m: &Machine, vcpu: u32) -> Option<u32> {
        let v = vcpu as usize;
        let ack = self.mmio_load(m, vcpu, TIMA_OS + TM_SPC_ACK_OS, 2);
        if ack != u64::MAX {
            // The acknowledge moved CPPR to the priority it took.
            let prio = (ack & 0xFF) as u8;
            self.cppr[v] = prio;
            if (ack >> 8) & 0x80 != 0 && prio < 8 {
                self.pending[v] |= 1 << prio;
            }
        }
        while self.pending[v] != 0 {
            let prio = self.pending[v].trailing_zeros() as u8;
            if let Some(eisn) = self.pop(m, vcpu, prio) {
                if self.lower_lsi_in_handler && self.is_lsi(eisn) {
                    m.set_irq(eisn, false);
                }
                self.xive_eoi(m, vcpu, eisn);
                return Some(eisn);
            }
            self.pending[v] &= !(1 << prio);
        }
        if self.cppr[v] != 0xFF {
            self.set_cppr(m, vcpu, 0xFF);
        }
        None
    }

    /// The next entry of queue (vCPU, prio), Linux's `xive_read_eq`.
    fn pop(&mut self, m: &Machine, vcpu: u32, prio: u8) -> Option<u32> {
        let q = self.queues.get_mut(&(vcpu, prio))?;
        let entries = 1u32 << (QUEUE_SHIFT - 2);
        let word = m.ram().read_be32(q.page + 4 * u64::from(q.index))?;
        if (word >> 31 != 0) == q.toggle {
            return None;
        }
        q.index = (q.index + 1) & (entries - 1);
        if q.index == 0 {
            q.toggle = !q.toggle;
        }
        Some(word & 0x7FFF_FFFF)
    }

    /// Linux's `xive_irq_eoi`: nothing for a source masked through its
    /// ESB page; an LSI takes the EOI load (through
    /// `H_INT_ESB`); an MSI sets PQ=00, which returns the old PQ, and is
    /// re-triggered by a store to its trigger page when Q was set.
    fn xive_eoi(&mut self, m: &Machine, vcpu: u32, irq: u32) {
        if self.esb_masked.contains(&irq) {
            return;
        }
        if self.is_lsi(irq) {
            self.esb(m, vcpu, irq, ESB_LOAD_EOI);
            return;
        }
        let old = self.esb(m, vcpu, irq, ESB_SET_PQ_00);
        if old != u64::MAX && old & 1 != 0 {
            let addr = intc_xive::SpaprXive::trigger_page(irq);
            self.mmio_store(m, vcpu, addr, 8, 0);
        }
    }

    /// Quiesces: every LSI's device lowers its line, every vCPU opens its
    /// CPPR and runs its handler until nothing is left (bounded).
    pub fn drain(&mut self, m: &Machine) {
        for &l in &self.lsis {
            m.set_irq(l, false);
        }
        for v in 0..self.servers.len() as u32 {
            if self.cppr[v as usize] != 0xFF {
                self.set_cppr(m, v, 0xFF);
            }
        }
        for _ in 0..4 {
            for v in 0..self.servers.len() as u32 {
                for _ in 0..256 {
                    if self.accept_one(m, v).is_none() {
                        break;
                    }
                }
            }
        }
    }
}
