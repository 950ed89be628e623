//! Errors of the XICS engine.

use spapr_irq::IrqError;

/// What an engine operation can refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XicsError {
    /// The engine cannot be built with this configuration.
    #[error("{0}")]
    Config(String),
    /// The interrupt number is outside the ICS.
    #[error("IRQ {irq:#x} is outside the range {first:#x}..{end:#x}")]
    IrqOutOfRange {
        /// The refused number.
        irq: u32,
        /// First number of the ICS.
        first: u32,
        /// One past the last number of the ICS.
        end: u32,
    },
    /// The source is already claimed (QEMU: `IRQ %d is not free`).
    #[error("IRQ {0} is not free")]
    NotFree(u32),
    /// The source is not claimed.
    #[error("IRQ {0:#x} is not claimed")]
    NotClaimed(u32),
    /// No presenter for this vCPU index.
    #[error("vCPU {0} has no interrupt presenter")]
    NoPresenter(u32),
    /// The vCPU already has a presenter.
    #[error("vCPU {0} already has an interrupt presenter")]
    PresenterExists(u32),
    /// No presenter serves this interrupt server number.
    #[error("no interrupt server {0}")]
    NoServer(u32),
    /// Another vCPU already serves this interrupt server number.
    #[error("interrupt server {0} is already used by another vCPU")]
    ServerTaken(u32),
    /// The vCPU index is beyond the presenter table.
    #[error("vCPU index {vcpu} is out of range (max {max})")]
    VcpuOutOfRange {
        /// The refused index.
        vcpu: u32,
        /// Number of vCPU slots.
        max: u32,
    },
    /// The server number is beyond the presenter table.
    #[error("interrupt server {server} is out of range (nr_servers {nr_servers})")]
    ServerOutOfRange {
        /// The refused server number.
        server: u32,
        /// Number of server slots.
        nr_servers: u32,
    },
    /// An EOI named a source that is neither the IPI nor in the ICS. The
    /// CPPR part of the EOI was applied.
    #[error("EOI of unknown source {0:#x}")]
    UnknownSource(u32),
}

impl From<XicsError> for IrqError {
    fn from(e: XicsError) -> Self {
        match e {
            XicsError::IrqOutOfRange { irq, first, end } => {
                IrqError::OutOfRange { irq, first, end }
            }
            XicsError::NotFree(irq) => IrqError::NotFree(irq),
            XicsError::NoPresenter(v) => IrqError::NoPresenter(v),
            XicsError::PresenterExists(v) => IrqError::PresenterExists(v),
            other => IrqError::Config(other.to_string()),
        }
    }
}
