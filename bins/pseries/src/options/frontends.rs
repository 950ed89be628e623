//! Which character devices to open and who uses them: the serial console
//! and the monitors, after QEMU's defaults are applied.
//!
//! QEMU's defaults, reproduced: without `-nodefaults`, a missing `-serial`
//! and a missing monitor (`-monitor`, `-qmp`, `-mon`, `-monitor none`) get
//! defaults. With `-nographic` both share stdio (`mon:stdio`, switched with
//! Ctrl-A c). With `-display none` they go to QEMU's virtual console, which
//! nothing displays, so the console output is dropped. There is no
//! graphical display in this program, so when neither is given the
//! `-nographic` defaults apply (QEMU would open a window there).

use super::chardev::{BackendSpec, ChardevRef};
use super::{CliError, MonitorMode, Options};

/// One chardev to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedChardev {
    /// Its id (`-chardev id=`, or `serial0` / `compat_monitor0` for the
    /// short forms, as QEMU names them).
    pub id: String,
    /// The backend.
    pub backend: BackendSpec,
    /// Shared by the serial port and a monitor, switched with Ctrl-A c.
    pub mux: bool,
    /// The option that created it, for errors.
    pub location: String,
}

/// One monitor to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedMonitor {
    /// Index into [`IoPlan::chardevs`].
    pub chardev: usize,
    /// HMP or QMP.
    pub mode: MonitorMode,
    /// Indented QMP output.
    pub pretty: bool,
}

/// The chardevs and their users.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IoPlan {
    /// Every chardev to open, in option order.
    pub chardevs: Vec<PlannedChardev>,
    /// The serial console's chardev (index), if the machine has one.
    pub serial: Option<usize>,
    /// The monitors.
    pub monitors: Vec<PlannedMonitor>,
}

impl IoPlan {
    /// Whether the machine gets a console (vty).
    pub fn has_console(&self) -> bool {
        self.serial.is_some()
    }
}

/// An error at `loc` (the option as typed), or without a location for
/// the defaults QEMU adds by itself.
fn located(loc: &str, message: impl std::fmt::Display) -> CliError {
    if loc.is_empty() {
        CliError::new(message.to_string())
    } else {
        CliError::at(loc, message)
    }
}

/// Who is attaching, for QEMU's error texts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum User {
    Serial,
    Monitor,
}

struct Planner {
    plan: IoPlan,
    users: Vec<usize>,
    /// The chardev on stdio, once one is attached.
    stdio: Option<usize>,
    serial_count: usize,
    monitor_count: usize,
}

impl Planner {
    fn add_anonymous(&mut self, backend: BackendSpec, mux: bool, user: User, loc: &str) -> usize {
        let id = match user {
            User::Serial => {
                self.serial_count += 1;
                format!("serial{}", self.serial_count - 1)
            }
            User::Monitor => {
                self.monitor_count += 1;
                format!("compat_monitor{}", self.monitor_count - 1)
            }
        };
        self.plan.chardevs.push(PlannedChardev {
            id,
            backend,
            mux,
            location: loc.to_string(),
        });
        self.users.push(0);
        self.plan.chardevs.len() - 1
    }

    /// Resolves a reference to a chardev index and counts the user.
    fn attach(
        &mut self,
        r: &ChardevRef,
        user: User,
        loc: &str,
        raw: &str,
    ) -> Result<usize, CliError> {
        let idx = match r {
            ChardevRef::Inline(b) => self.add_anonymous(b.clone(), false, user, loc),
            ChardevRef::MuxMonitor(b) => self.add_anonymous(b.clone(), true, user, loc),
            ChardevRef::Named(id) => match self.plan.chardevs.iter().position(|c| &c.id == id) {
                Some(i) => i,
                None if user == User::Serial => {
                    return Err(located(
                        loc,
                        format!("could not connect serial device to character backend '{raw}'"),
                    ))
                }
                None => return Err(located(loc, format!("chardev \"{id}\" not found"))),
            },
        };
        let chardev = &self.plan.chardevs[idx];
        if self.users[idx] > 0 && !chardev.mux {
            return Err(CliError::at(
                loc,
                format!("Device '{}' is in use", chardev.id),
            ));
        }
        self.users[idx] += 1;
        if matches!(chardev.backend, BackendSpec::Stdio { .. }) && self.users[idx] == 1 {
            if self.stdio.is_some_and(|s| s != idx) {
                let mut e = located(loc, "cannot use stdio by multiple character devices");
                if user == User::Serial {
                    e.lines.extend(
                        located(
                            loc,
                            format!("could not connect serial device to character backend '{raw}'"),
                        )
                        .lines,
                    );
                }
                return Err(e);
            }
            self.stdio = Some(idx);
        }
        Ok(idx)
    }
}

/// Works out the chardevs and their users from the options.
pub fn plan(opts: &Options) -> Result<IoPlan, CliError> {
    let mut p = Planner {
        plan: IoPlan {
            chardevs: opts
                .chardevs
                .iter()
                .map(|c| PlannedChardev {
                    id: c.id.clone(),
                    backend: c.backend.clone(),
                    mux: c.mux,
                    location: c.location.clone(),
                })
                .collect(),
            ..IoPlan::default()
        },
        users: vec![0; opts.chardevs.len()],
        stdio: None,
        serial_count: 0,
        monitor_count: 0,
    };
    let default_serial = !opts.nodefaults && opts.serial.is_empty();
    // `-serial mon:...` brings its own monitor, as `-monitor`, `-qmp` and
    // `-mon` do.
    let default_monitor = !opts.nodefaults
        && opts.monitors.is_empty()
        && !opts.monitor_none
        && !opts
            .serial
            .iter()
            .any(|s| matches!(s.chardev, Some(ChardevRef::MuxMonitor(_))));
    let nographic = opts.nographic || !opts.display_none;
    let stdio = || ChardevRef::Inline(BackendSpec::Stdio { signal: true });
    let readline = |chardev| PlannedMonitor {
        chardev,
        mode: MonitorMode::Readline,
        pretty: false,
    };

    // QEMU's order: the monitors (explicit, then the default one), then
    // the serial ports; a conflict is reported on the later user.
    for m in &opts.monitors {
        let raw = m.location.split_once(' ').map_or("", |(_, v)| v);
        let idx = p.attach(&m.chardev, User::Monitor, &m.location, raw)?;
        p.plan.monitors.push(PlannedMonitor {
            chardev: idx,
            mode: m.mode,
            pretty: m.pretty,
        });
    }
    let mut serial_done = false;
    if nographic && default_monitor {
        if default_serial {
            // Both share stdio; Ctrl-C goes to the guest (Ctrl-A x exits).
            let idx = p.add_anonymous(BackendSpec::Stdio { signal: false }, true, User::Serial, "");
            p.users[idx] = 2;
            p.stdio = Some(idx);
            p.plan.serial = Some(idx);
            p.plan.monitors.push(readline(idx));
            serial_done = true;
        } else {
            let idx = p.attach(&stdio(), User::Monitor, "", "stdio")?;
            p.plan.monitors.push(readline(idx));
        }
    }

    for s in &opts.serial {
        let Some(r) = &s.chardev else { continue };
        if p.plan.serial.is_some() {
            return Err(CliError::at(
                &s.location,
                "only one serial port (the vty) is supported on this machine",
            ));
        }
        let raw = s.location.split_once(' ').map_or("", |(_, v)| v);
        let idx = p.attach(r, User::Serial, &s.location, raw)?;
        p.plan.serial = Some(idx);
        if let ChardevRef::MuxMonitor(_) = r {
            p.plan.monitors.push(readline(idx));
        }
    }
    if default_serial && !serial_done {
        if nographic {
            p.plan.serial = Some(p.attach(&stdio(), User::Serial, "", "stdio")?);
        } else {
            // `-display none`: QEMU's serial0 goes to an undisplayed
            // console.
            let idx = p.add_anonymous(BackendSpec::Vc, false, User::Serial, "");
            p.plan.serial = Some(idx);
        }
    }
    Ok(p.plan)
}
