//! Parsing and printing `cap-X=value` the way QEMU does.
//!
//! - bool: `on`/`yes`/`true`/`y` and `off`/`no`/`false`/`n`, case-sensitive
//!   (QEMU's `qapi_bool_parse`), else `Parameter 'cap-X' expects 'on' or 'off'`;
//! - levels: case-insensitive match of a level name; `?` answers with the
//!   levels' help text as an error; else `Invalid capability mode "%s" for cap-%s`;
//! - page size: a QEMU size (`65536`, `64K`, `0x10000`, `1.5M`, suffixes
//!   B K M G T P E in either case), else `Parameter 'cap-X' expects size`;
//!   not a power of 2 (0 included): `cap-X must be a power of 2`; stored as
//!   its log2.
//!
//! Printing gives `on`/`off`, the level name, or the size with the largest
//! exact suffix (`64K`, `16M`, `16G`); printing then parsing gives the value
//! back.

use crate::cap::{CapId, CapKind};
use crate::error::CapError;

/// Parses the text of `cap-<cap>=<text>` into the stored value.
pub fn parse_value(cap: CapId, text: &str) -> Result<u8, CapError> {
    let name = cap.name();
    match cap.entry().kind {
        CapKind::Bool => parse_bool(text)
            .map(u8::from)
            .ok_or(CapError::ExpectsOnOff { cap: name }),
        CapKind::Levels(levels) => {
            if text == "?" {
                return Err(CapError::LevelsHelp {
                    cap: name,
                    text: levels.help,
                });
            }
            levels
                .names
                .iter()
                .position(|l| l.eq_ignore_ascii_case(text))
                .map(|i| i as u8)
                .ok_or_else(|| CapError::InvalidMode {
                    cap: name,
                    value: text.to_string(),
                })
        }
        CapKind::PageSizeLog2 => {
            let size = parse_size(text).ok_or(CapError::ExpectsSize { cap: name })?;
            if !size.is_power_of_two() {
                return Err(CapError::NotPowerOf2 { cap: name });
            }
            Ok(size.trailing_zeros() as u8)
        }
    }
}

/// Prints a stored value the way `cap-<cap>=` accepts it. A value outside
/// the capability's domain prints as its number.
pub fn format_value(cap: CapId, value: u8) -> String {
    match cap.entry().kind {
        CapKind::Bool => match value {
            0 => "off".into(),
            1 => "on".into(),
            v => v.to_string(),
        },
        CapKind::Levels(levels) => levels
            .names
            .get(usize::from(value))
            .map(|s| s.to_string())
            .unwrap_or_else(|| value.to_string()),
        CapKind::PageSizeLog2 => match 1u64.checked_shl(u32::from(value)) {
            Some(bytes) => format_size(bytes),
            None => value.to_string(),
        },
    }
}

/// The value as QMP's `qom-get` reports it: a JSON boolean, a JSON string,
/// or the page size in bytes. `None` for a value outside the domain
/// (QEMU's getter fails with "Invalid value (%d) for cap-%s").
pub fn qom_json(cap: CapId, value: u8) -> Option<String> {
    if !cap.entry().is_valid(value) {
        return None;
    }
    Some(match cap.entry().kind {
        CapKind::Bool => (value == 1).to_string(),
        CapKind::Levels(levels) => format!("\"{}\"", levels.names[usize::from(value)]),
        CapKind::PageSizeLog2 => (1u64 << value).to_string(),
    })
}

/// QEMU's boolean words (case-sensitive).
pub fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "on" | "yes" | "true" | "y" => Some(true),
        "off" | "no" | "false" | "n" => Some(false),
        _ => None,
    }
}

const SUFFIXES: [(u8, u32); 7] = [
    (b'b', 0),
    (b'k', 10),
    (b'm', 20),
    (b'g', 30),
    (b't', 40),
    (b'p', 50),
    (b'e', 60),
];

/// QEMU's size syntax (`qemu_strtosz`): leading white space, an optional
/// `+`, a decimal or `0x` hexadecimal integer, an optional decimal fraction
/// (decimal only, and only with a suffix other than B, unless it is zero),
/// an optional suffix B/K/M/G/T/P/E in either case, nothing after. `None`
/// for anything else or a value over 2^64 - 1.
pub fn parse_size(text: &str) -> Option<u64> {
    let s = text.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let s = s.strip_prefix('+').unwrap_or(s);
    let (int, rest, hex) = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        let end = h.find(|c: char| !c.is_ascii_hexdigit()).unwrap_or(h.len());
        if end == 0 {
            return None;
        }
        (u64::from_str_radix(&h[..end], 16).ok()?, &h[end..], true)
    } else {
        let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        if end == 0 {
            return None;
        }
        (s[..end].parse::<u64>().ok()?, &s[end..], false)
    };
    // Fraction: ".ddd" (decimal numbers only), kept as an exact ratio.
    let (frac_num, frac_den, rest) = match rest.strip_prefix('.') {
        Some(r) if !hex => {
            let end = r.find(|c: char| !c.is_ascii_digit()).unwrap_or(r.len());
            let digits = r[..end].trim_end_matches('0');
            if digits.len() > 18 {
                return None;
            }
            let num = if digits.is_empty() {
                0
            } else {
                digits.parse::<u64>().ok()?
            };
            (num, 10u64.pow(digits.len() as u32), &r[end..])
        }
        Some(_) => return None,
        None => (0, 1, rest),
    };
    let (shift, rest) = match rest.as_bytes().first() {
        Some(c) => match SUFFIXES.iter().find(|(s, _)| *s == c.to_ascii_lowercase()) {
            Some(&(_, shift)) => (shift, &rest[1..]),
            None => (0, rest),
        },
        None => (0, rest),
    };
    if !rest.is_empty() || (shift == 0 && frac_num != 0) {
        return None;
    }
    let whole = int.checked_mul(1u64 << shift)?;
    let frac = ((u128::from(frac_num) << shift) / u128::from(frac_den)) as u64;
    whole.checked_add(frac)
}

/// Prints a byte count with the largest suffix that divides it exactly
/// (`65536` → `64K`, `1` → `1`).
pub fn format_size(bytes: u64) -> String {
    for &(suffix, shift) in SUFFIXES.iter().rev() {
        if shift > 0 && bytes != 0 && bytes.trailing_zeros() >= shift {
            return format!(
                "{}{}",
                bytes >> shift,
                (suffix as char).to_ascii_uppercase()
            );
        }
    }
    bytes.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_like_qemu_7_2() {
        // Accepted by qemu-system-ppc64 7.2 (cap-hpt-max-page-size=...).
        let ok: &[(&str, u64)] = &[
            ("64k", 65536),
            ("64K", 65536),
            ("65536", 65536),
            ("0x10000", 65536),
            ("0X10000", 65536),
            ("0x10K", 16 << 10),
            ("16m", 16 << 20),
            ("16G", 16 << 30),
            ("1T", 1 << 40),
            ("8E", 1 << 63),
            ("1e", 1 << 60),
            ("1P", 1 << 50),
            (" 64K", 65536),
            ("\t4096", 4096),
            ("+64K", 65536),
            ("1.K", 1024),
            ("0.5K", 512),
            ("4.0K", 4096),
            ("4096.0", 4096),
            ("0.0625M", 65536),
            ("1.5M", 1572864),
            ("010", 10),
            ("1b", 1),
            ("18446744073709551615", u64::MAX),
        ];
        for (t, v) in ok {
            assert_eq!(parse_size(t), Some(*v), "{t}");
        }
        // Refused with "expects size".
        for t in [
            "",
            "16E",
            "17E",
            "-1",
            "18446744073709551616",
            "64K ",
            "64KB",
            "64KiB",
            "1e3",
            "64k5",
            ".5M",
            "1.5",
            "0x",
            "0x1.8M",
            "?",
            "k",
        ] {
            assert_eq!(parse_size(t), None, "{t:?}");
        }
    }

    #[test]
    fn values_parse_and_print() {
        assert_eq!(parse_value(CapId::Cfpc, "WorkAround"), Ok(1));
        assert_eq!(parse_value(CapId::Ibs, "FIXED-CCD"), Ok(3));
        assert_eq!(parse_value(CapId::HptMaxPageSize, "16M"), Ok(24));
        assert_eq!(format_value(CapId::HptMaxPageSize, 34), "16G");
        assert_eq!(format_value(CapId::HptMaxPageSize, 0), "1");
        assert_eq!(format_value(CapId::Htm, 1), "on");
        assert_eq!(format_value(CapId::Cfpc, 2), "fixed");
        assert_eq!(
            qom_json(CapId::HptMaxPageSize, 34).as_deref(),
            Some("17179869184")
        );
        assert_eq!(qom_json(CapId::Cfpc, 1).as_deref(), Some("\"workaround\""));
        assert_eq!(qom_json(CapId::Cfpc, 3), None);
    }

    #[test]
    fn bad_values_get_qemus_words() {
        let e = |c, t| parse_value(c, t).unwrap_err().to_string();
        assert_eq!(
            e(CapId::Cfpc, "bogus"),
            "Invalid capability mode \"bogus\" for cap-cfpc"
        );
        assert_eq!(
            e(CapId::Ibs, "bogus"),
            "Invalid capability mode \"bogus\" for cap-ibs"
        );
        assert_eq!(
            e(CapId::Cfpc, ""),
            "Invalid capability mode \"\" for cap-cfpc"
        );
        assert_eq!(
            e(CapId::HptMaxPageSize, "3"),
            "cap-hpt-max-page-size must be a power of 2"
        );
        assert_eq!(
            e(CapId::HptMaxPageSize, "0"),
            "cap-hpt-max-page-size must be a power of 2"
        );
        assert_eq!(
            e(CapId::HptMaxPageSize, "?"),
            "Parameter 'cap-hpt-max-page-size' expects size"
        );
        assert_eq!(
            e(CapId::Htm, "bogus"),
            "Parameter 'cap-htm' expects 'on' or 'off'"
        );
        assert_eq!(
            e(CapId::Xive, "ON"),
            "Parameter 'cap-xive' expects 'on' or 'off'"
        );
        assert_eq!(
            e(CapId::Cfpc, "?"),
            "broken - no protection, workaround - workaround available, fixed - fixed in hardware"
        );
        assert_eq!(
            e(CapId::Ibs, "?"),
            "broken - no protection, workaround - count cache flush, fixed-ibs - indirect branch serialisation, fixed-ccd - cache count disabled, fixed-na - fixed in hardware (no longer applicable)"
        );
    }
}
