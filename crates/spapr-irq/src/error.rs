//! Errors of the interrupt front end, worded as QEMU words them.

/// What can go wrong when claiming, allocating or activating interrupts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IrqError {
    /// The source is already claimed (QEMU: `IRQ %d is not free`).
    #[error("IRQ {0} is not free")]
    NotFree(u32),
    /// No block of that many consecutive free numbers (QEMU: `can't find a
    /// free %d-IRQ block`).
    #[error("can't find a free {0}-IRQ block")]
    NoFreeBlock(u32),
    /// The number is outside what this controller or allocator covers.
    #[error("IRQ {irq:#x} is outside the range {first:#x}..{end:#x}")]
    OutOfRange {
        /// The refused number.
        irq: u32,
        /// First number of the range.
        first: u32,
        /// One past the last number of the range.
        end: u32,
    },
    /// A multi-vector MSI block must be a power of two of at most 32.
    #[error("invalid MSI block size {0}: must be a power of 2 up to 32")]
    BadBlockSize(u32),
    /// A presenter for this vCPU already exists.
    #[error("vCPU {0} already has an interrupt presenter")]
    PresenterExists(u32),
    /// No presenter for this vCPU.
    #[error("vCPU {0} has no interrupt presenter")]
    NoPresenter(u32),
    /// The controller could not be activated (for example its in-kernel
    /// device could not be had).
    #[error("{0}")]
    Activation(String),
    /// The controller could not be created from this configuration.
    #[error("{0}")]
    Config(String),
}
