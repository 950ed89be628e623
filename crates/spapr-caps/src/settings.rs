//! What the command line asked for: `cap-X=` values and `ic-mode=`.

use crate::cap::{CapId, CAP_COUNT};
use crate::error::CapError;
use crate::icmode::IcMode;
use crate::machines::MachineType;
use crate::options::MachineOptions;
use crate::value::parse_value;

/// The capability-related machine properties set on the command line (QEMU's
/// `cmd_line_caps[]` plus `ic-mode`), before they are resolved against the
/// defaults. Setting a property validates its value at once, as QEMU's
/// property setters do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CapSettings {
    legacy: bool,
    values: [Option<u8>; CAP_COUNT],
    ic_mode: Option<IcMode>,
}

impl CapSettings {
    /// Nothing set yet, for `machine`.
    pub fn new(machine: &MachineType) -> Self {
        CapSettings {
            legacy: !machine.ic_mode_settable(),
            values: [None; CAP_COUNT],
            ic_mode: None,
        }
    }

    /// Whether `property` is one this crate handles (`cap-*` or `ic-mode`).
    pub fn handles(property: &str) -> bool {
        property == "ic-mode" || CapId::from_property(property).is_some()
    }

    /// Sets `property=value`. Returns `Ok(false)` (and changes nothing) when
    /// the property is not a capability property, so the caller can try its
    /// own; QEMU's words for bad values.
    pub fn set(&mut self, property: &str, value: &str) -> Result<bool, CapError> {
        if property == "ic-mode" {
            self.set_ic_mode_str(value)?;
            return Ok(true);
        }
        let Some(cap) = CapId::from_property(property) else {
            return Ok(false);
        };
        let v = parse_value(cap, value)?;
        self.values[cap.index()] = Some(v);
        Ok(true)
    }

    /// Applies the capability properties of parsed `-machine` options in
    /// order and returns the others (for the machine's own properties), in
    /// order.
    pub fn apply_options<'a>(
        &mut self,
        opts: &'a MachineOptions,
    ) -> Result<Vec<(&'a str, &'a str)>, CapError> {
        let mut rest = Vec::new();
        for (k, v) in opts.props() {
            if !self.set(k, v)? {
                rest.push((k, v));
            }
        }
        Ok(rest)
    }

    /// Sets `ic-mode` from its text: refused on machines up to pseries-3.0
    /// (checked first, as QEMU does), then the value is parsed.
    pub fn set_ic_mode_str(&mut self, value: &str) -> Result<(), CapError> {
        if self.legacy {
            return Err(CapError::LegacyIcMode);
        }
        self.ic_mode = Some(value.parse()?);
        Ok(())
    }

    /// Sets `ic-mode`.
    pub fn set_ic_mode(&mut self, mode: IcMode) -> Result<(), CapError> {
        if self.legacy {
            return Err(CapError::LegacyIcMode);
        }
        self.ic_mode = Some(mode);
        Ok(())
    }

    /// Sets a capability to a raw value (the typed way in; validated
    /// against the capability's domain).
    pub fn set_cap(&mut self, cap: CapId, value: u8) -> Result<(), CapError> {
        if !cap.entry().is_valid(value) {
            return Err(CapError::InvalidMode {
                cap: cap.name(),
                value: value.to_string(),
            });
        }
        self.values[cap.index()] = Some(value);
        Ok(())
    }

    /// The value given for `cap` with `cap-X=`, if any.
    pub fn cap(&self, cap: CapId) -> Option<u8> {
        self.values[cap.index()]
    }

    /// The `ic-mode` given, if any.
    pub fn ic_mode(&self) -> Option<IcMode> {
        self.ic_mode
    }
}
