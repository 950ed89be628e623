//! The `pseries` command line, in QEMU's syntax and words.
//!
//! The options are those of `qemu-system-ppc64` that a pseries user types,
//! spelled with one dash (`-machine`) or two (`--machine`), each taking its
//! argument as the next word, exactly as QEMU. Parsing turns the words into
//! a plain [`Options`] value and checks what can be checked without the
//! machine: missing arguments (`-smp: requires an argument`), unknown
//! options (`-foo: invalid option`), and the syntax of the sub-option
//! strings of `-chardev`, `-mon`, `-qmp`, `-serial`, `-monitor`, `-accel`,
//! `-icount`, `-display` and `-rtc`. Machine properties, `-smp`, `-m` and
//! `-cpu` are validated by `spapr_machine::config` (see `crate::request`).
//!
//! A small hand-written scanner is used instead of clap: QEMU's syntax has
//! single-dash long options, options that may repeat and accumulate
//! (`-machine`, `-chardev`, `-serial`), options acted on the moment they are
//! seen (`-h` and `-version` win over later errors, earlier errors win over
//! them), and its own error texts and exit status; clap would need every
//! one of those to be overridden, so it would reproduce QEMU less
//! faithfully than forty lines of table.

pub mod chardev;
pub mod error;
pub mod frontends;
pub mod keyval;

use std::path::PathBuf;

pub use chardev::{BackendSpec, ChardevRef, ChardevSpec, SocketAddr, SocketSpec};
pub use error::CliError;
use keyval::KeyVal;

/// An option argument with the option as the user typed it, so that errors
/// can name it the way QEMU does (`-M pseries,foo: ...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// The option's name as typed, with its dashes (`-M`, `--machine`).
    pub option: String,
    /// Its argument.
    pub value: String,
}

impl Located {
    /// `-option value`, the location prefix of QEMU's messages.
    pub fn location(&self) -> String {
        format!("{} {}", self.option, self.value)
    }
}

/// A monitor protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MonitorMode {
    /// HMP: the human monitor, `(qemu) ` prompt.
    Readline,
    /// QMP: JSON.
    Control,
}

/// A `-monitor`, `-qmp` or `-mon` option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorArg {
    /// The chardev it runs on.
    pub chardev: ChardevRef,
    /// HMP or QMP.
    pub mode: MonitorMode,
    /// `pretty=on` (QMP): indented JSON.
    pub pretty: bool,
    /// The option as typed.
    pub location: String,
}

/// A `-serial` option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SerialArg {
    /// `None` for `-serial none`.
    pub chardev: Option<ChardevRef>,
    /// The option as typed.
    pub location: String,
}

/// An accelerator asked with `-accel` or `-enable-kvm`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccelArg {
    /// `tcg` or `kvm` (or another name, refused when chosen).
    pub name: String,
    /// The option as typed.
    pub location: String,
}

/// Everything the command line asked for. Plain data: validation that
/// needs the machine's tables happens when it is turned into a
/// `spapr_machine::config::ConfigRequest`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// `-machine` / `-M`, in order.
    pub machine: Vec<Located>,
    /// `-cpu`.
    pub cpu: Option<Located>,
    /// `-smp`.
    pub smp: Option<Located>,
    /// `-m`.
    pub memory: Option<Located>,
    /// `-bios`.
    pub bios: Option<PathBuf>,
    /// `-kernel`.
    pub kernel: Option<PathBuf>,
    /// `-initrd`.
    pub initrd: Option<PathBuf>,
    /// `-append`.
    pub append: Option<String>,
    /// `-nodefaults`: no default serial port or monitor.
    pub nodefaults: bool,
    /// `-nographic`.
    pub nographic: bool,
    /// `-display none` was given.
    pub display_none: bool,
    /// `-serial`, in order.
    pub serial: Vec<SerialArg>,
    /// `-monitor`, `-qmp`, `-mon`, in order.
    pub monitors: Vec<MonitorArg>,
    /// `-monitor none` was given (no default monitor).
    pub monitor_none: bool,
    /// `-chardev`, in order.
    pub chardevs: Vec<ChardevSpec>,
    /// `-incoming`.
    pub incoming: Option<Located>,
    /// `-S`: do not start the vCPUs.
    pub start_paused: bool,
    /// `-accel` / `-enable-kvm`, in order of preference.
    pub accel: Vec<AccelArg>,
    /// `-rtc`.
    pub rtc: Option<Located>,
    /// `-no-reboot`: a guest reset ends the program instead.
    pub no_reboot: bool,
    /// `-no-shutdown`: a guest power-off stops the vCPUs instead of ending
    /// the program.
    pub no_shutdown: bool,
    /// `-icount`: accepted (the kvm-unit-tests harness passes it) and
    /// ignored; the timebase follows the host clock.
    pub icount: Option<Located>,
}

/// What the command line asks the program to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// `-h` / `-help` / `--help`: print the usage and exit 0.
    Help,
    /// `-version`: print the version and exit 0.
    Version,
    /// `-accel help`: list the accelerators and exit 0.
    AccelHelp,
    /// Run (or list machines / CPUs; see `crate::listings`).
    Run(Box<Options>),
}

/// How an option takes its argument.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Arity {
    Flag,
    Arg,
}

/// The options, by name without dashes.
const TABLE: &[(&str, Arity)] = &[
    ("h", Arity::Flag),
    ("help", Arity::Flag),
    ("version", Arity::Flag),
    ("machine", Arity::Arg),
    ("M", Arity::Arg),
    ("cpu", Arity::Arg),
    ("smp", Arity::Arg),
    ("m", Arity::Arg),
    ("bios", Arity::Arg),
    ("kernel", Arity::Arg),
    ("initrd", Arity::Arg),
    ("append", Arity::Arg),
    ("nodefaults", Arity::Flag),
    ("nographic", Arity::Flag),
    ("display", Arity::Arg),
    ("serial", Arity::Arg),
    ("monitor", Arity::Arg),
    ("qmp", Arity::Arg),
    ("mon", Arity::Arg),
    ("chardev", Arity::Arg),
    ("incoming", Arity::Arg),
    ("S", Arity::Flag),
    ("accel", Arity::Arg),
    ("enable-kvm", Arity::Flag),
    ("rtc", Arity::Arg),
    ("no-reboot", Arity::Flag),
    ("no-shutdown", Arity::Flag),
    ("icount", Arity::Arg),
    ("d", Arity::Arg),
    ("D", Arity::Arg),
];

/// Parses the arguments after the program name.
pub fn parse<I, S>(args: I) -> Result<Parsed, CliError>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut opts = Options::default();
    let mut args = args.into_iter().map(Into::into);
    while let Some(word) = args.next() {
        let Some(name) = option_name(&word) else {
            // QEMU takes a bare word as a disk image; there are no block
            // devices here.
            return Err(CliError::at(
                &word,
                "disk images are not supported (the pseries machine here has no block devices)",
            ));
        };
        let Some(&(_, arity)) = TABLE.iter().find(|(n, _)| *n == name) else {
            return Err(CliError::at(&word, "invalid option"));
        };
        let value = match arity {
            Arity::Flag => String::new(),
            Arity::Arg => args
                .next()
                .ok_or_else(|| CliError::at(&word, "requires an argument"))?,
        };
        let here = Located {
            option: word.clone(),
            value: value.clone(),
        };
        let location = here.location();
        match name {
            "h" | "help" => return Ok(Parsed::Help),
            "version" => return Ok(Parsed::Version),
            "machine" | "M" => opts.machine.push(here),
            "cpu" => opts.cpu = Some(here),
            "smp" => opts.smp = Some(here),
            "m" => opts.memory = Some(here),
            "bios" => opts.bios = Some(value.into()),
            "kernel" => opts.kernel = Some(value.into()),
            "initrd" => opts.initrd = Some(value.into()),
            "append" => opts.append = Some(value),
            "nodefaults" => opts.nodefaults = true,
            "nographic" => opts.nographic = true,
            "display" => {
                parse_display(&value).map_err(|m| CliError::at(&location, m))?;
                opts.display_none = true;
            }
            "serial" => opts.serial.push(parse_serial(&value, &location)?),
            "monitor" => {
                if value == "none" {
                    opts.monitor_none = true;
                } else {
                    let chardev = parse_monitor_chardev(&value, &location)?;
                    opts.monitors.push(MonitorArg {
                        chardev,
                        mode: MonitorMode::Readline,
                        pretty: false,
                        location,
                    });
                }
            }
            "qmp" => {
                let chardev = parse_monitor_chardev(&value, &location)?;
                opts.monitors.push(MonitorArg {
                    chardev,
                    mode: MonitorMode::Control,
                    pretty: false,
                    location,
                });
            }
            "mon" => opts.monitors.push(parse_mon(&value, &location)?),
            "chardev" => {
                let spec = chardev::parse_chardev(&value, &location)
                    .map_err(|e| CliError::at(&location, e))?;
                if opts.chardevs.iter().any(|c| c.id == spec.id) {
                    return Err(CliError::at(
                        &location,
                        format!("Duplicate ID '{}' for chardev", spec.id),
                    ));
                }
                opts.chardevs.push(spec);
            }
            "incoming" => opts.incoming = Some(here),
            "S" => opts.start_paused = true,
            "accel" => {
                if let Some(a) = parse_accel(&value, &location)? {
                    opts.accel.push(a);
                } else {
                    return Ok(Parsed::AccelHelp);
                }
            }
            "enable-kvm" => opts.accel.push(AccelArg {
                name: "kvm".into(),
                location: word.clone(),
            }),
            "rtc" => {
                check_rtc(&value).map_err(|m| CliError::at(&location, m))?;
                opts.rtc = Some(here);
            }
            "no-reboot" => opts.no_reboot = true,
            "no-shutdown" => opts.no_shutdown = true,
            "icount" => {
                check_icount(&value).map_err(|m| CliError::at(&location, m))?;
                opts.icount = Some(here);
            }
            "d" | "D" => {
                return Err(CliError::at(
                    &location,
                    "QEMU's debug log (-d/-D) is not supported by pseries-rs",
                ))
            }
            _ => unreachable!("every table entry is handled"),
        }
    }
    Ok(Parsed::Run(Box::new(opts)))
}

/// `-name` or `--name` to `name` (empty for `-` and `--`, which QEMU calls
/// invalid options); `None` for a word that is no option.
fn option_name(word: &str) -> Option<&str> {
    let rest = word.strip_prefix('-')?;
    Some(rest.strip_prefix('-').unwrap_or(rest))
}

fn parse_display(value: &str) -> Result<(), String> {
    let kv = KeyVal::parse(value, Some("type"));
    match kv.get("type") {
        Some("none") => match kv.items().find(|(k, _)| *k != "type") {
            Some((k, _)) => Err(format!("Parameter '{k}' is unexpected")),
            None => Ok(()),
        },
        Some(other) => Err(format!("Parameter 'type' does not accept value '{other}'")),
        None => Err("Parameter 'type' is missing".into()),
    }
}

fn parse_serial(value: &str, location: &str) -> Result<SerialArg, CliError> {
    if value == "none" {
        return Ok(SerialArg {
            chardev: None,
            location: location.to_string(),
        });
    }
    let chardev = chardev::parse_compat(value).map_err(|e| {
        CliError::at(location, e).and(format!(
            "{location}: could not connect serial device to character backend '{value}'"
        ))
    })?;
    Ok(SerialArg {
        chardev: Some(chardev),
        location: location.to_string(),
    })
}

fn parse_monitor_chardev(value: &str, location: &str) -> Result<ChardevRef, CliError> {
    chardev::parse_compat(value)
        .map_err(|e| CliError::at(location, e).and(format!("{location}: parse error: {value}")))
}

fn parse_mon(value: &str, location: &str) -> Result<MonitorArg, CliError> {
    let kv = KeyVal::parse(value, Some("chardev"));
    let err = |e: keyval::KeyValError| CliError::at(location, e);
    kv.check_keys(&["chardev", "mode", "pretty"]).map_err(err)?;
    let id = kv.require("chardev").map_err(err)?;
    let mode = match kv.get("mode").unwrap_or("readline") {
        "readline" => MonitorMode::Readline,
        "control" => MonitorMode::Control,
        other => {
            return Err(err(keyval::KeyValError::BadValue {
                key: "mode".into(),
                value: other.into(),
            }))
        }
    };
    let pretty = kv.bool("pretty").map_err(err)?.unwrap_or(false);
    Ok(MonitorArg {
        chardev: ChardevRef::Named(id.to_string()),
        mode,
        pretty,
        location: location.to_string(),
    })
}

/// `None` for `-accel help`.
fn parse_accel(value: &str, location: &str) -> Result<Option<AccelArg>, CliError> {
    let kv = KeyVal::parse(value, Some("accel"));
    let name = kv.get("accel").unwrap_or("");
    if name == "help" || name == "?" {
        return Ok(None);
    }
    if name == "tcg" {
        for (k, v) in kv.items() {
            match k {
                "accel" => {}
                "thread" if v == "single" || v == "multi" => {}
                "thread" => {
                    return Err(CliError::at(
                        location,
                        format!("Invalid 'thread' setting {v}"),
                    ))
                }
                "tb-size" | "split-wx" | "one-insn-per-tb" => {}
                _ => {
                    return Err(CliError::at(
                        location,
                        format!("Property 'tcg-accel.{k}' not found"),
                    ))
                }
            }
        }
    }
    Ok(Some(AccelArg {
        name: name.to_string(),
        location: location.to_string(),
    }))
}

fn check_rtc(value: &str) -> Result<(), String> {
    let kv = KeyVal::parse(value, None);
    kv.check_keys(&["base", "clock", "driftfix"])
        .map_err(|e| e.to_string())?;
    let check = |key: &str, allowed: &[&str]| match kv.get(key) {
        Some(v) if !allowed.contains(&v) => Err(format!("invalid option value '{v}'")),
        _ => Ok(()),
    };
    check("clock", &["host", "rt", "vm"])?;
    check("driftfix", &["none", "slew"])
}

fn check_icount(value: &str) -> Result<(), String> {
    let kv = KeyVal::parse(value, Some("shift"));
    kv.check_keys(&["shift", "align", "sleep", "rr", "rrfile", "rrsnapshot", "q"])
        .map_err(|e| e.to_string())?;
    match kv.get("shift") {
        None | Some("auto") => Ok(()),
        Some(s) => match s.parse::<u32>() {
            Ok(n) if n <= 10 => Ok(()),
            _ => Err("icount: Invalid shift value".into()),
        },
    }
}

#[cfg(test)]
mod tests;
