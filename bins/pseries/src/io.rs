//! The program's front ends: the serial console and the monitors on the
//! chardevs the command line planned.
//!
//! [`Frontends::open`] runs before the machine exists: it binds and
//! connects the sockets (QEMU does this at start-up too, and waits there
//! for a `wait=on` client), sets the terminal to raw mode when stdio is
//! used, creates the [`SerialPort`] the machine's console will use and
//! starts the threads that feed it. [`Frontends::start_monitors`] starts
//! the monitors once the machine can be controlled.

use std::sync::mpsc::channel;
use std::sync::Arc;
use std::thread;

use crate::chardev::mux::{monitor_end, Mux};
use crate::chardev::{self, terminal, Source};
use crate::console::{OutputSlot, SerialPort};
use crate::monitor::actions::Actions;
use crate::monitor::events::Events;
use crate::monitor::session::{run_hmp, run_qmp, Connection, HmpSessionOptions};
use crate::monitor::VmControl;
use crate::options::frontends::IoPlan;
use crate::options::{BackendSpec, CliError, MonitorMode};

enum Pending {
    Qmp { source: Source, pretty: bool },
    Hmp { source: Source },
    MuxHmp { conn: Connection },
}

/// The opened front ends.
pub struct Frontends {
    serial: Option<SerialPort>,
    events: Events,
    pending: Vec<Pending>,
}

impl std::fmt::Debug for Frontends {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Frontends")
            .field("serial", &self.serial)
            .field("monitors", &self.pending.len())
            .finish()
    }
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<(), CliError> {
    thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .map(|_| ())
        .map_err(|e| CliError::new(format!("cannot start thread {name}: {e}")))
}

/// Feeds the serial port from each client of `source` in turn.
fn serve_serial(source: Source, port: SerialPort) {
    let slot = port.output().clone();
    chardev::pump(source, &slot, |bytes| port.push_input(bytes));
}

impl Frontends {
    /// Opens every planned chardev and starts the console's threads.
    /// `prog` prefixes start-up messages.
    pub fn open(plan: &IoPlan, prog: &str) -> Result<Self, CliError> {
        let events = Events::new();
        let mut serial = None;
        let mut pending = Vec::new();
        for (idx, chardev) in plan.chardevs.iter().enumerate() {
            let is_serial = plan.serial == Some(idx);
            let monitors: Vec<_> = plan.monitors.iter().filter(|m| m.chardev == idx).collect();
            // A chardev nobody uses is still opened, as QEMU opens it.
            let source = chardev::open(chardev, prog)?;
            let stdio = matches!(chardev.backend, BackendSpec::Stdio { .. });
            let signal = match chardev.backend {
                BackendSpec::Stdio { signal } => signal,
                _ => true,
            };
            let shared = chardev.mux || (is_serial && !monitors.is_empty()) || monitors.len() > 1;
            if shared {
                if monitors.iter().any(|m| m.mode == MonitorMode::Control) {
                    return Err(CliError::at(
                        &chardev.location,
                        "QMP on a multiplexed chardev is not supported; give QMP its own chardev",
                    ));
                }
                if monitors.len() > 1 {
                    return Err(CliError::at(
                        &chardev.location,
                        "only one monitor can share a multiplexed chardev",
                    ));
                }
                if stdio {
                    let _ = terminal::enter_raw(signal);
                }
                let slot = OutputSlot::new();
                let mut source = source;
                source.attach_stdio(&slot);
                let port = is_serial.then(|| SerialPort::new(slot.clone()));
                let (tx, rx) = channel();
                let monitor_tx = (!monitors.is_empty()).then_some(tx);
                if monitor_tx.is_some() {
                    let tty = stdio && terminal::stdin_is_tty();
                    pending.push(Pending::MuxHmp {
                        conn: monitor_end(rx, slot.clone(), tty),
                    });
                }
                let mux = Mux::new(
                    slot,
                    port.clone(),
                    monitor_tx,
                    events.clone(),
                    prog.to_string(),
                );
                spawn("mux", move || mux.run(source))?;
                if port.is_some() {
                    serial = port;
                }
            } else if is_serial {
                if stdio {
                    let _ = terminal::enter_raw(signal);
                }
                let port = SerialPort::new(OutputSlot::new());
                let mut source = source;
                source.attach_stdio(port.output());
                if !matches!(source, Source::Sink) {
                    let p = port.clone();
                    spawn("serial", move || serve_serial(source, p))?;
                }
                serial = Some(port);
            } else if let Some(m) = monitors.first() {
                match m.mode {
                    MonitorMode::Control => pending.push(Pending::Qmp {
                        source,
                        pretty: m.pretty,
                    }),
                    MonitorMode::Readline => {
                        if stdio {
                            let _ = terminal::enter_raw(signal);
                        }
                        pending.push(Pending::Hmp { source });
                    }
                }
            }
        }
        Ok(Self {
            serial,
            events,
            pending,
        })
    }

    /// The console port, if the machine has a console.
    pub fn serial(&self) -> Option<SerialPort> {
        self.serial.clone()
    }

    /// The event bus (give a clone to the machine for the events it
    /// causes itself).
    pub fn events(&self) -> Events {
        self.events.clone()
    }

    /// Starts every monitor on its own thread, driving `vm`.
    pub fn start_monitors(&mut self, vm: Arc<dyn VmControl>) -> Result<(), CliError> {
        let actions = Actions::new(vm, self.events.clone());
        for p in self.pending.drain(..) {
            let a = actions.clone();
            match p {
                Pending::Qmp { mut source, pretty } => spawn("qmp", move || {
                    while let Some(conn) = source.next_connection() {
                        run_qmp(conn, a.clone(), pretty);
                    }
                })?,
                Pending::Hmp { mut source } => spawn("hmp", move || {
                    while let Some(conn) = source.next_connection() {
                        run_hmp(conn, a.clone(), HmpSessionOptions { greet: true });
                    }
                })?,
                Pending::MuxHmp { conn } => spawn("hmp", move || {
                    run_hmp(conn, a, HmpSessionOptions { greet: false });
                })?,
            }
        }
        Ok(())
    }
}
