//! Run control: pausing every vCPU thread, resuming them, and the requests
//! (reset, powerdown, shutdown) that the machine's main loop carries out.
//!
//! vCPU threads check one atomic flag whenever their interpreter returns
//! (at most a few thousand instructions apart, or at once when kicked out
//! of an idle wait), so a pause takes effect quickly without any lock on the
//! hot path.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

/// Why the machine stopped running for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitReason {
    /// The guest called RTAS `power-off`.
    PowerOff,
    /// `quit` from the monitor, or the process was asked to stop.
    Quit,
    /// The guest rebooted with `-no-reboot` in effect.
    Reboot,
    /// The guest reported a panic with `ibm,os-term`.
    GuestPanic,
    /// The emulator could not go on (unimplemented instruction, checkstop,
    /// a guest that asked for something fatal at CAS).
    Error(String),
}

impl ExitReason {
    /// Process exit status: 0 for a guest that ended itself, 2 or more for
    /// a VM-level failure (never 1, which scripts read as a usage error).
    pub fn exit_status(&self) -> i32 {
        match self {
            Self::PowerOff | Self::Quit | Self::Reboot => 0,
            Self::GuestPanic => 3,
            Self::Error(_) => 2,
        }
    }
}

/// What the main loop is asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Reset the machine (guest `system-reboot`, monitor `system_reset`).
    Reset,
    /// Stop for good.
    Exit(ExitReason),
}

#[derive(Debug, Default)]
struct State {
    parked: u32,
    threads: u32,
    requests: Vec<Request>,
    paused: bool,
}

/// Shared by the vCPU threads and the main loop.
#[derive(Debug, Default)]
pub struct Control {
    pause: AtomicBool,
    stop: AtomicBool,
    state: Mutex<State>,
    cv: Condvar,
}

impl Control {
    /// Whether vCPU threads must park (checked after every interpreter run).
    #[inline]
    pub fn pause_requested(&self) -> bool {
        self.pause.load(Ordering::Acquire)
    }

    /// Tells vCPU threads to end (they check after parking).
    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::Release);
    }

    /// Whether vCPU threads must end.
    #[inline]
    pub fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// A vCPU thread starts.
    pub fn thread_started(&self) {
        self.state.lock().threads += 1;
    }

    /// A vCPU thread ends.
    pub fn thread_ended(&self) {
        let mut s = self.state.lock();
        s.threads -= 1;
        self.cv.notify_all();
    }

    /// Called by a vCPU thread that saw [`Control::pause_requested`]: waits
    /// until the pause is lifted. Returns at once if it already was.
    pub fn park(&self) {
        let mut s = self.state.lock();
        if !self.pause.load(Ordering::Acquire) {
            return;
        }
        s.parked += 1;
        self.cv.notify_all();
        while self.pause.load(Ordering::Acquire) {
            self.cv.wait(&mut s);
        }
        s.parked -= 1;
    }

    /// Asks every vCPU thread to park and waits until they all did. `kick`
    /// wakes threads sleeping in idle waits.
    pub fn pause(&self, kick: impl Fn()) {
        self.pause.store(true, Ordering::Release);
        let mut s = self.state.lock();
        s.paused = true;
        while s.parked < s.threads {
            drop(s);
            kick();
            s = self.state.lock();
            if s.parked >= s.threads {
                break;
            }
            self.cv.wait_for(&mut s, Duration::from_millis(2));
        }
    }

    /// Lets parked vCPU threads run again.
    pub fn resume(&self) {
        let mut s = self.state.lock();
        s.paused = false;
        self.pause.store(false, Ordering::Release);
        self.cv.notify_all();
    }

    /// Whether the machine is paused.
    pub fn is_paused(&self) -> bool {
        self.state.lock().paused
    }

    /// Queues a request for the main loop.
    pub fn request(&self, r: Request) {
        let mut s = self.state.lock();
        s.requests.push(r);
        self.cv.notify_all();
    }

    /// Waits for the next request (the main loop), up to `timeout`.
    pub fn next_request(&self, timeout: Duration) -> Option<Request> {
        let mut s = self.state.lock();
        if s.requests.is_empty() {
            self.cv.wait_for(&mut s, timeout);
        }
        if s.requests.is_empty() {
            None
        } else {
            Some(s.requests.remove(0))
        }
    }

    /// Waits until every vCPU thread ended.
    pub fn wait_threads_ended(&self) {
        let mut s = self.state.lock();
        while s.threads > 0 {
            self.cv.wait_for(&mut s, Duration::from_millis(10));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::thread;

    #[test]
    fn pause_waits_for_every_thread() {
        let c = Arc::new(Control::default());
        let stop = Arc::new(AtomicBool::new(false));
        let mut handles = Vec::new();
        for _ in 0..3 {
            let (c, stop) = (Arc::clone(&c), Arc::clone(&stop));
            c.thread_started();
            handles.push(thread::spawn(move || {
                while !stop.load(Ordering::Acquire) {
                    if c.pause_requested() {
                        c.park();
                    }
                    thread::yield_now();
                }
                c.thread_ended();
            }));
        }
        c.pause(|| {});
        assert!(c.is_paused());
        assert_eq!(c.state.lock().parked, 3);
        c.resume();
        stop.store(true, Ordering::Release);
        for h in handles {
            h.join().unwrap();
        }
        c.wait_threads_ended();
    }

    #[test]
    fn requests_are_queued_in_order() {
        let c = Control::default();
        c.request(Request::Reset);
        c.request(Request::Exit(ExitReason::PowerOff));
        assert_eq!(c.next_request(Duration::ZERO), Some(Request::Reset));
        assert_eq!(
            c.next_request(Duration::ZERO),
            Some(Request::Exit(ExitReason::PowerOff))
        );
        assert_eq!(c.next_request(Duration::from_millis(1)), None);
        assert_eq!(ExitReason::Error("x".into()).exit_status(), 2);
    }
}
