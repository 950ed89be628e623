//! Migration sections shaped like QEMU's:
//!
//! - `ics`, instance 0, version 1 (minimum 1): `nr_irqs` (must equal the
//!   destination's, QEMU's `VMSTATE_UINT32_EQUAL`) and `irqs`, one entry
//!   per source with `server`, `priority`, `saved_priority`, `status`,
//!   `flags` (QEMU's `ics/irq` v2 struct);
//! - `icp/server`, instance = `cpu_index`, version 1 (minimum 1): `xirr`,
//!   `pending_priority`, `mfrr`.
//!
//! Incoming state is checked in [`Migratable::prepare_load`], before
//! anything is applied: the source count, the type flags and status bits,
//! that every claimed source names a server the destination has (and one
//! with a vCPU when the source is unmasked), and that a presenter's XISR is
//! nothing, the IPI or a source of this ICS. The resend QEMU does after a
//! load is [`crate::SpaprXics`]'s `post_load` (run on the active controller
//! only, as in QEMU).

use std::sync::Arc;

use migration::{Migratable, MigrationError, PreparedLoad, SectionState};
use serde::{Deserialize, Serialize};

use crate::engine::Xics;
use crate::icp::{XICS_IPI, XISR_MASK};
use crate::source::{SourceState, FLAG_LSI, FLAG_MSI, PRIORITY_MASKED, STATUS_ALL};

/// Name of the ICS section.
pub const ICS_SECTION: &str = "ics";
/// Name of the presenter sections.
pub const ICP_SECTION: &str = "icp/server";
/// Version of both sections.
pub const VERSION: u32 = 1;

/// One `ics/irq` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IcsIrqFields {
    /// Destination server.
    pub server: u32,
    /// Current priority.
    pub priority: u8,
    /// Priority `ibm,int-on` restores.
    pub saved_priority: u8,
    /// Status bits.
    pub status: u8,
    /// Type flags.
    pub flags: u8,
}

/// Fields of the `ics` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IcsFields {
    /// Number of sources.
    pub nr_irqs: u32,
    /// Every source, in order.
    pub irqs: Vec<IcsIrqFields>,
}

/// Fields of an `icp/server` section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IcpFields {
    /// `CPPR << 24 | XISR`.
    pub xirr: u32,
    /// Priority of the pending XISR.
    pub pending_priority: u8,
    /// IPI priority.
    pub mfrr: u8,
}

fn check_version(section: &str, version_id: u32) -> Result<(), MigrationError> {
    if version_id > VERSION {
        return Err(MigrationError::TooNew {
            section: section.into(),
            incoming: version_id,
            local: VERSION,
        });
    }
    if version_id < 1 {
        return Err(MigrationError::TooOld {
            section: section.into(),
            incoming: version_id,
            minimum: 1,
        });
    }
    Ok(())
}

fn invalid(section: &str, reason: String) -> MigrationError {
    MigrationError::Invalid {
        section: section.into(),
        reason,
    }
}

/// The `ics` section of an engine.
#[derive(Debug, Clone)]
pub struct IcsSection {
    xics: Arc<Xics>,
}

impl IcsSection {
    /// The section of `xics`'s sources.
    pub fn new(xics: Arc<Xics>) -> Self {
        Self { xics }
    }

    fn fields(&self) -> IcsFields {
        let first = self.xics.offset();
        IcsFields {
            nr_irqs: self.xics.nr_irqs(),
            irqs: (first..first + self.xics.nr_irqs())
                .filter_map(|irq| self.xics.source(irq))
                .map(|s| IcsIrqFields {
                    server: s.server,
                    priority: s.priority,
                    saved_priority: s.saved_priority,
                    status: s.status,
                    flags: s.flags,
                })
                .collect(),
        }
    }

    fn validate(&self, f: &IcsFields) -> Result<Vec<SourceState>, MigrationError> {
        let local = self.xics.nr_irqs();
        if f.nr_irqs != local {
            // QEMU's VMSTATE_UINT32_EQUAL words: local != incoming.
            return Err(invalid(
                ICS_SECTION,
                format!("nr_irqs: {:x} != {:x}", local, f.nr_irqs),
            ));
        }
        if f.irqs.len() != local as usize {
            return Err(invalid(
                ICS_SECTION,
                format!("{} source entries for nr_irqs {}", f.irqs.len(), f.nr_irqs),
            ));
        }
        let mut out = Vec::with_capacity(f.irqs.len());
        for (i, e) in f.irqs.iter().enumerate() {
            let irq = self.xics.offset() + i as u32;
            if !matches!(e.flags, 0 | FLAG_LSI | FLAG_MSI) {
                return Err(invalid(
                    ICS_SECTION,
                    format!("source {irq:#x}: invalid flags {:#x}", e.flags),
                ));
            }
            if e.status & !STATUS_ALL != 0 {
                return Err(invalid(
                    ICS_SECTION,
                    format!("source {irq:#x}: invalid status {:#x}", e.status),
                ));
            }
            if e.flags != 0 {
                if e.server >= self.xics.nr_servers() {
                    return Err(invalid(
                        ICS_SECTION,
                        format!(
                            "source {irq:#x}: server {} is out of range (nr_servers {})",
                            e.server,
                            self.xics.nr_servers()
                        ),
                    ));
                }
                if e.priority != PRIORITY_MASKED && !self.xics.has_server(e.server) {
                    return Err(invalid(
                        ICS_SECTION,
                        format!(
                            "source {irq:#x}: server {} has no vCPU on the destination",
                            e.server
                        ),
                    ));
                }
            }
            out.push(SourceState {
                server: e.server,
                priority: e.priority,
                saved_priority: e.saved_priority,
                status: e.status,
                flags: e.flags,
            });
        }
        Ok(out)
    }
}

impl Migratable for IcsSection {
    fn name(&self) -> &str {
        ICS_SECTION
    }

    fn version_id(&self) -> u32 {
        VERSION
    }

    fn save(&self) -> Result<SectionState, MigrationError> {
        SectionState::encode(ICS_SECTION, &self.fields())
    }

    fn prepare_load(
        &self,
        version_id: u32,
        state: &SectionState,
    ) -> Result<PreparedLoad, MigrationError> {
        check_version(ICS_SECTION, version_id)?;
        let fields: IcsFields = state.decode(ICS_SECTION)?;
        Ok(PreparedLoad::new(self.validate(&fields)?))
    }

    fn apply_load(&self, prepared: PreparedLoad) {
        match prepared.into_inner::<Vec<SourceState>>() {
            Some(states) => self.xics.load_sources(&states),
            None => tracing::error!("ics: apply_load given state it did not prepare"),
        }
    }
}

/// The `icp/server` section of one vCPU's presenter.
#[derive(Debug, Clone)]
pub struct IcpSection {
    xics: Arc<Xics>,
    vcpu: u32,
}

impl IcpSection {
    /// The section of `vcpu`'s presenter.
    pub fn new(xics: Arc<Xics>, vcpu: u32) -> Self {
        Self { xics, vcpu }
    }
}

impl Migratable for IcpSection {
    fn name(&self) -> &str {
        ICP_SECTION
    }

    fn instance_id(&self) -> u32 {
        self.vcpu
    }

    fn version_id(&self) -> u32 {
        VERSION
    }

    fn save(&self) -> Result<SectionState, MigrationError> {
        let p = self
            .xics
            .presenter(self.vcpu)
            .ok_or_else(|| MigrationError::Encode {
                section: ICP_SECTION.into(),
                reason: format!("vCPU {} has no interrupt presenter", self.vcpu),
            })?;
        SectionState::encode(
            ICP_SECTION,
            &IcpFields {
                xirr: p.xirr,
                pending_priority: p.pending_priority,
                mfrr: p.mfrr,
            },
        )
    }

    fn prepare_load(
        &self,
        version_id: u32,
        state: &SectionState,
    ) -> Result<PreparedLoad, MigrationError> {
        check_version(ICP_SECTION, version_id)?;
        let f: IcpFields = state.decode(ICP_SECTION)?;
        if self.xics.server_of(self.vcpu).is_none() {
            return Err(invalid(
                ICP_SECTION,
                format!("vCPU {} has no interrupt presenter", self.vcpu),
            ));
        }
        let xisr = f.xirr & XISR_MASK;
        let valid = xisr == 0 || xisr == XICS_IPI || self.xics.source(xisr).is_some();
        if !valid {
            return Err(invalid(
                ICP_SECTION,
                format!(
                    "vCPU {}: XISR {xisr:#x} is neither 0, the IPI nor a source of the ICS",
                    self.vcpu
                ),
            ));
        }
        Ok(PreparedLoad::new(f))
    }

    fn apply_load(&self, prepared: PreparedLoad) {
        let Some(f) = prepared.into_inner::<IcpFields>() else {
            tracing::error!("icp/server: apply_load given state it did not prepare");
            return;
        };
        if let Err(e) = self
            .xics
            .load_presenter(self.vcpu, f.xirr, f.pending_priority, f.mfrr)
        {
            tracing::error!("icp/server: {e}");
        }
    }
}
