//! The machine as the monitors see it: [`Vm`] implements
//! [`VmControl`] over a running
//! [`spapr_machine::machine::Machine`], tracks the run state QEMU reports
//! (`running`, `paused`, `inmigrate`, `postmigrate`, ...), and runs
//! migrations on their own threads so that a monitor never waits for one.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Instant;

use parking_lot::Mutex;
use spapr_machine::control::ExitReason;
use spapr_machine::machine::Machine;
use spapr_machine::migrate::MachineMigrationError;
use spapr_machine::transfer::TransferError;

use crate::console::SerialPort;
use crate::monitor::events::{Event, Events, ShutdownCause};
use crate::monitor::{
    CpuSummary, MigrationInfo, MigrationStatus, ResetAction, RunStatus, VmControl,
};

/// The incoming side's state.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Incoming {
    /// No `-incoming`.
    None,
    /// `-incoming defer`, waiting for `migrate-incoming`.
    Deferred,
    /// Listening or loading.
    Running,
    /// Done or failed.
    Finished,
}

struct State {
    status: RunStatus,
    migration: MigrationInfo,
    incoming: Incoming,
    /// Start the vCPUs once the incoming migration completes (no `-S`, or
    /// `cont` during it).
    autostart: bool,
}

/// The program's machine, shared by the monitors and the main thread.
pub struct Vm {
    this: Weak<Vm>,
    machine: Arc<Machine>,
    serial: Option<SerialPort>,
    /// Console input reaches the machine only once it holds the state it
    /// will run with: during an incoming migration it waits in the port.
    input_open: AtomicBool,
    /// Serialises moves from the port to the vty (the reader thread and
    /// vCPU threads both pump), so input keeps its order.
    pump: Mutex<()>,
    events: Events,
    no_reboot: bool,
    state: Mutex<State>,
}

impl std::fmt::Debug for Vm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vm")
            .field("machine", &self.machine)
            .finish()
    }
}

fn migration_error(e: &TransferError) -> String {
    match e {
        TransferError::Machine(MachineMigrationError::Stream(s)) => s.to_string(),
        other => other.to_string(),
    }
}

impl Vm {
    /// Wraps a machine whose vCPU threads are started (paused for `-S` or
    /// an incoming migration).
    pub fn new(
        machine: Arc<Machine>,
        serial: Option<SerialPort>,
        events: Events,
        status: RunStatus,
        no_reboot: bool,
        autostart: bool,
        deferred: bool,
    ) -> Arc<Self> {
        let vm = Arc::new_cyclic(|this| Self {
            this: this.clone(),
            input_open: AtomicBool::new(status != RunStatus::InMigrate),
            serial: serial.clone(),
            pump: Mutex::new(()),
            machine,
            events,
            no_reboot,
            state: Mutex::new(State {
                status,
                migration: MigrationInfo::none(),
                incoming: if deferred {
                    Incoming::Deferred
                } else if status == RunStatus::InMigrate {
                    Incoming::Running
                } else {
                    Incoming::None
                },
                autostart,
            }),
        });
        if let Some(port) = serial {
            let weak = Arc::downgrade(&vm);
            port.set_notify(move || {
                if let Some(vm) = weak.upgrade() {
                    vm.pump_console();
                }
            });
            let weak = Arc::downgrade(&vm);
            vm.machine.set_console_drained(move || {
                if let Some(vm) = weak.upgrade() {
                    vm.pump_console();
                }
            });
            // Input read before the hooks existed waits in the port.
            vm.pump_console();
        }
        vm
    }

    /// Moves queued console input into the machine's vty (which raises its
    /// interrupt), as much as it takes, unless input is held back.
    pub fn pump_console(&self) {
        let Some(port) = &self.serial else { return };
        if !self.input_open.load(Ordering::Acquire) {
            return;
        }
        let _order = self.pump.lock();
        let mut buf = [0u8; 256];
        loop {
            // Only what the vty takes leaves the port: the rest waits there,
            // and the port's reader waits when the port is full too.
            let room = self.machine.console_space().min(buf.len());
            if room == 0 {
                break;
            }
            let n = port.read(&mut buf[..room]);
            if n == 0 {
                break;
            }
            let taken = self.machine.console_input(&buf[..n]);
            debug_assert_eq!(taken, n, "the vty took less than its space");
        }
    }

    /// The machine.
    pub fn machine(&self) -> &Arc<Machine> {
        &self.machine
    }

    /// Runs the incoming migration from `uri` on the calling thread and
    /// starts the vCPUs afterwards if asked to. On failure the program
    /// ends, as QEMU's destination does.
    pub fn run_incoming(self: &Arc<Self>, uri: &str) {
        {
            let mut st = self.state.lock();
            st.incoming = Incoming::Running;
            st.migration = MigrationInfo::with_status(MigrationStatus::Active);
        }
        self.events.emit(Event::Migration(MigrationStatus::Active));
        let started = Instant::now();
        let result = self.machine.migrate_from(uri, &Default::default(), || {});
        let mut st = self.state.lock();
        st.incoming = Incoming::Finished;
        match result {
            Ok(report) => {
                for w in &report.warnings {
                    tracing::warn!("{w}");
                }
                st.migration = MigrationInfo::with_status(MigrationStatus::Completed);
                st.migration.total_time_ms = Some(started.elapsed().as_millis() as u64);
                st.migration.transferred_bytes = Some(report.stream_len);
                let go = st.autostart;
                st.status = if go {
                    RunStatus::Running
                } else {
                    RunStatus::Paused
                };
                drop(st);
                self.input_open.store(true, Ordering::Release);
                self.pump_console();
                self.events
                    .emit(Event::Migration(MigrationStatus::Completed));
                if go {
                    self.machine.resume();
                    self.events.emit(Event::Resume);
                }
            }
            Err(e) => {
                let msg = migration_error(&e);
                st.migration = MigrationInfo::with_status(MigrationStatus::Failed);
                st.migration.error_desc = Some(msg.clone());
                drop(st);
                self.events.emit(Event::Migration(MigrationStatus::Failed));
                tracing::error!("load of migration failed: {msg}");
                self.machine.request_exit(ExitReason::Error(format!(
                    "load of migration failed: {msg}"
                )));
            }
        }
    }

    /// Records why the machine stopped and emits the event QEMU emits.
    pub fn finished(&self, reason: &ExitReason) {
        let cause = match reason {
            ExitReason::PowerOff => Some(ShutdownCause::GuestShutdown),
            ExitReason::Reboot => Some(ShutdownCause::GuestReset),
            ExitReason::GuestPanic => Some(ShutdownCause::GuestPanic),
            ExitReason::Error(_) => Some(ShutdownCause::HostError),
            // The monitor emitted SHUTDOWN before asking to quit.
            ExitReason::Quit => None,
        };
        self.state.lock().status = match reason {
            ExitReason::GuestPanic => RunStatus::GuestPanicked,
            ExitReason::Error(_) => RunStatus::InternalError,
            _ => RunStatus::Shutdown,
        };
        if let Some(c) = cause {
            self.events.emit(Event::Shutdown(c));
        }
    }
}

impl VmControl for Vm {
    fn status(&self) -> RunStatus {
        self.state.lock().status
    }

    fn stop(&self) {
        let mut st = self.state.lock();
        match st.status {
            RunStatus::InMigrate => st.autostart = false,
            RunStatus::Running => {
                drop(st);
                self.machine.pause();
                self.state.lock().status = RunStatus::Paused;
            }
            _ => {}
        }
    }

    fn cont(&self) -> Result<(), String> {
        let mut st = self.state.lock();
        match st.status {
            RunStatus::InMigrate => {
                st.autostart = true;
                Ok(())
            }
            RunStatus::Shutdown => Err("Resetting the Virtual Machine is required".into()),
            RunStatus::Paused | RunStatus::Prelaunch | RunStatus::PostMigrate => {
                st.status = RunStatus::Running;
                drop(st);
                self.machine.resume();
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn system_reset(&self) -> ResetAction {
        if self.no_reboot {
            self.machine.request_exit(ExitReason::Reboot);
            ResetAction::Shutdown
        } else {
            self.machine.request_reset();
            ResetAction::Reset
        }
    }

    fn system_powerdown(&self) {
        self.machine.powerdown();
    }

    fn quit(&self) {
        self.machine.request_exit(ExitReason::Quit);
    }

    fn migrate(&self, uri: &str) -> Result<(), String> {
        {
            let mut st = self.state.lock();
            if st.incoming == Incoming::Deferred || st.incoming == Incoming::Running {
                return Err("Guest is waiting for an incoming migration".into());
            }
            if st.migration.status.in_progress() {
                return Err("There's a migration process in progress".into());
            }
            st.migration = MigrationInfo::with_status(MigrationStatus::Setup);
        }
        migration::MigrationUri::parse_outgoing(uri).map_err(|e| e.to_string())?;
        self.events.emit(Event::Migration(MigrationStatus::Setup));
        let machine = Arc::clone(&self.machine);
        let events = self.events.clone();
        let uri = uri.to_string();
        let vm = self.this.upgrade().ok_or("the machine is gone")?;
        std::thread::Builder::new()
            .name("migration".into())
            .spawn(move || {
                {
                    let mut st = vm.state.lock();
                    st.migration.status = MigrationStatus::Active;
                    if st.status == RunStatus::Running {
                        st.status = RunStatus::FinishMigrate;
                    }
                }
                events.emit(Event::Migration(MigrationStatus::Active));
                let result = machine.migrate_to(&uri, &Default::default());
                let mut st = vm.state.lock();
                match result {
                    Ok(stats) => {
                        st.migration = MigrationInfo::with_status(MigrationStatus::Completed);
                        st.migration.total_time_ms = Some(stats.total.as_millis() as u64);
                        st.migration.downtime_ms = Some(stats.downtime.as_millis() as u64);
                        st.migration.transferred_bytes = Some(stats.bytes);
                        st.status = RunStatus::PostMigrate;
                        drop(st);
                        events.emit(Event::Migration(MigrationStatus::Completed));
                    }
                    Err(e) => {
                        st.migration = MigrationInfo::with_status(MigrationStatus::Failed);
                        st.migration.error_desc = Some(migration_error(&e));
                        if st.status == RunStatus::FinishMigrate {
                            st.status = RunStatus::Running;
                        }
                        drop(st);
                        events.emit(Event::Migration(MigrationStatus::Failed));
                    }
                }
            })
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    fn migrate_info(&self) -> MigrationInfo {
        self.state.lock().migration.clone()
    }

    fn migrate_incoming(&self, uri: &str) -> Result<(), String> {
        let mut st = self.state.lock();
        match st.incoming {
            Incoming::None => {
                return Err("'-incoming' was not specified on the command line".into())
            }
            Incoming::Running | Incoming::Finished => {
                return Err("The incoming migration has already been started".into())
            }
            Incoming::Deferred => {}
        }
        migration::MigrationUri::parse_incoming(uri).map_err(|e| e.to_string())?;
        st.incoming = Incoming::Running;
        drop(st);
        let vm = self.this.upgrade().ok_or("the machine is gone")?;
        let uri = uri.to_string();
        std::thread::Builder::new()
            .name("incoming".into())
            .spawn(move || vm.run_incoming(&uri))
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    fn info_pic(&self) -> String {
        self.machine.info_pic()
    }

    fn cpus(&self) -> Vec<CpuSummary> {
        (0..self.machine.nr_vcpus())
            .map(|index| CpuSummary {
                index,
                thread_id: None,
            })
            .collect()
    }

    fn info_capabilities(&self) -> String {
        self.machine.info_capabilities()
    }
}
