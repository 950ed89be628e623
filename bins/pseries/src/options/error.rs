//! The error a bad command line ends with: one or more lines in QEMU's
//! shape (`<program>: <location>: <message>`), then an optional hint line
//! printed without the program prefix, and exit status 1.

use std::fmt;

/// A user error: the lines to print and the hint under them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    /// Error lines, each already carrying its location (`-smp: requires an
    /// argument`); the program name is added when printed.
    pub lines: Vec<String>,
    /// A line printed as is under the errors (`Use -machine help to list
    /// supported machines`).
    pub hint: Option<String>,
}

impl CliError {
    /// An error without a location.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            lines: vec![message.into()],
            hint: None,
        }
    }

    /// An error about one option occurrence: `location` is the option as
    /// typed with its argument (`-accel foo`).
    pub fn at(location: &str, message: impl fmt::Display) -> Self {
        Self::new(format!("{location}: {message}"))
    }

    /// Adds another error line (QEMU prints a second one for some
    /// failures, e.g. a serial backend that cannot be connected).
    pub fn and(mut self, line: impl Into<String>) -> Self {
        self.lines.push(line.into());
        self
    }

    /// Sets the hint line.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The text printed on stderr for program name `prog`.
    pub fn render(&self, prog: &str) -> String {
        let mut out = String::new();
        for line in &self.lines {
            out.push_str(prog);
            out.push_str(": ");
            out.push_str(line);
            out.push('\n');
        }
        if let Some(h) = &self.hint {
            out.push_str(h);
            out.push('\n');
        }
        out
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.lines.join("; "))?;
        if let Some(h) = &self.hint {
            write!(f, " ({h})")?;
        }
        Ok(())
    }
}

impl std::error::Error for CliError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_qemu() {
        let e = CliError::at("-serial foo", "'foo' is not a valid char driver")
            .and("-serial foo: could not connect serial device to character backend 'foo'");
        assert_eq!(
            e.render("pseries"),
            "pseries: -serial foo: 'foo' is not a valid char driver\n\
             pseries: -serial foo: could not connect serial device to character backend 'foo'\n"
        );
        let e = CliError::new("unsupported machine type")
            .with_hint("Use -machine help to list supported machines");
        assert_eq!(
            e.render("pseries"),
            "pseries: unsupported machine type\nUse -machine help to list supported machines\n"
        );
    }
}
