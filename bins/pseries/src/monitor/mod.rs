//! The monitors: QMP (JSON, for programs) and HMP (text, for people), as
//! QEMU 7.2 speaks them, over any chardev.
//!
//! The protocol engines do not know the machine. They drive it through
//! [`VmControl`], a small trait the machine's owner implements, and they
//! publish QMP events through [`events::Events`]. Each connection runs on
//! its own threads, so a monitor answers while vCPUs run and a slow client
//! never blocks a vCPU (events are queued per client).
//!
//! Who emits which event: the monitor emits the events of the actions it
//! performs, from what it observes ([`VmControl::status`] before and after
//! `stop`/`cont`: `STOP`, `RESUME`; after `system_reset`: `RESET`, or
//! `SHUTDOWN` when [`VmControl::system_reset`] says the reset became a
//! shutdown; `POWERDOWN`; `SHUTDOWN` before `quit`). Everything the guest
//! or the machine causes by itself (RTAS power-off, a guest reset, a
//! migration finishing, `-no-shutdown` stopping the vCPUs) is emitted by
//! the machine through the [`events::Events`] handle it is given.

pub mod actions;
pub mod events;
pub mod hmp;
pub mod json;
pub mod qmp;
pub mod session;

use std::fmt;

/// The version reported in the QMP greeting, `query-version` and `info
/// version`: the QEMU release whose monitor protocol is reproduced.
pub const QEMU_VERSION: (u32, u32, u32) = (7, 2, 0);

/// The `package` string of the version: this program and its version.
pub fn package() -> String {
    format!("pseries-rs {}", env!("CARGO_PKG_VERSION"))
}

/// QEMU's run states (`query-status`'s `status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunStatus {
    /// Started with `-S`, never run yet.
    Prelaunch,
    /// vCPUs running.
    Running,
    /// Stopped by `stop`.
    Paused,
    /// Waiting for or receiving an incoming migration.
    InMigrate,
    /// The outgoing migration's last phase (vCPUs stopped).
    FinishMigrate,
    /// Stopped after an outgoing migration completed.
    PostMigrate,
    /// The guest powered off and `-no-shutdown` kept the program alive.
    Shutdown,
    /// The guest reported a panic.
    GuestPanicked,
    /// The emulator hit an error it cannot continue from.
    InternalError,
    /// A debugger stopped the VM.
    Debug,
}

impl RunStatus {
    /// QEMU's name (`prelaunch`, `running`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Prelaunch => "prelaunch",
            RunStatus::Running => "running",
            RunStatus::Paused => "paused",
            RunStatus::InMigrate => "inmigrate",
            RunStatus::FinishMigrate => "finish-migrate",
            RunStatus::PostMigrate => "postmigrate",
            RunStatus::Shutdown => "shutdown",
            RunStatus::GuestPanicked => "guest-panicked",
            RunStatus::InternalError => "internal-error",
            RunStatus::Debug => "debug",
        }
    }

    /// `query-status`'s `running`.
    pub fn is_running(self) -> bool {
        self == RunStatus::Running
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a `system_reset` request turned into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetAction {
    /// The machine resets (event `RESET`).
    Reset,
    /// `-no-reboot`: the program ends instead (event `SHUTDOWN`), as QEMU.
    Shutdown,
}

/// QEMU's migration states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MigrationStatus {
    /// Nothing has happened.
    None,
    /// Connecting / preparing.
    Setup,
    /// Sending or receiving.
    Active,
    /// The final copy with vCPUs stopped.
    Device,
    /// Done.
    Completed,
    /// Failed (see [`MigrationInfo::error_desc`]).
    Failed,
    /// Being cancelled.
    Cancelling,
    /// Cancelled.
    Cancelled,
}

impl MigrationStatus {
    /// QEMU's name.
    pub fn as_str(self) -> &'static str {
        match self {
            MigrationStatus::None => "none",
            MigrationStatus::Setup => "setup",
            MigrationStatus::Active => "active",
            MigrationStatus::Device => "device",
            MigrationStatus::Completed => "completed",
            MigrationStatus::Failed => "failed",
            MigrationStatus::Cancelling => "cancelling",
            MigrationStatus::Cancelled => "cancelled",
        }
    }

    /// Whether a migration is still under way.
    pub fn in_progress(self) -> bool {
        matches!(
            self,
            MigrationStatus::Setup
                | MigrationStatus::Active
                | MigrationStatus::Device
                | MigrationStatus::Cancelling
        )
    }
}

/// What `query-migrate` and `info migrate` report. Fields left `None` are
/// omitted, as QEMU omits them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationInfo {
    /// The state; [`MigrationStatus::None`] before any migration, which
    /// `query-migrate` answers with `{}`.
    pub status: MigrationStatus,
    /// Milliseconds since the migration started (or its total, when done).
    pub total_time_ms: Option<u64>,
    /// Milliseconds spent connecting / preparing.
    pub setup_time_ms: Option<u64>,
    /// Milliseconds the vCPUs were stopped (when completed).
    pub downtime_ms: Option<u64>,
    /// Bytes sent so far.
    pub transferred_bytes: Option<u64>,
    /// Guest RAM size in bytes.
    pub total_bytes: Option<u64>,
    /// Bytes still to send.
    pub remaining_bytes: Option<u64>,
    /// Why it failed.
    pub error_desc: Option<String>,
    /// Incoming side: where it listens (`unix:/tmp/x.sock`, `tcp:...`).
    pub socket_addresses: Vec<String>,
}

impl MigrationInfo {
    /// The report before any migration.
    pub fn none() -> Self {
        Self::with_status(MigrationStatus::None)
    }

    /// A report with only a state.
    pub fn with_status(status: MigrationStatus) -> Self {
        Self {
            status,
            total_time_ms: None,
            setup_time_ms: None,
            downtime_ms: None,
            transferred_bytes: None,
            total_bytes: None,
            remaining_bytes: None,
            error_desc: None,
            socket_addresses: Vec::new(),
        }
    }
}

/// One vCPU in `info cpus` / `query-cpus-fast`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuSummary {
    /// vCPU index (0-based).
    pub index: u32,
    /// Host thread id of the vCPU thread (`gettid`), if started.
    pub thread_id: Option<u64>,
}

/// The machine as the monitors see it. Implemented by the program's owner
/// of the machine; every method is called from a monitor thread, never
/// from a vCPU thread, and may be called while vCPUs run.
pub trait VmControl: Send + Sync {
    /// The run state now.
    fn status(&self) -> RunStatus;

    /// `stop`: pause every vCPU and return once they are paused. In
    /// [`RunStatus::InMigrate`] it only cancels the start that would follow
    /// the incoming migration (QEMU's autostart), as QEMU.
    fn stop(&self);

    /// `cont`: resume the vCPUs. In [`RunStatus::InMigrate`] it asks for
    /// the start after the incoming migration and returns `Ok`. Errors are
    /// QEMU's texts (e.g. "Resetting the Virtual Machine is required" after
    /// a guest power-off kept by `-no-shutdown`).
    fn cont(&self) -> Result<(), String>;

    /// `system_reset`: request a machine reset (done asynchronously is
    /// fine). Returns [`ResetAction::Shutdown`] when `-no-reboot` turns it
    /// into the end of the program.
    fn system_reset(&self) -> ResetAction;

    /// `system_powerdown`: raise the EPOW interrupt so the guest powers
    /// itself off.
    fn system_powerdown(&self);

    /// `quit`: end the program with status 0. Called after the monitor has
    /// sent its reply and the `SHUTDOWN` event.
    fn quit(&self);

    /// `migrate`: start an outgoing migration to `uri` (QEMU syntax:
    /// `unix:PATH`, `tcp:HOST:PORT`, `file:PATH`) and return at once; the
    /// progress is read with [`VmControl::migrate_info`]. Errors (bad URI,
    /// a migration already running, "Guest is waiting for an incoming
    /// migration") in QEMU's words.
    fn migrate(&self, uri: &str) -> Result<(), String>;

    /// `query-migrate` / `info migrate`: the outgoing or incoming
    /// migration's state.
    fn migrate_info(&self) -> MigrationInfo;

    /// `migrate-incoming`: start listening on `uri` after `-incoming
    /// defer`. Errors in QEMU's words ("'-incoming' was not specified on
    /// the command line", "The incoming migration has already been
    /// started").
    fn migrate_incoming(&self, uri: &str) -> Result<(), String>;

    /// `info pic`: the active interrupt controller's state, then
    /// `irqchip: emulated` or `irqchip: in-kernel`, lines ending in `\n`.
    fn info_pic(&self) -> String;

    /// The vCPUs, for `info cpus` and `query-cpus-fast`.
    fn cpus(&self) -> Vec<CpuSummary>;

    /// `info capabilities`: the effective `cap-*` values and where each
    /// came from (`spapr_caps::EffectiveCaps::info_text`), lines ending in
    /// `\n`.
    fn info_capabilities(&self) -> String;
}
