//! Apply checks: can this CPU and accelerator provide each effective value?
//!
//! QEMU runs them at every machine reset, in table order, and stops at the
//! first failure (after printing the warnings of the caps before it). The
//! checks here are pure: enabling a KVM capability is the machine's job,
//! and so are its failures ("Error enabling cap-nested-hv with KVM").

use std::fmt;

use crate::cap::{CapId, CapKind, CapSet};
use crate::cpu::{Accel, IsaLevel};
use crate::error::{CapError, CheckFailure};
use crate::resolve::{check_intc, CapContext, EffectiveCaps};
use crate::value::format_value;

/// A warning QEMU prints while applying the capabilities.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CapWarning {
    /// TCG accepts the value but does not implement it
    /// (`TCG doesn't support requested feature, cap-cfpc=workaround`).
    TcgUnsupported {
        /// The capability.
        cap: CapId,
        /// Its value, printed.
        value: String,
    },
    /// `Many guests require at least 64kiB hpt-max-page-size`.
    SmallHptPageSize,
}

impl CapWarning {
    /// The capability warned about.
    pub fn cap(&self) -> CapId {
        match self {
            CapWarning::TcgUnsupported { cap, .. } => *cap,
            CapWarning::SmallHptPageSize => CapId::HptMaxPageSize,
        }
    }
}

impl fmt::Display for CapWarning {
    /// QEMU's text, without the `warning: ` prefix.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CapWarning::TcgUnsupported { cap, value } => {
                write!(f, "TCG doesn't support requested feature, {cap}={value}")
            }
            CapWarning::SmallHptPageSize => {
                f.write_str("Many guests require at least 64kiB hpt-max-page-size")
            }
        }
    }
}

/// A failed apply: the failure and the warnings printed before it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{error}")]
pub struct ApplyFailure {
    /// Warnings of the capabilities checked before the failing one.
    pub warnings: Vec<CapWarning>,
    /// The failure.
    pub error: CapError,
}

/// What a single check concluded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckOutcome {
    /// Fine.
    Ok,
    /// Accepted with a warning.
    Warn(CapWarning),
    /// Refused.
    Fail(CheckFailure),
}

fn kvm_level_name(cap: CapId, level: u8) -> &'static str {
    match cap.entry().kind {
        CapKind::Levels(l) => l.names.get(usize::from(level)).copied().unwrap_or("broken"),
        _ => "off",
    }
}

/// Checks one capability at `value`, given the other effective values
/// `caps` (nested-papr looks at nested-hv), the machine's legacy flag and
/// the context.
pub fn check_cap(
    cap: CapId,
    value: u8,
    caps: &CapSet,
    legacy: bool,
    ctx: &CapContext,
) -> CheckOutcome {
    use CheckFailure as F;
    use CheckOutcome::{Fail, Ok as Fine, Warn};
    let cpu = &ctx.cpu;
    let kvm = match &ctx.accel {
        Accel::Kvm(k) => Some(k),
        Accel::Tcg => None,
    };
    let tcg_warning = || {
        Warn(CapWarning::TcgUnsupported {
            cap,
            value: format_value(cap, value),
        })
    };
    // Speculation caps: TCG warns; KVM refuses a level above its own.
    let levels = |kvm_level: fn(&crate::cpu::KvmCaps) -> u8, fail: fn(&'static str) -> F| match kvm
    {
        None if value != 0 => tcg_warning(),
        Some(k) if value > kvm_level(k) => Fail(fail(kvm_level_name(cap, kvm_level(k)))),
        _ => Fine,
    };
    match cap {
        CapId::Htm if value != 0 => match kvm {
            None => Fail(F::HtmTcg),
            Some(k) if !k.htm => Fail(F::HtmKvm),
            _ => Fine,
        },
        CapId::Vsx if value != 0 && !cpu.has_isa(IsaLevel::V2_06) => Fail(F::VsxUnavailable),
        CapId::Dfp if value != 0 && !cpu.has_isa(IsaLevel::V2_06) => Fail(F::DfpUnavailable),
        CapId::Cfpc => levels(|k| k.safe_cache, |kvm_level| F::CfpcKvm { kvm_level }),
        CapId::Sbbc => levels(
            |k| k.safe_bounds_check,
            |kvm_level| F::SbbcKvm { kvm_level },
        ),
        CapId::Ibs => levels(
            |k| k.safe_indirect_branch,
            |kvm_level| F::IbsKvm { kvm_level },
        ),
        CapId::HptMaxPageSize => {
            if value < 12 {
                return Fail(F::HptTooSmall);
            }
            if let Some(k) = kvm {
                if k.hpt_needs_host_contiguous_pages && value > k.min_ram_page_shift {
                    return Fail(F::HptHostPages {
                        guest_kib: (1u64 << value.min(63)) >> 10,
                        host_kib: (1u64 << k.min_ram_page_shift.min(63)) >> 10,
                    });
                }
            }
            if value < 16 {
                Warn(CapWarning::SmallHptPageSize)
            } else {
                Fine
            }
        }
        CapId::NestedKvmHv if value != 0 => {
            if !cpu.has_isa(IsaLevel::V3_00) {
                return Fail(F::NestedHvCpu);
            }
            match kvm {
                Some(_) if !cpu.check_compat(IsaLevel::V3_00) => Fail(F::NestedHvCompat),
                Some(k) if !k.nested_kvm_hv => Fail(F::NestedHvKvm),
                None if ctx.smp_threads > 1 => Fail(F::NestedHvSmt),
                _ => Fine,
            }
        }
        CapId::LargeDecr if value != 0 => match kvm {
            None if !cpu.check_compat(IsaLevel::V3_00) => Fail(F::LargeDecrTcg),
            Some(k) if k.large_decr_bits == 0 => Fail(F::LargeDecrKvmNone),
            Some(k) if k.large_decr_bits != cpu.large_decr_bits => Fail(F::LargeDecrKvmSize {
                kvm: k.large_decr_bits,
                model: cpu.large_decr_bits,
            }),
            _ => Fine,
        },
        CapId::CcfAssist if value != 0 => match kvm {
            None => tcg_warning(),
            // Without the assist the instruction is a no-op, harmless when
            // the host has the count cache disabled (ibs fixed-ccd = 3).
            Some(k) if !k.count_cache_flush_assist && k.safe_indirect_branch != 3 => {
                Fail(F::CcfAssistKvm)
            }
            _ => Fine,
        },
        CapId::Fwnmi if value != 0 => match kvm {
            Some(k) if !k.fwnmi => Fail(F::FwnmiKvm),
            _ => Fine,
        },
        CapId::RptInvalidate if value != 0 => match kvm {
            None => Fail(F::RptInvalidateTcg),
            Some(k) if !k.mmu_radix => Fail(F::RptInvalidateRadix),
            Some(k) if !k.rpt_invalidate => Fail(F::RptInvalidateKvm),
            _ => Fine,
        },
        CapId::AilMode3 if value != 0 => match kvm {
            None if !cpu.has_isa(IsaLevel::V2_07) => Fail(F::AilMode3Tcg),
            Some(k) if !k.ail_mode_3 => Fail(F::AilMode3Kvm),
            _ => Fine,
        },
        CapId::NestedPapr if value != 0 => match kvm {
            None if !cpu.has_isa(IsaLevel::V3_00) => Fail(F::NestedPaprCpu),
            None if caps.is_on(CapId::NestedKvmHv) => Fail(F::NestedApisExclusive),
            Some(_) => Fail(F::NestedPaprKvm),
            _ => Fine,
        },
        CapId::Dawr1 if value != 0 => {
            if !cpu.check_compat(IsaLevel::V3_10) {
                return Fail(F::Dawr1Cpu);
            }
            match kvm {
                Some(k) if !k.dawr1 => Fail(F::Dawr1Kvm),
                _ => Fine,
            }
        }
        CapId::Xics | CapId::Xive => {
            let mut c = *caps;
            c[cap] = value;
            match check_intc(legacy, cpu, &c) {
                Err(e) if e.cap() == cap => Fail(e),
                Ok(xive) if cap == CapId::Xive && xive != value => Fail(F::XiveOnlyNeedsPower9),
                _ => Fine,
            }
        }
        _ => Fine,
    }
}

impl EffectiveCaps {
    /// Runs every capability's apply check in table order (QEMU's
    /// `spapr_caps_apply`, at each machine reset): the warnings, or the
    /// first failure with the warnings printed before it.
    pub fn apply_checks(&self) -> Result<Vec<CapWarning>, ApplyFailure> {
        let caps = self.values();
        let mut warnings = Vec::new();
        for cap in CapId::ALL {
            match check_cap(cap, caps[cap], &caps, self.is_legacy(), self.context()) {
                CheckOutcome::Ok => {}
                CheckOutcome::Warn(w) => warnings.push(w),
                CheckOutcome::Fail(f) => {
                    return Err(ApplyFailure {
                        warnings,
                        error: f.into(),
                    })
                }
            }
        }
        Ok(warnings)
    }
}
