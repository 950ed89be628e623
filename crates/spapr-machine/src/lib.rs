//! The pseries (sPAPR) machine.

pub mod cas;
pub mod cas_call;
pub mod config;
pub mod control;
pub mod devtree;
pub mod events;
pub mod halt_poll;
pub mod hcall;
pub mod irq;
pub mod kvm;
pub mod loader;
pub mod machine;
pub mod memory;
pub mod migrate;
pub mod nvram;
pub mod phb;
pub mod rtas;
pub mod rtas_dispatch;
pub mod rtc;
pub mod transfer;
pub mod vcpu;
pub mod vty;
