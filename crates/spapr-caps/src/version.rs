//! pseries machine versions (`pseries-X.Y`, `pseries-2.12-sxxm`).

use std::fmt;

/// A pseries machine version: `pseries-<major>.<minor>`, plus the one
/// variant QEMU ever had, `pseries-2.12-sxxm` (2.12 with the Spectre/Meltdown
/// mitigations on by default).
///
/// Versions order by (major, minor, variant): `2.12 < 2.12-sxxm < 3.0`, so
/// "up to 2.12" tests are written `< 3.0` and include the sxxm variant, the
/// way QEMU's class-options chain makes 2.12-sxxm inherit from 2.12.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MachineVersion {
    major: u8,
    minor: u8,
    sxxm: bool,
}

impl MachineVersion {
    /// `pseries-<major>.<minor>`.
    pub const fn new(major: u8, minor: u8) -> Self {
        Self {
            major,
            minor,
            sxxm: false,
        }
    }

    /// `pseries-2.12-sxxm`.
    pub const V2_12_SXXM: Self = Self {
        major: 2,
        minor: 12,
        sxxm: true,
    };

    /// The newest machine version, which the `pseries` alias names.
    pub const LATEST: Self = Self::new(11, 0);

    /// The oldest machine version there is.
    pub const OLDEST: Self = Self::new(2, 1);

    /// Major version number.
    pub const fn major(self) -> u8 {
        self.major
    }

    /// Minor version number.
    pub const fn minor(self) -> u8 {
        self.minor
    }

    /// Whether this is the `-sxxm` variant.
    pub const fn is_sxxm(self) -> bool {
        self.sxxm
    }

    /// The version part of the name: `4.1`, `2.12-sxxm`.
    pub fn version_str(self) -> String {
        if self.sxxm {
            format!("{}.{}-sxxm", self.major, self.minor)
        } else {
            format!("{}.{}", self.major, self.minor)
        }
    }

    /// Parses a machine type name: `pseries-4.1`, `pseries-2.12-sxxm`, or
    /// the alias `pseries` (= [`MachineVersion::LATEST`]). Does not check that
    /// the version exists; [`crate::machine_type`] does.
    pub fn parse_type_name(name: &str) -> Option<Self> {
        if name == "pseries" {
            return Some(Self::LATEST);
        }
        let rest = name.strip_prefix("pseries-")?;
        let (rest, sxxm) = match rest.strip_suffix("-sxxm") {
            Some(r) => (r, true),
            None => (rest, false),
        };
        let (major, minor) = rest.split_once('.')?;
        let parse = |s: &str| -> Option<u8> {
            if s.is_empty()
                || !s.bytes().all(|b| b.is_ascii_digit())
                || (s.len() > 1 && s.starts_with('0'))
            {
                return None;
            }
            s.parse().ok()
        };
        Some(Self {
            major: parse(major)?,
            minor: parse(minor)?,
            sxxm,
        })
    }
}

impl fmt::Display for MachineVersion {
    /// The machine type name, `pseries-4.1`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pseries-{}", self.version_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_puts_sxxm_between_2_12_and_3_0() {
        assert!(MachineVersion::new(2, 12) < MachineVersion::V2_12_SXXM);
        assert!(MachineVersion::V2_12_SXXM < MachineVersion::new(3, 0));
        assert!(MachineVersion::new(2, 9) < MachineVersion::new(2, 10));
        assert!(MachineVersion::new(9, 2) < MachineVersion::new(10, 0));
    }

    #[test]
    fn parse_and_print_names() {
        for name in [
            "pseries-2.1",
            "pseries-2.12-sxxm",
            "pseries-4.1",
            "pseries-11.0",
        ] {
            let v = MachineVersion::parse_type_name(name).unwrap();
            assert_eq!(v.to_string(), name);
        }
        assert_eq!(
            MachineVersion::parse_type_name("pseries"),
            Some(MachineVersion::LATEST)
        );
        for bad in [
            "pseries-",
            "pseries-4",
            "pseries-4.x",
            "pseries-04.1",
            "pc-4.1",
            "pseries-4.1-foo",
            "pseries-+4.1",
        ] {
            assert_eq!(MachineVersion::parse_type_name(bad), None, "{bad}");
        }
    }
}
