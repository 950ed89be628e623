//! Adaptive halt polling for idle vCPUs.
//!
//! A vCPU that cedes (H_CEDE, `wait`) is often woken again within a few
//! microseconds: an IPI answered by another vCPU, the next console
//! character. Blocking on a condition variable costs a futex sleep and a
//! scheduler wake-up on each side, tens of microseconds on a loaded host,
//! so the idle vCPU first polls its inputs for a short window and only
//! then blocks. The window adapts the way KVM's `halt_poll_ns` does: it
//! grows when the vCPU blocked and was woken soon after (polling a little
//! longer would have caught the event) and shrinks to nothing when idle
//! periods are long (a guest waiting for its decrementer tick), so a
//! really idle guest costs no host CPU.

use std::time::{Duration, Instant};

/// First non-zero window.
const START: Duration = Duration::from_micros(10);
/// Largest window; also the longest block still counted as "short".
pub const MAX: Duration = Duration::from_micros(200);

/// The polling window of one vCPU thread.
#[derive(Debug, Clone, Default)]
pub struct HaltPoll {
    window: Duration,
}

/// How an idle period ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdleEnd {
    /// The event came while polling.
    Polled,
    /// The vCPU blocked for this long before the event came.
    Blocked(Duration),
}

impl HaltPoll {
    /// A poller whose window starts at zero (block at once).
    pub fn new() -> Self {
        Self::default()
    }

    /// The current window.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// Polls `ready` until it returns true or the window passes; whether it
    /// did. Every few dozen checks the thread reads the clock and yields,
    /// so that on a host with fewer free cores than busy threads the
    /// poller does not keep the vCPU it waits for off the CPU.
    pub fn poll(&self, mut ready: impl FnMut() -> bool) -> bool {
        if self.window.is_zero() {
            return false;
        }
        let deadline = Instant::now() + self.window;
        loop {
            for _ in 0..32 {
                if ready() {
                    return true;
                }
                std::hint::spin_loop();
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::yield_now();
        }
    }

    /// Adapts the window to how the last idle period ended.
    pub fn update(&mut self, end: IdleEnd) {
        match end {
            IdleEnd::Polled => {}
            IdleEnd::Blocked(d) if d <= MAX => {
                self.window = (self.window * 2).clamp(START, MAX);
            }
            IdleEnd::Blocked(_) => {
                self.window /= 2;
                if self.window < START {
                    self.window = Duration::ZERO;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_blocks_grow_the_window_up_to_the_maximum() {
        let mut p = HaltPoll::new();
        assert_eq!(p.window(), Duration::ZERO);
        p.update(IdleEnd::Blocked(Duration::from_micros(5)));
        assert_eq!(p.window(), START);
        for _ in 0..10 {
            p.update(IdleEnd::Blocked(Duration::from_micros(50)));
        }
        assert_eq!(p.window(), MAX);
    }

    #[test]
    fn long_blocks_shrink_the_window_to_zero() {
        let mut p = HaltPoll::new();
        for _ in 0..10 {
            p.update(IdleEnd::Blocked(Duration::from_micros(1)));
        }
        p.update(IdleEnd::Blocked(Duration::from_millis(1)));
        assert_eq!(p.window(), MAX / 2);
        for _ in 0..10 {
            p.update(IdleEnd::Blocked(Duration::from_millis(10)));
        }
        assert_eq!(p.window(), Duration::ZERO);
    }

    #[test]
    fn a_zero_window_does_not_poll_and_a_ready_input_is_seen() {
        let mut p = HaltPoll::new();
        let mut calls = 0;
        assert!(!p.poll(|| {
            calls += 1;
            true
        }));
        assert_eq!(calls, 0);
        p.update(IdleEnd::Blocked(Duration::ZERO));
        let mut n = 0;
        assert!(p.poll(|| {
            n += 1;
            n == 5
        }));
        assert!(!p.poll(|| false));
    }
}
