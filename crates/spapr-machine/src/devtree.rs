//! The device tree the machine hands the guest: at reset (r3 at entry) and
//! after CAS (in the guest's buffer), node for node what QEMU 7.2 writes
//! for the same machine, except the dynamic reconfiguration properties
//! (no hot-plug connectors here) and the PHB's DMA windows.

use fdt::{FdtBuilder, FdtError};
use ppc_cpu::Family;
use spapr_caps::{CapId, MachineVersion};

use crate::cas::{OptionVector, OV5_INTC_BYTE};
use crate::events::EventClass;
use crate::machine::Machine;

/// Which tree: the boot-time one or the one CAS returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Reset,
    Cas,
}

/// Why the tree could not be built.
#[derive(Debug, thiserror::Error)]
pub enum DevTreeError {
    /// The builder refused something.
    #[error(transparent)]
    Fdt(#[from] FdtError),
    /// An interrupt controller's node failed.
    #[error(transparent)]
    Controller(#[from] spapr_irq::DtError),
}

/// The reset-time tree.
pub fn build(m: &Machine) -> Result<Vec<u8>, DevTreeError> {
    build_stage(m, Stage::Reset)
}

/// The tree CAS returns: the negotiated OV5, the active controller's node,
/// and no `ibm,arch-vec-5-platform-support` (QEMU leaves it out).
pub fn build_cas(m: &Machine) -> Result<Vec<u8>, DevTreeError> {
    build_stage(m, Stage::Cas)
}

/// Byte 23 of `ibm,arch-vec-5-platform-support`: 0x80 either (dual), 0x40
/// XIVE only, 0x00 XICS only; XICS only when the CPU cannot run ISA 3.00.
pub fn platform_support_byte23(m: &Machine) -> u8 {
    let cpu_can_xive = m
        .cfg
        .max_cpu_compat
        .unwrap_or(m.cfg.cpu.isa)
        .min(m.cfg.cpu.isa)
        >= ppc_cpu::IsaLevel::V3_00;
    match (m.irq.has("xics"), m.irq.has("xive") && cpu_can_xive) {
        (true, true) => 0x80,
        (false, true) => 0x40,
        _ => 0x00,
    }
}

fn build_stage(m: &Machine, stage: Stage) -> Result<Vec<u8>, DevTreeError> {
    let mut b = FdtBuilder::new();
    b.set_boot_cpuid_phys(m.vcpus.first().map_or(0, |s| s.server));
    b.begin_node("")?;
    b.property_u32("#address-cells", 2)?;
    b.property_u32("#size-cells", 2)?;
    b.property_string("device_type", "chrp")?;
    b.property_string("model", "IBM pSeries (emulated by qemu)")?;
    b.property_string("compatible", "qemu,pseries")?;
    b.property_string("vm,uuid", "00000000-0000-0000-0000-000000000000")?;
    m.irq.dt_root_properties(&mut b)?;

    if m.cfg.machine.version >= MachineVersion::new(5, 0) {
        b.node("ibm,persistent-memory", |b| {
            b.property_u32("#address-cells", 1)?;
            b.property_u32("#size-cells", 0)?;
            b.property_string("device_type", "ibm,persistent-memory")
        })?;
    }
    chosen(m, &mut b, stage)?;
    rtas(m, &mut b)?;
    event_sources(m, &mut b)?;
    cpus(m, &mut b, stage)?;
    m.phb.dt(&mut b)?;
    vdevice(m, &mut b)?;
    let ram = m.cfg.ram_size;
    b.node("memory@0", |b| {
        b.property_string("device_type", "memory")?;
        b.property_reg(&[(0, ram)])?;
        b.property_cells("ibm,associativity", &[4, 0, 0, 0, 0])
    })?;
    m.irq.dt_node(&mut b)?;
    b.end_node()?;
    Ok(b.finish_dtb()?)
}

fn chosen(m: &Machine, b: &mut FdtBuilder, stage: Stage) -> Result<(), FdtError> {
    let ov5 = m.inner.lock().ov5_cas.clone();
    b.begin_node("chosen")?;
    // At reset QEMU writes one byte (empty vector); after CAS, up to the
    // last negotiated byte.
    let arch_vec = if stage == Stage::Reset && ov5.is_empty() {
        OptionVector::default().to_dt(1)
    } else {
        ov5.to_dt(0)
    };
    b.property("ibm,architecture-vec-5", &arch_vec)?;
    if stage == Stage::Reset {
        // Byte 24: hash and radix both offered (0xc0) on an ISA 3.00 CPU,
        // hash only otherwise; byte 26: GTSE with radix.
        let isa3 = m.cfg.cpu.radix
            && m.cfg
                .max_cpu_compat
                .unwrap_or(m.cfg.cpu.isa)
                .min(m.cfg.cpu.isa)
                >= ppc_cpu::IsaLevel::V3_00;
        let mmu = if isa3 { 0xc0 } else { 0x00 };
        // GTSE is offered whatever the CPU (as QEMU does under TCG).
        let radix_ext = 0x40;
        b.property(
            "ibm,arch-vec-5-platform-support",
            &[
                OV5_INTC_BYTE as u8,
                platform_support_byte23(m),
                24,
                mmu,
                25,
                0x00,
                26,
                radix_ext,
            ],
        )?;
    }
    if m.cfg.machine.flags.linux_pci_probe {
        b.property_u32("linux,pci-probe-only", 0)?;
    }
    if !m.boot.append.is_empty() {
        b.property_string("bootargs", &m.boot.append)?;
    }
    if let Some((base, len)) = m.boot.layout.initrd {
        b.property_u64("linux,initrd-start", base)?;
        b.property_u64("linux,initrd-end", base + len)?;
    }
    if let Some(v) = &m.vty {
        let path = format!("/vdevice/vty@{:x}", v.reg);
        b.property_string("stdout-path", &path)?;
        b.property_string("linux,stdout-path", &path)?;
    }
    b.end_node()
}

fn rtas(m: &Machine, b: &mut FdtBuilder) -> Result<(), FdtError> {
    b.begin_node("rtas")?;
    b.property_strings(
        "ibm,hypertas-functions",
        &[
            "hcall-pft",
            "hcall-term",
            "hcall-dabr",
            "hcall-interrupt",
            "hcall-tce",
            "hcall-vio",
            "hcall-splpar",
            "hcall-join",
            "hcall-bulk",
            "hcall-set-mode",
            "hcall-sprg0",
            "hcall-copy",
            "hcall-debug",
            "hcall-vphn",
            "hcall-multi-tce",
            "hcall-hpt-resize",
            "hcall-watchdog",
        ],
    )?;
    b.property_string("qemu,hypertas-functions", "hcall-memop1")?;
    if m.cfg.machine.version >= MachineVersion::new(5, 1) {
        b.property_cells("ibm,associativity-reference-points", &[4, 4, 2])?;
    } else {
        b.property_cells("ibm,associativity-reference-points", &[4, 4])?;
    }
    b.property_cells("ibm,max-associativity-domains", &[4, 0, 0, 0, 1])?;
    // The error log area plus QEMU's per-vCPU machine-check save areas.
    b.property_u32("rtas-size", 0x800 + 0x1c + 0x10 * m.cfg.smp.maxcpus)?;
    b.property_u32("rtas-error-log-max", 0x800)?;
    b.property_u32("rtas-event-scan-rate", 1)?;
    b.property_null("ibm,extended-os-term")?;
    b.property_cells(
        "ibm,lrdr-capacity",
        // No hot-pluggable memory: max device address 0, LMB size 256 MiB.
        &[0, 0, 0, 0x1000_0000, m.cfg.smp.maxcpus / m.cfg.smp.threads],
    )?;
    let mut calls: Vec<(String, u32)> = crate::rtas::RtasCall::all()
        .map(|c| (c.name().to_string(), c.token()))
        .chain(m.irq.rtas_calls().map(|d| (d.name.to_string(), d.token)))
        .chain(
            crate::phb::RTAS_CALLS
                .iter()
                .map(|&(n, t)| (n.to_string(), t)),
        )
        .collect();
    calls.sort_by_key(|c| c.1);
    for (name, token) in calls {
        b.property_u32(&name, token)?;
    }
    b.end_node()
}

fn event_sources(m: &Machine, b: &mut FdtBuilder) -> Result<(), FdtError> {
    let mut sources = vec![(EventClass::Epow, m.epow_irq)];
    if let Some(hp) = m.hotplug_irq {
        sources.push((EventClass::HotPlug, hp));
    }
    b.begin_node("event-sources")?;
    b.property_null("interrupt-controller")?;
    b.property_u32("#interrupt-cells", 2)?;
    let ranges: Vec<u32> = sources.iter().flat_map(|&(_, irq)| [irq, 1]).collect();
    b.property_cells("interrupt-ranges", &ranges)?;
    for (class, irq) in sources {
        b.node(class.node_name(), |b| {
            b.property_cells("interrupts", &[irq, 0])
        })?;
    }
    b.end_node()
}

/// Per-family properties QEMU 7.2 writes.
fn pa_features(family: Family) -> &'static [u8] {
    const P7: &[u8] = &[0x06, 0x00, 0xf6, 0x3f, 0xc7, 0x00, 0x80, 0xc0];
    const P8: &[u8] = &[
        0x18, 0x00, 0xf6, 0x3f, 0xc7, 0xc0, 0x80, 0xf0, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x80, 0x00, 0x80, 0x00, 0x80, 0x00, 0x00, 0x00,
    ];
    const P9: &[u8] = &[
        0x42, 0x00, 0xf6, 0x3f, 0xc7, 0xc0, 0x80, 0xf0, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x80, 0x00, 0x80, 0x00, 0x80, 0x00, 0x00, 0x00, 0x80, 0x00, 0x80, 0x00,
        0x80, 0x00, 0x80, 0x00, 0x80, 0x00, 0xc0, 0x00, 0x80, 0x00, 0x80, 0x00, 0x80, 0x00, 0x80,
        0x00, 0x80, 0x00, 0x80, 0x00, 0x80, 0x00, 0x80, 0x00, 0x80, 0x00, 0x80, 0x00, 0x80, 0x00,
        0x80, 0x00, 0x80, 0x00, 0x80, 0x00, 0x00, 0x00,
    ];
    match family {
        Family::Power7 => P7,
        Family::Power8 => P8,
        Family::Power9 | Family::Power10 => P9,
    }
}

/// Hash MMU segment and page sizes of POWER7..POWER9 (shift, SLB
/// encoding, then (page shift, encoding) pairs), cut at
/// `cap-hpt-max-page-size` as QEMU's `cpu_apply` does.
fn segment_page_sizes(max_shift: u8) -> Vec<u32> {
    /// (segment shift, SLB encoding, (page shift, encoding) pairs).
    type Segment = (u32, u32, &'static [(u32, u32)]);
    const SPS: &[Segment] = &[
        (12, 0x000, &[(12, 0x00), (24, 0x38)]),
        (16, 0x110, &[(16, 0x01), (24, 0x08)]),
        (24, 0x100, &[(24, 0x00)]),
        (34, 0x120, &[(34, 0x03)]),
    ];
    let max = u32::from(max_shift);
    let mut out = Vec::new();
    for &(seg, enc, pages) in SPS.iter().filter(|s| s.0 <= max) {
        let ok: Vec<&(u32, u32)> = pages.iter().filter(|p| p.0 <= max).collect();
        out.extend_from_slice(&[seg, enc, ok.len() as u32]);
        for p in ok {
            out.extend_from_slice(&[p.0, p.1]);
        }
    }
    out
}

fn cpu_node_name(family: Family) -> &'static str {
    match family {
        Family::Power7 => "PowerPC,POWER7",
        Family::Power8 => "PowerPC,POWER8",
        Family::Power9 => "PowerPC,POWER9",
        Family::Power10 => "PowerPC,POWER10",
    }
}

fn cpus(m: &Machine, b: &mut FdtBuilder, stage: Stage) -> Result<(), FdtError> {
    let cpu = m.cfg.cpu;
    let threads = m.cfg.smp.threads as usize;
    let compat = if stage == Stage::Cas {
        m.vcpus
            .first()
            .and_then(|s| s.cpu.try_lock().and_then(|c| c.compat()))
    } else {
        None
    };
    let version = compat.map_or(cpu.pvr, ppc_cpu::IsaLevel::logical_pvr);
    b.begin_node("cpus")?;
    b.property_u32("#address-cells", 1)?;
    b.property_u32("#size-cells", 0)?;
    for core in m.vcpus.chunks(threads) {
        let server = core[0].server;
        let name = format!("{}@{:x}", cpu_node_name(cpu.family()), server);
        b.begin_node(&name)?;
        b.property_u32("reg", server)?;
        b.property_string("device_type", "cpu")?;
        b.property_u32("cpu-version", version)?;
        for p in [
            "d-cache-block-size",
            "d-cache-line-size",
            "i-cache-block-size",
            "i-cache-line-size",
        ] {
            b.property_u32(p, 0x80)?;
        }
        b.property_u32("d-cache-size", 0x8000)?;
        b.property_u32("i-cache-size", 0x8000)?;
        b.property_u32("timebase-frequency", ppc_cpu::TIMEBASE_HZ as u32)?;
        b.property_u32("clock-frequency", 1_000_000_000)?;
        b.property_u32("slb-size", 32)?;
        b.property_u32("ibm,slb-size", 32)?;
        b.property_string("status", "okay")?;
        b.property_null("64-bit")?;
        b.property_u32("ibm,purr", 1)?;
        b.property_u32("ibm,spurr", 1)?;
        b.property_cells(
            "ibm,processor-segment-sizes",
            &[0x1c, 0x28, 0xffff_ffff, 0xffff_ffff],
        )?;
        if m.cfg.caps.is_on(CapId::Vsx) {
            b.property_u32("ibm,vmx", 2)?;
        }
        if m.cfg.caps.is_on(CapId::Dfp) {
            b.property_u32("ibm,dfp", 1)?;
        }
        b.property_cells(
            "ibm,segment-page-sizes",
            &segment_page_sizes(m.cfg.caps.get(CapId::HptMaxPageSize)),
        )?;
        b.property("ibm,pa-features", pa_features(cpu.family()))?;
        // The socket the core sits in.
        let per_socket = m.cfg.smp.cores * m.cfg.smp.threads;
        b.property_u32("ibm,chip-id", core[0].index / per_socket.max(1))?;
        b.property_cells("ibm,pft-size", &[0, 0x16])?;
        let servers: Vec<u32> = core.iter().map(|s| s.server).collect();
        b.property_cells("ibm,ppc-interrupt-server#s", &servers)?;
        let gservers: Vec<u32> = core.iter().flat_map(|s| [s.server, 0]).collect();
        b.property_cells("ibm,ppc-interrupt-gserver#s", &gservers)?;
        if cpu.radix {
            b.property_cells(
                "ibm,processor-radix-AP-encodings",
                &[0x0c, 0xa000_0010, 0x2000_0015, 0x4000_001e],
            )?;
        }
        if m.cfg.caps.is_on(CapId::LargeDecr) {
            if let Some(bits) = cpu.large_dec_bits {
                b.property_u32("ibm,dec-bits", u32::from(bits))?;
            }
        }
        b.end_node()?;
    }
    b.end_node()
}

fn vdevice(m: &Machine, b: &mut FdtBuilder) -> Result<(), FdtError> {
    b.begin_node("vdevice")?;
    b.property_string("device_type", "vdevice")?;
    b.property_string("compatible", "IBM,vdevice")?;
    b.property_u32("#address-cells", 1)?;
    b.property_u32("#size-cells", 0)?;
    b.property_u32("#interrupt-cells", 2)?;
    b.property_null("interrupt-controller")?;
    if let Some(v) = &m.vty {
        b.node(&format!("vty@{:x}", v.reg), |b| {
            b.property_u32("reg", v.reg)?;
            b.property_string("device_type", "serial")?;
            b.property_string("compatible", "hvterm1")?;
            b.property_cells("interrupts", &[v.irq, 0])
        })?;
    }
    let nv = m.nvram.lock();
    b.node(&format!("nvram@{:x}", nv.reg), |b| {
        b.property_u32("reg", nv.reg)?;
        b.property_string("device_type", "nvram")?;
        b.property_string("compatible", "qemu,spapr-nvram")?;
        b.property_cells("interrupts", &[nv.irq, 0])?;
        b.property_u32("#bytes", nv.data.len() as u32)
    })?;
    b.end_node()
}
