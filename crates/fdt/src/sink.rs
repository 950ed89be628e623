//! [`spapr_irq::DtSink`] for [`FdtBuilder`] (feature `spapr-irq`), so the
//! machine can hand its builder to an interrupt controller, which writes
//! its node without knowing this crate.

use spapr_irq::{DtError, DtSink};

use crate::builder::FdtBuilder;
use crate::error::FdtError;

impl From<FdtError> for DtError {
    fn from(e: FdtError) -> Self {
        DtError(e.to_string())
    }
}

impl DtSink for FdtBuilder {
    fn begin_node(&mut self, name: &str) -> Result<(), DtError> {
        Ok(FdtBuilder::begin_node(self, name)?)
    }

    fn end_node(&mut self) -> Result<(), DtError> {
        Ok(FdtBuilder::end_node(self)?)
    }

    fn property(&mut self, name: &str, value: &[u8]) -> Result<(), DtError> {
        Ok(FdtBuilder::property(self, name, value)?)
    }

    fn property_null(&mut self, name: &str) -> Result<(), DtError> {
        Ok(FdtBuilder::property_null(self, name)?)
    }

    fn property_u32(&mut self, name: &str, value: u32) -> Result<(), DtError> {
        Ok(FdtBuilder::property_u32(self, name, value)?)
    }

    fn property_cells(&mut self, name: &str, cells: &[u32]) -> Result<(), DtError> {
        Ok(FdtBuilder::property_cells(self, name, cells)?)
    }

    fn property_u64s(&mut self, name: &str, values: &[u64]) -> Result<(), DtError> {
        Ok(FdtBuilder::property_u64s(self, name, values)?)
    }

    /// Refuses a string holding NUL (the trait's default would silently
    /// write a string list).
    fn property_string(&mut self, name: &str, value: &str) -> Result<(), DtError> {
        Ok(FdtBuilder::property_string(self, name, value)?)
    }

    /// Writes `phandle` then `linux,phandle`, the order of QEMU's blobs, and
    /// checks the value is valid and unused.
    fn property_phandle(&mut self, phandle: u32) -> Result<(), DtError> {
        Ok(FdtBuilder::property_phandle(self, phandle)?)
    }
}
