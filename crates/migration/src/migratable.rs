//! The `Migratable` trait and the state a section carries.

use std::any::Any;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::MigrationError;

/// Encoded state of one section: its fields as a MessagePack map (named
/// fields, so an absent field can be told from a default one), and the
/// subsections its `needed` tests selected.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SectionState {
    /// MessagePack map of the section's fields (rmp-serde, named).
    pub fields: Vec<u8>,
    /// Subsections present in the stream, in save order.
    pub subsections: Vec<SubsectionState>,
}

/// Encoded state of one subsection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubsectionState {
    /// Subsection name, e.g. `spapr/cap/htm`.
    pub name: String,
    /// Version of the subsection's layout.
    pub version_id: u32,
    /// MessagePack map of the subsection's fields.
    pub fields: Vec<u8>,
}

impl SectionState {
    /// Encodes `state` as the section's fields, with no subsections.
    pub fn encode<T: Serialize>(section: &str, state: &T) -> Result<Self, MigrationError> {
        Ok(Self {
            fields: encode_fields(section, state)?,
            subsections: Vec::new(),
        })
    }

    /// Decodes the section's fields into `T`.
    pub fn decode<T: DeserializeOwned>(&self, section: &str) -> Result<T, MigrationError> {
        decode_fields(section, &self.fields)
    }

    /// Appends a subsection encoded from `state`.
    pub fn push_subsection<T: Serialize>(
        &mut self,
        name: &str,
        version_id: u32,
        state: &T,
    ) -> Result<(), MigrationError> {
        self.subsections.push(SubsectionState {
            name: name.to_owned(),
            version_id,
            fields: encode_fields(name, state)?,
        });
        Ok(())
    }

    /// Finds a subsection by name.
    pub fn subsection(&self, name: &str) -> Option<&SubsectionState> {
        self.subsections.iter().find(|s| s.name == name)
    }

    /// Appends the subsection `name` encoded from `state` when `needed` is
    /// true (QEMU's `.needed` test), and does nothing otherwise.
    pub fn push_subsection_if<T: Serialize>(
        &mut self,
        needed: bool,
        name: &str,
        version_id: u32,
        state: &T,
    ) -> Result<(), MigrationError> {
        if needed {
            self.push_subsection(name, version_id, state)?;
        }
        Ok(())
    }

    /// Decodes the subsection `name` if the stream carried it: `Ok(None)`
    /// when it is absent, which means "keep the default", as in QEMU.
    pub fn decode_subsection<T: DeserializeOwned>(
        &self,
        name: &str,
    ) -> Result<Option<T>, MigrationError> {
        self.subsection(name)
            .map(SubsectionState::decode)
            .transpose()
    }
}

impl SubsectionState {
    /// Decodes the subsection's fields into `T`.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, MigrationError> {
        decode_fields(&self.name, &self.fields)
    }
}

fn encode_fields<T: Serialize>(section: &str, state: &T) -> Result<Vec<u8>, MigrationError> {
    rmp_serde::to_vec_named(state).map_err(|e| MigrationError::Encode {
        section: section.to_owned(),
        reason: e.to_string(),
    })
}

fn decode_fields<T: DeserializeOwned>(section: &str, bytes: &[u8]) -> Result<T, MigrationError> {
    rmp_serde::from_slice(bytes).map_err(|e| MigrationError::Decode {
        section: section.to_owned(),
        reason: e.to_string(),
    })
}

/// State decoded and validated by [`Migratable::prepare_load`], waiting to be
/// applied. Loading is two-phase so that a refused stream leaves the
/// destination untouched: every section is prepared first, and only when all
/// of them (and every compatibility check) succeeded is anything applied.
pub struct PreparedLoad(Box<dyn Any + Send>);

impl PreparedLoad {
    /// Wraps a component's decoded state.
    pub fn new<T: Any + Send>(state: T) -> Self {
        Self(Box::new(state))
    }

    /// Returns the state if it is a `T`: a component gets back what its own
    /// `prepare_load` made.
    pub fn into_inner<T: Any>(self) -> Option<T> {
        self.0.downcast::<T>().ok().map(|b| *b)
    }
}

impl std::fmt::Debug for PreparedLoad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PreparedLoad(..)")
    }
}

/// A stateful part of the machine that travels in the migration stream as
/// one section (QEMU's VMStateDescription plus its hooks).
///
/// Methods take `&self` because components are shared between vCPU and
/// device threads and keep their own locks; the machine is stopped while it
/// saves or loads.
pub trait Migratable: Send + Sync {
    /// Section name, e.g. `ics`, `icp/server`, `spapr-xive`.
    fn name(&self) -> &str;

    /// Instance id; sections of the same name are told apart by it.
    fn instance_id(&self) -> u32 {
        0
    }

    /// Version of the layout this build writes.
    fn version_id(&self) -> u32;

    /// Oldest version this build can still load.
    fn minimum_version_id(&self) -> u32 {
        1
    }

    /// Names of the subsections this section may carry; a subsection with
    /// another name in the stream is refused.
    fn subsection_names(&self) -> &[&str] {
        &[]
    }

    /// Local `(version_id, minimum_version_id)` of the subsection `name`, for
    /// the loader to refuse a too new or too old incoming subsection with
    /// QEMU's messages before [`Migratable::prepare_load`] runs. `None` (the
    /// default) leaves the subsection's version to the component.
    fn subsection_version_ids(&self, name: &str) -> Option<(u32, u32)> {
        let _ = name;
        None
    }

    /// Runs before [`Migratable::save`] (QEMU's `pre_save`).
    fn pre_save(&self) -> Result<(), MigrationError> {
        Ok(())
    }

    /// Encodes the current state, with the subsections whose `needed` test
    /// holds.
    fn save(&self) -> Result<SectionState, MigrationError>;

    /// Decodes and validates incoming state written with `version_id`,
    /// without changing anything.
    fn prepare_load(
        &self,
        version_id: u32,
        state: &SectionState,
    ) -> Result<PreparedLoad, MigrationError>;

    /// Applies state that [`Migratable::prepare_load`] accepted. Cannot fail:
    /// everything that could be wrong was checked in the first phase.
    fn apply_load(&self, prepared: PreparedLoad);

    /// Runs after every section of the stream was applied (QEMU's
    /// `post_load`).
    fn post_load(&self) -> Result<(), MigrationError> {
        Ok(())
    }

    /// Whether this section may be absent from the stream, the component's
    /// reset state then being right (a dual-mode destination receiving a
    /// stream from a single-controller source).
    fn absent_is_reset_state(&self) -> bool {
        false
    }
}
