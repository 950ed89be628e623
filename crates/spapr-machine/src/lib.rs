//! The pseries (sPAPR) machine.

pub mod cas;
pub mod config;
pub mod events;
pub mod irq;
pub mod rtas;
pub mod rtc;
