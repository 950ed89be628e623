//! Errors, worded as QEMU words them.
//!
//! `Display` gives QEMU's error line (without the `qemu-system-ppc64: `
//! program prefix and without the `-machine <opts>: ` location prefix the
//! command line adds); [`CapError::hint`] gives the second line QEMU prints
//! under some of them ("Try appending -machine cap-htm=off").

use crate::cap::CapId;

/// An error about the machine's capabilities or its `-machine` options.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CapError {
    /// A string capability given a value that is not one of its levels.
    #[error("Invalid capability mode \"{value}\" for cap-{cap}")]
    InvalidMode {
        /// Capability name (`cfpc`).
        cap: &'static str,
        /// The value given.
        value: String,
    },
    /// `cap-hpt-max-page-size` given a size that is not a power of 2.
    #[error("cap-{cap} must be a power of 2")]
    NotPowerOf2 {
        /// Capability name.
        cap: &'static str,
    },
    /// A boolean capability given something other than on/off/yes/no/...
    #[error("Parameter 'cap-{cap}' expects 'on' or 'off'")]
    ExpectsOnOff {
        /// Capability name.
        cap: &'static str,
    },
    /// A page-size capability given something that is not a size.
    #[error("Parameter 'cap-{cap}' expects size")]
    ExpectsSize {
        /// Capability name.
        cap: &'static str,
    },
    /// `cap-X=?` on a string capability: QEMU answers with the help text of
    /// its levels as an error (and exits with status 1).
    #[error("{text}")]
    LevelsHelp {
        /// Capability name.
        cap: &'static str,
        /// The help text ("broken - no protection, ...").
        text: &'static str,
    },
    /// `ic-mode` given something other than xics, xive or dual
    /// (case-sensitive).
    #[error("Bad value for \"ic-mode\" property")]
    BadIcMode,
    /// `ic-mode` passed to a machine up to pseries-3.0.
    #[error("This machine only uses the legacy XICS backend, don't pass ic-mode")]
    LegacyIcMode,
    /// `ic-mode` and an explicit `cap-xics` / `cap-xive` disagree.
    #[error("ic-mode={ic_mode} conflicts with cap-{cap}={value}")]
    IcModeConflict {
        /// The ic-mode given.
        ic_mode: &'static str,
        /// The capability that disagrees (`xive`).
        cap: &'static str,
        /// Its value (`on`).
        value: &'static str,
    },
    /// `max-cpu-compat` given an unknown name.
    #[error("Invalid compatibility mode \"{0}\"")]
    InvalidCompat(String),
    /// `max-cpu-compat` above what the CPU model implements.
    #[error("Compatibility PVR 0x{0:08x} not valid for CPU")]
    CompatNotValidForCpu(u32),
    /// No such machine type.
    #[error("unsupported machine type")]
    UnknownMachine(String),
    /// A `-machine` parameter without `=` (other than the leading type).
    #[error("Expected '=' after parameter '{0}'")]
    ExpectedEquals(String),
    /// A `-machine` parameter whose name is empty or malformed.
    #[error("Invalid parameter '{0}'")]
    InvalidParameter(String),
    /// A property the machine does not have.
    #[error("Property '{type_name}-machine.{property}' not found")]
    PropertyNotFound {
        /// Machine type name (`pseries-7.2`).
        type_name: String,
        /// Property name.
        property: String,
    },
    /// A capability value the configuration cannot have (apply checks at
    /// reset, interrupt-controller checks at machine init).
    #[error("{0}")]
    Check(#[from] CheckFailure),
}

impl CapError {
    /// The line QEMU prints under the error, if any.
    pub fn hint(&self) -> Option<String> {
        match self {
            CapError::UnknownMachine(_) => {
                Some("Use -machine help to list supported machines".into())
            }
            CapError::Check(c) => c.hint(),
            _ => None,
        }
    }

    /// The capability this error is about, if it is about one.
    pub fn cap(&self) -> Option<CapId> {
        match self {
            CapError::InvalidMode { cap, .. }
            | CapError::NotPowerOf2 { cap }
            | CapError::ExpectsOnOff { cap }
            | CapError::ExpectsSize { cap }
            | CapError::LevelsHelp { cap, .. }
            | CapError::IcModeConflict { cap, .. } => CapId::from_name(cap),
            CapError::Check(c) => Some(c.cap()),
            _ => None,
        }
    }
}

/// Why a capability value cannot be provided by this CPU, accelerator or
/// machine version. Each variant's text is QEMU's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckFailure {
    /// `cap-htm=on` under TCG.
    #[error("No Transactional Memory support in TCG")]
    HtmTcg,
    /// `cap-htm=on` on a KVM without HTM.
    #[error("KVM implementation does not support Transactional Memory")]
    HtmKvm,
    /// `cap-vsx=on` on a model without VSX.
    #[error("VSX support not available")]
    VsxUnavailable,
    /// `cap-dfp=on` on a model without DFP.
    #[error("DFP support not available")]
    DfpUnavailable,
    /// `cap-cfpc` above what KVM supports.
    #[error("Requested safe cache capability level not supported by KVM")]
    CfpcKvm {
        /// KVM's level name.
        kvm_level: &'static str,
    },
    /// `cap-sbbc` above what KVM supports.
    #[error("Requested safe bounds check capability level not supported by KVM")]
    SbbcKvm {
        /// KVM's level name.
        kvm_level: &'static str,
    },
    /// `cap-ibs` above what KVM supports.
    #[error("Requested safe indirect branch capability level not supported by KVM")]
    IbsKvm {
        /// KVM's level name.
        kvm_level: &'static str,
    },
    /// `cap-hpt-max-page-size` below 4 KiB.
    #[error("Require at least 4kiB hpt-max-page-size")]
    HptTooSmall,
    /// `cap-hpt-max-page-size` above the host page size on a KVM that needs
    /// host-contiguous pages.
    #[error("Can't support {guest_kib} kiB guest pages with {host_kib} kiB host pages with this KVM implementation")]
    HptHostPages {
        /// Requested maximum guest page, KiB.
        guest_kib: u64,
        /// Host page, KiB.
        host_kib: u64,
    },
    /// `cap-nested-hv=on` on a model older than POWER9.
    #[error("Nested-HV only supported on POWER9 and later")]
    NestedHvCpu,
    /// `cap-nested-hv=on` under KVM with `max-cpu-compat` below power9.
    #[error("Nested-HV only supported on POWER9 and later")]
    NestedHvCompat,
    /// `cap-nested-hv=on` on a KVM without nested HV.
    #[error("KVM implementation does not support Nested-HV")]
    NestedHvKvm,
    /// `cap-nested-hv=on` under TCG with more than one thread per core.
    #[error("TCG does not support nested-HV with SMT")]
    NestedHvSmt,
    /// Both `cap-nested-hv` and `cap-nested-papr` on.
    #[error("Nested-HV APIs are mutually exclusive")]
    NestedApisExclusive,
    /// `cap-nested-papr=on` on a model older than POWER9.
    #[error("Nested-PAPR only supported on POWER9 and later")]
    NestedPaprCpu,
    /// `cap-nested-papr=on` under KVM.
    #[error("KVM implementation does not support Nested-PAPR")]
    NestedPaprKvm,
    /// `cap-large-decr=on` under TCG below POWER9 (compat).
    #[error("Large decrementer only supported on POWER9")]
    LargeDecrTcg,
    /// `cap-large-decr=on` on a KVM without it.
    #[error("No large decrementer support")]
    LargeDecrKvmNone,
    /// `cap-large-decr=on` with KVM's width different from the model's.
    #[error("KVM large decrementer size ({kvm}) differs to model ({model})")]
    LargeDecrKvmSize {
        /// KVM's width.
        kvm: u32,
        /// The model's width.
        model: u32,
    },
    /// `cap-ccf-assist=on` on a KVM without it (and without fixed-ccd).
    #[error("Requested count cache flush assist capability level not supported by KVM")]
    CcfAssistKvm,
    /// `cap-fwnmi=on` on a KVM without FWNMI.
    #[error("Firmware Assisted Non-Maskable Interrupts(FWNMI) not supported by KVM.")]
    FwnmiKvm,
    /// `cap-rpt-invalidate=on` under TCG.
    #[error("No H_RPT_INVALIDATE support in TCG")]
    RptInvalidateTcg,
    /// `cap-rpt-invalidate=on` under KVM with the hash MMU.
    #[error("H_RPT_INVALIDATE only supported on Radix")]
    RptInvalidateRadix,
    /// `cap-rpt-invalidate=on` on a KVM without it.
    #[error("KVM implementation does not support H_RPT_INVALIDATE")]
    RptInvalidateKvm,
    /// `cap-ail-mode-3=on` under TCG below POWER8.
    #[error("TCG only supports cap-ail-mode-3 on POWER8 and later CPUs")]
    AilMode3Tcg,
    /// `cap-ail-mode-3=on` on a KVM without it.
    #[error("KVM implementation does not support cap-ail-mode-3")]
    AilMode3Kvm,
    /// `cap-dawr1=on` below POWER10 (compat).
    #[error("DAWR1 supported only on POWER10 and later CPUs")]
    Dawr1Cpu,
    /// `cap-dawr1=on` on a KVM without DAWR1.
    #[error("DAWR1 not supported by KVM.")]
    Dawr1Kvm,
    /// Both `cap-xics` and `cap-xive` off.
    #[error("No interrupt controllers enabled, try cap-xics=on or cap-xive=on")]
    NoInterruptController,
    /// XIVE only (XICS off) below POWER9 (compat).
    #[error("XIVE-only machines require a POWER9 CPU")]
    XiveOnlyNeedsPower9,
    /// `cap-xics=off` on a machine up to pseries-3.0 (legacy XICS).
    #[error("This machine version requires XICS support")]
    LegacyNeedsXics,
    /// `cap-xive=on` on a machine up to pseries-3.0 (legacy XICS).
    #[error("This machine version cannot support XIVE")]
    LegacyCannotXive,
}

impl CheckFailure {
    /// The capability the failure is about.
    pub fn cap(&self) -> CapId {
        use CheckFailure::*;
        match self {
            HtmTcg | HtmKvm => CapId::Htm,
            VsxUnavailable => CapId::Vsx,
            DfpUnavailable => CapId::Dfp,
            CfpcKvm { .. } => CapId::Cfpc,
            SbbcKvm { .. } => CapId::Sbbc,
            IbsKvm { .. } => CapId::Ibs,
            HptTooSmall | HptHostPages { .. } => CapId::HptMaxPageSize,
            NestedHvCpu | NestedHvCompat | NestedHvKvm | NestedHvSmt => CapId::NestedKvmHv,
            NestedApisExclusive | NestedPaprCpu | NestedPaprKvm => CapId::NestedPapr,
            LargeDecrTcg | LargeDecrKvmNone | LargeDecrKvmSize { .. } => CapId::LargeDecr,
            CcfAssistKvm => CapId::CcfAssist,
            FwnmiKvm => CapId::Fwnmi,
            RptInvalidateTcg | RptInvalidateRadix | RptInvalidateKvm => CapId::RptInvalidate,
            AilMode3Tcg | AilMode3Kvm => CapId::AilMode3,
            Dawr1Cpu | Dawr1Kvm => CapId::Dawr1,
            NoInterruptController | LegacyNeedsXics => CapId::Xics,
            XiveOnlyNeedsPower9 | LegacyCannotXive => CapId::Xive,
        }
    }

    /// QEMU's hint line, if it prints one.
    pub fn hint(&self) -> Option<String> {
        use CheckFailure::*;
        let off = |cap: CapId| Some(format!("Try appending -machine cap-{}=off", cap.name()));
        match self {
            CfpcKvm { kvm_level } => Some(format!("Try appending -machine cap-cfpc={kvm_level}")),
            SbbcKvm { kvm_level } => Some(format!("Try appending -machine cap-sbbc={kvm_level}")),
            IbsKvm { kvm_level } => Some(format!("Try appending -machine cap-ibs={kvm_level}")),
            NestedHvCompat => Some("Try appending -machine max-cpu-compat=power9".into()),
            NestedHvSmt => {
                Some("Try appending -machine cap-nested-hv=off or use threads=1 with -smp".into())
            }
            NestedApisExclusive => {
                Some("Please use either cap-nested-hv or cap-nested-papr to proceed.".into())
            }
            LargeDecrTcg => Some("Try -cpu POWER9".into()),
            HptTooSmall | HptHostPages { .. } | RptInvalidateRadix => None,
            NoInterruptController | XiveOnlyNeedsPower9 | LegacyNeedsXics | LegacyCannotXive => {
                None
            }
            other => off(other.cap()),
        }
    }
}
