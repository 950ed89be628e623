//! `ic-mode`, the friendly alias of `cap-xics` and `cap-xive`.
//!
//! | ic-mode | cap-xics | cap-xive |
//! |---|---|---|
//! | `xics` | on | off |
//! | `xive` | off | on |
//! | `dual` | on | on |
//!
//! Machines up to pseries-3.0 use the legacy XICS backend with legacy IRQ
//! numbering; their `ic-mode` reads `legacy` and cannot be set.

use std::fmt;
use std::str::FromStr;

use crate::cap::{CapId, CapSet};
use crate::error::CapError;

/// A value `ic-mode` can be set to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IcMode {
    /// XICS only.
    Xics,
    /// XIVE only.
    Xive,
    /// Both; the guest picks one at CAS.
    Dual,
}

impl IcMode {
    /// Every settable value.
    pub const ALL: [IcMode; 3] = [IcMode::Xics, IcMode::Xive, IcMode::Dual];

    /// The property value (`xics`).
    pub const fn as_str(self) -> &'static str {
        match self {
            IcMode::Xics => "xics",
            IcMode::Xive => "xive",
            IcMode::Dual => "dual",
        }
    }

    /// (`cap-xics`, `cap-xive`) this mode stands for.
    pub const fn caps(self) -> (bool, bool) {
        match self {
            IcMode::Xics => (true, false),
            IcMode::Xive => (false, true),
            IcMode::Dual => (true, true),
        }
    }

    /// The value `cap` takes under this mode (`cap` is xics or xive).
    pub fn cap_value(self, cap: CapId) -> Option<u8> {
        let (xics, xive) = self.caps();
        match cap {
            CapId::Xics => Some(u8::from(xics)),
            CapId::Xive => Some(u8::from(xive)),
            _ => None,
        }
    }

    /// The mode for a pair of cap values; `None` when both are off.
    pub const fn from_caps(xics: bool, xive: bool) -> Option<IcMode> {
        match (xics, xive) {
            (true, false) => Some(IcMode::Xics),
            (false, true) => Some(IcMode::Xive),
            (true, true) => Some(IcMode::Dual),
            (false, false) => None,
        }
    }
}

impl FromStr for IcMode {
    type Err = CapError;

    /// Exact, case-sensitive match; anything else is QEMU's
    /// `Bad value for "ic-mode" property`.
    fn from_str(s: &str) -> Result<Self, CapError> {
        IcMode::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or(CapError::BadIcMode)
    }
}

impl fmt::Display for IcMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What `ic-mode` reads (QEMU's property getter).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IcModeState {
    /// pseries-3.0 and older: legacy XICS, legacy IRQ numbering.
    Legacy,
    /// A settable mode.
    Mode(IcMode),
}

impl IcModeState {
    /// The property value (`legacy`, `xics`, `xive`, `dual`).
    pub const fn as_str(self) -> &'static str {
        match self {
            IcModeState::Legacy => "legacy",
            IcModeState::Mode(m) => m.as_str(),
        }
    }

    /// Byte 23 of `/chosen/ibm,arch-vec-5-platform-support` in the reset-time
    /// device tree: 0x80 (both, dual), 0x40 (XIVE only), 0x00 (XICS only,
    /// legacy).
    pub const fn ov5_platform_support(self) -> u8 {
        match self {
            IcModeState::Mode(IcMode::Dual) => 0x80,
            IcModeState::Mode(IcMode::Xive) => 0x40,
            IcModeState::Mode(IcMode::Xics) | IcModeState::Legacy => 0x00,
        }
    }

    /// The state of a machine whose caps are `caps`; `None` when neither
    /// controller is on.
    pub fn of(legacy: bool, caps: &CapSet) -> Option<IcModeState> {
        if legacy {
            return Some(IcModeState::Legacy);
        }
        IcMode::from_caps(caps.is_on(CapId::Xics), caps.is_on(CapId::Xive)).map(IcModeState::Mode)
    }
}

impl fmt::Display for IcModeState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_is_exact_and_case_sensitive() {
        assert_eq!("xics".parse::<IcMode>(), Ok(IcMode::Xics));
        assert_eq!("dual".parse::<IcMode>(), Ok(IcMode::Dual));
        for bad in ["bogus", "XIVE", "", "legacy", " xics"] {
            let e = bad.parse::<IcMode>().unwrap_err();
            assert_eq!(e.to_string(), "Bad value for \"ic-mode\" property");
        }
    }

    #[test]
    fn alias_table() {
        assert_eq!(IcMode::Xics.caps(), (true, false));
        assert_eq!(IcMode::Xive.caps(), (false, true));
        assert_eq!(IcMode::Dual.caps(), (true, true));
        for m in IcMode::ALL {
            let (x, v) = m.caps();
            assert_eq!(IcMode::from_caps(x, v), Some(m));
        }
        assert_eq!(IcMode::from_caps(false, false), None);
        assert_eq!(IcModeState::Mode(IcMode::Dual).ov5_platform_support(), 0x80);
        assert_eq!(IcModeState::Mode(IcMode::Xive).ov5_platform_support(), 0x40);
        assert_eq!(IcModeState::Mode(IcMode::Xics).ov5_platform_support(), 0x00);
        assert_eq!(IcModeState::Legacy.ov5_platform_support(), 0x00);
    }
}
