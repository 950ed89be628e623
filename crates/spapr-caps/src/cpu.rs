//! What the capabilities need to know about the vCPU and the accelerator.
//!
//! This crate does not depend on the CPU model crate: the machine maps its
//! CPU model (and `max-cpu-compat`) to a [`CpuInfo`], and its accelerator to
//! an [`Accel`].

use std::fmt;

use crate::error::CapError;

/// A Power ISA compatibility level, the way QEMU's `ppc_check_compat`
/// orders them (logical PVRs 0x0f000002 .. 0x0f000006, with 2.06+ between
/// 2.06 and 2.07).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IsaLevel {
    /// ISA 2.05 (POWER6 compat mode), and every model older than POWER7
    /// (970, POWER5+): none of the 2.06+ features.
    V2_05,
    /// ISA 2.06 (`max-cpu-compat=power7`).
    V2_06,
    /// ISA 2.06+ (`max-cpu-compat=power7+`). A POWER7 *model* reaches this
    /// level: its PCR covers 2.06 and 2.06+ alike.
    V2_06Plus,
    /// ISA 2.07 (POWER8).
    V2_07,
    /// ISA 3.00 (POWER9).
    V3_00,
    /// ISA 3.10 (POWER10).
    V3_10,
}

impl IsaLevel {
    /// Every level, oldest first.
    pub const ALL: [IsaLevel; 6] = [
        IsaLevel::V2_05,
        IsaLevel::V2_06,
        IsaLevel::V2_06Plus,
        IsaLevel::V2_07,
        IsaLevel::V3_00,
        IsaLevel::V3_10,
    ];

    /// The `max-cpu-compat` value naming this level (`power8`).
    pub const fn compat_name(self) -> &'static str {
        match self {
            IsaLevel::V2_05 => "power6",
            IsaLevel::V2_06 => "power7",
            IsaLevel::V2_06Plus => "power7+",
            IsaLevel::V2_07 => "power8",
            IsaLevel::V3_00 => "power9",
            IsaLevel::V3_10 => "power10",
        }
    }

    /// The ISA version text (`3.00`).
    pub const fn isa_str(self) -> &'static str {
        match self {
            IsaLevel::V2_05 => "2.05",
            IsaLevel::V2_06 => "2.06",
            IsaLevel::V2_06Plus => "2.06+",
            IsaLevel::V2_07 => "2.07",
            IsaLevel::V3_00 => "3.00",
            IsaLevel::V3_10 => "3.10",
        }
    }

    /// The logical PVR of this compatibility mode (what `cpu-version` holds
    /// in the device tree of a compat-mode guest).
    pub const fn logical_pvr(self) -> u32 {
        match self {
            IsaLevel::V2_05 => 0x0f00_0002,
            IsaLevel::V2_06 => 0x0f00_0003,
            IsaLevel::V2_06Plus => 0x1f00_0003,
            IsaLevel::V2_07 => 0x0f00_0004,
            IsaLevel::V3_00 => 0x0f00_0005,
            IsaLevel::V3_10 => 0x0f00_0006,
        }
    }

    /// Parses a `max-cpu-compat` value. The empty string means "no limit"
    /// (`Ok(None)`); names are case-sensitive as in QEMU; anything else is
    /// `Invalid compatibility mode "%s"`.
    pub fn parse_max_cpu_compat(value: &str) -> Result<Option<IsaLevel>, CapError> {
        if value.is_empty() {
            return Ok(None);
        }
        IsaLevel::ALL
            .into_iter()
            .find(|l| l.compat_name() == value)
            .map(Some)
            .ok_or_else(|| CapError::InvalidCompat(value.to_string()))
    }
}

impl fmt::Display for IsaLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.isa_str())
    }
}

/// The vCPU as the capabilities see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CpuInfo {
    /// The CPU type name (`power9_v2.2`), for messages and the stream header.
    pub model: String,
    /// The highest ISA level the model itself implements: what its
    /// instructions can do (QEMU's `insns_flags2` tests: VSX and DFP from
    /// 2.06, ISA 2.07 features, ISA 3.00).
    pub isa: IsaLevel,
    /// `max-cpu-compat`, when set: the guest is limited to this level.
    pub max_compat: Option<IsaLevel>,
    /// Width of the model's large decrementer in bits (0 if it has none);
    /// compared with KVM's for `cap-large-decr`.
    pub large_decr_bits: u32,
}

impl CpuInfo {
    /// A model of the given ISA level, with no `max-cpu-compat` and the large
    /// decrementer width of that generation (56 bits from ISA 3.00).
    pub fn new(model: impl Into<String>, isa: IsaLevel) -> Self {
        CpuInfo {
            model: model.into(),
            isa,
            max_compat: None,
            large_decr_bits: if isa >= IsaLevel::V3_00 { 56 } else { 0 },
        }
    }

    /// QEMU's `power7_v2.3` (`-cpu POWER7`).
    pub fn power7() -> Self {
        Self::new("power7_v2.3", IsaLevel::V2_06Plus)
    }

    /// QEMU's `power8_v2.0` (`-cpu POWER8`).
    pub fn power8() -> Self {
        Self::new("power8_v2.0", IsaLevel::V2_07)
    }

    /// QEMU's `power9_v2.2` (`-cpu POWER9` since QEMU 8.1).
    pub fn power9() -> Self {
        Self::new("power9_v2.2", IsaLevel::V3_00)
    }

    /// QEMU's `power10_v2.0` (`-cpu POWER10`).
    pub fn power10() -> Self {
        Self::new("power10_v2.0", IsaLevel::V3_10)
    }

    /// Sets `max-cpu-compat`. A level above what the model implements is
    /// refused the way QEMU refuses it:
    /// `Compatibility PVR 0x%08x not valid for CPU`.
    pub fn with_max_compat(mut self, max_compat: Option<IsaLevel>) -> Result<Self, CapError> {
        if let Some(level) = max_compat {
            if level > self.isa {
                return Err(CapError::CompatNotValidForCpu(level.logical_pvr()));
            }
        }
        self.max_compat = max_compat;
        Ok(self)
    }

    /// The level the guest runs at: the model's, capped by `max-cpu-compat`.
    pub fn compat_level(&self) -> IsaLevel {
        match self.max_compat {
            Some(max) => max.min(self.isa),
            None => self.isa,
        }
    }

    /// QEMU's `ppc_check_compat(cpu, level, 0, max_compat)`: can the guest
    /// run at `level` (the model supports it and `max-cpu-compat` allows it)?
    pub fn check_compat(&self, level: IsaLevel) -> bool {
        level <= self.compat_level()
    }

    /// Whether the model's instructions include those of `level`, whatever
    /// `max-cpu-compat` says.
    pub fn has_isa(&self, level: IsaLevel) -> bool {
        level <= self.isa
    }
}

/// The accelerator, with what it can provide.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Accel {
    /// The emulator (this project's interpreter; QEMU's TCG).
    #[default]
    Tcg,
    /// KVM, with what the host kernel reported.
    Kvm(KvmCaps),
}

impl Accel {
    /// `tcg` or `kvm`.
    pub fn name(&self) -> &'static str {
        match self {
            Accel::Tcg => "tcg",
            Accel::Kvm(_) => "kvm",
        }
    }
}

/// What a KVM host supports, as far as the capabilities are concerned (what
/// QEMU asks with `kvmppc_get_cap_*` / `kvmppc_has_cap_*`). `Default` is a
/// KVM that supports none of it.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct KvmCaps {
    /// Hardware transactional memory available to guests.
    pub htm: bool,
    /// Highest `cap-cfpc` level (index into broken/workaround/fixed).
    pub safe_cache: u8,
    /// Highest `cap-sbbc` level (index into broken/workaround/fixed).
    pub safe_bounds_check: u8,
    /// Highest `cap-ibs` level, as an index into
    /// broken/workaround/fixed-ibs/fixed-ccd/fixed-na. (QEMU's internal
    /// `SPAPR_CAP_FIXED_NA` is 0x10, not the index 4; the machine converts.)
    pub safe_indirect_branch: u8,
    /// Nested KVM-HV supported.
    pub nested_kvm_hv: bool,
    /// Width of KVM's large decrementer (0: none).
    pub large_decr_bits: u32,
    /// Count cache flush assist available.
    pub count_cache_flush_assist: bool,
    /// FWNMI supported.
    pub fwnmi: bool,
    /// The guest runs with the radix MMU.
    pub mmu_radix: bool,
    /// H_RPT_INVALIDATE supported.
    pub rpt_invalidate: bool,
    /// AIL mode 3 supported.
    pub ail_mode_3: bool,
    /// DAWR1 supported.
    pub dawr1: bool,
    /// The HPT MMU needs guest pages backed by host-contiguous pages (KVM-HV
    /// on POWER8 and older).
    pub hpt_needs_host_contiguous_pages: bool,
    /// log2 of the smallest host page backing guest RAM.
    pub min_ram_page_shift: u8,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compat_names_round_trip_and_reject_like_qemu() {
        for l in IsaLevel::ALL {
            assert_eq!(
                IsaLevel::parse_max_cpu_compat(l.compat_name()).unwrap(),
                Some(l)
            );
        }
        assert_eq!(IsaLevel::parse_max_cpu_compat("").unwrap(), None);
        for bad in ["bogus", "POWER8", "power5+", "power11"] {
            let e = IsaLevel::parse_max_cpu_compat(bad).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!("Invalid compatibility mode \"{bad}\"")
            );
        }
    }

    #[test]
    fn compat_above_the_model_is_refused() {
        let e = CpuInfo::power9()
            .with_max_compat(Some(IsaLevel::V3_10))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "Compatibility PVR 0x0f000006 not valid for CPU"
        );
        let p9 = CpuInfo::power9()
            .with_max_compat(Some(IsaLevel::V2_06))
            .unwrap();
        assert_eq!(p9.compat_level(), IsaLevel::V2_06);
        assert!(!p9.check_compat(IsaLevel::V2_06Plus));
        assert!(p9.has_isa(IsaLevel::V3_00));
    }

    #[test]
    fn power7_model_passes_the_2_06_plus_check() {
        // QEMU: the 2.06+ compat level has the PCR level of 2.06, which a
        // POWER7 model supports, so cap-sbbc keeps its default there.
        assert!(CpuInfo::power7().check_compat(IsaLevel::V2_06Plus));
        assert!(!CpuInfo::power7().check_compat(IsaLevel::V2_07));
    }
}
