//! Machine migration: the machine's own sections, guest RAM as a bulk
//! section, and the compatibility checks that decide before anything is
//! applied.
//!
//! Stream order follows QEMU's: the interrupt controllers' sections, one
//! `cpu` section per vCPU, then the `spapr` machine section (its
//! `post_load` runs last and activates the controller the migrated
//! `ov5_cas` selects), then the `ram` and `nvram` bulk sections.
//!
//! Checks, in QEMU's order: the machine type (header), the CPU model and
//! vCPU count (header: QEMU fails on these with a section error; we name
//! them), then, with every section read and prepared, the capabilities
//! (spapr-caps: absent caps judged by the source version, cap-xics /
//! cap-xive by which controller sections the stream holds). A refused
//! stream leaves the destination untouched.

use std::io::{self, Read, Write};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use migration::{
    BulkDecl, BulkSink, CheckStage, IncomingView, LoadReport, Loader, Migratable, MigrationError,
    PreparedLoad, SectionState, StreamHeader, StreamWriter, TypedMigratable,
};
use ppc_cpu::{CpuModel, VcpuState};
use serde::{Deserialize, Serialize};
use spapr_caps::{
    caps_from_subsections, check_incoming, check_machine_type, CapId, ControllerSections, CpuInfo,
    IncomingCaps, MachineVersion,
};

use crate::cas::{OptionVector, OV5_INTC_BYTE};
use crate::config::caps_isa;
use crate::events::EventLogEntry;
use crate::machine::{Machine, Modes, VcpuRun};
use crate::memory::HOST_PAGE;

/// Name of the machine section.
pub const MACHINE_SECTION: &str = "spapr";
/// Name of the per-vCPU sections.
pub const CPU_SECTION: &str = "cpu";
/// Guest RAM bulk section.
pub const RAM_SECTION: &str = "ram";
/// NVRAM bulk section.
pub const NVRAM_SECTION: &str = "nvram";

const SUB_OV5: &str = "spapr_option_vector_ov5_cas";
const SUB_IRQ_MAP: &str = "spapr_irq_map";
const SUB_EVENTS: &str = "spapr_pending_events";

/// Why a machine migration failed.
#[derive(Debug, thiserror::Error)]
pub enum MachineMigrationError {
    /// The stream or a component refused it.
    #[error(transparent)]
    Stream(#[from] MigrationError),
    /// The transport failed.
    #[error("{0}")]
    Io(#[from] io::Error),
}

// ---------------------------------------------------------------- machine

#[derive(Debug, Clone, Serialize, Deserialize)]
struct MachineFields {
    /// Guest timebase when the source stopped.
    timebase: u64,
    /// Host wall clock (ns since the epoch) when the source stopped, to
    /// move the timebase on by the time the migration took.
    time_of_day_ns: u64,
    rtc_offset: i64,
    ile: bool,
    ail: u64,
    /// Radix process table (base, size field); (0, 0) when none.
    process_table: (u64, u64),
    radix: bool,
    /// vty input not yet read by the guest.
    vty_input: Vec<u8>,
    #[serde(skip)]
    ov5: Option<Vec<u64>>,
    #[serde(skip)]
    irq_map: Option<Vec<u64>>,
    #[serde(skip)]
    events: Option<EventsState>,
    #[serde(skip)]
    caps: Vec<(String, u8)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Words {
    words: Vec<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct EventsState {
    next_plid: u32,
    /// (summary, extended log).
    events: Vec<(u32, Vec<u8>)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct CapValue {
    value: u8,
}

/// The machine section (QEMU's `spapr`).
struct MachineSection {
    m: Arc<Machine>,
}

/// Every subsection the machine section knows: its own and one per
/// capability. Built once; the names live for the whole process.
fn machine_subsection_names() -> &'static [&'static str] {
    static NAMES: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    NAMES.get_or_init(|| {
        let mut v = vec![SUB_OV5, SUB_IRQ_MAP, SUB_EVENTS];
        v.extend(
            CapId::ALL
                .iter()
                .map(|c| &*Box::leak(c.entry().subsection_name().into_boxed_str())),
        );
        v
    })
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

impl TypedMigratable for MachineSection {
    type State = MachineFields;

    fn name(&self) -> &str {
        MACHINE_SECTION
    }

    fn version_id(&self) -> u32 {
        1
    }

    fn subsection_names(&self) -> &[&str] {
        machine_subsection_names()
    }

    fn save_state(&self) -> Result<MachineFields, MigrationError> {
        let m = &self.m;
        let inner = m.inner.lock();
        let modes = *m.modes.lock();
        Ok(MachineFields {
            timebase: m.timebase.read(),
            time_of_day_ns: now_ns(),
            rtc_offset: inner.rtc.offset,
            ile: modes.ile,
            ail: modes.ail,
            process_table: m.shared.process_table().unwrap_or((0, 0)),
            radix: inner.radix,
            vty_input: m.vty.as_ref().map(|v| v.snapshot()).unwrap_or_default(),
            ov5: None,
            irq_map: None,
            events: None,
            caps: Vec::new(),
        })
    }

    fn save_subsections(&self, s: &mut SectionState) -> Result<(), MigrationError> {
        let m = &self.m;
        let inner = m.inner.lock();
        // QEMU's `needed` tests: non-empty negotiated OV5, non-empty MSI
        // map, pending events, caps set on the command line that differ
        // from the default.
        s.push_subsection_if(
            !inner.ov5_cas.is_empty(),
            SUB_OV5,
            1,
            &Words {
                words: inner.ov5_cas.to_words(),
            },
        )?;
        let map = m.irq.msi_map();
        let map_used = map.as_ref().is_some_and(|w| w.iter().any(|&x| x != 0));
        s.push_subsection_if(
            map_used,
            SUB_IRQ_MAP,
            1,
            &Words {
                words: map.unwrap_or_default(),
            },
        )?;
        s.push_subsection_if(
            !inner.events.is_empty(),
            SUB_EVENTS,
            1,
            &EventsState {
                next_plid: inner.events.next_plid(),
                events: inner
                    .events
                    .entries()
                    .map(|e| (e.summary, e.extended.clone()))
                    .collect(),
            },
        )?;
        for sub in m.cfg.caps.outgoing_subsections() {
            s.push_subsection(&sub.name, 1, &CapValue { value: sub.value })?;
        }
        Ok(())
    }

    fn check_state(
        &self,
        _version: u32,
        st: &mut MachineFields,
        section: &SectionState,
    ) -> Result<(), MigrationError> {
        let bad = |why: &str| MigrationError::invalid(MACHINE_SECTION, why.to_string());
        if st.vty_input.len() > crate::vty::VTERM_BUFSIZE {
            return Err(bad("vty input larger than the device buffer"));
        }
        if !matches!(st.ail, 0 | 3) {
            return Err(bad("AIL mode other than 0 or 3"));
        }
        if let Some(w) = section.decode_subsection::<Words>(SUB_OV5)? {
            if OptionVector::from_words(&w.words).is_none() {
                return Err(bad("option vector 5 is not 32 words"));
            }
            st.ov5 = Some(w.words);
        }
        if let Some(w) = section.decode_subsection::<Words>(SUB_IRQ_MAP)? {
            if spapr_irq::MsiAllocator::from_words(&w.words).is_none() || self.m.irq.is_legacy() {
                return Err(bad("MSI map of the wrong size"));
            }
            st.irq_map = Some(w.words);
        }
        if let Some(e) = section.decode_subsection::<EventsState>(SUB_EVENTS)? {
            if e.events.len() > crate::events::MAX_PENDING_EVENTS
                || e.events.iter().any(|(_, x)| x.len() > 2048)
            {
                return Err(bad("too many or too large pending events"));
            }
            st.events = Some(e);
        }
        let mut caps = Vec::new();
        for sub in &section.subsections {
            if CapId::from_subsection(&sub.name).is_some() {
                caps.push((sub.name.clone(), sub.decode::<CapValue>()?.value));
            }
        }
        st.caps = caps_from_subsections(caps.iter().map(|(n, v)| (n.as_str(), *v)))
            .map_err(|e| MigrationError::incompatible("caps", e.to_string()))?;
        Ok(())
    }

    fn apply_state(&self, st: MachineFields) {
        let m = &self.m;
        let elapsed_ns = now_ns().saturating_sub(st.time_of_day_ns);
        let ticks = (elapsed_ns as u128 * u128::from(ppc_cpu::TIMEBASE_HZ) / 1_000_000_000) as u64;
        m.timebase.set(st.timebase.wrapping_add(ticks));
        {
            let mut inner = m.inner.lock();
            inner.rtc.offset = st.rtc_offset;
            inner.radix = st.radix;
            inner.ov5_cas = st
                .ov5
                .as_deref()
                .and_then(OptionVector::from_words)
                .unwrap_or_default();
            let events = st.events.unwrap_or(EventsState {
                next_plid: 0,
                events: Vec::new(),
            });
            inner.events.restore(
                events
                    .events
                    .into_iter()
                    .map(|(summary, extended)| EventLogEntry { summary, extended })
                    .collect(),
                events.next_plid,
            );
        }
        {
            let mut modes = m.modes.lock();
            *modes = Modes {
                ile: st.ile,
                ail: st.ail,
                epoch: modes.epoch + 1,
            };
            m.modes_epoch.store(modes.epoch, Ordering::Release);
        }
        m.shared
            .set_process_table(st.process_table.0, st.process_table.1);
        m.shared.flush_all_tlbs();
        if let Some(v) = &m.vty {
            v.restore(&st.vty_input);
        }
        let _ = m.irq.set_msi_map(
            &st.irq_map
                .unwrap_or_else(|| spapr_irq::MsiAllocator::new().to_words()),
        );
    }

    fn post_load(&self) -> Result<(), MigrationError> {
        let m = &self.m;
        let byte23 = m.inner.lock().ov5_cas.byte(OV5_INTC_BYTE);
        m.irq
            .post_load(byte23)
            .map_err(|e| MigrationError::invalid(MACHINE_SECTION, e.to_string()))?;
        if let Some(b) = m.irq.active() {
            m.connect_irqchip(b)
                .map_err(|e| MigrationError::invalid(MACHINE_SECTION, e.to_string()))?;
        }
        for slot in &m.vcpus {
            let mut cpu = slot.cpu.lock();
            m.apply_modes(&mut cpu);
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- vCPUs

#[derive(Debug, Clone, Serialize, Deserialize)]
struct CpuFields {
    state: VcpuState,
    stopped: bool,
    start: Option<(u64, u64)>,
    vpa: u64,
    slb_shadow: u64,
    dtl: u64,
}

/// One vCPU's section.
struct CpuSection {
    m: Arc<Machine>,
    index: usize,
}

/// The checks `Vcpu::restore` makes, run before anything is applied.
fn check_vcpu_state(model: &CpuModel, s: &VcpuState) -> Result<(), String> {
    if s.pvr != model.pvr {
        return Err(format!(
            "vCPU state is for PVR {:#010x}, this CPU has PVR {:#010x}",
            s.pvr, model.pvr
        ));
    }
    if let Some((n, _)) = s.sprs.iter().find(|(n, _)| *n >= 1024) {
        return Err(format!("vCPU state names SPR {n}, which does not exist"));
    }
    Ok(())
}

impl TypedMigratable for CpuSection {
    type State = CpuFields;

    fn name(&self) -> &str {
        CPU_SECTION
    }

    fn instance_id(&self) -> u32 {
        self.index as u32
    }

    fn version_id(&self) -> u32 {
        1
    }

    fn save_state(&self) -> Result<CpuFields, MigrationError> {
        let slot = &self.m.vcpus[self.index];
        let state = slot.cpu.lock().save();
        let run = slot.run.lock();
        Ok(CpuFields {
            state,
            stopped: run.stopped,
            start: run.start,
            vpa: run.vpa,
            slb_shadow: run.slb_shadow,
            dtl: run.dtl,
        })
    }

    fn check_state(
        &self,
        _v: u32,
        st: &mut CpuFields,
        _s: &SectionState,
    ) -> Result<(), MigrationError> {
        check_vcpu_state(self.m.cfg.cpu, &st.state)
            .map_err(|e| MigrationError::invalid(CPU_SECTION, e))?;
        let ram = &self.m.ram;
        for (what, addr) in [
            ("VPA", st.vpa),
            ("SLB shadow", st.slb_shadow),
            ("DTL", st.dtl),
        ] {
            if addr != 0 && !ram.contains(addr, 8) {
                return Err(MigrationError::invalid(
                    CPU_SECTION,
                    format!("{what} outside guest RAM"),
                ));
            }
        }
        Ok(())
    }

    fn apply_state(&self, st: CpuFields) {
        let slot = &self.m.vcpus[self.index];
        // Checked in check_state: restore cannot refuse it.
        let _ = slot.cpu.lock().restore(&st.state);
        *slot.run.lock() = VcpuRun {
            stopped: st.stopped,
            start: st.start,
            prod: false,
            vpa: st.vpa,
            slb_shadow: st.slb_shadow,
            dtl: st.dtl,
        };
        slot.stopped.store(st.stopped, Ordering::Release);
    }
}

// ---------------------------------------------------------------- RAM

/// Guest RAM as the destination of the `ram` bulk section. Knows which
/// destination pages were ever touched, so that zero runs over untouched
/// pages cost nothing.
struct RamSink<'a>(&'a Machine, Vec<(u64, u64)>);

impl RamSink<'_> {
    /// The populated host pages that intersect `[offset, offset + len)`, as
    /// byte ranges.
    fn populated_in(&self, offset: u64, len: u64) -> Vec<(u64, u64)> {
        let end = offset + len;
        self.1
            .iter()
            .map(|&(p, n)| (p * HOST_PAGE, (p + n) * HOST_PAGE))
            .filter(|&(s, e)| s < end && e > offset)
            .map(|(s, e)| (s.max(offset), e.min(end)))
            .collect()
    }
}

impl BulkSink for RamSink<'_> {
    fn len(&self) -> u64 {
        self.0.ram.size()
    }

    fn fill_from(&mut self, offset: u64, len: u64, src: &mut dyn Read) -> io::Result<()> {
        let mut buf = vec![0u8; 64 * 1024];
        let mut done = 0;
        while done < len {
            let n = (len - done).min(buf.len() as u64) as usize;
            src.read_exact(&mut buf[..n])?;
            if !self.0.ram.write(offset + done, &buf[..n]) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "outside guest RAM",
                ));
            }
            done += n as u64;
        }
        Ok(())
    }

    /// Zero runs are most of a guest's RAM: untouched destination pages
    /// are zero already, and touched ones are written only where they are
    /// not zero.
    fn fill_zero(&mut self, offset: u64, len: u64) -> io::Result<()> {
        let ram = &self.0.ram;
        if !ram.contains(offset, len) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "outside guest RAM",
            ));
        }
        let mut page = vec![0u8; 64 * 1024];
        for (start, end) in self.populated_in(offset, len) {
            let mut at = start;
            while at < end {
                let n = (end - at).min(page.len() as u64);
                let chunk = &mut page[..n as usize];
                if !ram.read(at, chunk) {
                    return Err(io::Error::other("guest RAM read failed"));
                }
                if chunk.iter().any(|&b| b != 0) && !ram.zero(at, n) {
                    return Err(io::Error::other("guest RAM write failed"));
                }
                at += n;
            }
        }
        Ok(())
    }
}

/// A controller section on a machine with both controllers: absent from a
/// stream whose source had only the other one, it keeps its reset state
/// (QEMU's xics -> dual and xive -> dual). The machine resets that backend
/// after such a load, and a check refuses a stream that carries only part
/// of a backend's sections.
struct ResetIfAbsent(Arc<dyn Migratable>);

impl Migratable for ResetIfAbsent {
    fn name(&self) -> &str {
        self.0.name()
    }
    fn instance_id(&self) -> u32 {
        self.0.instance_id()
    }
    fn version_id(&self) -> u32 {
        self.0.version_id()
    }
    fn minimum_version_id(&self) -> u32 {
        self.0.minimum_version_id()
    }
    fn subsection_names(&self) -> &[&str] {
        self.0.subsection_names()
    }
    fn subsection_version_ids(&self, name: &str) -> Option<(u32, u32)> {
        self.0.subsection_version_ids(name)
    }
    fn pre_save(&self) -> Result<(), MigrationError> {
        self.0.pre_save()
    }
    fn save(&self) -> Result<SectionState, MigrationError> {
        self.0.save()
    }
    fn prepare_load(
        &self,
        version_id: u32,
        state: &SectionState,
    ) -> Result<PreparedLoad, MigrationError> {
        self.0.prepare_load(version_id, state)
    }
    fn apply_load(&self, prepared: PreparedLoad) {
        self.0.apply_load(prepared)
    }
    fn post_load(&self) -> Result<(), MigrationError> {
        self.0.post_load()
    }
    fn absent_is_reset_state(&self) -> bool {
        true
    }
}

impl Machine {
    /// The sections of each interrupt controller backend, by backend name.
    fn controller_sections(&self) -> Vec<(&'static str, Vec<Arc<dyn Migratable>>)> {
        let dual = self.irq.backend_names().len() > 1;
        self.irq
            .controllers()
            .map(|(b, c)| {
                let secs = c
                    .migratables()
                    .into_iter()
                    .map(|m| {
                        if dual {
                            Arc::new(ResetIfAbsent(m)) as Arc<dyn Migratable>
                        } else {
                            m
                        }
                    })
                    .collect();
                (b.name, secs)
            })
            .collect()
    }

    /// Every section of this machine, in stream order.
    fn sections(self: &Arc<Self>) -> Vec<Arc<dyn Migratable>> {
        let mut all: Vec<Arc<dyn Migratable>> = self
            .controller_sections()
            .into_iter()
            .flat_map(|(_, s)| s)
            .collect();
        for i in 0..self.vcpus.len() {
            all.push(Arc::new(CpuSection {
                m: Arc::clone(self),
                index: i,
            }));
        }
        all.push(Arc::new(MachineSection {
            m: Arc::clone(self),
        }));
        all
    }

    /// The header describing this machine.
    fn stream_header(&self) -> StreamHeader {
        let cfg = &self.cfg;
        let mut h = StreamHeader::new(
            &cfg.machine.name,
            &cfg.machine.version.to_string(),
            cfg.cpu.name,
            cfg.caps.ic_mode().as_str(),
        );
        h.vcpus = self.vcpus.len() as u32;
        for cap in CapId::ALL {
            h.caps.insert(cap.name().to_string(), cfg.caps.get(cap));
        }
        if let Some(l) = cfg.max_cpu_compat {
            h.extra
                .insert("max-cpu-compat".into(), l.compat_name().into());
        }
        h
    }

    /// Writes the whole machine (paused) into `out`: sections, then RAM and
    /// NVRAM. Returns the transport.
    pub fn save_state<W: Write>(self: &Arc<Self>, out: W) -> Result<W, MachineMigrationError> {
        let mut w = StreamWriter::new(out, &self.stream_header()).map_err(MigrationError::from)?;
        for s in self.sections() {
            w.save(s.as_ref())?;
        }
        let nvram = self.nvram.lock().data.clone();
        w.begin_bulk(&[
            BulkDecl {
                name: RAM_SECTION.into(),
                instance_id: 0,
                version_id: 1,
                len: self.ram.size(),
            },
            BulkDecl {
                name: NVRAM_SECTION.into(),
                instance_id: 0,
                version_id: 1,
                len: nvram.len() as u64,
            },
        ])
        .map_err(MigrationError::from)?;
        // Untouched host pages are zero: sent as zero runs, never read.
        let size = self.ram.size();
        let mut chunk = vec![0u8; 1 << 20];
        let mut off = 0;
        for (first, count) in self.ram.populated_runs() {
            let start = (first * HOST_PAGE).min(size);
            let end = ((first + count) * HOST_PAGE).min(size);
            if start > off {
                w.bulk_zero(start - off).map_err(MigrationError::from)?;
            }
            let mut at = start;
            while at < end {
                let n = (end - at).min(chunk.len() as u64) as usize;
                if !self.ram.read(at, &mut chunk[..n]) {
                    return Err(io::Error::other("guest RAM read failed").into());
                }
                w.bulk_pages(&chunk[..n], HOST_PAGE as usize)
                    .map_err(MigrationError::from)?;
                at += n as u64;
            }
            off = end.max(off);
        }
        if off < size {
            w.bulk_zero(size - off).map_err(MigrationError::from)?;
        }
        w.bulk_data(&nvram).map_err(MigrationError::from)?;
        Ok(w.finish().map_err(MigrationError::from)?)
    }

    /// Loads a stream into this machine (created with the destination's
    /// configuration, not running). Every check runs before anything is
    /// applied; on success the machine continues where the source stopped.
    pub fn load_state<R: Read>(
        self: &Arc<Self>,
        input: R,
    ) -> Result<LoadReport, MachineMigrationError> {
        let mut ram = RamSink(self, self.ram.populated_runs());
        let mut nvram_buf = vec![0u8; self.nvram.lock().data.len()];
        let report = {
            let mut nvram_sink: &mut [u8] = &mut nvram_buf;
            let mut loader = Loader::new();
            loader.components(self.sections());
            loader.bulk(RAM_SECTION, 0, 1, 1, &mut ram);
            loader.bulk(NVRAM_SECTION, 0, 1, 1, &mut nvram_sink);
            let local = self.cfg.machine;
            loader.check("machine-type", CheckStage::Header, move |v, _| {
                check_machine_type(&v.header.machine_type, local)
                    .map_err(|e| MigrationError::incompatible("machine-type", e.to_string()))
            });
            let (cpu, vcpus) = (self.cfg.cpu, self.vcpus.len() as u32);
            loader.check("cpu", CheckStage::Header, move |v, _| {
                let theirs = CpuModel::by_name(&v.header.cpu_model).ok();
                if theirs.map(|m| m.pvr) != Some(cpu.pvr) {
                    return Err(MigrationError::incompatible(
                        "cpu",
                        format!(
                            "CPU model received is '{}' and local is '{}'",
                            v.header.cpu_model, cpu.name
                        ),
                    ));
                }
                if v.header.vcpus != vcpus {
                    return Err(MigrationError::incompatible(
                        "cpu",
                        format!(
                            "vCPU count received is {} and local is {vcpus}",
                            v.header.vcpus
                        ),
                    ));
                }
                Ok(())
            });
            let dst_caps = &self.cfg.caps;
            loader.check("caps", CheckStage::State, move |v, warnings| {
                caps_check(v, dst_caps, warnings)
            });
            // A backend's sections travel all together or not at all.
            let backends: Vec<(&'static str, Vec<(String, u32)>)> = self
                .controller_sections()
                .into_iter()
                .map(|(b, secs)| {
                    (
                        b,
                        secs.iter()
                            .map(|s| (s.name().to_string(), s.instance_id()))
                            .collect(),
                    )
                })
                .collect();
            loader.check("controllers", CheckStage::State, move |v, _| {
                for (backend, secs) in &backends {
                    let present = secs.iter().filter(|(n, i)| v.section(n, *i).is_some()).count();
                    if present != 0 && present != secs.len() {
                        return Err(MigrationError::incompatible(
                            "controllers",
                            format!(
                                "the stream carries {present} of the {} sections of the {backend} interrupt controller",
                                secs.len()
                            ),
                        ));
                    }
                }
                Ok(())
            });
            loader.load(input)?
        };
        self.nvram.lock().data.copy_from_slice(&nvram_buf);
        // A backend absent from the stream starts from its reset state.
        for (backend, secs) in self.controller_sections() {
            let absent = secs.iter().all(|s| {
                report
                    .reset
                    .iter()
                    .any(|(n, i)| n == s.name() && *i == s.instance_id())
            });
            if absent && !secs.is_empty() {
                if let Some((_, c)) = self.irq.controllers().find(|(b, _)| b.name == backend) {
                    c.reset();
                    for slot in &self.vcpus {
                        c.cpu_intc_reset(slot.index);
                    }
                }
            }
        }
        Ok(report)
    }
}

/// The capability comparison of spapr-caps over the incoming stream.
fn caps_check(
    v: &IncomingView<'_>,
    dst: &spapr_caps::EffectiveCaps,
    warnings: &mut Vec<String>,
) -> Result<(), MigrationError> {
    let version = MachineVersion::parse_type_name(&v.header.machine_type).ok_or_else(|| {
        MigrationError::incompatible(
            "caps",
            format!("unknown machine type '{}'", v.header.machine_type),
        )
    })?;
    let model = CpuModel::by_name(&v.header.cpu_model)
        .map_err(|e| MigrationError::incompatible("caps", e.to_string()))?;
    let mut cpu = CpuInfo::new(model.name, caps_isa(model.isa));
    cpu.large_decr_bits = model.large_dec_bits.map_or(0, u32::from);
    if let Some(max) = v.header.extra.get("max-cpu-compat") {
        let level = ppc_cpu::IsaLevel::from_compat_name(max).ok_or_else(|| {
            MigrationError::incompatible("caps", format!("unknown compat mode '{max}'"))
        })?;
        cpu = cpu
            .with_max_compat(Some(caps_isa(level)))
            .map_err(|e| MigrationError::incompatible("caps", e.to_string()))?;
    }
    let mut caps = Vec::new();
    if let Some(machine) = v.section(MACHINE_SECTION, 0) {
        for sub in &machine.state.subsections {
            if CapId::from_subsection(&sub.name).is_some() {
                caps.push((sub.name.clone(), sub.decode::<CapValue>()?.value));
            }
        }
    }
    let caps = caps_from_subsections(caps.iter().map(|(n, v)| (n.as_str(), *v)))
        .map_err(|e| MigrationError::incompatible("caps", e.to_string()))?;
    let controllers = ControllerSections {
        xics: v.has_section("ics"),
        xive: v.has_section("spapr-xive"),
    };
    let incoming = IncomingCaps {
        machine: version,
        cpu: &cpu,
        caps: &caps,
        controllers,
    };
    match check_incoming(&incoming, dst) {
        Ok(acc) => {
            warnings.extend(acc.warnings.iter().map(|w| w.to_string()));
            Ok(())
        }
        Err(refused) => Err(MigrationError::incompatible("caps", refused.to_string())),
    }
}
