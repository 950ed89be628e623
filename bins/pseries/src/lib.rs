//! The `pseries` program's parts: the QEMU-style command line
//! ([`options`]), the listings it prints ([`listings`]), the machine
//! configuration request ([`request`]), the chardevs ([`chardev`]) with the
//! serial console ([`console`]) and the monitors ([`monitor`]: QMP and HMP,
//! driven through the [`monitor::VmControl`] trait), wired by [`io`].
//!
//! The binary (`src/main.rs`) strings them together; the machine itself
//! lives in `spapr-machine` and is reached only through
//! [`monitor::VmControl`] and [`console::SerialPort`], so these parts can
//! be tested without it.

/// The README's example, compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctest;

pub mod chardev;
pub mod console;
pub mod exit;
pub mod io;
pub mod listings;
pub mod log;
pub mod monitor;
pub mod options;
pub mod request;
pub mod signals;
pub mod vm;
