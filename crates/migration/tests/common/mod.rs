//! Components that look like the machine's: an ICS with its sources, one ICP
//! per vCPU, the XIVE source and router tables, and a machine section with
//! capability subsections. Their state is real state with invariants their
//! `prepare_load` checks; the tests drive them through the public API only.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use migration::{
    Migratable, MigrationError, PreparedLoad, SectionState, StreamHeader, TypedMigratable,
};
use serde::{Deserialize, Serialize};

/// One ICS source (QEMU's `ics/irq`); `flags` appeared in version 2.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct IcsIrq {
    pub server: u32,
    pub priority: u8,
    pub saved_priority: u8,
    pub status: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flags: Option<u8>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct IcsState {
    pub nr_irqs: u32,
    pub irqs: Vec<IcsIrq>,
}

/// The XICS source controller.
pub struct Ics {
    pub state: Mutex<IcsState>,
    pub nr_servers: u32,
    /// Layout version written (2 normally; 1 to play an older source).
    pub version: u32,
}

impl Ics {
    pub fn new(nr_irqs: u32, nr_servers: u32) -> Self {
        Self {
            state: Mutex::new(IcsState {
                nr_irqs,
                irqs: (0..nr_irqs)
                    .map(|_| IcsIrq {
                        server: 0,
                        priority: 0xff,
                        saved_priority: 0xff,
                        status: 0,
                        flags: Some(0),
                    })
                    .collect(),
            }),
            nr_servers,
            version: 2,
        }
    }

    /// Gives every source a distinct, valid configuration.
    pub fn scramble(&self, seed: u32) {
        let mut s = self.state.lock().unwrap();
        for (i, irq) in s.irqs.iter_mut().enumerate() {
            let v = (i as u32).wrapping_mul(2654435761).wrapping_add(seed);
            irq.server = v % self.nr_servers;
            irq.priority = (v >> 8) as u8 % 8;
            irq.saved_priority = 0xff;
            irq.status = (v >> 16) as u8 & 0x7;
            irq.flags = Some((v >> 24) as u8 & 0x3);
        }
    }
}

impl TypedMigratable for Ics {
    type State = IcsState;
    fn name(&self) -> &str {
        "ics"
    }
    fn version_id(&self) -> u32 {
        self.version
    }
    fn save_state(&self) -> Result<IcsState, MigrationError> {
        let mut s = self.state.lock().unwrap().clone();
        if self.version < 2 {
            for irq in &mut s.irqs {
                irq.flags = None;
            }
        }
        Ok(s)
    }
    fn check_state(
        &self,
        version_id: u32,
        s: &mut IcsState,
        _section: &SectionState,
    ) -> Result<(), MigrationError> {
        let local = self.state.lock().unwrap().nr_irqs;
        if s.nr_irqs != local {
            // QEMU's VMSTATE_UINT32_EQUAL words.
            return Err(MigrationError::invalid(
                "ics",
                format!("{:x} != {:x}", s.nr_irqs, local),
            ));
        }
        if s.irqs.len() != s.nr_irqs as usize {
            return Err(MigrationError::invalid(
                "ics",
                "irqs array length differs from nr_irqs",
            ));
        }
        for (i, irq) in s.irqs.iter_mut().enumerate() {
            if irq.server >= self.nr_servers {
                return Err(MigrationError::invalid(
                    "ics",
                    format!(
                        "source {i} targets server {} of {}",
                        irq.server, self.nr_servers
                    ),
                ));
            }
            // A version 1 stream has no flags: they were all zero then.
            if version_id < 2 {
                irq.flags.get_or_insert(0);
            }
        }
        Ok(())
    }
    fn apply_state(&self, s: IcsState) {
        *self.state.lock().unwrap() = s;
    }
}

/// An ICP presenter (QEMU's `icp/server`, instance = vCPU index).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct IcpState {
    pub xirr: u32,
    pub pending_priority: u8,
    pub mfrr: u8,
}

pub struct Icp {
    pub index: u32,
    pub state: Mutex<IcpState>,
}

impl Icp {
    pub fn new(index: u32) -> Self {
        Self {
            index,
            state: Mutex::new(IcpState {
                xirr: 0,
                pending_priority: 0xff,
                mfrr: 0xff,
            }),
        }
    }
}

impl TypedMigratable for Icp {
    type State = IcpState;
    fn name(&self) -> &str {
        "icp/server"
    }
    fn instance_id(&self) -> u32 {
        self.index
    }
    fn version_id(&self) -> u32 {
        1
    }
    fn save_state(&self) -> Result<IcpState, MigrationError> {
        Ok(self.state.lock().unwrap().clone())
    }
    fn apply_state(&self, s: IcpState) {
        *self.state.lock().unwrap() = s;
    }
}

/// XIVE source state, present in xive and dual modes; in dual mode the
/// destination's reset state stands in when the stream comes from XICS.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct XiveSourceState {
    pub nr_irqs: u32,
    /// PQ bits and asserted flag of each source.
    pub status: Vec<u8>,
}

pub struct XiveSource {
    pub state: Mutex<XiveSourceState>,
    pub reset_ok: bool,
}

impl XiveSource {
    pub fn new(nr_irqs: u32, reset_ok: bool) -> Self {
        Self {
            state: Mutex::new(XiveSourceState {
                nr_irqs,
                status: vec![0x01; nr_irqs as usize],
            }),
            reset_ok,
        }
    }
}

impl TypedMigratable for XiveSource {
    type State = XiveSourceState;
    fn name(&self) -> &str {
        "xive-source"
    }
    fn version_id(&self) -> u32 {
        1
    }
    fn save_state(&self) -> Result<XiveSourceState, MigrationError> {
        Ok(self.state.lock().unwrap().clone())
    }
    fn check_state(
        &self,
        _v: u32,
        s: &mut XiveSourceState,
        _section: &SectionState,
    ) -> Result<(), MigrationError> {
        if s.status.len() != self.state.lock().unwrap().status.len() {
            return Err(MigrationError::invalid(
                "xive-source",
                "status length differs",
            ));
        }
        Ok(())
    }
    fn apply_state(&self, s: XiveSourceState) {
        *self.state.lock().unwrap() = s;
    }
    fn absent_is_reset_state(&self) -> bool {
        self.reset_ok
    }
}

/// XIVE router tables: nested structs (EAS words, END of eight words).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct End {
    pub w: [u32; 8],
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct XiveRouterState {
    pub eat: Vec<u64>,
    pub endt: Vec<End>,
}

pub struct XiveRouter {
    pub state: Mutex<XiveRouterState>,
    pub reset_ok: bool,
}

impl XiveRouter {
    pub fn new(nr_irqs: u32, nr_ends: u32, reset_ok: bool) -> Self {
        Self {
            state: Mutex::new(XiveRouterState {
                eat: vec![0; nr_irqs as usize],
                endt: vec![End { w: [0; 8] }; nr_ends as usize],
            }),
            reset_ok,
        }
    }
}

impl TypedMigratable for XiveRouter {
    type State = XiveRouterState;
    fn name(&self) -> &str {
        "spapr-xive"
    }
    fn version_id(&self) -> u32 {
        1
    }
    fn save_state(&self) -> Result<XiveRouterState, MigrationError> {
        Ok(self.state.lock().unwrap().clone())
    }
    fn check_state(
        &self,
        _v: u32,
        s: &mut XiveRouterState,
        _section: &SectionState,
    ) -> Result<(), MigrationError> {
        let local = self.state.lock().unwrap();
        if s.eat.len() != local.eat.len() || s.endt.len() != local.endt.len() {
            return Err(MigrationError::invalid("spapr-xive", "table sizes differ"));
        }
        Ok(())
    }
    fn apply_state(&self, s: XiveRouterState) {
        *self.state.lock().unwrap() = s;
    }
    fn absent_is_reset_state(&self) -> bool {
        self.reset_ok
    }
}

/// A XIVE thread context (QEMU's `xive-tctx`, one per vCPU): the 64-byte
/// register file.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct TctxState {
    pub regs: Vec<u8>,
}

pub struct Tctx {
    pub index: u32,
    pub state: Mutex<TctxState>,
    pub reset_ok: bool,
}

impl TypedMigratable for Tctx {
    type State = TctxState;
    fn name(&self) -> &str {
        "xive-tctx"
    }
    fn instance_id(&self) -> u32 {
        self.index
    }
    fn version_id(&self) -> u32 {
        1
    }
    fn save_state(&self) -> Result<TctxState, MigrationError> {
        Ok(self.state.lock().unwrap().clone())
    }
    fn check_state(
        &self,
        _v: u32,
        s: &mut TctxState,
        _section: &SectionState,
    ) -> Result<(), MigrationError> {
        if s.regs.len() != 64 {
            return Err(MigrationError::invalid(
                "xive-tctx",
                "regs must be 64 bytes",
            ));
        }
        Ok(())
    }
    fn apply_state(&self, s: TctxState) {
        *self.state.lock().unwrap() = s;
    }
    fn absent_is_reset_state(&self) -> bool {
        self.reset_ok
    }
}

/// The machine section: a nested timebase, an optional field, and one
/// subsection per capability the command line changed (QEMU's
/// `spapr/cap/<name>`), implemented on the untyped trait.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct Timebase {
    pub guest_timebase: u64,
    pub time_of_the_day_ns: i64,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct MachineFields {
    pub tb: Timebase,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patb_entry: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct MachineState {
    pub fields: MachineFields,
    /// Capability levels that differ from the machine's defaults.
    pub caps: BTreeMap<String, u8>,
}

pub struct Machine {
    pub state: Mutex<MachineState>,
    pub post_loads: Mutex<u32>,
    pub fail_post_load: bool,
}

pub const CAP_NAMES: &[&str] = &["spapr/cap/htm", "spapr/cap/cfpc", "spapr/cap/large_decr"];

impl Machine {
    pub fn new() -> Self {
        Self {
            state: Mutex::new(MachineState::default()),
            post_loads: Mutex::new(0),
            fail_post_load: false,
        }
    }
}

impl Migratable for Machine {
    fn name(&self) -> &str {
        "spapr"
    }
    fn version_id(&self) -> u32 {
        3
    }
    fn subsection_names(&self) -> &[&str] {
        CAP_NAMES
    }
    fn subsection_version_ids(&self, _name: &str) -> Option<(u32, u32)> {
        Some((1, 1))
    }
    fn save(&self) -> Result<SectionState, MigrationError> {
        let s = self.state.lock().unwrap();
        let mut section = SectionState::encode("spapr", &s.fields)?;
        for (cap, level) in &s.caps {
            section.push_subsection(&format!("spapr/cap/{cap}"), 1, level)?;
        }
        Ok(section)
    }
    fn prepare_load(&self, _v: u32, state: &SectionState) -> Result<PreparedLoad, MigrationError> {
        let fields: MachineFields = state.decode("spapr")?;
        let mut caps = BTreeMap::new();
        for sub in &state.subsections {
            let level: u8 = sub.decode()?;
            caps.insert(sub.name.trim_start_matches("spapr/cap/").to_owned(), level);
        }
        Ok(PreparedLoad::new(MachineState { fields, caps }))
    }
    fn apply_load(&self, prepared: PreparedLoad) {
        if let Some(s) = prepared.into_inner::<MachineState>() {
            *self.state.lock().unwrap() = s;
        }
    }
    fn post_load(&self) -> Result<(), MigrationError> {
        *self.post_loads.lock().unwrap() += 1;
        if self.fail_post_load {
            return Err(MigrationError::invalid(
                "spapr",
                "KVM refused the MMU configuration",
            ));
        }
        Ok(())
    }
}

/// A machine of `vcpus` vCPUs in `ic_mode` (`xics`, `xive` or `dual`) with
/// `nr_irqs` sources; the XIVE parts of a dual machine accept a stream
/// without them.
pub struct Setup {
    pub ic_mode: &'static str,
    pub machine: Arc<Machine>,
    pub ics: Option<Arc<Ics>>,
    pub icps: Vec<Arc<Icp>>,
    pub xive_source: Option<Arc<XiveSource>>,
    pub xive_router: Option<Arc<XiveRouter>>,
    pub tctxs: Vec<Arc<Tctx>>,
}

impl Setup {
    pub fn new(ic_mode: &'static str, vcpus: u32, nr_irqs: u32) -> Self {
        let xics = ic_mode != "xive";
        let xive = ic_mode != "xics";
        let dual = ic_mode == "dual";
        Self {
            ic_mode,
            machine: Arc::new(Machine::new()),
            ics: xics.then(|| Arc::new(Ics::new(nr_irqs, vcpus))),
            icps: if xics {
                (0..vcpus).map(|i| Arc::new(Icp::new(i))).collect()
            } else {
                Vec::new()
            },
            xive_source: xive.then(|| Arc::new(XiveSource::new(nr_irqs, dual))),
            xive_router: xive.then(|| Arc::new(XiveRouter::new(nr_irqs, vcpus * 8, dual))),
            tctxs: if xive {
                (0..vcpus)
                    .map(|index| {
                        Arc::new(Tctx {
                            index,
                            state: Mutex::new(TctxState { regs: vec![0; 64] }),
                            reset_ok: dual,
                        })
                    })
                    .collect()
            } else {
                Vec::new()
            },
        }
    }

    /// Every component in stream order: controllers, then the machine.
    pub fn components(&self) -> Vec<Arc<dyn Migratable>> {
        let mut v: Vec<Arc<dyn Migratable>> = Vec::new();
        if let Some(ics) = &self.ics {
            v.push(ics.clone());
        }
        for icp in &self.icps {
            v.push(icp.clone());
        }
        if let Some(s) = &self.xive_source {
            v.push(s.clone());
        }
        if let Some(r) = &self.xive_router {
            v.push(r.clone());
        }
        for t in &self.tctxs {
            v.push(t.clone());
        }
        v.push(self.machine.clone());
        v
    }

    /// Puts recognisable, valid state everywhere.
    pub fn scramble(&self, seed: u32) {
        if let Some(ics) = &self.ics {
            ics.scramble(seed);
        }
        for icp in &self.icps {
            *icp.state.lock().unwrap() = IcpState {
                xirr: 0x0500_0000 | (icp.index + seed),
                pending_priority: 5,
                mfrr: (icp.index % 8) as u8,
            };
        }
        if let Some(s) = &self.xive_source {
            for (i, b) in s.state.lock().unwrap().status.iter_mut().enumerate() {
                *b = ((i as u32 + seed) % 4) as u8;
            }
        }
        if let Some(r) = &self.xive_router {
            let mut r = r.state.lock().unwrap();
            for (i, e) in r.eat.iter_mut().enumerate() {
                *e = 0x8000_0000_0000_0000 | (i as u64) << 4 | u64::from(seed);
            }
            for (i, end) in r.endt.iter_mut().enumerate() {
                end.w = [i as u32, seed, 0, 0, 0, 0, 0x8000_0000, 7];
            }
        }
        for t in &self.tctxs {
            let mut s = t.state.lock().unwrap();
            for (i, r) in s.regs.iter_mut().enumerate() {
                *r = (i as u32 ^ t.index ^ seed) as u8;
            }
        }
        let mut m = self.machine.state.lock().unwrap();
        m.fields.tb = Timebase {
            guest_timebase: 0x1234_5678_9abc + u64::from(seed),
            time_of_the_day_ns: -42,
        };
        m.fields.patb_entry = Some(0xdead_0000 | u64::from(seed));
        m.caps.insert("cfpc".into(), 1);
    }

    pub fn header(&self) -> StreamHeader {
        let mut h = StreamHeader::new("pseries-7.2", "7.2", "POWER9", self.ic_mode);
        h.vcpus = self.icps.len().max(self.tctxs.len()).max(1) as u32;
        h.caps = [("cfpc", 1u8), ("htm", 0), ("large_decr", 1)]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        h
    }

    /// The whole machine's state as a stream (the comparison the
    /// untouched-destination tests use).
    pub fn snapshot(&self) -> Vec<u8> {
        migration::save_to_vec(&self.header(), &self.components()).unwrap()
    }
}

/// A fresh directory under the system's temp directory, removed on drop.
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    pub fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("migration-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl std::ops::Deref for TempDir {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
