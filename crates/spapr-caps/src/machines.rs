//! Every pseries machine version, with what differs between them.
//!
//! Built the way QEMU's class-options chain builds them: start from the
//! newest behaviour and apply, for each older version, what that version
//! changed back. Sources: QEMU `hw/ppc/spapr.c` (a tree with every version
//! 2.1 .. 8.2, and master for 9.0 .. 11.0), checked against what a real
//! QEMU 7.2 reports for 2.1 .. 7.2 (`tests/data/qemu-7.2-caps-defaults.json`).
//!
//! Left out on purpose: QEMU's generic `hw_compat_X_Y` device properties
//! (virtio, USB, ...), which concern devices this project does not have, and
//! `pre_4_1_migration`, whose only use in QEMU is a `needed` hook for the
//! hpt-max-page-size subsection that C operator precedence turned into
//! "always sent from 4.1, never up to 4.0"; here that subsection follows
//! the same rule as every other (see [`crate::migrate`]).

use std::fmt::Write;
use std::sync::LazyLock;

use crate::cap::{CapId, CapSet};
use crate::cpu::IsaLevel;
use crate::error::CapError;
use crate::icmode::{IcMode, IcModeState};
use crate::version::MachineVersion;

/// The description every pseries type has.
pub const DESCRIPTION: &str = "pSeries Logical Partition (PAPR compliant)";

/// Every machine version, oldest first (`2.12` before `2.12-sxxm`).
pub const VERSIONS: [MachineVersion; 37] = {
    const fn v(major: u8, minor: u8) -> MachineVersion {
        MachineVersion::new(major, minor)
    }
    [
        v(2, 1),
        v(2, 2),
        v(2, 3),
        v(2, 4),
        v(2, 5),
        v(2, 6),
        v(2, 7),
        v(2, 8),
        v(2, 9),
        v(2, 10),
        v(2, 11),
        v(2, 12),
        MachineVersion::V2_12_SXXM,
        v(3, 0),
        v(3, 1),
        v(4, 0),
        v(4, 1),
        v(4, 2),
        v(5, 0),
        v(5, 1),
        v(5, 2),
        v(6, 0),
        v(6, 1),
        v(6, 2),
        v(7, 0),
        v(7, 1),
        v(7, 2),
        v(8, 0),
        v(8, 1),
        v(8, 2),
        v(9, 0),
        v(9, 1),
        v(9, 2),
        v(10, 0),
        v(10, 1),
        v(10, 2),
        v(11, 0),
    ]
};

/// How `vsmt` defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VsmtDefault {
    /// `max(8, threads per core)` (pseries-4.1 and older).
    AtLeast8,
    /// The threads per core (pseries-4.2 and newer).
    SmpThreads,
}

impl VsmtDefault {
    /// The default `vsmt` for `smp_threads` threads per core.
    pub fn value(self, smp_threads: u32) -> u32 {
        match self {
            VsmtDefault::AtLeast8 => smp_threads.max(8),
            VsmtDefault::SmpThreads => smp_threads,
        }
    }
}

/// The `resize-hpt` machine property's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResizeHpt {
    /// HPT resizing refused.
    Disabled,
    /// Offered to the guest.
    Enabled,
    /// Required (start fails without host support).
    Required,
}

impl ResizeHpt {
    /// Property value text.
    pub const fn as_str(self) -> &'static str {
        match self {
            ResizeHpt::Disabled => "disabled",
            ResizeHpt::Enabled => "enabled",
            ResizeHpt::Required => "required",
        }
    }
}

/// A device property a machine version sets on every device of a type
/// (QEMU's `GlobalProperty` compat entries, the pseries-specific ones).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompatProp {
    /// QOM type the property is set on.
    pub driver: &'static str,
    /// Property name.
    pub property: &'static str,
    /// Value.
    pub value: &'static str,
}

/// Machine-class knobs that change with the version (QEMU's
/// `SpaprMachineClass` / `MachineClass` fields the versions override).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompatFlags {
    /// Legacy IRQ allocation (≤ 3.0): sequential claims in the ICS, no
    /// fixed VIO/PHB numbers, `ic-mode` not settable.
    pub legacy_irq_allocation: bool,
    /// Register never-sent "icp/server" sections for absent CPUs so old
    /// streams load (≤ 2.9).
    pub pre_2_10_has_unused_icps: bool,
    /// The device tree may be updated at CAS (false ≤ 3.1).
    pub update_dt_enabled: bool,
    /// PHB hot-plug (false ≤ 3.1).
    pub dr_phb_enabled: bool,
    /// Memory hot-plug LMBs (false ≤ 2.4).
    pub dr_lmb_enabled: bool,
    /// Host serial/model properties copied into the tree (≤ 3.1).
    pub broken_host_serial_model: bool,
    /// Linux probes PCI itself (false ≤ 4.1).
    pub linux_pci_probe: bool,
    /// RMA limit (16 GiB ≤ 4.2).
    pub rma_limit: Option<u64>,
    /// NVDIMMs allowed (false ≤ 4.2).
    pub nvdimm_supported: bool,
    /// `-numa mem` allowed (≤ 5.0).
    pub numa_mem_supported: bool,
    /// Pre-5.1 associativity reference points (≤ 5.0).
    pub pre_5_1_assoc_refpoints: bool,
    /// Pre-5.2 NUMA associativity (≤ 5.1).
    pub pre_5_2_numa_associativity: bool,
    /// Pre-6.2 NUMA affinity (≤ 6.1).
    pub pre_6_2_numa_affinity: bool,
    /// `-smp` prefers sockets over cores (≤ 6.1).
    pub smp_prefer_sockets: bool,
    /// Default of `resize-hpt` (disabled ≤ 2.9).
    pub resize_hpt_default: ResizeHpt,
    /// Default of `modern-hotplug-events` (off ≤ 2.7).
    pub modern_hotplug_events: bool,
    /// Default of `suppress-vmdesc` (on ≤ 2.2).
    pub suppress_vmdesc: bool,
    /// CPU hot-plug (false ≤ 2.6).
    pub has_hotpluggable_cpus: bool,
    /// OHCI as default USB (≤ 2.5).
    pub use_ohci_by_default: bool,
    /// Legacy PHB window placement (≤ 2.7).
    pub legacy_phb_placement: bool,
    /// NUMA memory alignment shift (23 ≤ 2.8, else 28).
    pub numa_mem_align_shift: u32,
}

/// One machine version and everything that is version-dependent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MachineType {
    /// The version.
    pub version: MachineVersion,
    /// The type name, `pseries-4.1`.
    pub name: String,
    /// Description (`-machine help`).
    pub description: &'static str,
    /// Whether this is the default machine (the newest).
    pub is_default: bool,
    /// `pseries` for the newest.
    pub alias: Option<&'static str>,
    /// Class default caps before CPU adjustment. For hpt-max-page-size, 0
    /// means "computed at init from the accelerator" (≤ 2.12).
    default_caps: CapSet,
    /// `nr_xirqs`: 0x400 up to 3.0, 0x1000 after.
    pub nr_xirqs: u32,
    /// Default CPU type name.
    pub default_cpu: &'static str,
    /// ISA level of the default CPU model.
    pub default_cpu_isa: IsaLevel,
    /// How `vsmt` defaults.
    pub vsmt: VsmtDefault,
    /// Other knobs.
    pub flags: CompatFlags,
    /// Device properties this version sets (pseries-specific ones).
    pub compat_props: Vec<CompatProp>,
}

impl MachineType {
    /// The class default of `cap` (before CPU adjustment); `None` for
    /// hpt-max-page-size on pseries-2.12 and older, where it is computed at
    /// init from the accelerator (see [`crate::default_caps_with_cpu`]).
    pub fn class_default(&self, cap: CapId) -> Option<u8> {
        let v = self.default_caps.get(cap);
        (cap != CapId::HptMaxPageSize || v != 0).then_some(v)
    }

    pub(crate) fn class_caps(&self) -> CapSet {
        self.default_caps
    }

    /// What `ic-mode` reads with the default CPU rules before CPU
    /// adjustment: legacy (≤ 3.0), xics (3.1, 4.0), dual (≥ 4.1).
    pub fn ic_mode_default(&self) -> IcModeState {
        IcModeState::of(self.flags.legacy_irq_allocation, &self.default_caps)
            .unwrap_or(IcModeState::Mode(IcMode::Xics))
    }

    /// Whether `ic-mode` / interrupt-controller caps can be chosen (> 3.0).
    pub fn ic_mode_settable(&self) -> bool {
        !self.flags.legacy_irq_allocation
    }
}

fn build(v: MachineVersion) -> MachineType {
    let at_most = |major: u8, minor: u8| v <= MachineVersion::new(major, minor);
    let below = |major: u8, minor: u8| v < MachineVersion::new(major, minor);
    let mut caps = CapSet::base_defaults();
    let mut props = Vec::new();
    let mut prop = |driver, property, value| {
        props.push(CompatProp {
            driver,
            property,
            value,
        })
    };
    const PHB: &str = "spapr-pci-host-bridge";
    const CPU: &str = "powerpc64-cpu";

    let (default_cpu, default_cpu_isa) = if at_most(2, 7) {
        ("power7_v2.3", IsaLevel::V2_06Plus)
    } else if at_most(3, 1) {
        ("power8_v2.0", IsaLevel::V2_07)
    } else if at_most(8, 2) {
        ("power9_v2.2", IsaLevel::V3_00)
    } else {
        ("power10_v2.0", IsaLevel::V3_10)
    };
    if at_most(5, 0) {
        prop(PHB, "pre-5.1-associativity", "on");
    }
    if at_most(4, 2) {
        caps[CapId::CcfAssist] = 0;
        caps[CapId::Fwnmi] = 0;
    }
    if at_most(4, 1) {
        prop(PHB, "pgsz", "0x11000");
    }
    if at_most(4, 0) {
        caps[CapId::Xive] = 0;
    }
    if at_most(3, 1) {
        caps[CapId::Cfpc] = 0;
        caps[CapId::Sbbc] = 0;
        caps[CapId::Ibs] = 0;
        caps[CapId::LargeDecr] = 0;
    }
    if below(3, 0) {
        prop(CPU, "pre-3.0-migration", "on");
        prop("spapr-cpu-core", "pre-3.0-migration", "on");
        caps[CapId::HptMaxPageSize] = 0;
    }
    if v.is_sxxm() {
        caps[CapId::Cfpc] = 1;
        caps[CapId::Sbbc] = 1;
        caps[CapId::Ibs] = 3;
    }
    if below(2, 12) {
        caps[CapId::Htm] = 1;
    }
    if at_most(2, 9) {
        prop(CPU, "pre-2.10-migration", "on");
    }
    if at_most(2, 8) {
        prop(PHB, "pcie-extended-configuration-space", "off");
    }
    if at_most(2, 7) {
        prop(
            PHB,
            "mem_win_size",
            if at_most(2, 2) {
                "0x20000000"
            } else {
                "0xf80000000"
            },
        );
        prop(PHB, "mem64_win_size", "0");
        prop(CPU, "pre-2.8-migration", "on");
        prop(PHB, "pre-2.8-migration", "on");
    }
    if at_most(2, 6) {
        prop(PHB, "ddw", "off");
    }
    if at_most(2, 5) {
        prop("spapr-vlan", "use-rx-buffer-pools", "off");
    }
    if at_most(2, 3) {
        prop(PHB, "dynamic-reconfiguration", "off");
    }

    let legacy = at_most(3, 0);
    let flags = CompatFlags {
        legacy_irq_allocation: legacy,
        pre_2_10_has_unused_icps: at_most(2, 9),
        update_dt_enabled: !at_most(3, 1),
        dr_phb_enabled: !at_most(3, 1),
        dr_lmb_enabled: !at_most(2, 4),
        broken_host_serial_model: at_most(3, 1),
        linux_pci_probe: !at_most(4, 1),
        rma_limit: at_most(4, 2).then_some(16 << 30),
        nvdimm_supported: !at_most(4, 2),
        numa_mem_supported: at_most(5, 0),
        pre_5_1_assoc_refpoints: at_most(5, 0),
        pre_5_2_numa_associativity: at_most(5, 1),
        pre_6_2_numa_affinity: at_most(6, 1),
        smp_prefer_sockets: at_most(6, 1),
        resize_hpt_default: if at_most(2, 9) {
            ResizeHpt::Disabled
        } else {
            ResizeHpt::Enabled
        },
        modern_hotplug_events: !at_most(2, 7),
        suppress_vmdesc: at_most(2, 2),
        has_hotpluggable_cpus: !at_most(2, 6),
        use_ohci_by_default: at_most(2, 5),
        legacy_phb_placement: at_most(2, 7),
        numa_mem_align_shift: if at_most(2, 8) { 23 } else { 28 },
    };
    let latest = v == MachineVersion::LATEST;
    MachineType {
        version: v,
        name: v.to_string(),
        description: DESCRIPTION,
        is_default: latest,
        alias: latest.then_some("pseries"),
        default_caps: caps,
        nr_xirqs: if legacy { 0x400 } else { 0x1000 },
        default_cpu,
        default_cpu_isa,
        vsmt: if at_most(4, 1) {
            VsmtDefault::AtLeast8
        } else {
            VsmtDefault::SmpThreads
        },
        flags,
        compat_props: props,
    }
}

static MACHINES: LazyLock<Vec<MachineType>> =
    LazyLock::new(|| VERSIONS.iter().map(|&v| build(v)).collect());

/// Every machine type, oldest first.
pub fn machine_types() -> &'static [MachineType] {
    &MACHINES
}

/// The machine type of `version`, if it exists.
pub fn machine(version: MachineVersion) -> Option<&'static MachineType> {
    MACHINES.iter().find(|m| m.version == version)
}

/// The machine type called `name` (`pseries-4.1`, `pseries-2.12-sxxm`, or
/// the `pseries` alias); `unsupported machine type` otherwise.
pub fn machine_type(name: &str) -> Result<&'static MachineType, CapError> {
    MachineVersion::parse_type_name(name)
        .and_then(machine)
        .ok_or_else(|| CapError::UnknownMachine(name.to_string()))
}

/// The default machine (`-machine` without a type).
pub fn default_machine() -> &'static MachineType {
    machine(MachineVersion::LATEST).expect("the latest version is in the table")
}

/// The pseries lines of `-machine help`, as QEMU prints them: sorted by
/// name, `%-20s %s`, the alias on its own line just before its target, and
/// ` (default)` after the default machine.
pub fn machine_list_help() -> String {
    let mut all: Vec<&MachineType> = MACHINES.iter().collect();
    all.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out = String::from("Supported machines are:\n");
    for m in all {
        if let Some(alias) = m.alias {
            let _ = writeln!(out, "{alias:<20} {} (alias of {})", m.description, m.name);
        }
        let default = if m.is_default { " (default)" } else { "" };
        let _ = writeln!(out, "{:<20} {}{default}", m.name, m.description);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_version_is_there_once_and_in_order() {
        assert!(VERSIONS.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(machine_types().len(), VERSIONS.len());
        assert_eq!(default_machine().name, "pseries-11.0");
        assert_eq!(machine_type("pseries").unwrap().name, "pseries-11.0");
        assert_eq!(
            machine_type("pseries-2.12-sxxm").unwrap().version,
            MachineVersion::V2_12_SXXM
        );
        let e = machine_type("pseries-1.0").unwrap_err();
        assert_eq!(e.to_string(), "unsupported machine type");
        assert_eq!(
            e.hint().as_deref(),
            Some("Use -machine help to list supported machines")
        );
    }

    #[test]
    fn ic_mode_nr_xirqs_and_vsmt_per_version() {
        for m in machine_types() {
            let v = m.version;
            let expect = if v <= MachineVersion::new(3, 0) {
                "legacy"
            } else if v <= MachineVersion::new(4, 0) {
                "xics"
            } else {
                "dual"
            };
            assert_eq!(m.ic_mode_default().as_str(), expect, "{}", m.name);
            let xirqs = if v <= MachineVersion::new(3, 0) {
                0x400
            } else {
                0x1000
            };
            assert_eq!(m.nr_xirqs, xirqs, "{}", m.name);
            let vsmt = if v <= MachineVersion::new(4, 1) { 8 } else { 1 };
            assert_eq!(m.vsmt.value(1), vsmt, "{}", m.name);
        }
        assert_eq!(VsmtDefault::AtLeast8.value(16), 16);
    }

    #[test]
    fn list_looks_like_qemus() {
        let help = machine_list_help();
        assert!(help.starts_with("Supported machines are:\n"));
        assert!(help.contains("pseries-2.12-sxxm    pSeries Logical Partition (PAPR compliant)\n"));
        assert!(help.contains(
            "pseries              pSeries Logical Partition (PAPR compliant) (alias of pseries-11.0)\npseries-11.0         pSeries Logical Partition (PAPR compliant) (default)\n"
        ));
        assert_eq!(help.lines().count(), 1 + VERSIONS.len() + 1);
    }
}
