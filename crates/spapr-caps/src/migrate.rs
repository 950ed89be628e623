//! Capabilities in the migration stream, and judging an incoming stream.
//!
//! **Outgoing.** One subsection per capability, `spapr/cap/<sname>`
//! (version 1, minimum 1, one `u8`), sent when it is *needed*: the cap was
//! set on the command line (directly or through `ic-mode`) and its
//! effective value differs from the default for this version and CPU
//! (QEMU's rule). `cap-xics` / `cap-xive` are never sent by machine
//! versions older than pseries-4.2, which predate them. QEMU ≤ 8.2 had a
//! quirk for hpt-max-page-size (always sent from 4.1, never up to 4.0, an
//! accident of C precedence); it is not reproduced.
//!
//! **Incoming** ([`check_incoming`]). The destination does not guess from
//! its own defaults (QEMU's 2019 bug): for each capability the source's
//! level is
//! 1. the value in the stream, if there is one;
//! 2. else the **source** version's default with the **source** CPU;
//!
//! except for a capability judged by controller sections (xics, xive) when
//! the source version predates it: there the level is whether the stream
//! contains that controller's state (a value carried anyway, as a stream
//! header listing every effective cap would, must agree).
//!
//! xics/xive levels are checked against the controller sections the
//! stream carries. Then, as QEMU does, a source level above the
//! destination's is refused (`cap-%s higher level (%d) in incoming stream
//! than on destination (%d)`) and one below it is accepted with a warning
//! (`... lower level ...`). The function is pure: nothing is applied.

use std::fmt;

use crate::cap::{CapId, CapSet, Controller, Predating, CAP_COUNT};
use crate::cpu::{Accel, CpuInfo};
use crate::machines::{machine, MachineType};
use crate::resolve::{default_caps_with_cpu, EffectiveCaps};
use crate::version::MachineVersion;

/// Version of every `spapr/cap/*` subsection.
pub const SUBSECTION_VERSION: u32 = 1;
/// Minimum version of every `spapr/cap/*` subsection.
pub const SUBSECTION_MIN_VERSION: u32 = 1;

/// One capability subsection: its name and its one `u8` field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CapSubsection {
    /// `spapr/cap/<sname>`.
    pub name: String,
    /// The capability.
    pub cap: CapId,
    /// The effective value.
    pub value: u8,
}

impl EffectiveCaps {
    /// Whether the subsection of `cap` is sent (see the module doc).
    pub fn subsection_needed(&self, cap: CapId) -> bool {
        let entry = cap.entry();
        if matches!(entry.predating, Predating::ControllerSections(_))
            && self.machine() < entry.introduced
        {
            return false;
        }
        self.set_on_command_line(cap) && self.get(cap) != self.defaults().get(cap)
    }

    /// The capability subsections to send, in table order.
    pub fn outgoing_subsections(&self) -> Vec<CapSubsection> {
        CapId::ALL
            .into_iter()
            .filter(|&c| self.subsection_needed(c))
            .map(|cap| CapSubsection {
                name: cap.entry().subsection_name(),
                cap,
                value: self.get(cap),
            })
            .collect()
    }
}

/// Which interrupt-controller state an incoming stream contains.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ControllerSections {
    /// XICS sections (QEMU: `ics`, `icp/server`).
    pub xics: bool,
    /// XIVE sections (QEMU: `spapr-xive`, `xive-source`, `xive-tctx`).
    pub xive: bool,
}

impl ControllerSections {
    /// Whether the state of `c` is in the stream.
    pub fn has(self, c: Controller) -> bool {
        match c {
            Controller::Xics => self.xics,
            Controller::Xive => self.xive,
        }
    }
}

/// What the destination knows about the source before applying anything.
#[derive(Clone, Debug)]
pub struct IncomingCaps<'a> {
    /// The source's machine version (from the stream header).
    pub machine: MachineVersion,
    /// The source's CPU (from the stream header).
    pub cpu: &'a CpuInfo,
    /// The capability values present in the stream, by capability name
    /// (`htm`, not `cap-htm`).
    pub caps: &'a [(String, u8)],
    /// Which controller sections the stream contains.
    pub controllers: ControllerSections,
}

/// Reads capability subsections (name and value) into the `(name, value)`
/// list [`IncomingCaps::caps`] takes. Refuses unknown names and duplicates:
/// the stream is untrusted.
pub fn caps_from_subsections<'n>(
    subsections: impl IntoIterator<Item = (&'n str, u8)>,
) -> Result<Vec<(String, u8)>, Refusal> {
    let mut out: Vec<(String, u8)> = Vec::new();
    for (name, value) in subsections {
        let cap = CapId::from_subsection(name)
            .ok_or_else(|| Refusal::UnknownCapability(name.to_string()))?;
        if out.iter().any(|(n, _)| n == cap.name()) {
            return Err(Refusal::Duplicate(cap));
        }
        out.push((cap.name().to_string(), value));
    }
    Ok(out)
}

/// How the source's level of a capability was established.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Basis {
    /// It was in the stream.
    Stream,
    /// The source version's default with the source CPU.
    SourceDefault,
    /// The source predates the cap: read from the controller sections.
    ControllerSections,
}

/// A reason to refuse an incoming stream.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The source had more than the destination provides.
    #[error("cap-{} higher level ({incoming}) in incoming stream than on destination ({local})", cap.name())]
    HigherLevel {
        /// The capability.
        cap: CapId,
        /// The source's level.
        incoming: u8,
        /// The destination's level.
        local: u8,
    },
    /// A capability name the destination does not know.
    #[error("Unknown capability '{0}' in incoming stream")]
    UnknownCapability(String),
    /// The same capability twice.
    #[error("cap-{} appears twice in incoming stream", .0.name())]
    Duplicate(CapId),
    /// A value outside the capability's domain (QEMU's getter words).
    #[error("Invalid value ({value}) for cap-{}", cap.name())]
    InvalidValue {
        /// The capability.
        cap: CapId,
        /// The value.
        value: u8,
    },
    /// A cap-xics/cap-xive level that the controller sections contradict.
    #[error("cap-{} is {level} in incoming stream but the stream {} {} state", cap.name(), if *has_state { "has" } else { "has no" }, controller.name())]
    ControllerMismatch {
        /// The capability.
        cap: CapId,
        /// The controller.
        controller: Controller,
        /// The level the stream says.
        level: u8,
        /// Whether the stream has the controller's sections.
        has_state: bool,
    },
    /// No interrupt-controller state at all.
    #[error("incoming stream carries no interrupt controller state")]
    NoController,
    /// The source's machine version does not exist here.
    #[error("unsupported machine type in incoming stream: '{0}'")]
    UnknownMachine(MachineVersion),
}

/// A warning about an accepted stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MigrationWarning {
    /// The source had less than the destination provides.
    LowerLevel {
        /// The capability.
        cap: CapId,
        /// The source's level.
        incoming: u8,
        /// The destination's level.
        local: u8,
    },
    /// The destination has a controller the stream has no state for; it
    /// keeps its reset state, so interrupts the guest claimed at run time
    /// (MSIs) are unknown to it until the machine claims them again.
    ControllerFromReset(Controller),
}

impl fmt::Display for MigrationWarning {
    /// QEMU's text for lower levels (without `warning: `).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MigrationWarning::LowerLevel {
                cap,
                incoming,
                local,
            } => write!(
                f,
                "cap-{} lower level ({incoming}) in incoming stream than on destination ({local})",
                cap.name()
            ),
            MigrationWarning::ControllerFromReset(c) => write!(
                f,
                "incoming stream has no {} state; the destination's {} starts from its reset state",
                c.name(),
                c.name()
            ),
        }
    }
}

/// An accepted stream: the source's levels as judged, how, and warnings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// The source's level of every capability.
    pub source: CapSet,
    /// How each level was established (table order).
    pub basis: [Basis; CAP_COUNT],
    /// Warnings to print.
    pub warnings: Vec<MigrationWarning>,
}

/// A refused stream: every reason (QEMU reports every higher cap before
/// failing) and the warnings found on the way.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", reasons.iter().map(|r| r.to_string()).collect::<Vec<_>>().join("\n"))]
pub struct Refused {
    /// Why, in table order.
    pub reasons: Vec<Refusal>,
    /// Warnings found while judging.
    pub warnings: Vec<MigrationWarning>,
}

fn refuse(reason: Refusal) -> Refused {
    Refused {
        reasons: vec![reason],
        warnings: Vec::new(),
    }
}

/// The source's defaults: its version's, with its CPU. The accelerator
/// matters only for hpt-max-page-size on ≤ 2.12, computed from the
/// destination's accelerator as QEMU does.
fn source_defaults(src: &MachineType, cpu: &CpuInfo, accel: &Accel) -> CapSet {
    default_caps_with_cpu(src, cpu, accel)
}

/// Judges an incoming stream's capabilities against the destination's
/// effective ones (see the module doc). Pure.
pub fn check_incoming(src: &IncomingCaps<'_>, dst: &EffectiveCaps) -> Result<Accepted, Refused> {
    let src_machine =
        machine(src.machine).ok_or_else(|| refuse(Refusal::UnknownMachine(src.machine)))?;
    if !src.controllers.xics && !src.controllers.xive {
        return Err(refuse(Refusal::NoController));
    }
    let mut present: [Option<u8>; CAP_COUNT] = [None; CAP_COUNT];
    for (name, value) in src.caps {
        let cap = CapId::from_name(name)
            .ok_or_else(|| refuse(Refusal::UnknownCapability(name.clone())))?;
        if present[cap.index()].replace(*value).is_some() {
            return Err(refuse(Refusal::Duplicate(cap)));
        }
        if !cap.entry().is_valid(*value) {
            return Err(refuse(Refusal::InvalidValue { cap, value: *value }));
        }
    }
    let defaults = source_defaults(src_machine, src.cpu, &dst.context().accel);
    let mut source = CapSet::from_array([0; CAP_COUNT]);
    let mut basis = [Basis::SourceDefault; CAP_COUNT];
    let mut reasons = Vec::new();
    let mut warnings = Vec::new();
    for cap in CapId::ALL {
        let entry = cap.entry();
        let by_sections = match entry.predating {
            Predating::ControllerSections(c) => Some(c),
            Predating::VersionDefaults => None,
        };
        let predates = src.machine < entry.introduced;
        let (level, how) = match (present[cap.index()], by_sections) {
            // Judged by what the version had: its controller sections. A
            // value the stream carries anyway must agree with them (checked
            // below).
            (_, Some(c)) if predates => {
                (u8::from(src.controllers.has(c)), Basis::ControllerSections)
            }
            (Some(v), _) => (v, Basis::Stream),
            (None, _) => (defaults[cap], Basis::SourceDefault),
        };
        if let Some(c) = by_sections {
            let has_state = src.controllers.has(c);
            let said = present[cap.index()].unwrap_or(level);
            if (said != 0) != has_state {
                return Err(refuse(Refusal::ControllerMismatch {
                    cap,
                    controller: c,
                    level: said,
                    has_state,
                }));
            }
        }
        source[cap] = level;
        basis[cap.index()] = how;
        let local = dst.get(cap);
        if level > local {
            reasons.push(Refusal::HigherLevel {
                cap,
                incoming: level,
                local,
            });
        } else if level < local {
            warnings.push(MigrationWarning::LowerLevel {
                cap,
                incoming: level,
                local,
            });
            if let Some(c) = by_sections {
                warnings.push(MigrationWarning::ControllerFromReset(c));
            }
        }
    }
    if reasons.is_empty() {
        Ok(Accepted {
            source,
            basis,
            warnings,
        })
    } else {
        Err(Refused { reasons, warnings })
    }
}

/// QEMU's machine-type check on load: the stream's machine type name must
/// be the local one (`pseries` is an alias, so compare resolved versions).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("Machine type received is '{received}' and local is '{local}'")]
pub struct MachineTypeMismatch {
    /// The name in the stream.
    pub received: String,
    /// The local type name.
    pub local: String,
}

/// Checks the stream's machine type name against the local machine.
pub fn check_machine_type(received: &str, local: &MachineType) -> Result<(), MachineTypeMismatch> {
    if MachineVersion::parse_type_name(received) == Some(local.version) {
        Ok(())
    } else {
        Err(MachineTypeMismatch {
            received: received.to_string(),
            local: local.name.clone(),
        })
    }
}
