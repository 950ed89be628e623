//! From [`Options`] to what the machine is built from: the listings the
//! command line may ask for instead of a run, the accelerator choice, the
//! `spapr_machine::config::ConfigRequest` and its validation by
//! `MachineConfig::new` (the single place where machine properties,
//! `-cpu`, `-smp` and `-m` are checked), and the checks of the files named
//! on the command line.

use std::fs::File;

use spapr_caps::{CapError, MachineOptions};
use spapr_machine::config::{AccelKind, ConfigError, ConfigRequest, MachineConfig};
use spapr_machine::rtc::CivilTime;

use crate::listings;
use crate::options::frontends::IoPlan;
use crate::options::keyval::KeyVal;
use crate::options::{AccelArg, CliError, Options};

/// One `-machine` string with its implied key spelled out, so that strings
/// from several options can be joined with commas and a later type still
/// overrides an earlier one (`-M pseries-4.1 -M pseries-7.2`), as QEMU
/// merges them.
fn explicit_type(value: &str) -> String {
    match value.split(',').next() {
        Some(first) if !first.is_empty() && !first.contains('=') => format!("type={value}"),
        _ => value.to_string(),
    }
}

/// The `-machine` strings for `ConfigRequest::machine`.
fn machine_strings(opts: &Options) -> Vec<String> {
    opts.machine
        .iter()
        .filter(|m| !m.value.is_empty())
        .map(|m| explicit_type(&m.value))
        .collect()
}

/// The machine option strings, each parsed on its own so that a syntax
/// error names its option (`-M pseries,foo: Expected '=' after parameter
/// 'foo'`), then all of them together as QEMU merges them.
fn machine_options(opts: &Options) -> Result<MachineOptions, CliError> {
    for m in &opts.machine {
        MachineOptions::parse(&m.value).map_err(|e| CliError::at(&m.location(), e))?;
    }
    MachineOptions::parse(&machine_strings(opts).join(",")).map_err(caps_error)
}

fn caps_error(e: CapError) -> CliError {
    let hint = e.hint();
    let mut c = CliError::new(e.to_string());
    c.hint = hint;
    c
}

/// A machine configuration error as printed: QEMU's line and hint.
pub fn config_error(e: &ConfigError) -> CliError {
    let mut c = CliError::new(e.to_string());
    c.hint = e.hint();
    c
}

/// What the command line asks to print instead of running, if anything:
/// `-machine help` / `?`, `-machine TYPE,help`, `-cpu help` / `?`.
pub fn listing(opts: &Options) -> Result<Option<String>, CliError> {
    let m = machine_options(opts)?;
    if m.wants_machine_list() {
        return Ok(Some(listings::machine_help()));
    }
    if m.wants_property_help() {
        let machine = m.machine_type().map_err(caps_error)?;
        return Ok(Some(listings::machine_property_help(machine)));
    }
    if let Some(cpu) = &opts.cpu {
        if cpu.value == "help" || cpu.value == "?" {
            return Ok(Some(listings::cpu_help()));
        }
    }
    Ok(None)
}

/// The accelerator: the first of the `-accel` options that can run here
/// (QEMU's fallback, with its messages as warnings), TCG by default.
pub fn choose_accel(opts: &Options) -> Result<(AccelKind, Vec<String>), CliError> {
    let mut warnings = Vec::new();
    let mut wanted = opts.accel.clone();
    if wanted.is_empty() {
        // QEMU's older spelling: `-machine accel=kvm:tcg`.
        let m = machine_options(opts)?;
        if let Some((_, list)) = m.props().filter(|(k, _)| *k == "accel").last() {
            wanted = list
                .split(':')
                .map(|name| AccelArg {
                    name: name.to_string(),
                    location: String::new(),
                })
                .collect();
        }
    }
    for (i, a) in wanted.iter().enumerate() {
        let kind = match a.name.as_str() {
            "tcg" => Some(AccelKind::Tcg),
            "kvm" if listings::kvm_possible() && std::path::Path::new("/dev/kvm").exists() => {
                Some(AccelKind::Kvm)
            }
            _ => None,
        };
        if let Some(k) = kind {
            return Ok((k, warnings));
        }
        let msg = if a.location.is_empty() {
            format!("invalid accelerator {}", a.name)
        } else {
            format!("{}: invalid accelerator {}", a.location, a.name)
        };
        match wanted.get(i + 1) {
            Some(next) => {
                warnings.push(msg);
                warnings.push(format!("falling back to {}", next.name));
            }
            None => return Err(CliError::new(msg)),
        }
    }
    Ok((AccelKind::Tcg, warnings))
}

fn rtc_base(opts: &Options) -> Result<Option<CivilTime>, CliError> {
    let Some(rtc) = &opts.rtc else {
        return Ok(None);
    };
    let kv = KeyVal::parse(&rtc.value, None);
    match kv.get("base") {
        None => Ok(None),
        Some(base) => CivilTime::parse_base(base).ok_or_else(|| {
            CliError::new("invalid datetime format")
                .with_hint("valid formats: '2006-06-17T16:01:21' or '2006-06-17'")
        }),
    }
}

/// Builds the request `MachineConfig::new` validates.
pub fn config_request(
    opts: &Options,
    plan: &IoPlan,
    accel: AccelKind,
) -> Result<ConfigRequest, CliError> {
    // Syntax errors first, with their option named.
    machine_options(opts)?;
    Ok(ConfigRequest {
        machine: machine_strings(opts),
        cpu: opts.cpu.as_ref().map(|c| c.value.clone()),
        smp: opts.smp.as_ref().map(|s| s.value.clone()),
        ram: opts.memory.as_ref().map(|m| m.value.clone()),
        accel,
        rtc_base: rtc_base(opts)?,
        console: plan.has_console(),
    })
}

/// Validates the request into the machine configuration.
pub fn machine_config(req: &ConfigRequest) -> Result<MachineConfig, CliError> {
    MachineConfig::new(req).map_err(|e| config_error(&e))
}

/// `-incoming`: the URI must be one this program can listen on or read.
pub fn check_incoming(opts: &Options) -> Result<(), CliError> {
    if let Some(inc) = &opts.incoming {
        migration::IncomingUri::parse(&inc.value).map_err(|e| CliError::at(&inc.location(), e))?;
    }
    Ok(())
}

/// The files named on the command line must be readable (what is in them
/// is the loader's business). QEMU's messages.
pub fn check_files(opts: &Options) -> Result<(), CliError> {
    if opts.kernel.is_none() {
        if opts.append.is_some() {
            return Err(CliError::new("-append only allowed with -kernel option"));
        }
        if opts.initrd.is_some() {
            return Err(CliError::new("-initrd only allowed with -kernel option"));
        }
    }
    if let Some(bios) = &opts.bios {
        if File::open(bios).is_err() {
            return Err(CliError::new(format!(
                "Could not find LPAR firmware '{}'",
                bios.display()
            )));
        }
    }
    if let Some(kernel) = &opts.kernel {
        if File::open(kernel).is_err() {
            return Err(CliError::new(format!(
                "could not load kernel '{}'",
                kernel.display()
            )));
        }
    }
    if let Some(initrd) = &opts.initrd {
        if File::open(initrd).is_err() {
            return Err(CliError::new(format!(
                "could not load initial ram disk '{}'",
                initrd.display()
            )));
        }
    }
    Ok(())
}
