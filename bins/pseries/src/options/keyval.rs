//! QEMU's `key=value,key=value` option strings (QemuOpts), as used by
//! `-chardev`, `-mon`, `-accel`, `-rtc`, `-icount`, `-display` and the
//! socket part of `-qmp`/`-serial`/`-monitor`.
//!
//! The rules reproduced: items are separated by `,`, and `,,` inside a
//! value stands for a literal comma; the first item may omit its key when
//! the option has an *implied* key (`-accel tcg` is `accel=tcg`); an item
//! without `=` elsewhere is a boolean flag (`server` = `server=on`, and
//! `nowait` = `wait=off`, the spellings QEMU still accepts with a
//! deprecation warning).

use std::fmt;

/// A parsed option string: `(key, value)` pairs in order of appearance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyVal {
    items: Vec<(String, String)>,
}

/// An error in an option string or in one of its values, in QEMU's words.
/// The caller prefixes it with the option's location (`-accel tcg,x=1: `).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyValError {
    /// A key the option does not have.
    #[error("Invalid parameter '{0}'")]
    InvalidParameter(String),
    /// A required key is absent.
    #[error("Parameter '{0}' is missing")]
    Missing(String),
    /// A boolean key with another value.
    #[error("Parameter '{0}' expects 'on' or 'off'")]
    ExpectsBool(String),
    /// An enumerated key with a value outside its set.
    #[error("Parameter '{key}' does not accept value '{value}'")]
    BadValue {
        /// The key.
        key: String,
        /// The value given.
        value: String,
    },
    /// A numeric key with a non-number.
    #[error("Parameter '{0}' expects a number")]
    ExpectsNumber(String),
}

impl KeyVal {
    /// Parses `text`; `implied` is the key of a bare first item.
    pub fn parse(text: &str, implied: Option<&str>) -> Self {
        let mut items = Vec::new();
        for (index, item) in split_items(text).into_iter().enumerate() {
            match item.split_once('=') {
                Some((k, v)) => items.push((k.to_string(), v.to_string())),
                None => match implied {
                    Some(key) if index == 0 => items.push((key.to_string(), item)),
                    _ => {
                        if let Some(rest) = item.strip_prefix("no").filter(|r| !r.is_empty()) {
                            // QEMU's legacy "noX" spelling of X=off, kept only
                            // for the flags that have it.
                            if matches!(rest, "wait" | "server" | "delay" | "telnet") {
                                items.push((rest.to_string(), "off".to_string()));
                                continue;
                            }
                        }
                        items.push((item, "on".to_string()));
                    }
                },
            }
        }
        Self { items }
    }

    /// Every `(key, value)` in order.
    pub fn items(&self) -> impl Iterator<Item = (&str, &str)> {
        self.items.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The last value given for `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.items
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Refuses any key not in `allowed`.
    pub fn check_keys(&self, allowed: &[&str]) -> Result<(), KeyValError> {
        match self
            .items
            .iter()
            .find(|(k, _)| !allowed.contains(&k.as_str()))
        {
            Some((k, _)) => Err(KeyValError::InvalidParameter(k.clone())),
            None => Ok(()),
        }
    }

    /// The value of a required key.
    pub fn require(&self, key: &str) -> Result<&str, KeyValError> {
        self.get(key)
            .ok_or_else(|| KeyValError::Missing(key.to_string()))
    }

    /// A boolean key (`on`/`off` and QEMU's other spellings), if given.
    pub fn bool(&self, key: &str) -> Result<Option<bool>, KeyValError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => parse_bool(v)
                .map(Some)
                .ok_or_else(|| KeyValError::ExpectsBool(key.to_string())),
        }
    }
}

impl fmt::Display for KeyVal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (k, v)) in self.items.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{k}={}", v.replace(',', ",,"))?;
        }
        Ok(())
    }
}

/// QEMU's boolean spellings.
pub fn parse_bool(value: &str) -> Option<bool> {
    match value {
        "on" | "yes" | "true" | "y" => Some(true),
        "off" | "no" | "false" | "n" => Some(false),
        _ => None,
    }
}

/// Splits at single commas; `,,` is a literal comma.
fn split_items(text: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ',' {
            if chars.peek() == Some(&',') {
                chars.next();
                current.push(',');
            } else {
                items.push(std::mem::take(&mut current));
            }
        } else {
            current.push(c);
        }
    }
    if !current.is_empty() || !items.is_empty() || !text.is_empty() {
        items.push(current);
    }
    items.retain(|i| !i.is_empty());
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn implied_key_and_flags() {
        let kv = KeyVal::parse(
            "socket,id=mon,path=/tmp/a,,b,server,nowait",
            Some("backend"),
        );
        let items: Vec<_> = kv.items().collect();
        assert_eq!(
            items,
            vec![
                ("backend", "socket"),
                ("id", "mon"),
                ("path", "/tmp/a,b"),
                ("server", "on"),
                ("wait", "off"),
            ]
        );
        assert_eq!(kv.bool("server"), Ok(Some(true)));
        assert_eq!(kv.bool("wait"), Ok(Some(false)));
        assert_eq!(kv.bool("telnet"), Ok(None));
    }

    #[test]
    fn errors_use_qemu_words() {
        let kv = KeyVal::parse("tcg,bogus=1", Some("accel"));
        assert_eq!(
            kv.check_keys(&["accel", "thread"]).unwrap_err().to_string(),
            "Invalid parameter 'bogus'"
        );
        let kv = KeyVal::parse("mode=control", Some("chardev"));
        assert_eq!(
            kv.require("chardev").unwrap_err().to_string(),
            "Parameter 'chardev' is missing"
        );
        let kv = KeyVal::parse("x,server=maybe", Some("backend"));
        assert_eq!(
            kv.bool("server").unwrap_err().to_string(),
            "Parameter 'server' expects 'on' or 'off'"
        );
    }

    #[test]
    fn last_value_wins_and_display_round_trips() {
        let kv = KeyVal::parse("a=1,a=2,b=x,,y", None);
        assert_eq!(kv.get("a"), Some("2"));
        assert_eq!(kv.to_string(), "a=1,a=2,b=x,,y");
        assert_eq!(KeyVal::parse("", None).items().count(), 0);
    }
}
