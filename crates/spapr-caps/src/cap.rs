//! The capability table.
//!
//! One [`CapEntry`] per `cap-*` machine property: the fifteen QEMU has
//! (master, early 2026) in QEMU's index order, then `xics` and `xive`, the
//! two interrupt-controller capabilities proposed upstream in October 2019
//! ("spapr: Remove last pieces of SpaprIrq", v4 17/19) and never merged
//! there. QEMU's proposal gave them indices 0x0A/0x0B, since taken by
//! fwnmi and rpt-invalidate; here they come after QEMU's caps (0x0F, 0x10).
//! The index is this crate's own and never travels: streams name caps.

use std::fmt;
use std::ops::{Index, IndexMut};

use crate::version::MachineVersion;

/// Number of capabilities in the table.
pub const CAP_COUNT: usize = 17;

/// A capability.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum CapId {
    /// `cap-htm`: hardware transactional memory.
    Htm = 0,
    /// `cap-vsx`: vector-scalar extensions.
    Vsx,
    /// `cap-dfp`: decimal floating point.
    Dfp,
    /// `cap-cfpc`: cache flush on privilege change (Meltdown).
    Cfpc,
    /// `cap-sbbc`: speculation barrier bounds checking (Spectre v1).
    Sbbc,
    /// `cap-ibs`: indirect branch speculation (Spectre v2).
    Ibs,
    /// `cap-hpt-max-page-size`: largest HPT page size (log2).
    HptMaxPageSize,
    /// `cap-nested-hv`: nested KVM-HV.
    NestedKvmHv,
    /// `cap-large-decr`: large decrementer.
    LargeDecr,
    /// `cap-ccf-assist`: count cache flush assist instruction.
    CcfAssist,
    /// `cap-fwnmi`: firmware-assisted NMI.
    Fwnmi,
    /// `cap-rpt-invalidate`: H_RPT_INVALIDATE.
    RptInvalidate,
    /// `cap-ail-mode-3`: alternate interrupt location mode 3.
    AilMode3,
    /// `cap-nested-papr`: nested HV through the PAPR API.
    NestedPapr,
    /// `cap-dawr1`: second data address watchpoint.
    Dawr1,
    /// `cap-xics`: the XICS interrupt controller exists.
    Xics,
    /// `cap-xive`: the XIVE interrupt controller exists.
    Xive,
}

impl CapId {
    /// Every capability, in table order (the order QEMU applies them).
    pub const ALL: [CapId; CAP_COUNT] = [
        CapId::Htm,
        CapId::Vsx,
        CapId::Dfp,
        CapId::Cfpc,
        CapId::Sbbc,
        CapId::Ibs,
        CapId::HptMaxPageSize,
        CapId::NestedKvmHv,
        CapId::LargeDecr,
        CapId::CcfAssist,
        CapId::Fwnmi,
        CapId::RptInvalidate,
        CapId::AilMode3,
        CapId::NestedPapr,
        CapId::Dawr1,
        CapId::Xics,
        CapId::Xive,
    ];

    /// Position in [`CapId::ALL`] and in a [`CapSet`].
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The table entry.
    pub fn entry(self) -> &'static CapEntry {
        &TABLE[self.index()]
    }

    /// Name without the `cap-` prefix (`hpt-max-page-size`).
    pub fn name(self) -> &'static str {
        self.entry().name
    }

    /// The machine property name (`cap-hpt-max-page-size`).
    pub fn property(self) -> String {
        format!("cap-{}", self.name())
    }

    /// The capability called `name` (without `cap-`).
    pub fn from_name(name: &str) -> Option<CapId> {
        CapId::ALL.into_iter().find(|c| c.name() == name)
    }

    /// The capability whose machine property is `property` (`cap-htm`).
    pub fn from_property(property: &str) -> Option<CapId> {
        property.strip_prefix("cap-").and_then(CapId::from_name)
    }

    /// The capability whose migration subsection is `name`
    /// (`spapr/cap/hpt_maxpagesize`).
    pub fn from_subsection(name: &str) -> Option<CapId> {
        let sname = name.strip_prefix(SUBSECTION_PREFIX)?;
        CapId::ALL.into_iter().find(|c| c.entry().sname == sname)
    }
}

impl fmt::Display for CapId {
    /// The property name, `cap-htm`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cap-{}", self.name())
    }
}

/// Prefix of a capability's migration subsection name.
pub const SUBSECTION_PREFIX: &str = "spapr/cap/";

/// The ordered values of a string capability. Later values are supersets of
/// earlier ones, so values compare numerically (QEMU relies on it for
/// migration).
#[derive(Debug, PartialEq, Eq)]
pub struct LevelSet {
    /// Level names, index = value.
    pub names: &'static [&'static str],
    /// What `cap-X=?` prints.
    pub help: &'static str,
}

/// broken / workaround / fixed (cfpc, sbbc).
pub static TRISTATE: LevelSet = LevelSet {
    names: &["broken", "workaround", "fixed"],
    help: "broken - no protection, workaround - workaround available, fixed - fixed in hardware",
};

/// The levels of `cap-ibs`.
pub static IBS_LEVELS: LevelSet = LevelSet {
    names: &["broken", "workaround", "fixed-ibs", "fixed-ccd", "fixed-na"],
    help: "broken - no protection, workaround - count cache flush, fixed-ibs - indirect branch serialisation, fixed-ccd - cache count disabled, fixed-na - fixed in hardware (no longer applicable)",
};

/// The type of a capability's value.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum CapKind {
    /// on (1) / off (0).
    Bool,
    /// One of ordered named levels, value = index.
    Levels(&'static LevelSet),
    /// A page size given in bytes (a power of 2), stored as its log2.
    PageSizeLog2,
}

impl CapKind {
    /// QOM type name shown by `-machine TYPE,help` (`bool`, `string`, `int`).
    pub const fn type_name(self) -> &'static str {
        match self {
            CapKind::Bool => "bool",
            CapKind::Levels(_) => "string",
            CapKind::PageSizeLog2 => "int",
        }
    }

    /// The largest valid value (1, number of levels - 1, or 63).
    pub fn max_value(self) -> u8 {
        match self {
            CapKind::Bool => 1,
            CapKind::Levels(l) => (l.names.len() - 1) as u8,
            CapKind::PageSizeLog2 => 63,
        }
    }
}

/// An interrupt controller whose presence a capability says.
#[derive(Debug, PartialEq, Eq, Clone, Copy, Hash)]
pub enum Controller {
    /// XICS (ICS + ICPs).
    Xics,
    /// XIVE.
    Xive,
}

impl Controller {
    /// `XICS` / `XIVE`.
    pub const fn name(self) -> &'static str {
        match self {
            Controller::Xics => "XICS",
            Controller::Xive => "XIVE",
        }
    }

    /// The capability that enables it.
    pub const fn cap(self) -> CapId {
        match self {
            Controller::Xics => CapId::Xics,
            Controller::Xive => CapId::Xive,
        }
    }
}

/// How a stream from a machine version older than the capability is judged.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Predating {
    /// QEMU's way: when the capability appeared it became a property of
    /// every machine type at once, and the defaults of the older types were
    /// set to what those versions did. So what an older version "had" is its
    /// default (with the source CPU), and older types send the cap like any
    /// other when it was set on the command line.
    VersionDefaults,
    /// Older machine types never send it (they had `ic-mode`, which is not
    /// migrated); what the source had is read from which controller's
    /// sections the stream contains.
    ControllerSections(Controller),
}

/// One capability.
#[derive(Debug, PartialEq, Eq)]
pub struct CapEntry {
    /// Which one.
    pub id: CapId,
    /// Name without `cap-`.
    pub name: &'static str,
    /// Name in the migration subsection (`spapr/cap/<sname>`).
    pub sname: &'static str,
    /// Value type.
    pub kind: CapKind,
    /// Property description (`-machine TYPE,help`).
    pub description: &'static str,
    /// The QEMU release that added it (`2.12`); for xics/xive, the release
    /// the 2019 proposal aimed at.
    pub qemu_release: &'static str,
    /// The machine version that introduced it: the first pseries version of
    /// that release. A stream from an older machine version was written
    /// without it; see [`CapEntry::predating`] for how such a stream is
    /// judged.
    pub introduced: MachineVersion,
    /// How a stream from a version older than [`CapEntry::introduced`] is
    /// judged.
    pub predating: Predating,
    /// Default on the newest machine version, before CPU adjustment.
    pub base_default: u8,
}

impl CapEntry {
    /// `spapr/cap/<sname>`.
    pub fn subsection_name(&self) -> String {
        format!("{SUBSECTION_PREFIX}{}", self.sname)
    }

    /// Whether `value` is in the capability's domain.
    pub fn is_valid(&self, value: u8) -> bool {
        value <= self.kind.max_value()
    }
}

/// The table, indexed by [`CapId::index`].
pub static TABLE: [CapEntry; CAP_COUNT] = [
    CapEntry {
        id: CapId::Htm,
        name: "htm",
        sname: "htm",
        kind: CapKind::Bool,
        description: "Allow Hardware Transactional Memory (HTM)",
        qemu_release: "2.12",
        introduced: MachineVersion::new(2, 12),
        predating: Predating::VersionDefaults,
        base_default: 0,
    },
    CapEntry {
        id: CapId::Vsx,
        name: "vsx",
        sname: "vsx",
        kind: CapKind::Bool,
        description: "Allow Vector Scalar Extensions (VSX)",
        qemu_release: "2.12",
        introduced: MachineVersion::new(2, 12),
        predating: Predating::VersionDefaults,
        base_default: 1,
    },
    CapEntry {
        id: CapId::Dfp,
        name: "dfp",
        sname: "dfp",
        kind: CapKind::Bool,
        description: "Allow Decimal Floating Point (DFP)",
        qemu_release: "2.12",
        introduced: MachineVersion::new(2, 12),
        predating: Predating::VersionDefaults,
        base_default: 1,
    },
    CapEntry {
        id: CapId::Cfpc,
        name: "cfpc",
        sname: "cfpc",
        kind: CapKind::Levels(&TRISTATE),
        description: "Cache Flush on Privilege Change (broken, workaround, fixed)",
        qemu_release: "2.12",
        introduced: MachineVersion::new(2, 12),
        predating: Predating::VersionDefaults,
        base_default: 1,
    },
    CapEntry {
        id: CapId::Sbbc,
        name: "sbbc",
        sname: "sbbc",
        kind: CapKind::Levels(&TRISTATE),
        description: "Speculation Barrier Bounds Checking (broken, workaround, fixed)",
        qemu_release: "2.12",
        introduced: MachineVersion::new(2, 12),
        predating: Predating::VersionDefaults,
        base_default: 1,
    },
    CapEntry {
        id: CapId::Ibs,
        name: "ibs",
        sname: "ibs",
        kind: CapKind::Levels(&IBS_LEVELS),
        description:
            "Indirect Branch Speculation (broken, workaround, fixed-ibs,fixed-ccd, fixed-na)",
        qemu_release: "2.12",
        introduced: MachineVersion::new(2, 12),
        predating: Predating::VersionDefaults,
        base_default: 1,
    },
    CapEntry {
        id: CapId::HptMaxPageSize,
        name: "hpt-max-page-size",
        sname: "hpt_maxpagesize",
        kind: CapKind::PageSizeLog2,
        description: "Maximum page size for Hash Page Table guests",
        qemu_release: "2.12",
        introduced: MachineVersion::new(2, 12),
        predating: Predating::VersionDefaults,
        base_default: 16,
    },
    CapEntry {
        id: CapId::NestedKvmHv,
        name: "nested-hv",
        sname: "nested_kvm_hv",
        kind: CapKind::Bool,
        description: "Allow Nested KVM-HV",
        qemu_release: "3.1",
        introduced: MachineVersion::new(3, 1),
        predating: Predating::VersionDefaults,
        base_default: 0,
    },
    CapEntry {
        id: CapId::LargeDecr,
        name: "large-decr",
        sname: "large_decr",
        kind: CapKind::Bool,
        description: "Allow Large Decrementer",
        qemu_release: "4.0",
        introduced: MachineVersion::new(4, 0),
        predating: Predating::VersionDefaults,
        base_default: 1,
    },
    CapEntry {
        id: CapId::CcfAssist,
        name: "ccf-assist",
        sname: "ccf_assist",
        kind: CapKind::Bool,
        description: "Count Cache Flush Assist via HW Instruction",
        qemu_release: "4.0",
        introduced: MachineVersion::new(4, 0),
        predating: Predating::VersionDefaults,
        base_default: 1,
    },
    CapEntry {
        id: CapId::Fwnmi,
        name: "fwnmi",
        sname: "fwnmi",
        kind: CapKind::Bool,
        description: "Implements PAPR FWNMI option",
        qemu_release: "5.0",
        introduced: MachineVersion::new(5, 0),
        predating: Predating::VersionDefaults,
        base_default: 1,
    },
    CapEntry {
        id: CapId::RptInvalidate,
        name: "rpt-invalidate",
        sname: "rpt_invalidate",
        kind: CapKind::Bool,
        description: "Allow H_RPT_INVALIDATE",
        qemu_release: "6.1",
        introduced: MachineVersion::new(6, 1),
        predating: Predating::VersionDefaults,
        base_default: 0,
    },
    CapEntry {
        id: CapId::AilMode3,
        name: "ail-mode-3",
        sname: "ail_mode_3",
        kind: CapKind::Bool,
        description: "Alternate Interrupt Location (AIL) mode 3 support",
        qemu_release: "8.1",
        introduced: MachineVersion::new(8, 1),
        predating: Predating::VersionDefaults,
        base_default: 1,
    },
    CapEntry {
        id: CapId::NestedPapr,
        name: "nested-papr",
        sname: "nested_papr",
        kind: CapKind::Bool,
        description: "Allow Nested HV (PAPR API)",
        qemu_release: "9.0",
        introduced: MachineVersion::new(9, 0),
        predating: Predating::VersionDefaults,
        base_default: 0,
    },
    CapEntry {
        id: CapId::Dawr1,
        name: "dawr1",
        sname: "dawr1",
        kind: CapKind::Bool,
        description: "Allow 2nd Data Address Watchpoint Register (DAWR1)",
        qemu_release: "10.0",
        introduced: MachineVersion::new(10, 0),
        predating: Predating::VersionDefaults,
        base_default: 1,
    },
    CapEntry {
        id: CapId::Xics,
        name: "xics",
        sname: "xics",
        kind: CapKind::Bool,
        description: "Allow XICS interrupt controller",
        qemu_release: "4.2",
        introduced: MachineVersion::new(4, 2),
        predating: Predating::ControllerSections(Controller::Xics),
        base_default: 1,
    },
    CapEntry {
        id: CapId::Xive,
        name: "xive",
        sname: "xive",
        kind: CapKind::Bool,
        description: "Allow XIVE interrupt controller",
        qemu_release: "4.2",
        introduced: MachineVersion::new(4, 2),
        predating: Predating::ControllerSections(Controller::Xive),
        base_default: 1,
    },
];

/// One value per capability (QEMU's `SpaprCapabilities`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CapSet([u8; CAP_COUNT]);

impl CapSet {
    /// Every capability at the newest machine version's default (before CPU
    /// adjustment).
    pub fn base_defaults() -> Self {
        let mut s = CapSet([0; CAP_COUNT]);
        for c in CapId::ALL {
            s[c] = c.entry().base_default;
        }
        s
    }

    /// Builds a set from raw values in table order.
    pub const fn from_array(values: [u8; CAP_COUNT]) -> Self {
        CapSet(values)
    }

    /// The raw values in table order.
    pub const fn to_array(self) -> [u8; CAP_COUNT] {
        self.0
    }

    /// Value of `cap`.
    pub fn get(&self, cap: CapId) -> u8 {
        self.0[cap.index()]
    }

    /// Whether `cap` is non-zero (on, or above its lowest level).
    pub fn is_on(&self, cap: CapId) -> bool {
        self.get(cap) != 0
    }

    /// Sets `cap`.
    pub fn set(&mut self, cap: CapId, value: u8) {
        self.0[cap.index()] = value;
    }

    /// `(cap, value)` in table order.
    pub fn iter(&self) -> impl Iterator<Item = (CapId, u8)> + '_ {
        CapId::ALL.into_iter().map(|c| (c, self.get(c)))
    }
}

impl Index<CapId> for CapSet {
    type Output = u8;
    fn index(&self, cap: CapId) -> &u8 {
        &self.0[cap.index()]
    }
}

impl IndexMut<CapId> for CapSet {
    fn index_mut(&mut self, cap: CapId) -> &mut u8 {
        &mut self.0[cap.index()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_indexed_by_id_and_names_are_unique() {
        for (i, e) in TABLE.iter().enumerate() {
            assert_eq!(e.id.index(), i);
            assert_eq!(CapId::ALL[i], e.id);
            assert_eq!(CapId::from_name(e.name), Some(e.id));
            assert_eq!(CapId::from_property(&e.id.property()), Some(e.id));
            assert_eq!(CapId::from_subsection(&e.subsection_name()), Some(e.id));
            assert!(e.is_valid(e.base_default));
        }
    }

    #[test]
    fn subsection_names_are_qemus() {
        let names: Vec<String> = CapId::ALL
            .iter()
            .map(|c| c.entry().subsection_name())
            .collect();
        assert_eq!(
            names,
            [
                "spapr/cap/htm",
                "spapr/cap/vsx",
                "spapr/cap/dfp",
                "spapr/cap/cfpc",
                "spapr/cap/sbbc",
                "spapr/cap/ibs",
                "spapr/cap/hpt_maxpagesize",
                "spapr/cap/nested_kvm_hv",
                "spapr/cap/large_decr",
                "spapr/cap/ccf_assist",
                "spapr/cap/fwnmi",
                "spapr/cap/rpt_invalidate",
                "spapr/cap/ail_mode_3",
                "spapr/cap/nested_papr",
                "spapr/cap/dawr1",
                "spapr/cap/xics",
                "spapr/cap/xive",
            ]
        );
    }

    #[test]
    fn only_xics_and_xive_are_judged_by_sections() {
        for c in CapId::ALL {
            let by_sections = matches!(c.entry().predating, Predating::ControllerSections(_));
            assert_eq!(by_sections, matches!(c, CapId::Xics | CapId::Xive), "{c}");
        }
        assert_eq!(CapId::Xics.entry().introduced, MachineVersion::new(4, 2));
        assert_eq!(CapId::Xive.entry().introduced, MachineVersion::new(4, 2));
    }
}
