//! The monitor actions QMP and HMP share, with the events QEMU emits for
//! them: `STOP`/`RESUME` when the run state really changed, `RESET` (or
//! `SHUTDOWN` under `-no-reboot`), `POWERDOWN`, and `SHUTDOWN` before
//! `quit`.

use std::sync::Arc;

use super::events::{Event, Events, ShutdownCause};
use super::{ResetAction, VmControl};

/// The machine and the event bus, as every monitor session holds them.
#[derive(Clone)]
pub struct Actions {
    /// The machine.
    pub vm: Arc<dyn VmControl>,
    /// Where events go.
    pub events: Events,
}

impl Actions {
    /// Bundles a machine and a bus.
    pub fn new(vm: Arc<dyn VmControl>, events: Events) -> Self {
        Self { vm, events }
    }

    /// `stop`.
    pub fn stop(&self) {
        let before = self.vm.status().is_running();
        self.vm.stop();
        if before && !self.vm.status().is_running() {
            self.events.emit(Event::Stop);
        }
    }

    /// `cont`.
    pub fn cont(&self) -> Result<(), String> {
        let before = self.vm.status().is_running();
        self.vm.cont()?;
        if !before && self.vm.status().is_running() {
            self.events.emit(Event::Resume);
        }
        Ok(())
    }

    /// `system_reset`.
    pub fn system_reset(&self) {
        let cause = ShutdownCause::HostQmpSystemReset;
        match self.vm.system_reset() {
            ResetAction::Reset => self.events.emit(Event::Reset(cause)),
            ResetAction::Shutdown => self.events.emit(Event::Shutdown(cause)),
        }
    }

    /// `system_powerdown`.
    pub fn system_powerdown(&self) {
        self.vm.system_powerdown();
        self.events.emit(Event::Powerdown);
    }

    /// The first half of `quit`: the event. The caller sends its reply,
    /// then calls [`Actions::quit_now`].
    pub fn quit_event(&self) {
        self.events
            .emit(Event::Shutdown(ShutdownCause::HostQmpQuit));
    }

    /// The second half of `quit`: end the program.
    pub fn quit_now(&self) {
        self.vm.quit();
    }
}
