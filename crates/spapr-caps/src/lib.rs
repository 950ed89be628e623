//! sPAPR (pseries) capabilities, the way QEMU has them, plus `cap-xics` and
//! `cap-xive` as proposed upstream in 2019.
//!
//! - [`cap`]: the table ([`CapId`], [`CapEntry`]): name, value type,
//!   description, the version that introduced it, its migration subsection;
//! - [`machines`]: every machine version pseries-2.1 .. pseries-11.0 (and
//!   2.12-sxxm) with its default caps, ic-mode, `nr_xirqs`, default CPU,
//!   `vsmt` default and compat knobs; `-machine help`;
//! - [`options`], [`settings`], [`value`]: `-machine TYPE,cap-X=...,ic-mode=...`
//!   parsed and validated with QEMU's messages;
//! - [`resolve()`]: defaults for version + CPU ([`default_caps_with_cpu`]),
//!   then the command line and the `ic-mode` alias, into [`EffectiveCaps`]
//!   that remember where each value came from;
//! - [`apply`]: the checks against CPU and accelerator run at reset;
//! - [`migrate`]: which subsections to send, and [`check_incoming`], the pure
//!   comparison of an incoming stream's caps with the destination's;
//! - [`help`]: the property listing with defaults.
//!
//! The crate depends on no other crate of this project: the machine maps
//! its CPU model to a [`CpuInfo`] (ISA level, `max-cpu-compat`) and its
//! accelerator to an [`Accel`]. Everything here is plain data and pure
//! functions; the machine does the `Migratable` plumbing with
//! [`CapSubsection`]s (name + `u8`).
//!
//! Where QEMU's behaviour is a bug, it is not copied and the item says so
//! (QEMU's hpt-max-page-size migration quirk, the `FIXED_NA` constant).

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctest;

pub mod apply;
pub mod cap;
pub mod cpu;
pub mod error;
pub mod help;
pub mod icmode;
pub mod machines;
pub mod migrate;
pub mod options;
pub mod resolve;
pub mod settings;
pub mod value;
pub mod version;

pub use apply::{ApplyFailure, CapWarning, CheckOutcome};
pub use cap::{CapEntry, CapId, CapKind, CapSet, Controller, Predating, CAP_COUNT};
pub use cpu::{Accel, CpuInfo, IsaLevel, KvmCaps};
pub use error::{CapError, CheckFailure};
pub use help::{cap_properties, format_property_help, PropertyHelp};
pub use icmode::{IcMode, IcModeState};
pub use machines::{
    default_machine, machine, machine_list_help, machine_type, machine_types, MachineType,
    VsmtDefault,
};
pub use migrate::{
    caps_from_subsections, check_incoming, check_machine_type, Accepted, Basis, CapSubsection,
    ControllerSections, IncomingCaps, MigrationWarning, Refusal, Refused,
};
pub use options::MachineOptions;
pub use resolve::{default_caps_with_cpu, resolve, CapContext, CapReport, EffectiveCaps, Origin};
pub use settings::CapSettings;
pub use version::MachineVersion;
