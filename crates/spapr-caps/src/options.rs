//! The `-machine` option string: `[type=]TYPE,prop=value,...`.
//!
//! Parsed the way QEMU 7.2 parses it (`keyval` with the implied key
//! `type`): the first item may be a bare type name; every other item is
//! `key=value`; `,,` in a value stands for a comma; a key given twice keeps
//! its last value; `help` or `?` as an item asks for the property list, and
//! as the type for the machine list. Error texts are QEMU's; the caller
//! prefixes them with `-machine <string>: ` as QEMU does for these syntax
//! errors.

use crate::error::CapError;
use crate::machines::{default_machine, machine_type, MachineType};

/// Parsed `-machine` options.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MachineOptions {
    type_name: Option<String>,
    props: Vec<(String, String)>,
    help: bool,
}

fn valid_key(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl MachineOptions {
    /// Parses an option string.
    pub fn parse(text: &str) -> Result<Self, CapError> {
        let mut opts = MachineOptions::default();
        if text.is_empty() {
            return Ok(opts);
        }
        let bytes = text.as_bytes();
        let mut pos = 0;
        let mut first = true;
        loop {
            // Key: up to '=' or ','.
            let key_end = text[pos..].find(['=', ',']).map_or(text.len(), |i| pos + i);
            let key = &text[pos..key_end];
            if key_end == text.len() || bytes[key_end] == b',' {
                if first && !key.is_empty() {
                    // Implied key "type": the value ends at the first comma.
                    opts.type_name = Some(key.to_string());
                } else if key == "help" || key == "?" {
                    opts.help = true;
                } else if key.is_empty() || !valid_key(key) {
                    return Err(CapError::InvalidParameter(key.to_string()));
                } else {
                    return Err(CapError::ExpectedEquals(key.to_string()));
                }
                pos = key_end;
            } else {
                if !valid_key(key) {
                    return Err(CapError::InvalidParameter(key.to_string()));
                }
                // Value: up to a single ',', with ",," meaning ','.
                let mut value = String::new();
                let mut i = key_end + 1;
                while i < bytes.len() {
                    if bytes[i] == b',' {
                        if bytes.get(i + 1) == Some(&b',') {
                            value.push(',');
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    let ch = text[i..].chars().next().expect("in bounds");
                    value.push(ch);
                    i += ch.len_utf8();
                }
                if key == "type" {
                    opts.type_name = Some(value);
                } else {
                    opts.props.retain(|(k, _)| k != key);
                    opts.props.push((key.to_string(), value));
                }
                pos = i;
            }
            first = false;
            if pos >= text.len() {
                break;
            }
            pos += 1; // the separating comma
            if pos == text.len() {
                return Err(CapError::InvalidParameter(String::new()));
            }
        }
        Ok(opts)
    }

    /// The machine type named (`pseries-4.1`), if any.
    pub fn type_name(&self) -> Option<&str> {
        self.type_name.as_deref()
    }

    /// `-machine help` / `-machine ?`: list the machine types.
    pub fn wants_machine_list(&self) -> bool {
        matches!(self.type_name(), Some("help" | "?"))
    }

    /// `-machine TYPE,help`: list the type's properties.
    pub fn wants_property_help(&self) -> bool {
        self.help
    }

    /// The machine type asked for, or the default one when none is named.
    pub fn machine_type(&self) -> Result<&'static MachineType, CapError> {
        match self.type_name() {
            Some(name) => machine_type(name),
            None => Ok(default_machine()),
        }
    }

    /// The `key=value` properties other than `type`, in order, each key
    /// once with its last value.
    pub fn props(&self) -> impl Iterator<Item = (&str, &str)> {
        self.props.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The value given for `key`, if any.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.props
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(o: &MachineOptions) -> Vec<(&str, &str)> {
        o.props().collect()
    }

    #[test]
    fn implied_type_and_props() {
        let o = MachineOptions::parse("pseries-4.1,ic-mode=xics,cap-htm=off").unwrap();
        assert_eq!(o.type_name(), Some("pseries-4.1"));
        assert_eq!(props(&o), [("ic-mode", "xics"), ("cap-htm", "off")]);
        let o = MachineOptions::parse("cap-vsx=off").unwrap();
        assert_eq!(o.type_name(), None);
        assert_eq!(o.machine_type().unwrap().name, "pseries-11.0");
        let o = MachineOptions::parse("cap-vsx=on,type=pseries-4.1").unwrap();
        assert_eq!(o.type_name(), Some("pseries-4.1"));
    }

    #[test]
    fn last_value_wins_and_commas_escape() {
        let o = MachineOptions::parse("pseries-7.2,cap-cfpc=?,cap-cfpc=broken").unwrap();
        assert_eq!(props(&o), [("cap-cfpc", "broken")]);
        let o = MachineOptions::parse("type=pseries-4.1,cap-cfpc=fixed,,x").unwrap();
        assert_eq!(o.get("cap-cfpc"), Some("fixed,x"));
        let o = MachineOptions::parse("pseries-7.2,ic-mode=").unwrap();
        assert_eq!(o.get("ic-mode"), Some(""));
    }

    #[test]
    fn help_requests() {
        assert!(MachineOptions::parse("help").unwrap().wants_machine_list());
        assert!(MachineOptions::parse("?").unwrap().wants_machine_list());
        let o = MachineOptions::parse("pseries-4.1,help").unwrap();
        assert!(o.wants_property_help() && !o.wants_machine_list());
    }

    #[test]
    fn syntax_errors_get_qemus_words() {
        let e = |s| MachineOptions::parse(s).unwrap_err().to_string();
        assert_eq!(
            e("pseries-7.2,cap-vsx"),
            "Expected '=' after parameter 'cap-vsx'"
        );
        assert_eq!(
            e("pseries-7.2,nocap-vsx"),
            "Expected '=' after parameter 'nocap-vsx'"
        );
        assert_eq!(e("pseries-7.2,,cap-vsx=on"), "Invalid parameter ''");
        assert_eq!(e("pseries-7.2,=on"), "Invalid parameter ''");
        assert_eq!(e(",cap-vsx=on"), "Invalid parameter ''");
        assert_eq!(e("pseries-7.2,"), "Invalid parameter ''");
    }
}
