//! QMP events: `{"timestamp": {...}, "event": "NAME", "data": {...}}`,
//! sent to every QMP client that finished capabilities negotiation.
//!
//! [`Events`] is a cheap, cloneable handle; emitting never blocks (each
//! client has its own unbounded queue drained by its writer thread), so
//! vCPU threads may emit.

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use super::json::J;
use super::MigrationStatus;

/// QEMU's `ShutdownCause` (the `reason` of `SHUTDOWN` and `RESET`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownCause {
    /// The emulator failed.
    HostError,
    /// QMP or HMP `quit`.
    HostQmpQuit,
    /// QMP or HMP `system_reset`.
    HostQmpSystemReset,
    /// SIGINT, SIGTERM or SIGHUP.
    HostSignal,
    /// The user interface (Ctrl-A x).
    HostUi,
    /// The guest powered off (RTAS power-off).
    GuestShutdown,
    /// The guest reset itself (RTAS system-reboot).
    GuestReset,
    /// The guest panicked.
    GuestPanic,
}

impl ShutdownCause {
    /// QEMU's name.
    pub fn as_str(self) -> &'static str {
        match self {
            ShutdownCause::HostError => "host-error",
            ShutdownCause::HostQmpQuit => "host-qmp-quit",
            ShutdownCause::HostQmpSystemReset => "host-qmp-system-reset",
            ShutdownCause::HostSignal => "host-signal",
            ShutdownCause::HostUi => "host-ui",
            ShutdownCause::GuestShutdown => "guest-shutdown",
            ShutdownCause::GuestReset => "guest-reset",
            ShutdownCause::GuestPanic => "guest-panic",
        }
    }

    /// Whether the guest caused it (`data.guest`).
    pub fn is_guest(self) -> bool {
        matches!(
            self,
            ShutdownCause::GuestShutdown | ShutdownCause::GuestReset | ShutdownCause::GuestPanic
        )
    }
}

/// An event.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The program is ending (or, with `-no-shutdown`, the guest is off).
    Shutdown(ShutdownCause),
    /// The machine was reset.
    Reset(ShutdownCause),
    /// The vCPUs stopped.
    Stop,
    /// The vCPUs resumed.
    Resume,
    /// `system_powerdown` was sent to the guest.
    Powerdown,
    /// The migration changed state.
    Migration(MigrationStatus),
    /// Any other event, with its name and optional `data`.
    Other {
        /// Event name (`GUEST_PANICKED`, ...).
        name: String,
        /// Its data object.
        data: Option<J>,
    },
}

impl Event {
    /// The event's name.
    pub fn name(&self) -> &str {
        match self {
            Event::Shutdown(_) => "SHUTDOWN",
            Event::Reset(_) => "RESET",
            Event::Stop => "STOP",
            Event::Resume => "RESUME",
            Event::Powerdown => "POWERDOWN",
            Event::Migration(_) => "MIGRATION",
            Event::Other { name, .. } => name,
        }
    }

    /// The `data` member, if the event has one.
    pub fn data(&self) -> Option<J> {
        match self {
            Event::Shutdown(c) | Event::Reset(c) => Some(J::obj([
                ("guest", J::Bool(c.is_guest())),
                ("reason", J::s(c.as_str())),
            ])),
            Event::Migration(s) => Some(J::obj([("status", J::s(s.as_str()))])),
            Event::Other { data, .. } => data.clone(),
            _ => None,
        }
    }

    /// The whole message with a timestamp of `now`.
    pub fn message(&self, now: SystemTime) -> J {
        let t = now.duration_since(UNIX_EPOCH).unwrap_or_default();
        let mut members = vec![
            (
                "timestamp".to_string(),
                J::obj([
                    ("seconds", J::Uint(t.as_secs())),
                    ("microseconds", J::Uint(u64::from(t.subsec_micros()))),
                ]),
            ),
            ("event".to_string(), J::s(self.name())),
        ];
        if let Some(d) = self.data() {
            members.push(("data".to_string(), d));
        }
        J::Obj(members)
    }
}

/// A subscriber: delivers one message, returns false once it is gone.
type Sink = Box<dyn Fn(&J) -> bool + Send>;

#[derive(Default)]
struct Subscribers {
    next: u64,
    list: Vec<(u64, Sink)>,
}

/// The event bus: a handle to emit events to every negotiated QMP client.
#[derive(Clone, Default)]
pub struct Events {
    inner: Arc<Mutex<Subscribers>>,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events")
            .field("subscribers", &self.lock().list.len())
            .finish()
    }
}

impl Events {
    /// A bus with no subscriber.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Subscribers> {
        // A panic while holding this lock cannot leave the list
        // inconsistent (push/retain), so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Emits `event` now, to every subscriber. Never blocks.
    pub fn emit(&self, event: Event) {
        let message = event.message(SystemTime::now());
        let mut subs = self.lock();
        subs.list.retain(|(_, deliver)| deliver(&message));
    }

    /// Registers a client: `deliver` queues one message (it must not
    /// block) and returns false once the client is gone. Dropping the
    /// returned guard unregisters it.
    pub fn subscribe(&self, deliver: impl Fn(&J) -> bool + Send + 'static) -> Subscription {
        let mut subs = self.lock();
        let id = subs.next;
        subs.next += 1;
        subs.list.push((id, Box::new(deliver)));
        Subscription {
            events: self.clone(),
            id,
        }
    }

    /// How many clients receive events now.
    pub fn subscriber_count(&self) -> usize {
        self.lock().list.len()
    }
}

/// A client's registration on the bus.
#[derive(Debug)]
pub struct Subscription {
    events: Events,
    id: u64,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.events.lock().list.retain(|(id, _)| *id != self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::channel;
    use std::time::Duration;

    #[test]
    fn event_shape() {
        let t = UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789);
        assert_eq!(
            Event::Shutdown(ShutdownCause::HostQmpQuit)
                .message(t)
                .compact(),
            r#"{"timestamp": {"seconds": 1700000000, "microseconds": 123456}, "event": "SHUTDOWN", "data": {"guest": false, "reason": "host-qmp-quit"}}"#
        );
        assert_eq!(
            Event::Stop.message(t).compact(),
            r#"{"timestamp": {"seconds": 1700000000, "microseconds": 123456}, "event": "STOP"}"#
        );
        assert_eq!(
            Event::Reset(ShutdownCause::GuestReset)
                .data()
                .unwrap()
                .compact(),
            r#"{"guest": true, "reason": "guest-reset"}"#
        );
    }

    #[test]
    fn bus_delivers_to_subscribers_only() {
        let events = Events::new();
        events.emit(Event::Stop); // nobody listening: dropped
        let (tx, rx) = channel();
        let sub = events.subscribe(move |m: &J| tx.send(m.clone()).is_ok());
        events.emit(Event::Resume);
        let m = rx.try_recv().unwrap().compact();
        assert!(m.contains(r#""event": "RESUME""#), "{m}");
        assert!(rx.try_recv().is_err());
        drop(sub);
        assert_eq!(events.subscriber_count(), 0);
        events.emit(Event::Stop);
        assert!(rx.try_recv().is_err());
    }
}
