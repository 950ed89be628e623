//! A PowerPC 64 (Book3S, ISA 2.07-3.1) vCPU for pseries guests.
//!
//! - [`model`]: CPU models (PVR, ISA level, compat modes, CAS PVR
//!   negotiation, `-cpu help`).
//! - [`Vcpu`]: architected state, an interpreter over a cache of decoded
//!   blocks, exceptions, timebase and decrementer, the radix MMU, and the
//!   exits the machine handles ([`VcpuExit`]).
//! - [`CpuShared`] (one per machine): code-page generations, TLB-flush
//!   broadcast, the process table, reservations. [`SmtCore`] (one per
//!   core): doorbells.
//!
//! The hash MMU is not implemented; see [`mmu`](crate::RadixTranslation).
//! Floating point and vector instructions raise their "unavailable"
//! interrupts while the facility is off and exit with
//! [`VcpuExit::Unimplemented`] when the guest enables it.
//!
//! Design notes: the hot loop runs decoded blocks (one per real address and
//! MSR context, never crossing a page, continuing past not-taken
//! conditional branches) out of a per-vCPU cache, chaining from block to
//! block through a direct-mapped jump table keyed by EA; a compare and the
//! bc after it run as one dispatch. Data accesses go through a
//! direct-mapped software TLB holding host addresses, so a RAM access on
//! the fast path is a tag compare and a host load or store; radix misses
//! use a small page-walk cache. Stores to pages
//! holding decoded code and `icbi` bump a per-page generation shared by all
//! vCPUs, which invalidates stale blocks lazily. Nothing allocates per
//! instruction.

mod alu;
pub mod asm;
mod cache;
mod cpu;
mod decode;
mod decode31;
mod decode_ext;
mod excp;
mod exec;
mod mem;
mod mmu;
pub mod model;
pub mod regs;
mod shared;
mod spr;
mod state;
mod system;
mod timebase;
mod vcpu;
mod vcpu_access;

pub use excp::vector;
pub use mmu::RadixTranslation;
pub use model::{cpu_help, CpuModel, Family, IsaLevel};
pub use shared::{CpuShared, SmtCore, VcpuWaker};
pub use spr::spr_count;
pub use state::{StateError, VcpuState};
pub use timebase::{Timebase, TIMEBASE_HZ};
pub use vcpu::{ExternalInterrupt, MmioRequest, MmioResult, Vcpu, VcpuExit};
