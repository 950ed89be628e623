//! QMP: the greeting, capabilities negotiation, command dispatch and
//! replies, as QEMU 7.2 answers (members in QEMU's order, `id` echoed, error
//! classes `GenericError` and `CommandNotFound`, QEMU's descriptions).
//!
//! This is the engine of one connection, without I/O: [`QmpSession::handle`]
//! takes one input frame and returns the reply and what must follow it.

use serde_json::{Map, Value};

use super::actions::Actions;
use super::hmp::{crlf, Hmp};
use super::json::{Frame, J};
use super::{package, MigrationInfo, MigrationStatus, QEMU_VERSION};

/// What the connection must do after sending a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    /// Nothing.
    Nothing,
    /// Negotiation finished: start delivering events to this client.
    Negotiated,
    /// `quit`: flush the reply, then end the program.
    Quit,
}

/// The commands, in `query-commands` order.
pub const COMMANDS: &[&str] = &[
    "cont",
    "human-monitor-command",
    "migrate",
    "migrate-incoming",
    "qmp_capabilities",
    "query-commands",
    "query-cpus-fast",
    "query-migrate",
    "query-status",
    "query-version",
    "quit",
    "stop",
    "system_powerdown",
    "system_reset",
];

/// A QMP error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QmpError {
    /// `GenericError` or `CommandNotFound`.
    pub class: &'static str,
    /// The description.
    pub desc: String,
}

impl QmpError {
    fn generic(desc: impl Into<String>) -> Self {
        Self {
            class: "GenericError",
            desc: desc.into(),
        }
    }

    fn not_found(desc: impl Into<String>) -> Self {
        Self {
            class: "CommandNotFound",
            desc: desc.into(),
        }
    }

    fn to_json(&self) -> J {
        J::obj([(
            "error",
            J::obj([("class", J::s(self.class)), ("desc", J::s(&self.desc))]),
        )])
    }
}

/// An argument type, with QEMU's name for it in type errors.
#[derive(Clone, Copy)]
enum Ty {
    Str,
    Bool,
    Int,
    StrList,
}

impl Ty {
    fn name(self) -> &'static str {
        match self {
            Ty::Str => "string",
            Ty::Bool => "boolean",
            Ty::Int => "integer",
            Ty::StrList => "array",
        }
    }

    fn matches(self, v: &Value) -> bool {
        match self {
            Ty::Str => v.is_string(),
            Ty::Bool => v.is_boolean(),
            Ty::Int => v.is_i64() || v.is_u64(),
            Ty::StrList => v.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
        }
    }
}

/// Checks `args` against `(name, type, required)`: members first (missing,
/// wrong type), then anything unexpected, in QEMU's order.
fn check_args(args: &Map<String, Value>, spec: &[(&str, Ty, bool)]) -> Result<(), QmpError> {
    for &(name, ty, required) in spec {
        match args.get(name) {
            None if required => {
                return Err(QmpError::generic(format!("Parameter '{name}' is missing")))
            }
            Some(v) if !ty.matches(v) => {
                return Err(QmpError::generic(format!(
                    "Invalid parameter type for '{name}', expected: {}",
                    ty.name()
                )))
            }
            _ => {}
        }
    }
    if let Some(k) = args.keys().find(|k| !spec.iter().any(|(n, ..)| n == k)) {
        return Err(QmpError::generic(format!("Parameter '{k}' is unexpected")));
    }
    Ok(())
}

/// The version object of the greeting and `query-version`.
fn version() -> J {
    let (major, minor, micro) = QEMU_VERSION;
    J::obj([
        (
            "qemu",
            J::obj([
                ("micro", J::Uint(micro.into())),
                ("minor", J::Uint(minor.into())),
                ("major", J::Uint(major.into())),
            ]),
        ),
        ("package", J::s(package())),
    ])
}

/// `query-migrate`'s object.
pub fn migrate_json(info: &MigrationInfo) -> J {
    let mut m: Vec<(String, J)> = Vec::new();
    if info.status != MigrationStatus::None {
        m.push(("status".into(), J::s(info.status.as_str())));
        let times = [
            ("setup-time", info.setup_time_ms),
            ("downtime", info.downtime_ms),
            ("total-time", info.total_time_ms),
        ];
        for (k, v) in times {
            if let Some(v) = v {
                m.push((k.into(), J::Uint(v)));
            }
        }
        if let Some(t) = info.transferred_bytes {
            let mut ram = vec![("transferred".to_string(), J::Uint(t))];
            if let Some(total) = info.total_bytes {
                ram.push(("total".into(), J::Uint(total)));
            }
            if let Some(r) = info.remaining_bytes {
                ram.push(("remaining".into(), J::Uint(r)));
            }
            m.push(("ram".into(), J::Obj(ram)));
        }
        if let (Some(e), MigrationStatus::Failed) = (&info.error_desc, info.status) {
            m.push(("error-desc".into(), J::s(e)));
        }
    }
    if !info.socket_addresses.is_empty() {
        let addrs = info
            .socket_addresses
            .iter()
            .map(|a| match a.split_once(':') {
                Some(("unix", path)) => J::obj([("path", J::s(path)), ("type", J::s("unix"))]),
                Some(("tcp", hp)) => {
                    let (host, port) = hp.rsplit_once(':').unwrap_or((hp, ""));
                    J::obj([
                        ("port", J::s(port)),
                        ("host", J::s(host)),
                        ("type", J::s("inet")),
                    ])
                }
                _ => J::obj([("path", J::s(a)), ("type", J::s("unix"))]),
            })
            .collect();
        m.push(("socket-address".into(), J::Arr(addrs)));
    }
    J::Obj(m)
}

/// One QMP connection's state.
pub struct QmpSession {
    actions: Actions,
    hmp: Hmp,
    negotiated: bool,
}

impl QmpSession {
    /// A new connection, before negotiation.
    pub fn new(actions: Actions) -> Self {
        Self {
            hmp: Hmp::new(actions.clone()),
            actions,
            negotiated: false,
        }
    }

    /// The greeting sent when a client connects. No capability (`oob`) is
    /// offered: commands run one at a time, in order.
    pub fn greeting() -> J {
        J::obj([(
            "QMP",
            J::obj([("version", version()), ("capabilities", J::Arr(vec![]))]),
        )])
    }

    /// Whether `qmp_capabilities` has been accepted.
    pub fn negotiated(&self) -> bool {
        self.negotiated
    }

    /// Handles one input frame: returns the reply and what follows it.
    pub fn handle(&mut self, frame: Frame) -> (J, After) {
        let request = match frame {
            Frame::Error(desc) => return (QmpError::generic(desc).to_json(), After::Nothing),
            Frame::Value(v) => v,
        };
        let Value::Object(request) = request else {
            return (
                QmpError::generic("QMP input must be a JSON object").to_json(),
                After::Nothing,
            );
        };
        let id = request.get("id").map(J::from_value);
        let (result, after) = match parse_request(&request) {
            Err(e) => (Err(e), After::Nothing),
            Ok((name, args)) => self.dispatch(name, &args),
        };
        // QEMU's member order (its dictionaries' hash order): the id after
        // `return`, before `error`.
        let reply = match (result, id) {
            (Ok(ret), None) => J::obj([("return", ret)]),
            (Ok(ret), Some(id)) => J::obj([("return", ret), ("id", id)]),
            (Err(e), None) => e.to_json(),
            (Err(e), Some(id)) => {
                let J::Obj(mut members) = e.to_json() else {
                    unreachable!("an error is an object")
                };
                members.insert(0, ("id".into(), id));
                J::Obj(members)
            }
        };
        (reply, after)
    }

    fn dispatch(&mut self, name: &str, args: &Map<String, Value>) -> (Result<J, QmpError>, After) {
        if !self.negotiated {
            if name != "qmp_capabilities" {
                return (
                    Err(QmpError::not_found(
                        "Expecting capabilities negotiation with 'qmp_capabilities'",
                    )),
                    After::Nothing,
                );
            }
            let r = check_args(args, &[("enable", Ty::StrList, false)]).and_then(|()| {
                match args
                    .get("enable")
                    .and_then(Value::as_array)
                    .and_then(|a| a.first())
                {
                    Some(Value::String(c)) if c == "oob" => {
                        Err(QmpError::generic("Capability 'oob' not available"))
                    }
                    Some(other) => Err(QmpError::generic(format!(
                        "Parameter 'enable[0]' does not accept value {other}"
                    ))),
                    None => Ok(J::empty()),
                }
            });
            return match r {
                Ok(j) => {
                    self.negotiated = true;
                    (Ok(j), After::Negotiated)
                }
                Err(e) => (Err(e), After::Nothing),
            };
        }
        let none: &[(&str, Ty, bool)] = &[];
        let vm = &self.actions.vm;
        let a = &self.actions;
        let mut after = After::Nothing;
        let result = match name {
            "qmp_capabilities" => Err(QmpError::not_found(
                "Capabilities negotiation is already complete, command ignored",
            )),
            "query-status" => check_args(args, none).map(|()| {
                let s = vm.status();
                J::obj([
                    ("status", J::s(s.as_str())),
                    ("singlestep", J::Bool(false)),
                    ("running", J::Bool(s.is_running())),
                ])
            }),
            "query-version" => check_args(args, none).map(|()| version()),
            "query-commands" => check_args(args, none).map(|()| {
                J::Arr(
                    COMMANDS
                        .iter()
                        .map(|c| J::obj([("name", J::s(*c))]))
                        .collect(),
                )
            }),
            "query-cpus-fast" => check_args(args, none).map(|()| {
                J::Arr(
                    vm.cpus()
                        .iter()
                        .map(|c| {
                            let mut m = vec![("cpu-index".to_string(), J::Uint(c.index.into()))];
                            if let Some(t) = c.thread_id {
                                m.push(("thread-id".into(), J::Uint(t)));
                            }
                            m.push(("target".into(), J::s("ppc64")));
                            J::Obj(m)
                        })
                        .collect(),
                )
            }),
            "stop" => check_args(args, none).map(|()| {
                a.stop();
                J::empty()
            }),
            "cont" => check_args(args, none)
                .and_then(|()| a.cont().map_err(QmpError::generic).map(|()| J::empty())),
            "system_reset" => check_args(args, none).map(|()| {
                a.system_reset();
                J::empty()
            }),
            "system_powerdown" => check_args(args, none).map(|()| {
                a.system_powerdown();
                J::empty()
            }),
            "quit" => check_args(args, none).map(|()| {
                a.quit_event();
                after = After::Quit;
                J::empty()
            }),
            "migrate" => check_args(
                args,
                &[
                    ("uri", Ty::Str, true),
                    ("blk", Ty::Bool, false),
                    ("inc", Ty::Bool, false),
                    ("detach", Ty::Bool, false),
                    ("resume", Ty::Bool, false),
                ],
            )
            .and_then(|()| {
                let flag = |k: &str| args.get(k).and_then(Value::as_bool).unwrap_or(false);
                if flag("blk") || flag("inc") {
                    return Err(QmpError::generic(
                        "block migration is not supported: this machine has no block devices",
                    ));
                }
                if flag("resume") {
                    return Err(QmpError::generic(
                        "migration resume is not supported (no postcopy)",
                    ));
                }
                let uri = args["uri"].as_str().unwrap_or_default();
                vm.migrate(uri)
                    .map_err(QmpError::generic)
                    .map(|()| J::empty())
            }),
            "query-migrate" => check_args(args, none).map(|()| migrate_json(&vm.migrate_info())),
            "migrate-incoming" => check_args(args, &[("uri", Ty::Str, true)]).and_then(|()| {
                let uri = args["uri"].as_str().unwrap_or_default();
                vm.migrate_incoming(uri)
                    .map_err(QmpError::generic)
                    .map(|()| J::empty())
            }),
            "human-monitor-command" => check_args(
                args,
                &[
                    ("command-line", Ty::Str, true),
                    ("cpu-index", Ty::Int, false),
                ],
            )
            .map(|()| {
                let line = args["command-line"].as_str().unwrap_or_default();
                let out = self.hmp.execute(line, false);
                if out.quit {
                    after = After::Quit;
                }
                J::s(crlf(&out.text))
            }),
            other => Err(QmpError::not_found(format!(
                "The command {other} has not been found"
            ))),
        };
        (result, after)
    }
}

/// The request's command name and arguments, or QEMU's complaint about
/// its shape.
fn parse_request(request: &Map<String, Value>) -> Result<(&str, Map<String, Value>), QmpError> {
    let mut name = None;
    let mut args = Map::new();
    for (k, v) in request {
        match k.as_str() {
            "execute" => match v {
                Value::String(s) => name = Some(s.as_str()),
                _ => {
                    return Err(QmpError::generic(
                        "QMP input member 'execute' must be a string",
                    ))
                }
            },
            "arguments" => match v {
                Value::Object(o) => args = o.clone(),
                _ => {
                    return Err(QmpError::generic(
                        "QMP input member 'arguments' must be an object",
                    ))
                }
            },
            "id" => {}
            other => {
                return Err(QmpError::generic(format!(
                    "QMP input member '{other}' is unexpected"
                )))
            }
        }
    }
    let name = name.ok_or_else(|| QmpError::generic("QMP input lacks member 'execute'"))?;
    Ok((name, args))
}
