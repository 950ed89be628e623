//! The serial console as the machine sees it: bytes out (the guest's
//! `H_PUT_TERM_CHAR`) written through at once and flushed, bytes in (for
//! `H_GET_TERM_CHAR`) queued by a reader thread and taken without ever
//! blocking a vCPU.
//!
//! The output goes to whatever the console's chardev is connected to right
//! now (stdout, a socket client, nothing); with no client the bytes are
//! dropped, as QEMU drops them. Input is pushed by the chardev's reader
//! thread, which waits when the queue is full, so a guest that does not
//! read its console only stops the reading of stdin, never itself.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// Bytes of input kept for the guest before the reader thread waits.
pub const INPUT_CAPACITY: usize = 64 * 1024;

/// A writer that can be replaced while shared: the current client of a
/// chardev, or nothing.
#[derive(Clone, Default)]
pub struct OutputSlot {
    inner: Arc<Mutex<Option<Box<dyn Write + Send>>>>,
}

impl std::fmt::Debug for OutputSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutputSlot")
            .field("connected", &self.lock().is_some())
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section here leaves the data consistent (a queue push
    // or pop, a slot swap), so a poisoned lock is still usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl OutputSlot {
    /// A slot with nothing connected.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Option<Box<dyn Write + Send>>> {
        lock(&self.inner)
    }

    /// Connects a writer (replacing the previous one).
    pub fn connect(&self, w: Box<dyn Write + Send>) {
        *self.lock() = Some(w);
    }

    /// Disconnects.
    pub fn disconnect(&self) {
        *self.lock() = None;
    }

    /// Whether a writer is connected.
    pub fn is_connected(&self) -> bool {
        self.lock().is_some()
    }

    /// Writes and flushes; a failing writer is disconnected and the bytes
    /// are dropped.
    pub fn write(&self, bytes: &[u8]) {
        let mut slot = self.lock();
        if let Some(w) = slot.as_mut() {
            if w.write_all(bytes).and_then(|()| w.flush()).is_err() {
                *slot = None;
            }
        }
    }
}

type Notify = Arc<dyn Fn() + Send + Sync>;

struct InputState {
    queue: VecDeque<u8>,
    closed: bool,
}

struct Input {
    state: Mutex<InputState>,
    space: Condvar,
    notify: Mutex<Option<Notify>>,
}

/// The machine's console port. Cloning gives another handle to the same
/// port.
#[derive(Clone)]
pub struct SerialPort {
    output: OutputSlot,
    input: Arc<Input>,
}

impl std::fmt::Debug for SerialPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SerialPort")
            .field("output", &self.output)
            .field("pending", &self.pending())
            .finish()
    }
}

impl SerialPort {
    /// A port writing to `output`, with an empty input queue.
    pub fn new(output: OutputSlot) -> Self {
        Self {
            output,
            input: Arc::new(Input {
                state: Mutex::new(InputState {
                    queue: VecDeque::new(),
                    closed: false,
                }),
                space: Condvar::new(),
                notify: Mutex::new(None),
            }),
        }
    }

    /// Guest output: written and flushed now.
    pub fn write(&self, bytes: &[u8]) {
        self.output.write(bytes);
    }

    /// Guest input: takes up to `buf.len()` queued bytes, never waits.
    /// Returns how many were taken.
    pub fn read(&self, buf: &mut [u8]) -> usize {
        let mut st = lock(&self.input.state);
        let n = buf.len().min(st.queue.len());
        for (dst, src) in buf.iter_mut().zip(st.queue.drain(..n)) {
            *dst = src;
        }
        drop(st);
        if n > 0 {
            self.input.space.notify_all();
        }
        n
    }

    /// Bytes waiting for the guest.
    pub fn pending(&self) -> usize {
        lock(&self.input.state).queue.len()
    }

    /// Sets what to call when input arrives (e.g. pulse the vty's
    /// interrupt). Called on the reader thread, after the bytes are queued.
    pub fn set_notify(&self, notify: impl Fn() + Send + Sync + 'static) {
        *lock(&self.input.notify) = Some(Arc::new(notify));
    }

    /// Queues input, waiting while the queue is full (reader threads).
    /// Returns false once the port is closed.
    pub fn push_input(&self, bytes: &[u8]) -> bool {
        let mut rest = bytes;
        while !rest.is_empty() {
            let mut st = lock(&self.input.state);
            while st.queue.len() >= INPUT_CAPACITY && !st.closed {
                st = self.input.space.wait(st).unwrap_or_else(|p| p.into_inner());
            }
            if st.closed {
                return false;
            }
            let n = rest.len().min(INPUT_CAPACITY - st.queue.len());
            st.queue.extend(&rest[..n]);
            rest = &rest[n..];
            drop(st);
            self.notify();
        }
        true
    }

    /// Queues what fits without waiting (the mux, whose thread also
    /// serves the monitor); returns how many bytes were taken.
    pub fn try_push_input(&self, bytes: &[u8]) -> usize {
        let mut st = lock(&self.input.state);
        let n = bytes.len().min(INPUT_CAPACITY - st.queue.len());
        st.queue.extend(&bytes[..n]);
        drop(st);
        if n > 0 {
            self.notify();
        }
        n
    }

    /// Stops input: wakes and refuses any waiting reader thread.
    pub fn close_input(&self) {
        lock(&self.input.state).closed = true;
        self.input.space.notify_all();
    }

    fn notify(&self) {
        let n = lock(&self.input.notify).clone();
        if let Some(n) = n {
            n();
        }
    }

    /// The output slot (to connect a chardev client).
    pub fn output(&self) -> &OutputSlot {
        &self.output
    }
}

/// The port as the machine's console sink: guest output written and
/// flushed at once.
#[derive(Debug, Clone)]
pub struct SerialWriter(pub SerialPort);

impl Write for SerialWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::thread;

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn output_goes_to_the_connected_writer_only() {
        let slot = OutputSlot::new();
        let port = SerialPort::new(slot.clone());
        port.write(b"lost");
        let sink = Shared::default();
        slot.connect(Box::new(sink.clone()));
        port.write(b"hello");
        assert_eq!(&*sink.0.lock().unwrap(), b"hello");
        slot.disconnect();
        port.write(b"again");
        assert_eq!(&*sink.0.lock().unwrap(), b"hello");
    }

    #[test]
    fn input_is_queued_and_notified() {
        let port = SerialPort::new(OutputSlot::new());
        let hits = Arc::new(AtomicUsize::new(0));
        let h = hits.clone();
        port.set_notify(move || {
            h.fetch_add(1, Ordering::SeqCst);
        });
        let mut buf = [0u8; 4];
        assert_eq!(port.read(&mut buf), 0);
        assert!(port.push_input(b"abcdef"));
        assert_eq!(hits.load(Ordering::SeqCst), 1);
        assert_eq!(port.read(&mut buf), 4);
        assert_eq!(&buf, b"abcd");
        assert_eq!(port.pending(), 2);
        assert_eq!(port.read(&mut buf), 2);
        assert_eq!(&buf[..2], b"ef");
    }

    #[test]
    fn a_full_queue_holds_the_reader_not_the_guest() {
        let port = SerialPort::new(OutputSlot::new());
        assert_eq!(
            port.try_push_input(&vec![1u8; INPUT_CAPACITY + 10]),
            INPUT_CAPACITY
        );
        let p = port.clone();
        let reader = thread::spawn(move || p.push_input(b"xyz"));
        // The guest side drains without waiting; the reader then completes.
        let mut buf = vec![0u8; INPUT_CAPACITY];
        let mut taken = 0;
        while taken < INPUT_CAPACITY + 3 {
            taken += port.read(&mut buf);
            thread::yield_now();
        }
        assert!(reader.join().unwrap());
        port.close_input();
        assert!(!port.push_input(b"late"));
    }
}
