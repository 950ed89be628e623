//! The VIO virtual terminal (`hvterm1`): `H_PUT_TERM_CHAR` output,
//! `H_GET_TERM_CHAR` input, and its input interrupt.
//!
//! Input arrives from a host thread (stdin, a socket); the device keeps a
//! small buffer as QEMU's does (16 bytes) and pulses its interrupt when the
//! buffer goes from empty to non-empty. As in QEMU, the vty has no
//! `H_VIO_SIGNAL` mask: the interrupt is raised on input whatever the
//! guest asked, and the guest masks it at the interrupt controller. The
//! host side never blocks a vCPU: bytes that do not fit wait in a backlog,
//! refilled inside `H_GET_TERM_CHAR`. The backlog is bounded
//! ([`MAX_BACKLOG`]): a host feeding input faster than the guest reads it
//! is told how much was taken and keeps the rest (the `pseries` program
//! leaves it in its serial port, whose reader then waits), and is told
//! when the guest has drained the backlog to half, to feed more.

use std::collections::VecDeque;
use std::io::Write;

use parking_lot::Mutex;

/// Bytes the device buffers (QEMU's `VTERM_BUFSIZE`).
pub const VTERM_BUFSIZE: usize = 16;
/// Most guest output the transcript keeps: the last MiB. A guest printing
/// in a loop must not grow the host process without bound.
pub const MAX_TRANSCRIPT: usize = 1 << 20;

/// Most host input waiting behind the 16-byte buffer.
pub const MAX_BACKLOG: usize = 64 * 1024;

/// Where guest output goes.
pub type ConsoleSink = Box<dyn Write + Send>;

struct VtyState {
    input: VecDeque<u8>,
    /// Bytes the host gave that did not fit yet.
    backlog: VecDeque<u8>,
    /// The host was refused bytes, or filled the backlog, since the
    /// backlog was last half empty.
    refused: bool,
    out: Option<ConsoleSink>,
    /// Everything the guest printed, kept when `record` is on (tests,
    /// transcripts).
    transcript: Option<Vec<u8>>,
}

/// The vty device.
pub struct Vty {
    /// `reg` of the device (its unit address).
    pub reg: u32,
    /// Its interrupt number.
    pub irq: u32,
    state: Mutex<VtyState>,
}

impl std::fmt::Debug for Vty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vty")
            .field("reg", &self.reg)
            .field("irq", &self.irq)
            .finish()
    }
}

/// What one `H_GET_TERM_CHAR` returns: at most [`VTERM_BUFSIZE`] bytes,
/// kept inline so that reading the console allocates nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TermChars {
    buf: [u8; VTERM_BUFSIZE],
    len: usize,
}

impl std::ops::Deref for TermChars {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// What the caller must do after input arrived: pulse the interrupt.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pulse(pub bool);

/// After a guest read: whether the host should be asked for more input
/// (it was refused bytes and the backlog is now at most half full).
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Drained(pub bool);

impl Vty {
    /// A vty at `reg` with interrupt `irq`, writing to `out`.
    pub fn new(reg: u32, irq: u32, out: Option<ConsoleSink>, record: bool) -> Self {
        Self {
            reg,
            irq,
            state: Mutex::new(VtyState {
                input: VecDeque::with_capacity(VTERM_BUFSIZE),
                backlog: VecDeque::new(),
                refused: false,
                out,
                transcript: record.then(Vec::new),
            }),
        }
    }

    /// Guest output (`H_PUT_TERM_CHAR`): written and flushed at once, so a
    /// watcher sees every character as it comes.
    pub fn put(&self, bytes: &[u8]) {
        let mut s = self.state.lock();
        if let Some(t) = s.transcript.as_mut() {
            t.extend_from_slice(bytes);
            if t.len() > MAX_TRANSCRIPT {
                // Drop the oldest half at once, so that trimming costs
                // O(1) per byte over time.
                let cut = t.len() - MAX_TRANSCRIPT / 2;
                t.drain(..cut);
            }
        }
        if let Some(out) = s.out.as_mut() {
            // A closed stdout must not stop the guest.
            let _ = out.write_all(bytes);
            let _ = out.flush();
        }
    }

    fn refill(s: &mut VtyState) -> bool {
        let was_empty = s.input.is_empty();
        while s.input.len() < VTERM_BUFSIZE {
            match s.backlog.pop_front() {
                Some(b) => s.input.push_back(b),
                None => break,
            }
        }
        was_empty && !s.input.is_empty()
    }

    /// Host input: takes what fits in the buffer and the backlog. Returns
    /// how many bytes were taken and whether the interrupt must be pulsed.
    pub fn push_input(&self, bytes: &[u8]) -> (usize, Pulse) {
        let mut s = self.state.lock();
        let n = bytes.len().min(Self::room(&s));
        s.backlog.extend(bytes[..n].iter().copied());
        let pulse = Self::refill(&mut s);
        // A host that was refused bytes, or filled the backlog (and may
        // hold more), is told when the guest has drained it to half.
        if n < bytes.len() || Self::room(&s) == 0 {
            s.refused = true;
        }
        (n, Pulse(pulse))
    }

    /// How many bytes [`Vty::push_input`] would take now.
    pub fn space(&self) -> usize {
        Self::room(&self.state.lock())
    }

    /// Free bytes in the buffer and the backlog (refill keeps the backlog
    /// empty while the buffer has room).
    fn room(s: &VtyState) -> usize {
        MAX_BACKLOG.saturating_sub(s.backlog.len()) + (VTERM_BUFSIZE - s.input.len())
    }

    /// Guest input (`H_GET_TERM_CHAR`): up to 16 bytes. The second value
    /// says whether the interrupt must be pulsed (more input arrived from
    /// the backlog).
    pub fn get(&self) -> (TermChars, Pulse, Drained) {
        let mut s = self.state.lock();
        let mut out = TermChars::default();
        let n = s.input.len().min(VTERM_BUFSIZE);
        for (slot, b) in out.buf.iter_mut().zip(s.input.drain(..n)) {
            *slot = b;
            out.len += 1;
        }
        let pulse = Self::refill(&mut s);
        let drained = s.refused && s.backlog.len() <= MAX_BACKLOG / 2;
        if drained {
            s.refused = false;
        }
        (out, Pulse(pulse), Drained(drained))
    }

    /// What the guest printed so far (when recording): at most the last
    /// [`MAX_TRANSCRIPT`] bytes.
    pub fn transcript(&self) -> Vec<u8> {
        self.state.lock().transcript.clone().unwrap_or_default()
    }

    /// Replaces the output sink.
    pub fn set_output(&self, out: Option<ConsoleSink>) {
        self.state.lock().out = out;
    }

    /// The buffered input (migration).
    pub fn snapshot(&self) -> Vec<u8> {
        self.state.lock().input.iter().copied().collect()
    }

    /// Restores [`Vty::snapshot`] (incoming migration); extra bytes beyond
    /// the buffer size are dropped.
    pub fn restore(&self, input: &[u8]) {
        self.state.lock().input = input.iter().copied().take(VTERM_BUFSIZE).collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_pulses_on_empty_to_non_empty() {
        let v = Vty::new(0x7100_0000, 0x1100, None, true);
        assert_eq!(v.push_input(b"a"), (1, Pulse(true)));
        assert_eq!(v.push_input(b"b"), (1, Pulse(false))); // buffer was not empty
        let (got, _, _) = v.get();
        assert_eq!(&*got, b"ab");
        assert_eq!(v.push_input(b"c"), (1, Pulse(true)));
    }

    #[test]
    fn long_input_waits_in_the_backlog() {
        let v = Vty::new(0, 0x1100, None, false);
        let long: Vec<u8> = (0..40).collect();
        assert_eq!(v.push_input(&long), (40, Pulse(true)));
        let (a, p, _) = v.get();
        assert_eq!(a.len(), 16);
        assert_eq!(p, Pulse(true));
        let (b, _, _) = v.get();
        let (c, p, _) = v.get();
        assert_eq!(b.len() + c.len(), 24);
        assert_eq!(p, Pulse(false));
        assert!(v.get().0.is_empty());
    }

    #[test]
    fn the_backlog_is_bounded_and_asks_for_more_once_half_drained() {
        let v = Vty::new(0, 0x1100, None, false);
        let flood = vec![b'k'; MAX_BACKLOG * 2];
        let (taken, _) = v.push_input(&flood);
        assert_eq!(taken, MAX_BACKLOG + VTERM_BUFSIZE);
        assert_eq!(v.space(), 0);
        assert_eq!(v.push_input(b"x").0, 0);
        let mut read = 0;
        let mut asked = 0;
        loop {
            let (got, _, drained) = v.get();
            if got.is_empty() {
                break;
            }
            read += got.len();
            if drained.0 {
                asked += 1;
                assert!(read >= MAX_BACKLOG / 2);
            }
        }
        assert_eq!(read, MAX_BACKLOG + VTERM_BUFSIZE);
        assert_eq!(asked, 1);
        assert_eq!(v.space(), MAX_BACKLOG + VTERM_BUFSIZE);
    }

    #[test]
    fn output_is_recorded() {
        let v = Vty::new(0, 0x1100, None, true);
        v.put(b"hello");
        assert_eq!(v.transcript(), b"hello");
    }
}
