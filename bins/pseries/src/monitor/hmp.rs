//! HMP, the human monitor: one command line in, text out, with QEMU 7.2's
//! command names, help lines and error texts.
//!
//! Output uses `\n`; sessions and `human-monitor-command` turn it into
//! `\r\n` as QEMU's monitor does ([`crlf`]).

use std::fmt::Write as _;
use std::thread;
use std::time::Duration;

use super::actions::Actions;
use super::{package, MigrationInfo, MigrationStatus, RunStatus, QEMU_VERSION};

/// How often an interactive `migrate` polls for the end of the migration.
const MIGRATE_POLL: Duration = Duration::from_millis(50);

/// The result of one command line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HmpOutput {
    /// Text to show (lines end in `\n`).
    pub text: String,
    /// `quit` was run: after showing the text, end the program
    /// ([`Actions::quit_now`]).
    pub quit: bool,
}

impl HmpOutput {
    fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            quit: false,
        }
    }
}

/// `\n` to `\r\n`, as QEMU's monitor writes.
pub fn crlf(text: &str) -> String {
    text.replace('\n', "\r\n")
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Cmd {
    Cont,
    Help,
    Info,
    Migrate,
    MigrateIncoming,
    Quit,
    Stop,
    SystemPowerdown,
    SystemReset,
}

/// (names as QEMU lists them, parameters, help, command).
const COMMANDS: &[(&str, &str, &str, Cmd)] = &[
    ("cont|c", "", "resume emulation", Cmd::Cont),
    ("help|?", "[cmd]", "show the help", Cmd::Help),
    (
        "info",
        "[subcommand]",
        "show various information about the system state",
        Cmd::Info,
    ),
    (
        "migrate",
        "[-d] uri",
        "migrate to URI (using -d to not wait for completion)",
        Cmd::Migrate,
    ),
    (
        "migrate_incoming",
        "uri",
        "Continue an incoming migration from an -incoming defer",
        Cmd::MigrateIncoming,
    ),
    ("quit|q", "", "quit the emulator", Cmd::Quit),
    ("stop|s", "", "stop emulation", Cmd::Stop),
    (
        "system_powerdown",
        "",
        "send system power down event",
        Cmd::SystemPowerdown,
    ),
    ("system_reset", "", "reset the system", Cmd::SystemReset),
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Info {
    Capabilities,
    Cpus,
    Migrate,
    Pic,
    Status,
    Version,
}

const INFOS: &[(&str, &str, Info)] = &[
    (
        "capabilities",
        "show the spapr capabilities and where each value came from",
        Info::Capabilities,
    ),
    ("cpus", "show infos for each CPU", Info::Cpus),
    ("migrate", "show migration status", Info::Migrate),
    ("pic", "show PIC state", Info::Pic),
    (
        "status",
        "show the current VM status (running|paused)",
        Info::Status,
    ),
    ("version", "show the version of QEMU", Info::Version),
];

fn help_line(names: &str, params: &str, help: &str) -> String {
    format!("{names} {params} -- {help}\n")
}

fn find_command(name: &str) -> Option<&'static (&'static str, &'static str, &'static str, Cmd)> {
    COMMANDS
        .iter()
        .find(|(names, ..)| names.split('|').any(|n| n == name))
}

/// Splits off the next argument: a word, or a double-quoted string with
/// `\"` and `\\` escapes (QEMU's `s` argument type).
fn next_arg(rest: &str) -> Option<(String, &str)> {
    let rest = rest.trim_start();
    if rest.is_empty() {
        return None;
    }
    if let Some(quoted) = rest.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = quoted.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, e)) = chars.next() {
                        out.push(e);
                    }
                }
                '"' => return Some((out, &quoted[i + 1..])),
                _ => out.push(c),
            }
        }
        // Unterminated: QEMU refuses it ("missing closing quote").
        return None;
    }
    let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    Some((rest[..end].to_string(), &rest[end..]))
}

fn extraneous(names: &str, typed: &str) -> HmpOutput {
    HmpOutput::text(format!(
        "{names}: extraneous characters at the end of line\nTry \"help {typed}\" for more information\n"
    ))
}

fn string_expected(names: &str, typed: &str) -> HmpOutput {
    HmpOutput::text(format!(
        "{names}: string expected\nTry \"help {typed}\" for more information\n"
    ))
}

/// The human monitor's command interpreter.
#[derive(Clone)]
pub struct Hmp {
    actions: Actions,
}

impl Hmp {
    /// An interpreter driving `actions`.
    pub fn new(actions: Actions) -> Self {
        Self { actions }
    }

    /// The banner a monitor session starts with.
    pub fn banner() -> String {
        format!("{} monitor - type 'help' for more information\n", package())
    }

    /// Runs one command line. `interactive` is false under QMP's
    /// `human-monitor-command`, where a command cannot wait (QEMU's
    /// `migrate` then continues detached).
    pub fn execute(&self, line: &str, interactive: bool) -> HmpOutput {
        let line = line.trim();
        let Some((name, rest)) = next_arg(line) else {
            return HmpOutput::default();
        };
        let Some(&(names, _, _, cmd)) = find_command(&name) else {
            return HmpOutput::text(format!("unknown command: '{name}'\n"));
        };
        let no_args = |f: &dyn Fn() -> HmpOutput| {
            if rest.trim().is_empty() {
                f()
            } else {
                extraneous(names, &name)
            }
        };
        let vm = &self.actions.vm;
        match cmd {
            Cmd::Cont => no_args(&|| match self.actions.cont() {
                Ok(()) => HmpOutput::default(),
                Err(e) => HmpOutput::text(format!("Error: {e}\n")),
            }),
            Cmd::Stop => no_args(&|| {
                self.actions.stop();
                HmpOutput::default()
            }),
            Cmd::SystemReset => no_args(&|| {
                self.actions.system_reset();
                HmpOutput::default()
            }),
            Cmd::SystemPowerdown => no_args(&|| {
                self.actions.system_powerdown();
                HmpOutput::default()
            }),
            Cmd::Quit => no_args(&|| {
                self.actions.quit_event();
                HmpOutput {
                    text: String::new(),
                    quit: true,
                }
            }),
            Cmd::Help => HmpOutput::text(self.help(rest.trim())),
            Cmd::Info => self.info(rest),
            Cmd::Migrate => {
                let mut rest = rest;
                let mut detach = false;
                let uri = loop {
                    match next_arg(rest) {
                        Some((flag, more)) if flag == "-d" => {
                            detach = true;
                            rest = more;
                        }
                        Some((flag, _)) if flag == "-b" || flag == "-i" || flag == "-r" => {
                            return HmpOutput::text(format!(
                                "Error: migrate {flag} is not supported (no block devices, no postcopy)\n"
                            ))
                        }
                        Some((uri, more)) => {
                            rest = more;
                            break uri;
                        }
                        None => return string_expected(names, &name),
                    }
                };
                if !rest.trim().is_empty() {
                    return extraneous(names, &name);
                }
                if let Err(e) = vm.migrate(&uri) {
                    return HmpOutput::text(format!("Error: {e}\n"));
                }
                if detach {
                    return HmpOutput::default();
                }
                if !interactive {
                    return HmpOutput::text(
                        "terminal does not allow synchronous migration, continuing detached\n",
                    );
                }
                loop {
                    let info = vm.migrate_info();
                    if !info.status.in_progress() {
                        return match info.error_desc {
                            Some(e) if info.status == MigrationStatus::Failed => {
                                HmpOutput::text(format!("Error: {e}\n"))
                            }
                            _ => HmpOutput::default(),
                        };
                    }
                    thread::sleep(MIGRATE_POLL);
                }
            }
            Cmd::MigrateIncoming => match next_arg(rest) {
                None => string_expected(names, &name),
                Some((_, more)) if !more.trim().is_empty() => extraneous(names, &name),
                Some((uri, _)) => match vm.migrate_incoming(&uri) {
                    Ok(()) => HmpOutput::default(),
                    Err(e) => HmpOutput::text(format!("Error: {e}\n")),
                },
            },
        }
    }

    fn help(&self, topic: &str) -> String {
        let mut out = String::new();
        match next_arg(topic) {
            None => {
                for (names, params, help, _) in COMMANDS {
                    out.push_str(&help_line(names, params, help));
                }
            }
            Some((name, rest)) if name == "info" => match next_arg(rest) {
                None => out.push_str(&Self::info_help()),
                Some((sub, _)) => match INFOS.iter().find(|(n, ..)| *n == sub) {
                    Some((n, help, _)) => out.push_str(&help_line(&format!("info {n}"), "", help)),
                    None => {
                        let _ = writeln!(out, "unknown command: 'info {sub}'");
                    }
                },
            },
            Some((name, _)) => match find_command(&name) {
                Some((names, params, help, _)) => out.push_str(&help_line(names, params, help)),
                None => {
                    let _ = writeln!(out, "unknown command: '{name}'");
                }
            },
        }
        out
    }

    fn info_help() -> String {
        INFOS
            .iter()
            .map(|(n, help, _)| help_line(&format!("info {n}"), "", help))
            .collect()
    }

    fn info(&self, rest: &str) -> HmpOutput {
        let Some((sub, more)) = next_arg(rest) else {
            return HmpOutput::text(Self::info_help());
        };
        let Some(&(_, _, which)) = INFOS.iter().find(|(n, ..)| *n == sub) else {
            return HmpOutput::text(format!("unknown command: 'info {sub}'\n"));
        };
        if !more.trim().is_empty() {
            return extraneous(&sub, &format!("info {sub}"));
        }
        let vm = &self.actions.vm;
        HmpOutput::text(match which {
            Info::Status => format_status(vm.status()),
            Info::Cpus => {
                let mut out = String::new();
                for (i, cpu) in vm.cpus().iter().enumerate() {
                    let mark = if i == 0 { '*' } else { ' ' };
                    let _ = write!(out, "{mark} CPU #{}:", cpu.index);
                    if let Some(tid) = cpu.thread_id {
                        let _ = write!(out, " thread_id={tid}");
                    }
                    out.push('\n');
                }
                out
            }
            Info::Migrate => format_migrate(&vm.migrate_info()),
            Info::Pic => vm.info_pic(),
            Info::Capabilities => vm.info_capabilities(),
            Info::Version => {
                let (major, minor, micro) = QEMU_VERSION;
                format!("{major}.{minor}.{micro} ({})\n", package())
            }
        })
    }
}

/// `info status`: `VM status: running`, `VM status: paused`, or `VM
/// status: paused (<state>)` for the other stopped states.
pub fn format_status(status: RunStatus) -> String {
    if status.is_running() {
        "VM status: running\n".to_string()
    } else if status == RunStatus::Paused {
        "VM status: paused\n".to_string()
    } else {
        format!("VM status: paused ({status})\n")
    }
}

/// `info migrate`, QEMU's layout for the fields known.
pub fn format_migrate(info: &MigrationInfo) -> String {
    let mut out = String::new();
    if info.status != MigrationStatus::None {
        let _ = write!(out, "Migration status: {}", info.status.as_str());
        match (&info.error_desc, info.status) {
            (Some(e), MigrationStatus::Failed) => {
                let _ = writeln!(out, " ({e})");
            }
            _ => out.push('\n'),
        }
        let _ = writeln!(out, "total time: {} ms", info.total_time_ms.unwrap_or(0));
        if let Some(d) = info.downtime_ms {
            let _ = writeln!(out, "downtime: {d} ms");
        }
        if let Some(s) = info.setup_time_ms {
            let _ = writeln!(out, "setup: {s} ms");
        }
        if let Some(t) = info.transferred_bytes {
            let _ = writeln!(out, "transferred ram: {} kbytes", t >> 10);
            if let Some(r) = info.remaining_bytes {
                let _ = writeln!(out, "remaining ram: {} kbytes", r >> 10);
            }
            if let Some(total) = info.total_bytes {
                let _ = writeln!(out, "total ram: {} kbytes", total >> 10);
            }
        }
    }
    if !info.socket_addresses.is_empty() {
        out.push_str("socket address: [\n");
        for a in &info.socket_addresses {
            let _ = writeln!(out, "\t{a}");
        }
        out.push_str("]\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_and_quotes() {
        assert_eq!(next_arg("  a b"), Some(("a".to_string(), " b")));
        assert_eq!(
            next_arg(r#""exec:cat > \"x\"" tail"#),
            Some((r#"exec:cat > "x""#.to_string(), " tail"))
        );
        assert_eq!(next_arg("  "), None);
        assert_eq!(next_arg("\"open"), None);
    }

    #[test]
    fn status_texts() {
        assert_eq!(format_status(RunStatus::Running), "VM status: running\n");
        assert_eq!(format_status(RunStatus::Paused), "VM status: paused\n");
        assert_eq!(
            format_status(RunStatus::Prelaunch),
            "VM status: paused (prelaunch)\n"
        );
        assert_eq!(
            format_status(RunStatus::PostMigrate),
            "VM status: paused (postmigrate)\n"
        );
    }

    #[test]
    fn migrate_texts() {
        assert_eq!(format_migrate(&MigrationInfo::none()), "");
        let mut i = MigrationInfo::with_status(MigrationStatus::Failed);
        i.error_desc = Some("Failed to connect to '/tmp/x': No such file or directory".into());
        assert_eq!(
            format_migrate(&i),
            "Migration status: failed (Failed to connect to '/tmp/x': No such file or directory)\ntotal time: 0 ms\n"
        );
        let mut i = MigrationInfo::with_status(MigrationStatus::Completed);
        i.total_time_ms = Some(78);
        i.downtime_ms = Some(26);
        i.setup_time_ms = Some(1);
        i.transferred_bytes = Some(2_162_470);
        i.remaining_bytes = Some(0);
        i.total_bytes = Some(512 << 20);
        assert_eq!(
            format_migrate(&i),
            "Migration status: completed\ntotal time: 78 ms\ndowntime: 26 ms\nsetup: 1 ms\n\
             transferred ram: 2111 kbytes\nremaining ram: 0 kbytes\ntotal ram: 524288 kbytes\n"
        );
        let mut i = MigrationInfo::none();
        i.socket_addresses = vec!["unix:/tmp/in.sock".into()];
        assert_eq!(
            format_migrate(&i),
            "socket address: [\n\tunix:/tmp/in.sock\n]\n"
        );
    }

    #[test]
    fn crlf_conversion() {
        assert_eq!(crlf("a\nb\n"), "a\r\nb\r\n");
    }
}
