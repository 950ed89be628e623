//! JSON as QMP moves it: an input stream of concatenated JSON texts (with
//! or without separators, `{...}{...}` is valid), split into one value at
//! a time the way QEMU's JSON streamer does, and output written in QEMU's
//! layout (`{"return": {}}`: members in QEMU's order, `": "` and `", "`
//! separators).
//!
//! Output is built with [`J`], an ordered value, rather than
//! `serde_json::Value`, whose objects are sorted by key unless a
//! workspace-wide feature is turned on.

use std::fmt::{self, Write as _};

use serde_json::Value;

/// Deepest nesting accepted (QEMU's limit).
pub const MAX_NESTING: usize = 1024;
/// Largest single JSON text accepted, in bytes.
pub const MAX_TEXT: usize = 16 << 20;

/// An ordered JSON value for output.
#[derive(Debug, Clone, PartialEq)]
pub enum J {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// An unsigned integer.
    Uint(u64),
    /// A number that is not an integer, as its JSON text.
    Number(String),
    /// A string.
    Str(String),
    /// An array.
    Arr(Vec<J>),
    /// An object, members in this order.
    Obj(Vec<(String, J)>),
}

impl J {
    /// An object from `(key, value)` pairs.
    pub fn obj<K: Into<String>>(members: impl IntoIterator<Item = (K, J)>) -> J {
        J::Obj(members.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// The empty object.
    pub fn empty() -> J {
        J::Obj(Vec::new())
    }

    /// A string.
    pub fn s(text: impl Into<String>) -> J {
        J::Str(text.into())
    }

    /// Converts a parsed value (e.g. a command's `id`) for echoing back.
    pub fn from_value(v: &Value) -> J {
        match v {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    J::Int(i)
                } else if let Some(u) = n.as_u64() {
                    J::Uint(u)
                } else {
                    J::Number(n.to_string())
                }
            }
            Value::String(s) => J::Str(s.clone()),
            Value::Array(a) => J::Arr(a.iter().map(J::from_value).collect()),
            Value::Object(o) => J::Obj(
                o.iter()
                    .map(|(k, v)| (k.clone(), J::from_value(v)))
                    .collect(),
            ),
        }
    }

    /// Compact rendering, QEMU's layout.
    pub fn compact(&self) -> String {
        let mut s = String::new();
        self.write(&mut s, None, 0);
        s
    }

    /// Indented rendering (`pretty=on`), four spaces per level.
    pub fn pretty(&self) -> String {
        let mut s = String::new();
        self.write(&mut s, Some(4), 0);
        s
    }

    fn write(&self, out: &mut String, indent: Option<usize>, level: usize) {
        let newline = |out: &mut String, level: usize| {
            if let Some(n) = indent {
                out.push('\n');
                out.extend(std::iter::repeat_n(' ', n * level));
            }
        };
        match self {
            J::Null => out.push_str("null"),
            J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            J::Int(i) => {
                let _ = write!(out, "{i}");
            }
            J::Uint(u) => {
                let _ = write!(out, "{u}");
            }
            J::Number(n) => out.push_str(n),
            J::Str(s) => out.push_str(&Value::String(s.clone()).to_string()),
            J::Arr(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                        if indent.is_none() {
                            out.push(' ');
                        }
                    }
                    newline(out, level + 1);
                    item.write(out, indent, level + 1);
                }
                if !items.is_empty() {
                    newline(out, level);
                }
                out.push(']');
            }
            J::Obj(members) => {
                out.push('{');
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                        if indent.is_none() {
                            out.push(' ');
                        }
                    }
                    newline(out, level + 1);
                    out.push_str(&Value::String(k.clone()).to_string());
                    out.push_str(": ");
                    v.write(out, indent, level + 1);
                }
                if !members.is_empty() {
                    newline(out, level);
                }
                out.push('}');
            }
        }
    }
}

impl fmt::Display for J {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.compact())
    }
}

/// One item cut from the input stream.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// A complete JSON value.
    Value(Value),
    /// Input that is not JSON; the text is QEMU's error description
    /// (`JSON parse error, ...`).
    Error(String),
}

/// Splits a byte stream into JSON texts. Feed it bytes as they arrive;
/// each call returns the texts completed so far.
#[derive(Debug, Default)]
pub struct Framer {
    buf: Vec<u8>,
    depth: usize,
    in_string: bool,
    escape: bool,
    /// A bare token (keyword or number) at depth 0 is being read.
    in_token: bool,
    /// The current text went over a limit; skip to its end.
    overflow: Option<&'static str>,
}

impl Framer {
    /// A framer with nothing buffered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes; returns the frames they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Frame> {
        let mut frames = Vec::new();
        for &b in bytes {
            self.byte(b, &mut frames);
        }
        frames
    }

    /// End of input: a pending bare token is complete; anything else
    /// unfinished is dropped, as QEMU drops it when the client goes away.
    pub fn finish(&mut self) -> Vec<Frame> {
        let mut frames = Vec::new();
        if self.in_token {
            self.emit(&mut frames);
        }
        *self = Self::default();
        frames
    }

    fn byte(&mut self, b: u8, frames: &mut Vec<Frame>) {
        if self.in_token {
            if b.is_ascii_whitespace() || b"{}[],:\"".contains(&b) {
                self.emit(frames);
            } else {
                self.buf.push(b);
                return;
            }
        }
        if self.depth == 0 && !self.in_string {
            match b {
                b' ' | b'\t' | b'\r' | b'\n' => {}
                b'{' | b'[' => {
                    self.depth = 1;
                    self.buf.push(b);
                }
                b'"' => {
                    self.in_string = true;
                    self.buf.push(b);
                }
                b'}' | b']' | b',' | b':' => {
                    frames.push(Frame::Error("JSON parse error, expecting value".into()));
                }
                _ => {
                    self.in_token = true;
                    self.buf.push(b);
                }
            }
            return;
        }
        if self.overflow.is_none() {
            self.buf.push(b);
            if self.buf.len() > MAX_TEXT {
                self.overflow = Some("JSON token size limit exceeded");
                self.buf.clear();
            }
        }
        if self.in_string {
            if self.escape {
                self.escape = false;
            } else if b == b'\\' {
                self.escape = true;
            } else if b == b'"' {
                self.in_string = false;
                if self.depth == 0 {
                    self.emit(frames);
                }
            }
            return;
        }
        match b {
            b'"' => self.in_string = true,
            b'{' | b'[' => {
                self.depth += 1;
                if self.depth > MAX_NESTING && self.overflow.is_none() {
                    self.overflow = Some("JSON nesting depth limit exceeded");
                    self.buf.clear();
                }
            }
            b'}' | b']' => {
                self.depth -= 1;
                if self.depth == 0 {
                    self.emit(frames);
                }
            }
            _ => {}
        }
    }

    fn emit(&mut self, frames: &mut Vec<Frame>) {
        let text = std::mem::take(&mut self.buf);
        let was_token = self.in_token;
        self.in_token = false;
        self.in_string = false;
        self.escape = false;
        self.depth = 0;
        if let Some(msg) = self.overflow.take() {
            frames.push(Frame::Error(format!("JSON parse error, {msg}")));
            return;
        }
        match serde_json::from_slice::<Value>(&text) {
            Ok(v) => frames.push(Frame::Value(v)),
            Err(_) if was_token && text.iter().all(|c| c.is_ascii_alphabetic()) => {
                frames.push(Frame::Error(format!(
                    "JSON parse error, invalid keyword '{}'",
                    String::from_utf8_lossy(&text)
                )))
            }
            Err(e) => frames.push(Frame::Error(format!("JSON parse error, {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn qemu_layout() {
        let j = J::obj([(
            "QMP",
            J::obj([
                (
                    "version",
                    J::obj([
                        (
                            "qemu",
                            J::obj([
                                ("micro", J::Int(0)),
                                ("minor", J::Int(2)),
                                ("major", J::Int(7)),
                            ]),
                        ),
                        ("package", J::s("x")),
                    ]),
                ),
                ("capabilities", J::Arr(vec![])),
            ]),
        )]);
        assert_eq!(
            j.compact(),
            r#"{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": "x"}, "capabilities": []}}"#
        );
        assert_eq!(
            J::obj([("return", J::empty())]).compact(),
            r#"{"return": {}}"#
        );
        assert_eq!(
            J::obj([("return", J::s("a\r\n\"b\""))]).compact(),
            r#"{"return": "a\r\n\"b\""}"#
        );
        assert_eq!(
            J::obj([("a", J::Arr(vec![J::Int(1), J::Int(2)]))]).pretty(),
            "{\n    \"a\": [\n        1,\n        2\n    ]\n}"
        );
    }

    #[test]
    fn frames_concatenated_values() {
        let mut f = Framer::new();
        let frames = f.push(br#"{"execute":"qmp_capabilities"}{"execute":"migrate","arguments":{"uri":"unix:/t}{"}}"#);
        assert_eq!(
            frames,
            vec![
                Frame::Value(json!({"execute": "qmp_capabilities"})),
                Frame::Value(json!({"execute": "migrate", "arguments": {"uri": "unix:/t}{"}})),
            ]
        );
    }

    #[test]
    fn frames_split_across_reads() {
        let mut f = Framer::new();
        assert!(f.push(br#"{"execute": "qu"#).is_empty());
        assert!(f.push(br#"it", "id": "a\"}""#).is_empty());
        assert_eq!(
            f.push(b"}\n"),
            vec![Frame::Value(json!({"execute": "quit", "id": "a\"}"}))]
        );
    }

    #[test]
    fn errors_and_recovery() {
        let mut f = Framer::new();
        let frames = f.push(b"garbage\n{\"a\": 1} ] 12 ");
        assert_eq!(
            frames,
            vec![
                Frame::Error("JSON parse error, invalid keyword 'garbage'".into()),
                Frame::Value(json!({"a": 1})),
                Frame::Error("JSON parse error, expecting value".into()),
                Frame::Value(json!(12)),
            ]
        );
        let frames = f.push(b"{\"a\": }");
        assert!(matches!(&frames[..], [Frame::Error(e)] if e.starts_with("JSON parse error, ")));
        assert_eq!(f.push(b"[1]"), vec![Frame::Value(json!([1]))]);
    }

    #[test]
    fn nesting_limit() {
        let mut f = Framer::new();
        let deep = "[".repeat(MAX_NESTING + 1) + &"]".repeat(MAX_NESTING + 1);
        assert_eq!(
            f.push(deep.as_bytes()),
            vec![Frame::Error(
                "JSON parse error, JSON nesting depth limit exceeded".into()
            )]
        );
        assert_eq!(f.push(b"{}"), vec![Frame::Value(json!({}))]);
    }
}
