//! CPU models: PVRs, ISA levels, compatibility modes and what each model
//! lacks.
//!
//! The names, PVRs and alias rules follow QEMU's `-cpu` list for the
//! pseries-capable server models (QEMU 7.2 plus `power9_v2.2`). Lookup is
//! case-insensitive, as QEMU's is. Compatibility modes are the "logical
//! PVRs" a pseries guest negotiates at CAS and that `max-cpu-compat` names.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The Power ISA level a model (or compatibility mode) implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum IsaLevel {
    /// ISA 2.05 (POWER6); only as a compatibility mode.
    V2_05,
    /// ISA 2.06 (POWER7).
    V2_06,
    /// ISA 2.06+ (POWER7+).
    V2_06Plus,
    /// ISA 2.07 (POWER8).
    V2_07,
    /// ISA 3.00 (POWER9).
    V3_00,
    /// ISA 3.10 (POWER10).
    V3_10,
}

impl IsaLevel {
    /// The logical PVR that stands for this level in CAS and in the
    /// device tree's `cpu-version` of a compat-mode CPU.
    pub const fn logical_pvr(self) -> u32 {
        match self {
            IsaLevel::V2_05 => 0x0f00_0002,
            IsaLevel::V2_06 => 0x0f00_0003,
            IsaLevel::V2_06Plus => 0x0f10_0003,
            IsaLevel::V2_07 => 0x0f00_0004,
            IsaLevel::V3_00 => 0x0f00_0005,
            IsaLevel::V3_10 => 0x0f00_0006,
        }
    }

    /// The level a logical PVR stands for, if it is one.
    pub fn from_logical_pvr(pvr: u32) -> Option<IsaLevel> {
        ALL_LEVELS.iter().copied().find(|l| l.logical_pvr() == pvr)
    }

    /// The `max-cpu-compat` name of this level (QEMU's compat table).
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

    /// Parses a `max-cpu-compat` value (case-insensitive, as QEMU).
    pub fn from_compat_name(name: &str) -> Option<IsaLevel> {
        ALL_LEVELS
            .iter()
            .copied()
            .find(|l| l.compat_name().eq_ignore_ascii_case(name))
    }

    /// The version text ("2.07", "3.00" ...).
    pub const fn version(self) -> &'static str {
        match self {
            IsaLevel::V2_05 => "2.05",
            IsaLevel::V2_06 => "2.06",
            IsaLevel::V2_06Plus => "2.06+",
            IsaLevel::V2_07 => "2.07",
            IsaLevel::V3_00 => "3.00",
            IsaLevel::V3_10 => "3.10",
        }
    }
}

impl fmt::Display for IsaLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ISA {}", self.version())
    }
}

const ALL_LEVELS: [IsaLevel; 6] = [
    IsaLevel::V2_05,
    IsaLevel::V2_06,
    IsaLevel::V2_06Plus,
    IsaLevel::V2_07,
    IsaLevel::V3_00,
    IsaLevel::V3_10,
];

/// The processor family of a model; decides the SPR set and the features.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Family {
    /// POWER7 and POWER7+.
    Power7,
    /// POWER8, POWER8E, POWER8NVL.
    Power8,
    /// POWER9.
    Power9,
    /// POWER10.
    Power10,
}

/// One CPU model the `-cpu` option can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuModel {
    /// QEMU's model name (`power9_v2.0`).
    pub name: &'static str,
    /// Human description (`POWER9 v2.0`).
    pub description: &'static str,
    /// The processor version register.
    pub pvr: u32,
    /// The PVR mask used to match a host or guest PVR to this family.
    pub pvr_mask: u32,
    /// Family (SPR set, features).
    pub family: Family,
    /// Native ISA level.
    pub isa: IsaLevel,
    /// The oldest compatibility mode the model can run in.
    pub min_compat: IsaLevel,
    /// Radix MMU available (ISA 3.0+).
    pub radix: bool,
    /// Hash MMU available in the architecture (not emulated by this crate).
    pub hash: bool,
    /// Page sizes (log2) the model's MMU offers.
    pub page_shifts: &'static [u8],
    /// Hardware transactional memory in the architecture (never emulated).
    pub htm: bool,
    /// Large decrementer available (`LPCR[LD]`); its width in bits.
    pub large_dec_bits: Option<u8>,
    /// Prefixed instructions (ISA 3.1).
    pub prefixed: bool,
    /// Threads per core the model supports.
    pub max_threads: u32,
}

const P7_PAGES: &[u8] = &[12, 16, 24, 34];
const P9_PAGES: &[u8] = &[12, 16, 21, 30];

/// Every model this crate implements, in QEMU's listing order.
pub const MODELS: &[CpuModel] = &[
    CpuModel {
        name: "power7_v2.3",
        description: "POWER7 v2.3",
        pvr: 0x003f_0203,
        pvr_mask: 0xffff_0000,
        family: Family::Power7,
        isa: IsaLevel::V2_06,
        min_compat: IsaLevel::V2_05,
        radix: false,
        hash: true,
        page_shifts: P7_PAGES,
        htm: false,
        large_dec_bits: None,
        prefixed: false,
        max_threads: 4,
    },
    CpuModel {
        name: "power7+_v2.1",
        description: "POWER7+ v2.1",
        pvr: 0x004a_0201,
        pvr_mask: 0xffff_0000,
        family: Family::Power7,
        isa: IsaLevel::V2_06Plus,
        min_compat: IsaLevel::V2_05,
        radix: false,
        hash: true,
        page_shifts: P7_PAGES,
        htm: false,
        large_dec_bits: None,
        prefixed: false,
        max_threads: 4,
    },
    CpuModel {
        name: "power8e_v2.1",
        description: "POWER8E v2.1",
        pvr: 0x004b_0201,
        pvr_mask: 0xffff_0000,
        family: Family::Power8,
        isa: IsaLevel::V2_07,
        min_compat: IsaLevel::V2_05,
        radix: false,
        hash: true,
        page_shifts: P7_PAGES,
        htm: true,
        large_dec_bits: None,
        prefixed: false,
        max_threads: 8,
    },
    CpuModel {
        name: "power8nvl_v1.0",
        description: "POWER8NVL v1.0",
        pvr: 0x004c_0100,
        pvr_mask: 0xffff_0000,
        family: Family::Power8,
        isa: IsaLevel::V2_07,
        min_compat: IsaLevel::V2_05,
        radix: false,
        hash: true,
        page_shifts: P7_PAGES,
        htm: true,
        large_dec_bits: None,
        prefixed: false,
        max_threads: 8,
    },
    CpuModel {
        name: "power8_v2.0",
        description: "POWER8 v2.0",
        pvr: 0x004d_0200,
        pvr_mask: 0xffff_0000,
        family: Family::Power8,
        isa: IsaLevel::V2_07,
        min_compat: IsaLevel::V2_05,
        radix: false,
        hash: true,
        page_shifts: P7_PAGES,
        htm: true,
        large_dec_bits: None,
        prefixed: false,
        max_threads: 8,
    },
    CpuModel {
        name: "power9_v2.0",
        description: "POWER9 v2.0",
        pvr: 0x004e_1200,
        pvr_mask: 0xffff_0000,
        family: Family::Power9,
        isa: IsaLevel::V3_00,
        min_compat: IsaLevel::V2_05,
        radix: true,
        hash: true,
        page_shifts: P9_PAGES,
        htm: true,
        large_dec_bits: Some(56),
        prefixed: false,
        max_threads: 4,
    },
    CpuModel {
        name: "power9_v2.2",
        description: "POWER9 v2.2",
        pvr: 0x004e_1202,
        pvr_mask: 0xffff_0000,
        family: Family::Power9,
        isa: IsaLevel::V3_00,
        min_compat: IsaLevel::V2_05,
        radix: true,
        hash: true,
        page_shifts: P9_PAGES,
        htm: true,
        large_dec_bits: Some(56),
        prefixed: false,
        max_threads: 4,
    },
    CpuModel {
        name: "power10_v1.0",
        description: "POWER10 v1.0",
        pvr: 0x0080_0100,
        pvr_mask: 0xffff_0000,
        family: Family::Power10,
        isa: IsaLevel::V3_10,
        min_compat: IsaLevel::V2_05,
        radix: true,
        hash: true,
        page_shifts: P9_PAGES,
        htm: false,
        large_dec_bits: Some(56),
        prefixed: true,
        max_threads: 8,
    },
    CpuModel {
        name: "power10_v2.0",
        description: "POWER10 v2.0",
        pvr: 0x0080_0200,
        pvr_mask: 0xffff_0000,
        family: Family::Power10,
        isa: IsaLevel::V3_10,
        min_compat: IsaLevel::V2_05,
        radix: true,
        hash: true,
        page_shifts: P9_PAGES,
        htm: false,
        large_dec_bits: Some(56),
        prefixed: true,
        max_threads: 8,
    },
];

/// Aliases, QEMU style: (alias, model name).
pub const ALIASES: &[(&str, &str)] = &[
    ("power7", "power7_v2.3"),
    ("power7+", "power7+_v2.1"),
    ("power8e", "power8e_v2.1"),
    ("power8nvl", "power8nvl_v1.0"),
    ("power8", "power8_v2.0"),
    ("power9", "power9_v2.0"),
    ("power10", "power10_v2.0"),
];

/// The error for an unknown `-cpu` name, worded as QEMU words it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unable to find CPU model '{0}'")]
pub struct UnknownCpuModel(pub String);

/// The error for a compatibility mode the model cannot run in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompatError {
    /// The name is no known compat mode.
    #[error("Invalid compatibility mode \"{0}\"")]
    UnknownMode(String),
    /// The mode is newer than the CPU or older than it supports.
    #[error("CPU model {model} is not compatible with {mode}")]
    Unsupported {
        /// The CPU model name.
        model: &'static str,
        /// The requested mode name.
        mode: &'static str,
    },
}

impl CpuModel {
    /// Looks a model up by name or alias, case-insensitively (`POWER9`,
    /// `power9_v2.0`, `Power10`).
    pub fn by_name(name: &str) -> Result<&'static CpuModel, UnknownCpuModel> {
        let lower = name.to_ascii_lowercase();
        let target = ALIASES
            .iter()
            .find(|(a, _)| *a == lower)
            .map(|(_, m)| *m)
            .unwrap_or(lower.as_str());
        MODELS
            .iter()
            .find(|m| m.name == target)
            .ok_or_else(|| UnknownCpuModel(name.to_string()))
    }

    /// The model whose PVR is exactly `pvr`, if any.
    pub fn by_pvr(pvr: u32) -> Option<&'static CpuModel> {
        MODELS.iter().find(|m| m.pvr == pvr)
    }

    /// Whether the model can run in compatibility mode `level`.
    pub fn supports_compat(&self, level: IsaLevel) -> bool {
        level >= self.min_compat && level <= self.isa
    }

    /// Checks a `max-cpu-compat` value against this model.
    pub fn check_compat(&self, name: &str) -> Result<IsaLevel, CompatError> {
        let level = IsaLevel::from_compat_name(name)
            .ok_or_else(|| CompatError::UnknownMode(name.to_string()))?;
        if self.supports_compat(level) {
            Ok(level)
        } else {
            Err(CompatError::Unsupported {
                model: self.name,
                mode: level.compat_name(),
            })
        }
    }

    /// Whether a guest-offered PVR (from CAS option vector 1: a value and
    /// mask pair) matches this model's real PVR.
    pub fn matches_pvr(&self, pvr: u32, mask: u32) -> bool {
        (self.pvr & mask) == (pvr & mask)
    }

    /// CAS PVR negotiation: given the (PVR, mask) pairs the guest lists and
    /// the optional `max-cpu-compat` cap, returns the compat level to run in
    /// (`None` = raw mode with the real PVR), or `Err(())` if nothing
    /// suitable was offered. The best (newest) logical PVR the guest lists,
    /// capped at `max_compat`, wins; the real PVR is used only when the
    /// guest lists it and no cap is set.
    #[allow(clippy::result_unit_err)]
    pub fn negotiate_cas(
        &self,
        offered: &[(u32, u32)],
        max_compat: Option<IsaLevel>,
    ) -> Result<Option<IsaLevel>, ()> {
        let cap = max_compat.unwrap_or(self.isa).min(self.isa);
        let mut best: Option<IsaLevel> = None;
        let mut raw = false;
        for &(pvr, mask) in offered {
            if max_compat.is_none() && self.matches_pvr(pvr, mask) {
                raw = true;
            }
            for level in ALL_LEVELS {
                let lp = level.logical_pvr();
                if (lp & mask) == (pvr & mask)
                    && self.supports_compat(level)
                    && level <= cap
                    && best.is_none_or(|b| level > b)
                {
                    best = Some(level);
                }
            }
        }
        if raw {
            return Ok(None);
        }
        best.map(Some).ok_or(())
    }

    /// The processor family.
    pub fn family(&self) -> Family {
        self.family
    }
}

/// The `-cpu help` listing of this crate's models, in QEMU 7.2's format
/// (`PowerPC <name padded to 16> PVR <8 hex digits>` then alias lines).
pub fn cpu_help() -> String {
    let mut out = String::new();
    for m in MODELS {
        out.push_str(&format!("PowerPC {:<16} PVR {:08x}\n", m.name, m.pvr));
        for (alias, target) in ALIASES {
            if *target == m.name {
                out.push_str(&format!("PowerPC {:<16} (alias for {})\n", alias, m.name));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_is_case_insensitive_and_follows_aliases() {
        assert_eq!(CpuModel::by_name("POWER9").unwrap().pvr, 0x004e_1200);
        assert_eq!(CpuModel::by_name("power9_v2.2").unwrap().pvr, 0x004e_1202);
        assert_eq!(CpuModel::by_name("Power8").unwrap().name, "power8_v2.0");
        assert_eq!(
            CpuModel::by_name("power7+").unwrap().isa,
            IsaLevel::V2_06Plus
        );
        assert_eq!(CpuModel::by_name("POWER10").unwrap().pvr, 0x0080_0200);
        let e = CpuModel::by_name("power11").unwrap_err();
        assert_eq!(e.to_string(), "unable to find CPU model 'power11'");
    }

    #[test]
    fn help_lists_models_like_qemu() {
        let h = cpu_help();
        assert!(h.contains("PowerPC power9_v2.0      PVR 004e1200\n"));
        assert!(h.contains("PowerPC power9           (alias for power9_v2.0)\n"));
        assert!(h.contains("PowerPC power8nvl_v1.0   PVR 004c0100\n"));
    }

    #[test]
    fn compat_modes() {
        let p9 = CpuModel::by_name("power9").unwrap();
        assert_eq!(p9.check_compat("POWER8"), Ok(IsaLevel::V2_07));
        assert!(matches!(
            p9.check_compat("power10"),
            Err(CompatError::Unsupported { .. })
        ));
        assert!(matches!(
            p9.check_compat("power42"),
            Err(CompatError::UnknownMode(_))
        ));
        assert_eq!(IsaLevel::V3_00.logical_pvr(), 0x0f00_0005);
        assert_eq!(
            IsaLevel::from_logical_pvr(0x0f10_0003),
            Some(IsaLevel::V2_06Plus)
        );
    }

    #[test]
    fn cas_negotiation() {
        let p9 = CpuModel::by_name("power9").unwrap();
        // Linux lists the raw PVR families and the logical PVRs.
        let offered = [
            (0x004e_0000, 0xffff_0000),
            (0x0f00_0005, 0xffff_ffff),
            (0x0f00_0004, 0xffff_ffff),
        ];
        assert_eq!(p9.negotiate_cas(&offered, None), Ok(None));
        assert_eq!(
            p9.negotiate_cas(&offered, Some(IsaLevel::V2_07)),
            Ok(Some(IsaLevel::V2_07))
        );
        assert_eq!(
            p9.negotiate_cas(&offered[1..], None),
            Ok(Some(IsaLevel::V3_00))
        );
        assert_eq!(
            p9.negotiate_cas(&[(0x0f00_0006, 0xffff_ffff)], None),
            Err(())
        );
    }

    #[test]
    fn features() {
        let p8 = CpuModel::by_name("power8").unwrap();
        assert!(!p8.radix && p8.large_dec_bits.is_none());
        let p10 = CpuModel::by_name("power10").unwrap();
        assert!(p10.prefixed && p10.radix && !p10.htm);
    }
}
