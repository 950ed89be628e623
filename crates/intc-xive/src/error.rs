//! Errors of the XIVE engine's construction and configuration.

/// What can go wrong building or wiring engine objects. Guest actions never
/// produce these: they get PAPR return codes or ignored accesses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XiveError {
    /// ESB shift other than 12, 13, 16 or 17.
    #[error("Invalid ESB shift setting {0}")]
    EsbShift(u32),
    /// A source block with no source.
    #[error("Number of interrupt needs to be greater than 0")]
    NoSources,
    /// A thread-context slot outside the presenter.
    #[error("no thread context slot {0}")]
    NoSlot(u32),
    /// A thread-context slot already attached.
    #[error("thread context slot {0} is already in use")]
    SlotInUse(u32),
}
