//! Migration sections shaped like QEMU's: `xive-source` (nr_irqs, one
//! status byte per source: PQ and asserted), `spapr-xive` (nr_irqs, the EAT
//! as `w` words, the ENDT as `w0..w7`), and one `xive-tctx` per vCPU (the
//! 64 register bytes, instance = `cpu_index`). All version 1.
//!
//! Everything is checked in `prepare_load`, before anything is applied:
//! table sizes equal to this machine's (QEMU's `nr_irqs` EQUAL field, and
//! the END count that makes QEMU report a missing footer), status bytes
//! with only PQ and asserted bits, EAS routes to existing ENDs of block 0,
//! END queues of a supported size, naturally aligned and inside guest RAM,
//! thread-context register blocks of 64 bytes for an existing vCPU.
//! The LSI types are not migrated: the destination's devices claim them.

use std::sync::Arc;

use migration::{Migratable, MigrationError, PreparedLoad, SectionState};
use serde::{Deserialize, Serialize};

use super::{hcalls::queue_in_ram, Inner, BLOCK};
use crate::engine::{Eas, End};

fn invalid(section: &str, reason: String) -> MigrationError {
    MigrationError::Invalid {
        section: section.to_owned(),
        reason,
    }
}

fn check_version(
    section: &str,
    version_id: u32,
    state: &SectionState,
) -> Result<(), MigrationError> {
    if version_id > 1 {
        return Err(MigrationError::TooNew {
            section: section.to_owned(),
            incoming: version_id,
            local: 1,
        });
    }
    if version_id < 1 {
        return Err(MigrationError::TooOld {
            section: section.to_owned(),
            incoming: version_id,
            minimum: 1,
        });
    }
    if let Some(s) = state.subsections.first() {
        return Err(MigrationError::UnknownSubsection {
            section: section.to_owned(),
            subsection: s.name.clone(),
        });
    }
    Ok(())
}

fn check_nr_irqs(section: &str, incoming: u32, local: u32) -> Result<(), MigrationError> {
    if incoming != local {
        return Err(invalid(
            section,
            format!("nr_irqs: {incoming:x} != {local:x}"),
        ));
    }
    Ok(())
}

/// The sections of a controller, in QEMU's stream order.
pub(crate) fn sections(x: &Arc<Inner>) -> Vec<Arc<dyn Migratable>> {
    let mut v: Vec<Arc<dyn Migratable>> = vec![
        Arc::new(SourceSection(Arc::clone(x))),
        Arc::new(XiveSection(Arc::clone(x))),
    ];
    for id in x.router.presenter().attached() {
        v.push(Arc::new(TctxSection(Arc::clone(x), id)));
    }
    v
}

/// `xive-source` fields.
#[derive(Debug, Serialize, Deserialize)]
struct SourceState {
    nr_irqs: u32,
    status: Vec<u8>,
}

/// The `xive-source` section.
struct SourceSection(Arc<Inner>);

const SOURCE: &str = "xive-source";

impl Migratable for SourceSection {
    fn name(&self) -> &str {
        SOURCE
    }
    fn version_id(&self) -> u32 {
        1
    }
    fn save(&self) -> Result<SectionState, MigrationError> {
        let x = &self.0;
        let status = (0..x.nr_irqs).map(|i| x.source.status(i)).collect();
        SectionState::encode(
            SOURCE,
            &SourceState {
                nr_irqs: x.nr_irqs,
                status,
            },
        )
    }
    fn prepare_load(
        &self,
        version_id: u32,
        state: &SectionState,
    ) -> Result<PreparedLoad, MigrationError> {
        check_version(SOURCE, version_id, state)?;
        let s: SourceState = state.decode(SOURCE)?;
        check_nr_irqs(SOURCE, s.nr_irqs, self.0.nr_irqs)?;
        if s.status.len() != s.nr_irqs as usize {
            return Err(invalid(
                SOURCE,
                format!(
                    "status has {} bytes for {} sources",
                    s.status.len(),
                    s.nr_irqs
                ),
            ));
        }
        if let Some((i, b)) = s.status.iter().enumerate().find(|(_, b)| **b & !7 != 0) {
            return Err(invalid(SOURCE, format!("source {i:#x} has status {b:#x}")));
        }
        Ok(PreparedLoad::new(s))
    }
    fn apply_load(&self, prepared: PreparedLoad) {
        if let Some(s) = prepared.into_inner::<SourceState>() {
            for (i, b) in s.status.iter().enumerate() {
                self.0.source.set_status(i as u32, *b);
            }
        }
    }
}

/// One EAS as QEMU's `spapr-xive/eas`.
#[derive(Debug, Serialize, Deserialize)]
struct EasState {
    w: u64,
}

/// One END as QEMU's `spapr-xive/end`.
#[derive(Debug, Serialize, Deserialize)]
struct EndState {
    w0: u32,
    w1: u32,
    w2: u32,
    w3: u32,
    w4: u32,
    w5: u32,
    w6: u32,
    w7: u32,
}

impl From<&End> for EndState {
    fn from(e: &End) -> Self {
        let w = e.w;
        Self {
            w0: w[0],
            w1: w[1],
            w2: w[2],
            w3: w[3],
            w4: w[4],
            w5: w[5],
            w6: w[6],
            w7: w[7],
        }
    }
}

impl From<&EndState> for End {
    fn from(s: &EndState) -> Self {
        End {
            w: [s.w0, s.w1, s.w2, s.w3, s.w4, s.w5, s.w6, s.w7],
        }
    }
}

/// `spapr-xive` fields.
#[derive(Debug, Serialize, Deserialize)]
struct XiveState {
    nr_irqs: u32,
    eat: Vec<EasState>,
    endt: Vec<EndState>,
}

/// The `spapr-xive` section.
struct XiveSection(Arc<Inner>);

const XIVE: &str = "spapr-xive";

fn check_end(x: &Inner, i: usize, e: &End) -> Result<(), MigrationError> {
    if !e.is_enqueue() {
        return Ok(());
    }
    let qsize = e.qsize();
    if !matches!(qsize, 0 | 4 | 9 | 12) {
        return Err(invalid(
            XIVE,
            format!("END {i:#x} has queue size field {qsize}"),
        ));
    }
    let len = 1u64 << (qsize + 12);
    let qaddr = e.qaddr();
    if qaddr & (len - 1) != 0 || !queue_in_ram(x, qaddr, len) {
        return Err(invalid(
            XIVE,
            format!("END {i:#x} queue @{qaddr:#x} ({len:#x} bytes) is not aligned guest RAM"),
        ));
    }
    if e.qindex() >= e.qentries() {
        return Err(invalid(
            XIVE,
            format!(
                "END {i:#x} queue index {:#x} beyond {:#x} entries",
                e.qindex(),
                e.qentries()
            ),
        ));
    }
    Ok(())
}

impl Migratable for XiveSection {
    fn name(&self) -> &str {
        XIVE
    }
    fn version_id(&self) -> u32 {
        1
    }
    fn save(&self) -> Result<SectionState, MigrationError> {
        let x = &self.0;
        let r = &x.router;
        let eat = (0..x.nr_irqs)
            .map(|i| EasState {
                w: r.eat().get(i).unwrap_or_default().0,
            })
            .collect();
        let endt = (0..x.nr_ends())
            .map(|i| EndState::from(&r.endt().get(i).unwrap_or(End::RESET)))
            .collect();
        SectionState::encode(
            XIVE,
            &XiveState {
                nr_irqs: x.nr_irqs,
                eat,
                endt,
            },
        )
    }
    fn prepare_load(
        &self,
        version_id: u32,
        state: &SectionState,
    ) -> Result<PreparedLoad, MigrationError> {
        check_version(XIVE, version_id, state)?;
        let x = &self.0;
        let s: XiveState = state.decode(XIVE)?;
        check_nr_irqs(XIVE, s.nr_irqs, x.nr_irqs)?;
        if s.eat.len() != x.nr_irqs as usize {
            return Err(invalid(
                XIVE,
                format!("eat has {} entries, expected {}", s.eat.len(), x.nr_irqs),
            ));
        }
        if s.endt.len() != x.nr_ends() as usize {
            return Err(invalid(
                XIVE,
                format!(
                    "endt has {} entries, expected {}",
                    s.endt.len(),
                    x.nr_ends()
                ),
            ));
        }
        for (i, e) in s.eat.iter().enumerate() {
            let e = Eas(e.w);
            if e.is_valid() && (e.end_block() != BLOCK || e.end_index() >= x.nr_ends()) {
                return Err(invalid(
                    XIVE,
                    format!(
                        "LISN {i:#x} routes to END {:x}/{:x}",
                        e.end_block(),
                        e.end_index()
                    ),
                ));
            }
        }
        for (i, e) in s.endt.iter().enumerate() {
            check_end(x, i, &End::from(e))?;
        }
        Ok(PreparedLoad::new(s))
    }
    fn apply_load(&self, prepared: PreparedLoad) {
        let Some(s) = prepared.into_inner::<XiveState>() else {
            return;
        };
        let r = &self.0.router;
        for (i, e) in s.eat.iter().enumerate() {
            r.eat().set(i as u32, Eas(e.w));
        }
        for (i, e) in s.endt.iter().enumerate() {
            r.endt().set(i as u32, End::from(e));
        }
    }
}

/// `xive-tctx` fields.
#[derive(Debug, Serialize, Deserialize)]
struct TctxStateMig {
    regs: Vec<u8>,
}

/// A `xive-tctx` section: the thread context of vCPU `.1`.
struct TctxSection(Arc<Inner>, u32);

const TCTX: &str = "xive-tctx";

impl Migratable for TctxSection {
    fn name(&self) -> &str {
        TCTX
    }
    fn instance_id(&self) -> u32 {
        self.1
    }
    fn version_id(&self) -> u32 {
        1
    }
    fn save(&self) -> Result<SectionState, MigrationError> {
        let regs = self
            .0
            .router
            .presenter()
            .regs(self.1)
            .ok_or_else(|| invalid(TCTX, format!("vCPU {} has no thread context", self.1)))?;
        SectionState::encode(
            TCTX,
            &TctxStateMig {
                regs: regs.to_vec(),
            },
        )
    }
    fn prepare_load(
        &self,
        version_id: u32,
        state: &SectionState,
    ) -> Result<PreparedLoad, MigrationError> {
        check_version(TCTX, version_id, state)?;
        let s: TctxStateMig = state.decode(TCTX)?;
        let regs: [u8; 64] = s.regs.as_slice().try_into().map_err(|_| {
            invalid(
                TCTX,
                format!("regs has {} bytes, expected 64", s.regs.len()),
            )
        })?;
        if !self.0.router.presenter().is_attached(self.1) {
            return Err(invalid(
                TCTX,
                format!("vCPU {} has no thread context", self.1),
            ));
        }
        Ok(PreparedLoad::new(regs))
    }
    fn apply_load(&self, prepared: PreparedLoad) {
        if let Some(regs) = prepared.into_inner::<[u8; 64]>() {
            self.0.router.presenter().with_context(self.1, true, |st| {
                st.regs = regs;
                st.sync_lines();
            });
        }
    }
}
