//! A device-tree sink the controllers write their nodes into.
//!
//! This crate depends on no device-tree writer: the machine hands the
//! controller a [`DtSink`] over its own writer (the `fdt` crate implements it
//! behind its `spapr-irq` feature), so a controller can be reused with any
//! writer.

/// Why a device-tree write failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("device tree: {0}")]
pub struct DtError(pub String);

/// Receives nodes and properties in flattened-device-tree order: a node's
/// properties before its subnodes.
pub trait DtSink {
    /// Opens a subnode of the current node.
    fn begin_node(&mut self, name: &str) -> Result<(), DtError>;
    /// Closes the most recently opened node.
    fn end_node(&mut self) -> Result<(), DtError>;
    /// Adds a property with raw bytes to the current node.
    fn property(&mut self, name: &str, value: &[u8]) -> Result<(), DtError>;

    /// Adds an empty (boolean) property.
    fn property_null(&mut self, name: &str) -> Result<(), DtError> {
        self.property(name, &[])
    }

    /// Adds a single big-endian 32-bit cell.
    fn property_u32(&mut self, name: &str, value: u32) -> Result<(), DtError> {
        self.property(name, &value.to_be_bytes())
    }

    /// Adds a list of big-endian 32-bit cells.
    fn property_cells(&mut self, name: &str, cells: &[u32]) -> Result<(), DtError> {
        let bytes: Vec<u8> = cells.iter().flat_map(|c| c.to_be_bytes()).collect();
        self.property(name, &bytes)
    }

    /// Adds a list of big-endian 64-bit values (two cells each).
    fn property_u64s(&mut self, name: &str, values: &[u64]) -> Result<(), DtError> {
        let bytes: Vec<u8> = values.iter().flat_map(|c| c.to_be_bytes()).collect();
        self.property(name, &bytes)
    }

    /// Adds a NUL-terminated string.
    fn property_string(&mut self, name: &str, value: &str) -> Result<(), DtError> {
        let mut bytes = Vec::with_capacity(value.len() + 1);
        bytes.extend_from_slice(value.as_bytes());
        bytes.push(0);
        self.property(name, &bytes)
    }

    /// Adds `phandle` and `linux,phandle` with the same value, as QEMU does
    /// for the interrupt controller.
    fn property_phandle(&mut self, phandle: u32) -> Result<(), DtError> {
        self.property_u32("linux,phandle", phandle)?;
        self.property_u32("phandle", phandle)
    }
}

/// A [`DtSink`] that records what it receives, for tests of a controller's
/// node without a device-tree writer.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RecordingSink {
    /// Events in order.
    pub events: Vec<DtEvent>,
}

/// One write recorded by [`RecordingSink`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DtEvent {
    /// A node was opened.
    Begin(String),
    /// The current node was closed.
    End,
    /// A property was added.
    Property(String, Vec<u8>),
}

impl DtSink for RecordingSink {
    fn begin_node(&mut self, name: &str) -> Result<(), DtError> {
        self.events.push(DtEvent::Begin(name.to_owned()));
        Ok(())
    }

    fn end_node(&mut self) -> Result<(), DtError> {
        self.events.push(DtEvent::End);
        Ok(())
    }

    fn property(&mut self, name: &str, value: &[u8]) -> Result<(), DtError> {
        self.events
            .push(DtEvent::Property(name.to_owned(), value.to_vec()));
        Ok(())
    }
}

impl RecordingSink {
    /// The value of the first property called `name`.
    pub fn property(&self, name: &str) -> Option<&[u8]> {
        self.events.iter().find_map(|e| match e {
            DtEvent::Property(n, v) if n == name => Some(v.as_slice()),
            _ => None,
        })
    }
}
