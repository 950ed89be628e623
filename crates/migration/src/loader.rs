//! [`Loader`]: the two-phase load.
//!
//! Phase one reads and validates the whole device part of the stream, runs
//! the machine's compatibility checks, matches every section and bulk
//! section to the destination, and has every component decode and check its
//! state ([`Migratable::prepare_load`]). Nothing on the destination changes
//! in phase one. Then bulk data (guest RAM) is streamed into its sinks, the
//! END record's checksum is checked, and only then phase two applies every
//! section ([`Migratable::apply_load`], which cannot fail) and runs the
//! `post_load` hooks.
//!
//! A stream refused in phase one leaves the destination exactly as it was.
//! A stream that fails while bulk data arrives (peer gone, checksum) leaves
//! the device state untouched but the bulk sinks partly written: as in QEMU,
//! the incoming machine must then be discarded, not run.

use std::collections::HashMap;
use std::io::{BufReader, Read};
use std::sync::Arc;

use crate::bulk::BulkSink;
use crate::stream::{
    BulkDecl, FormatVersion, IncomingSection, Limits, Record, StreamError, StreamHeader,
    StreamReader,
};
use crate::{Migratable, MigrationError, PreparedLoad};

/// When a compatibility check runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckStage {
    /// Right after the header was read, before any section (machine type,
    /// CPU model: QEMU checks these first too).
    Header,
    /// After every section was read, matched and prepared, before anything
    /// is applied (capability comparison, controller sections present).
    State,
}

/// What a compatibility check sees of the incoming stream.
#[derive(Debug, Clone, Copy)]
pub struct IncomingView<'s> {
    /// Format version of the stream.
    pub format: FormatVersion,
    /// The source's header.
    pub header: &'s StreamHeader,
    /// Every device section, in stream order (empty at
    /// [`CheckStage::Header`]).
    pub sections: &'s [IncomingSection],
    /// Every bulk section (empty at [`CheckStage::Header`]).
    pub bulk: &'s [BulkDecl],
}

impl<'s> IncomingView<'s> {
    /// The section `name` instance `instance`, if the stream has it.
    pub fn section(&self, name: &str, instance: u32) -> Option<&'s IncomingSection> {
        self.sections
            .iter()
            .find(|s| s.name == name && s.instance_id == instance)
    }

    /// Whether the stream has any instance of section `name`.
    pub fn has_section(&self, name: &str) -> bool {
        self.sections.iter().any(|s| s.name == name)
    }
}

/// A compatibility check: refuses the stream with an error (usually
/// [`MigrationError::Incompatible`]), or accepts it and may add warnings
/// (e.g. QEMU's "cap-X lower level (a) in incoming stream than on
/// destination (b)").
pub type CompatCheck<'a> =
    Box<dyn FnMut(&IncomingView<'_>, &mut Vec<String>) -> Result<(), MigrationError> + 'a>;

struct BulkTarget<'a> {
    name: String,
    instance_id: u32,
    version_id: u32,
    minimum_version_id: u32,
    sink: &'a mut dyn BulkSink,
}

/// What a successful load did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadReport {
    /// Format version of the stream.
    pub format: FormatVersion,
    /// The source's header.
    pub header: StreamHeader,
    /// Sections applied: name, instance id, incoming version id.
    pub loaded: Vec<(String, u32, u32)>,
    /// Destination sections absent from the stream, left in their reset
    /// state: name, instance id.
    pub reset: Vec<(String, u32)>,
    /// Bulk bytes written to the sinks (zero runs included).
    pub bulk_bytes: u64,
    /// Stream length.
    pub stream_len: u64,
    /// Warnings from the compatibility checks.
    pub warnings: Vec<String>,
}

/// The destination side of a migration: the components, bulk sinks and
/// compatibility checks a stream is loaded into and judged by.
pub struct Loader<'a> {
    limits: Limits,
    components: Vec<Arc<dyn Migratable>>,
    sinks: Vec<BulkTarget<'a>>,
    checks: Vec<(String, CheckStage, CompatCheck<'a>)>,
    require_eof: bool,
}

impl Default for Loader<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a> Loader<'a> {
    /// A loader with the default [`Limits`] and nothing registered.
    pub fn new() -> Self {
        Self {
            limits: Limits::default(),
            components: Vec::new(),
            sinks: Vec::new(),
            checks: Vec::new(),
            require_eof: false,
        }
    }

    /// Replaces the reader's limits.
    pub fn limits(&mut self, limits: Limits) -> &mut Self {
        self.limits = limits;
        self
    }

    /// Refuses bytes after the END record (for files and buffers; a socket
    /// peer may keep its end open, so it is off by default).
    pub fn require_eof(&mut self, yes: bool) -> &mut Self {
        self.require_eof = yes;
        self
    }

    /// Adds a component; its section is matched by name and instance id.
    pub fn component(&mut self, component: Arc<dyn Migratable>) -> &mut Self {
        self.components.push(component);
        self
    }

    /// Adds several components.
    pub fn components(
        &mut self,
        components: impl IntoIterator<Item = Arc<dyn Migratable>>,
    ) -> &mut Self {
        self.components.extend(components);
        self
    }

    /// Adds the destination of bulk section `name` instance `instance_id`,
    /// loading versions `minimum_version_id..=version_id`. The stream must
    /// carry it, with the sink's length.
    pub fn bulk(
        &mut self,
        name: &str,
        instance_id: u32,
        version_id: u32,
        minimum_version_id: u32,
        sink: &'a mut dyn BulkSink,
    ) -> &mut Self {
        self.sinks.push(BulkTarget {
            name: name.to_owned(),
            instance_id,
            version_id,
            minimum_version_id,
            sink,
        });
        self
    }

    /// Adds a compatibility check, run at `stage`; `name` identifies it in
    /// [`MigrationError::Incompatible`] and in logs.
    pub fn check(
        &mut self,
        name: &str,
        stage: CheckStage,
        check: impl FnMut(&IncomingView<'_>, &mut Vec<String>) -> Result<(), MigrationError> + 'a,
    ) -> &mut Self {
        self.checks.push((name.to_owned(), stage, Box::new(check)));
        self
    }

    /// Loads a stream held in memory; bytes after its END are refused.
    pub fn load_slice(&mut self, stream: &[u8]) -> Result<LoadReport, MigrationError> {
        let eof = std::mem::replace(&mut self.require_eof, true);
        let res = self.load(stream);
        self.require_eof = eof;
        res
    }

    /// Reads `input` to its END record and loads it, in two phases (see the
    /// module documentation).
    pub fn load<R: Read>(&mut self, input: R) -> Result<LoadReport, MigrationError> {
        let mut reader = StreamReader::new(
            BufReader::with_capacity(64 << 10, input),
            self.limits.clone(),
        )?;
        let format = reader.format();
        let header = reader.header().clone();
        let mut warnings = Vec::new();
        let view = IncomingView {
            format,
            header: &header,
            sections: &[],
            bulk: &[],
        };
        self.run_checks(CheckStage::Header, &view, &mut warnings)?;

        // Phase one: read every section, up to the bulk data or the end.
        let mut sections = Vec::new();
        let mut bulk = Vec::new();
        let mut end = None;
        loop {
            match reader.next_record()? {
                Record::Section(s) => sections.push(s),
                Record::BulkIndex(d) => {
                    bulk = d;
                    break;
                }
                Record::End(e) => {
                    end = Some(e);
                    break;
                }
                other => {
                    return Err(StreamError::Misuse(format!(
                        "reader returned {other:?} among sections"
                    ))
                    .into())
                }
            }
        }
        let plan = self.match_sections(&sections)?;
        let sink_of = self.match_bulk(&bulk)?;
        let mut prepared: Vec<PreparedLoad> = Vec::with_capacity(sections.len());
        for (s, &i) in sections.iter().zip(&plan.order) {
            let c = &self.components[i];
            prepared.push(
                prepare_one(c.as_ref(), s).map_err(|e| in_section(&s.name, s.instance_id, e))?,
            );
        }
        let view = IncomingView {
            format,
            header: &header,
            sections: &sections,
            bulk: &bulk,
        };
        self.run_checks(CheckStage::State, &view, &mut warnings)?;

        // Bulk data goes straight to the sinks.
        let mut bulk_bytes = 0u64;
        while end.is_none() {
            match reader.next_record()? {
                Record::BulkData {
                    bulk: b,
                    offset,
                    len,
                } => {
                    let t = &mut self.sinks[sink_of[b]];
                    let res = t.sink.fill_from(offset, len, &mut reader.data());
                    if let Some(e) = reader.take_source_error() {
                        return Err(e.into());
                    }
                    let bulk_err = |reason: String| MigrationError::Bulk {
                        name: t.name.clone(),
                        instance: t.instance_id,
                        reason,
                    };
                    res.map_err(|e| {
                        bulk_err(format!(
                            "the destination failed at offset 0x{offset:x}: {e}"
                        ))
                    })?;
                    if reader.pending() != 0 {
                        return Err(bulk_err(format!(
                            "the destination took {} of {len} bytes at offset 0x{offset:x}",
                            len - reader.pending()
                        )));
                    }
                    bulk_bytes += len;
                }
                Record::BulkZero {
                    bulk: b,
                    offset,
                    len,
                } => {
                    let t = &mut self.sinks[sink_of[b]];
                    t.sink
                        .fill_zero(offset, len)
                        .map_err(|e| MigrationError::Bulk {
                            name: t.name.clone(),
                            instance: t.instance_id,
                            reason: format!("the destination failed at offset 0x{offset:x}: {e}"),
                        })?;
                    bulk_bytes += len;
                }
                Record::End(e) => end = Some(e),
                other => {
                    return Err(StreamError::Misuse(format!(
                        "reader returned {other:?} among bulk data"
                    ))
                    .into())
                }
            }
        }
        let Some(end) = end else {
            return Err(StreamError::Misuse("bulk loop ended without END".into()).into());
        };
        if self.require_eof {
            reader.expect_eof()?;
        }

        // Phase two: apply, then the post-load hooks, in stream order.
        for (&i, p) in plan.order.iter().zip(prepared) {
            self.components[i].apply_load(p);
        }
        for (s, &i) in sections.iter().zip(&plan.order) {
            let c = &self.components[i];
            c.post_load().map_err(|e| MigrationError::PostLoad {
                section: s.name.clone(),
                version_id: s.version_id,
                minimum_version_id: c.minimum_version_id(),
                reason: e.to_string(),
            })?;
        }
        Ok(LoadReport {
            format,
            header,
            loaded: sections
                .iter()
                .map(|s| (s.name.clone(), s.instance_id, s.version_id))
                .collect(),
            reset: plan.reset,
            bulk_bytes,
            stream_len: end.stream_len,
            warnings,
        })
    }

    fn run_checks(
        &mut self,
        stage: CheckStage,
        view: &IncomingView<'_>,
        warnings: &mut Vec<String>,
    ) -> Result<(), MigrationError> {
        for (name, s, check) in &mut self.checks {
            if *s == stage {
                let seen = warnings.len();
                check(view, warnings)?;
                for w in &warnings[seen..] {
                    tracing::warn!(check = name.as_str(), "{w}");
                }
            }
        }
        Ok(())
    }

    /// Matches the stream's sections to the components: every stream section
    /// needs one, every component needs its section unless its reset state
    /// stands in for it.
    fn match_sections(&self, sections: &[IncomingSection]) -> Result<Plan, MigrationError> {
        let mut index: HashMap<(&str, u32), usize> = HashMap::with_capacity(self.components.len());
        for (i, c) in self.components.iter().enumerate() {
            if index.insert((c.name(), c.instance_id()), i).is_some() {
                return Err(MigrationError::DuplicateSection {
                    name: c.name().to_owned(),
                    instance: c.instance_id(),
                    place: "among the destination's components",
                });
            }
        }
        let mut used = vec![false; self.components.len()];
        let mut order = Vec::with_capacity(sections.len());
        for s in sections {
            let Some(&i) = index.get(&(s.name.as_str(), s.instance_id)) else {
                return Err(MigrationError::UnknownSection {
                    name: s.name.clone(),
                    instance: s.instance_id,
                });
            };
            if std::mem::replace(&mut used[i], true) {
                return Err(MigrationError::DuplicateSection {
                    name: s.name.clone(),
                    instance: s.instance_id,
                    place: "in the incoming stream",
                });
            }
            order.push(i);
        }
        let mut reset = Vec::new();
        for (c, _) in self.components.iter().zip(&used).filter(|(_, &u)| !u) {
            if !c.absent_is_reset_state() {
                return Err(MigrationError::MissingSection {
                    name: c.name().to_owned(),
                    instance: c.instance_id(),
                });
            }
            reset.push((c.name().to_owned(), c.instance_id()));
        }
        Ok(Plan { order, reset })
    }

    /// Matches the BULK_INDEX to the sinks; returns the sink of each
    /// declared bulk section.
    fn match_bulk(&self, bulk: &[BulkDecl]) -> Result<Vec<usize>, MigrationError> {
        let mut used = vec![false; self.sinks.len()];
        let mut sink_of = Vec::with_capacity(bulk.len());
        for d in bulk {
            let Some(i) = self
                .sinks
                .iter()
                .position(|t| t.name == d.name && t.instance_id == d.instance_id)
            else {
                return Err(MigrationError::UnknownSection {
                    name: d.name.clone(),
                    instance: d.instance_id,
                });
            };
            let t = &self.sinks[i];
            let version = if d.version_id > t.version_id {
                Err(MigrationError::TooNew {
                    section: d.name.clone(),
                    incoming: d.version_id,
                    local: t.version_id,
                })
            } else if d.version_id < t.minimum_version_id {
                Err(MigrationError::TooOld {
                    section: d.name.clone(),
                    incoming: d.version_id,
                    minimum: t.minimum_version_id,
                })
            } else if d.len != t.sink.len() {
                Err(MigrationError::Bulk {
                    name: d.name.clone(),
                    instance: d.instance_id,
                    reason: format!(
                        "the stream has 0x{:x} bytes, the destination 0x{:x}",
                        d.len,
                        t.sink.len()
                    ),
                })
            } else {
                Ok(())
            };
            version.map_err(|e| in_section(&d.name, d.instance_id, e))?;
            used[i] = true;
            sink_of.push(i);
        }
        if let Some(t) = self
            .sinks
            .iter()
            .zip(&used)
            .find(|(_, &u)| !u)
            .map(|(t, _)| t)
        {
            return Err(MigrationError::MissingSection {
                name: t.name.clone(),
                instance: t.instance_id,
            });
        }
        Ok(sink_of)
    }
}

struct Plan {
    /// Component index of each stream section, in stream order.
    order: Vec<usize>,
    /// Components left in their reset state.
    reset: Vec<(String, u32)>,
}

fn in_section(name: &str, instance: u32, e: MigrationError) -> MigrationError {
    MigrationError::InSection {
        name: name.to_owned(),
        instance,
        source: Box::new(e),
    }
}

/// Version and subsection checks, then the component's own decoding.
fn prepare_one(c: &dyn Migratable, s: &IncomingSection) -> Result<PreparedLoad, MigrationError> {
    if s.version_id > c.version_id() {
        return Err(MigrationError::TooNew {
            section: s.name.clone(),
            incoming: s.version_id,
            local: c.version_id(),
        });
    }
    if s.version_id < c.minimum_version_id() {
        return Err(MigrationError::TooOld {
            section: s.name.clone(),
            incoming: s.version_id,
            minimum: c.minimum_version_id(),
        });
    }
    let known = c.subsection_names();
    for sub in &s.state.subsections {
        if !known.contains(&sub.name.as_str()) {
            return Err(MigrationError::UnknownSubsection {
                section: s.name.clone(),
                subsection: sub.name.clone(),
            });
        }
        if let Some((local, minimum)) = c.subsection_version_ids(&sub.name) {
            if sub.version_id > local {
                return Err(MigrationError::TooNew {
                    section: sub.name.clone(),
                    incoming: sub.version_id,
                    local,
                });
            }
            if sub.version_id < minimum {
                return Err(MigrationError::TooOld {
                    section: sub.name.clone(),
                    incoming: sub.version_id,
                    minimum,
                });
            }
        }
    }
    c.prepare_load(s.version_id, &s.state)
}
