//! [`TypedMigratable`]: a typed way to implement [`Migratable`].
//!
//! Most components keep their migratable state in one serde struct. They
//! implement [`TypedMigratable`] with that struct as `State` and get
//! [`Migratable`] for free: encoding with named fields, decoding with a
//! section-named error, and the two-phase load (decode and check first, apply
//! later) are done here once.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::{Migratable, MigrationError, PreparedLoad, SectionState};

/// A component whose section is one serde struct, [`TypedMigratable::State`].
///
/// Every type implementing it implements [`Migratable`] through a blanket
/// impl, so `Arc::new(component) as Arc<dyn Migratable>` works directly.
/// (When both traits are in scope, call the shared method names as
/// `Migratable::name(&c)` to avoid the ambiguity.)
///
/// Subsections: push the needed ones in
/// [`TypedMigratable::save_subsections`] with
/// [`SectionState::push_subsection_if`]; read them back in
/// [`TypedMigratable::check_state`] with [`SectionState::decode_subsection`]
/// and keep what they carry in `#[serde(skip)]` fields of `State`, which
/// [`TypedMigratable::apply_state`] then receives.
///
/// ```
/// use std::sync::Mutex;
/// use migration::{Migratable, MigrationError, SectionState, TypedMigratable};
///
/// #[derive(serde::Serialize, serde::Deserialize, Clone, Default)]
/// struct IcpState { xirr: u32, pending_priority: u8, mfrr: u8 }
///
/// #[derive(Default)]
/// struct Presenter(Mutex<IcpState>);
///
/// impl TypedMigratable for Presenter {
///     type State = IcpState;
///     fn name(&self) -> &str { "icp/server" }
///     fn version_id(&self) -> u32 { 1 }
///     fn save_state(&self) -> Result<IcpState, MigrationError> {
///         Ok(self.0.lock().unwrap().clone())
///     }
///     fn check_state(&self, _v: u32, s: &mut IcpState, _all: &SectionState)
///         -> Result<(), MigrationError> {
///         // Nothing pending must come with the least favoured priority.
///         if s.xirr & 0x00ff_ffff == 0 && s.pending_priority != 0xff {
///             return Err(MigrationError::invalid("icp/server", "priority without interrupt"));
///         }
///         Ok(())
///     }
///     fn apply_state(&self, s: IcpState) { *self.0.lock().unwrap() = s; }
/// }
///
/// let src = Presenter::default();
/// *src.0.lock().unwrap() = IcpState { xirr: 0x0500_0002, pending_priority: 5, mfrr: 0xff };
/// let section = Migratable::save(&src).unwrap();
/// let dst = Presenter::default();
/// let prepared = dst.prepare_load(1, &section).unwrap();
/// dst.apply_load(prepared);
/// assert_eq!(dst.0.lock().unwrap().xirr, 0x0500_0002);
/// ```
pub trait TypedMigratable: Send + Sync {
    /// The section's fields, encoded with named fields (a MessagePack map).
    type State: Serialize + DeserializeOwned + Send + 'static;

    /// Section name, as [`Migratable::name`].
    fn name(&self) -> &str;

    /// Instance id, as [`Migratable::instance_id`].
    fn instance_id(&self) -> u32 {
        0
    }

    /// Version written, as [`Migratable::version_id`].
    fn version_id(&self) -> u32;

    /// Oldest version loaded, as [`Migratable::minimum_version_id`].
    fn minimum_version_id(&self) -> u32 {
        1
    }

    /// Known subsections, as [`Migratable::subsection_names`].
    fn subsection_names(&self) -> &[&str] {
        &[]
    }

    /// Subsection versions, as [`Migratable::subsection_version_ids`].
    fn subsection_version_ids(&self, name: &str) -> Option<(u32, u32)> {
        let _ = name;
        None
    }

    /// As [`Migratable::pre_save`].
    fn pre_save(&self) -> Result<(), MigrationError> {
        Ok(())
    }

    /// The current state.
    fn save_state(&self) -> Result<Self::State, MigrationError>;

    /// Appends the subsections whose `needed` test holds.
    fn save_subsections(&self, section: &mut SectionState) -> Result<(), MigrationError> {
        let _ = section;
        Ok(())
    }

    /// Checks decoded incoming state written with `version_id` (and may
    /// complete it from `section`'s subsections) without changing anything.
    fn check_state(
        &self,
        version_id: u32,
        state: &mut Self::State,
        section: &SectionState,
    ) -> Result<(), MigrationError> {
        let _ = (version_id, state, section);
        Ok(())
    }

    /// Applies state that [`TypedMigratable::check_state`] accepted.
    fn apply_state(&self, state: Self::State);

    /// As [`Migratable::post_load`].
    fn post_load(&self) -> Result<(), MigrationError> {
        Ok(())
    }

    /// As [`Migratable::absent_is_reset_state`].
    fn absent_is_reset_state(&self) -> bool {
        false
    }
}

impl<T: TypedMigratable> Migratable for T {
    fn name(&self) -> &str {
        TypedMigratable::name(self)
    }

    fn instance_id(&self) -> u32 {
        TypedMigratable::instance_id(self)
    }

    fn version_id(&self) -> u32 {
        TypedMigratable::version_id(self)
    }

    fn minimum_version_id(&self) -> u32 {
        TypedMigratable::minimum_version_id(self)
    }

    fn subsection_names(&self) -> &[&str] {
        TypedMigratable::subsection_names(self)
    }

    fn subsection_version_ids(&self, name: &str) -> Option<(u32, u32)> {
        TypedMigratable::subsection_version_ids(self, name)
    }

    fn pre_save(&self) -> Result<(), MigrationError> {
        TypedMigratable::pre_save(self)
    }

    fn save(&self) -> Result<SectionState, MigrationError> {
        let name = TypedMigratable::name(self);
        let mut section = SectionState::encode(name, &self.save_state()?)?;
        self.save_subsections(&mut section)?;
        Ok(section)
    }

    fn prepare_load(
        &self,
        version_id: u32,
        state: &SectionState,
    ) -> Result<PreparedLoad, MigrationError> {
        let mut decoded: T::State = state.decode(TypedMigratable::name(self))?;
        self.check_state(version_id, &mut decoded, state)?;
        Ok(PreparedLoad::new(decoded))
    }

    fn apply_load(&self, prepared: PreparedLoad) {
        // The loader hands back exactly what this component's prepare_load
        // returned, so the downcast holds; anything else is dropped rather
        // than applied.
        if let Some(state) = prepared.into_inner::<T::State>() {
            self.apply_state(state);
        }
    }

    fn post_load(&self) -> Result<(), MigrationError> {
        TypedMigratable::post_load(self)
    }

    fn absent_is_reset_state(&self) -> bool {
        TypedMigratable::absent_is_reset_state(self)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use serde::{Deserialize, Serialize};

    use super::*;

    #[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
    struct SourceState {
        server: u32,
        priority: u8,
        /// Carried by the `ics/lsi` subsection, not by the fields.
        #[serde(skip)]
        lsi_asserted: Option<bool>,
    }

    #[derive(Default)]
    struct Source(Mutex<SourceState>);

    impl TypedMigratable for Source {
        type State = SourceState;
        fn name(&self) -> &str {
            "ics"
        }
        fn version_id(&self) -> u32 {
            2
        }
        fn subsection_names(&self) -> &[&str] {
            &["ics/lsi"]
        }
        fn save_state(&self) -> Result<SourceState, MigrationError> {
            Ok(self.0.lock().unwrap().clone())
        }
        fn save_subsections(&self, section: &mut SectionState) -> Result<(), MigrationError> {
            let lsi = self.0.lock().unwrap().lsi_asserted;
            section.push_subsection_if(lsi.is_some(), "ics/lsi", 1, &lsi.unwrap_or(false))
        }
        fn check_state(
            &self,
            _version_id: u32,
            state: &mut SourceState,
            section: &SectionState,
        ) -> Result<(), MigrationError> {
            if state.priority > 7 && state.priority != 0xff {
                return Err(MigrationError::invalid("ics", "priority out of range"));
            }
            state.lsi_asserted = section.decode_subsection("ics/lsi")?;
            Ok(())
        }
        fn apply_state(&self, state: SourceState) {
            *self.0.lock().unwrap() = state;
        }
    }

    #[test]
    fn round_trip_carries_subsection_only_when_needed() {
        let src = Source::default();
        *src.0.lock().unwrap() = SourceState {
            server: 3,
            priority: 5,
            lsi_asserted: None,
        };
        let section = Migratable::save(&src).unwrap();
        assert!(section.subsections.is_empty());

        src.0.lock().unwrap().lsi_asserted = Some(true);
        let section = Migratable::save(&src).unwrap();
        assert_eq!(section.subsections.len(), 1);
        assert_eq!(section.subsections[0].name, "ics/lsi");

        let dst = Source::default();
        let prepared = dst.prepare_load(2, &section).unwrap();
        assert_eq!(*dst.0.lock().unwrap(), SourceState::default());
        dst.apply_load(prepared);
        assert_eq!(*dst.0.lock().unwrap(), *src.0.lock().unwrap());
    }

    #[test]
    fn refused_state_is_not_applied() {
        let src = Source::default();
        src.0.lock().unwrap().priority = 9;
        let section = Migratable::save(&src).unwrap();
        let dst = Source::default();
        let err = dst.prepare_load(2, &section).unwrap_err();
        assert_eq!(err.to_string(), "ics: priority out of range");
        assert_eq!(*dst.0.lock().unwrap(), SourceState::default());
    }

    #[test]
    fn foreign_prepared_state_is_ignored() {
        let dst = Source::default();
        dst.apply_load(PreparedLoad::new(42u64));
        assert_eq!(*dst.0.lock().unwrap(), SourceState::default());
    }
}
