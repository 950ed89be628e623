//! Interrupt lines from a controller to a vCPU.
//!
//! Each vCPU owns one [`VcpuIrqInputs`]: a word of level bits, one bit per
//! line, and a wake-up for the vCPU thread when it sleeps (in `H_CEDE`, say).
//! A controller gets an [`IrqLine`] per vCPU and raises or lowers it; the vCPU
//! polls the word with one atomic load per check, and a line only takes the
//! wake-up lock when the vCPU thread is actually asleep.
//!
//! In dual mode both controllers have a line into the same vCPU, on
//! different bits, so that the inactive one can never lower what the active
//! one raised. The vCPU's external-interrupt input is the OR of its lines.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The interrupt inputs of one vCPU.
#[derive(Debug, Default)]
pub struct VcpuIrqInputs {
    levels: AtomicU32,
    sleeping: AtomicBool,
    kicks: Mutex<u64>,
    wake: Condvar,
}

impl VcpuIrqInputs {
    /// Inputs with every line low.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// The line on bit `bit` (0..32) of this vCPU's input word.
    ///
    /// # Panics
    ///
    /// If `bit` is 32 or more: bits are assigned by the machine, not by
    /// guest input.
    pub fn line(self: &Arc<Self>, bit: u32) -> IrqLine {
        assert!(bit < 32, "IRQ line bit {bit} out of range");
        IrqLine {
            inputs: Arc::clone(self),
            mask: 1 << bit,
        }
    }

    /// The level bits of every line; non-zero means an interrupt is
    /// asserted on at least one line.
    #[inline]
    pub fn levels(&self) -> u32 {
        self.levels.load(Ordering::Acquire)
    }

    /// Wakes the vCPU thread if it sleeps in [`VcpuIrqInputs::wait`],
    /// without asserting anything (H_PROD, a stop request).
    pub fn kick(&self) {
        let mut kicks = self.kicks.lock().unwrap_or_else(|e| e.into_inner());
        *kicks = kicks.wrapping_add(1);
        self.wake.notify_all();
    }

    /// Sleeps until a line is asserted, [`VcpuIrqInputs::kick`] is called,
    /// or `timeout` passes. Returns the level bits on return.
    pub fn wait(&self, timeout: Option<Duration>) -> u32 {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut kicks = self.kicks.lock().unwrap_or_else(|e| e.into_inner());
        let seen = *kicks;
        self.sleeping.store(true, Ordering::SeqCst);
        loop {
            let levels = self.levels.load(Ordering::SeqCst);
            if levels != 0 || *kicks != seen {
                break;
            }
            kicks = match deadline {
                None => self.wake.wait(kicks).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        break;
                    }
                    self.wake
                        .wait_timeout(kicks, d - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
        }
        self.sleeping.store(false, Ordering::SeqCst);
        self.levels.load(Ordering::SeqCst)
    }

    fn set(&self, mask: u32, level: bool) {
        if level {
            let old = self.levels.fetch_or(mask, Ordering::SeqCst);
            if old & mask == 0 && self.sleeping.load(Ordering::SeqCst) {
                self.kick();
            }
        } else {
            self.levels.fetch_and(!mask, Ordering::SeqCst);
        }
    }
}

/// One line from a controller into a vCPU: an atomic level plus the wake-up
/// of the vCPU it belongs to. Cloning gives another handle on the same line.
#[derive(Debug, Clone)]
pub struct IrqLine {
    inputs: Arc<VcpuIrqInputs>,
    mask: u32,
}

impl IrqLine {
    /// A line on its own inputs, for using a controller without a vCPU (tests,
    /// examples): the level can still be read with [`IrqLine::is_raised`].
    pub fn detached() -> Self {
        VcpuIrqInputs::new().line(0)
    }

    /// Asserts the line, waking the vCPU if it sleeps.
    #[inline]
    pub fn raise(&self) {
        self.inputs.set(self.mask, true);
    }

    /// Deasserts the line.
    #[inline]
    pub fn lower(&self) {
        self.inputs.set(self.mask, false);
    }

    /// Sets the level.
    #[inline]
    pub fn set(&self, level: bool) {
        self.inputs.set(self.mask, level);
    }

    /// Whether this line is asserted.
    #[inline]
    pub fn is_raised(&self) -> bool {
        self.inputs.levels() & self.mask != 0
    }

    /// The inputs this line belongs to.
    pub fn inputs(&self) -> &Arc<VcpuIrqInputs> {
        &self.inputs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;

    #[test]
    fn lines_are_independent_bits() {
        let inputs = VcpuIrqInputs::new();
        let a = inputs.line(0);
        let b = inputs.line(3);
        a.raise();
        b.raise();
        assert_eq!(inputs.levels(), 0b1001);
        a.lower();
        assert!(!a.is_raised());
        assert!(b.is_raised());
        assert_eq!(inputs.levels(), 0b1000);
    }

    #[test]
    fn raise_wakes_a_sleeping_vcpu() {
        let inputs = VcpuIrqInputs::new();
        let line = inputs.line(1);
        let sleeper = {
            let inputs = Arc::clone(&inputs);
            thread::spawn(move || inputs.wait(Some(Duration::from_secs(30))))
        };
        while !inputs.sleeping.load(Ordering::SeqCst) {
            thread::yield_now();
        }
        let start = Instant::now();
        line.raise();
        assert_eq!(sleeper.join().unwrap(), 0b10);
        assert!(start.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn kick_wakes_without_a_level() {
        let inputs = VcpuIrqInputs::new();
        let sleeper = {
            let inputs = Arc::clone(&inputs);
            thread::spawn(move || inputs.wait(None))
        };
        while !inputs.sleeping.load(Ordering::SeqCst) {
            thread::yield_now();
        }
        inputs.kick();
        assert_eq!(sleeper.join().unwrap(), 0);
    }

    #[test]
    fn wait_returns_at_once_when_asserted_and_after_timeout_otherwise() {
        let inputs = VcpuIrqInputs::new();
        assert_eq!(inputs.wait(Some(Duration::from_millis(1))), 0);
        inputs.line(2).raise();
        assert_eq!(inputs.wait(None), 0b100);
    }
}
