//! A chardev shared by the serial console and a human monitor (`mon:stdio`,
//! `-nographic`, `mux=on`), with QEMU's Ctrl-A escapes: `C-a c` switches
//! between console and monitor, `C-a x` ends the program, `C-a h` prints
//! the help, `C-a C-a` sends a Ctrl-A. Output of both goes through at all
//! times; input goes to whichever has the focus.

use std::io::{self, Read, Write};
use std::sync::mpsc::{Receiver, Sender};

use super::Source;
use crate::console::{OutputSlot, SerialPort};
use crate::exit;
use crate::monitor::events::{Event, Events, ShutdownCause};
use crate::monitor::hmp::{crlf, Hmp};
use crate::monitor::session::{Connection, PROMPT};

/// Ctrl-A.
const ESCAPE: u8 = 0x01;

/// The `C-a h` text.
pub const HELP: &str = "\
C-a h    print this help
C-a x    exit emulator
C-a c    switch between console and monitor
C-a C-a  sends C-a
";

/// Reads what a channel delivers (the monitor's share of a mux's input).
#[derive(Debug)]
pub struct ChannelReader {
    rx: Receiver<Vec<u8>>,
    pending: Vec<u8>,
    pos: usize,
}

impl ChannelReader {
    /// A reader of `rx`; EOF once every sender is gone.
    pub fn new(rx: Receiver<Vec<u8>>) -> Self {
        Self {
            rx,
            pending: Vec::new(),
            pos: 0,
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.pending.len() {
            match self.rx.recv() {
                Ok(v) => {
                    self.pending = v;
                    self.pos = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.pending.len() - self.pos);
        buf[..n].copy_from_slice(&self.pending[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Writes into an [`OutputSlot`] (never fails).
#[derive(Debug, Clone)]
pub struct SlotWriter(pub OutputSlot);

impl Write for SlotWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The monitor's end of a mux: a connection for an HMP session whose
/// input comes from the mux and whose output shares the mux's output.
pub fn monitor_end(rx: Receiver<Vec<u8>>, output: OutputSlot, is_tty: bool) -> Connection {
    Connection {
        reader: Box::new(ChannelReader::new(rx)),
        writer: Box::new(SlotWriter(output)),
        is_tty,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Focus {
    Serial,
    Monitor,
}

/// The mux's input state machine.
pub struct Mux {
    output: OutputSlot,
    serial: Option<SerialPort>,
    monitor: Option<Sender<Vec<u8>>>,
    events: Events,
    prog: String,
    focus: Focus,
    escape: bool,
    greeted: bool,
}

impl Mux {
    /// A mux writing to `output`, feeding `serial` and/or `monitor`.
    pub fn new(
        output: OutputSlot,
        serial: Option<SerialPort>,
        monitor: Option<Sender<Vec<u8>>>,
        events: Events,
        prog: String,
    ) -> Self {
        let focus = if serial.is_some() {
            Focus::Serial
        } else {
            Focus::Monitor
        };
        Self {
            output,
            serial,
            monitor,
            events,
            prog,
            focus,
            escape: false,
            greeted: false,
        }
    }

    /// Greets the monitor if it has the focus from the start.
    pub fn start(&mut self) {
        if self.focus == Focus::Monitor {
            self.greet();
        }
    }

    fn greet(&mut self) {
        if self.greeted {
            self.output.write(PROMPT.as_bytes());
        } else {
            self.greeted = true;
            self.output.write(crlf(&Hmp::banner()).as_bytes());
            self.output.write(PROMPT.as_bytes());
        }
    }

    fn deliver(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        match (self.focus, &self.serial, &self.monitor) {
            (Focus::Serial, Some(s), _) => {
                // The mux thread also serves the monitor, so it never
                // waits for the guest: input beyond the queue is dropped.
                s.try_push_input(bytes);
            }
            (Focus::Monitor, _, Some(m)) => {
                let _ = m.send(bytes.to_vec());
            }
            _ => {}
        }
    }

    /// Processes input bytes.
    pub fn input(&mut self, bytes: &[u8]) {
        let mut plain = Vec::with_capacity(bytes.len());
        for &b in bytes {
            if !self.escape {
                if b == ESCAPE {
                    self.escape = true;
                } else {
                    plain.push(b);
                }
                continue;
            }
            self.escape = false;
            match b {
                ESCAPE => plain.push(ESCAPE),
                b'c' => {
                    self.deliver(&std::mem::take(&mut plain));
                    if self.serial.is_some() && self.monitor.is_some() {
                        self.focus = match self.focus {
                            Focus::Serial => Focus::Monitor,
                            Focus::Monitor => Focus::Serial,
                        };
                        if self.focus == Focus::Monitor {
                            self.greet();
                        }
                    }
                }
                b'x' => {
                    self.output
                        .write(format!("{}: Terminated\r\n", self.prog).as_bytes());
                    self.events.emit(Event::Shutdown(ShutdownCause::HostUi));
                    exit::terminate(exit::POWERED_OFF);
                }
                b'h' | b'?' => {
                    self.deliver(&std::mem::take(&mut plain));
                    self.output.write(crlf(HELP).as_bytes());
                }
                _ => {}
            }
        }
        self.deliver(&plain);
    }

    /// Serves the chardev's clients until none can come.
    pub fn run(mut self, source: Source) {
        self.start();
        let slot = self.output.clone();
        super::pump(source, &slot, |bytes| {
            self.input(bytes);
            true
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::channel;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn focus_switches_with_ctrl_a_c() {
        let out = OutputSlot::new();
        let sink = Shared::default();
        out.connect(Box::new(sink.clone()));
        let serial = SerialPort::new(out.clone());
        let (tx, rx) = channel();
        let mut mux = Mux::new(
            out,
            Some(serial.clone()),
            Some(tx),
            Events::new(),
            "p".into(),
        );
        mux.start();
        mux.input(b"ab\x01\x01c\x01cinfo status\r\x01h");
        let mut buf = [0u8; 16];
        let n = serial.read(&mut buf);
        assert_eq!(&buf[..n], b"ab\x01c");
        let mut reader = ChannelReader::new(rx);
        let mut got = [0u8; 32];
        let n = reader.read(&mut got).unwrap();
        assert_eq!(&got[..n], b"info status\r");
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        assert!(
            text.contains("monitor - type 'help' for more information\r\n(qemu) "),
            "{text}"
        );
        assert!(
            text.contains("C-a c    switch between console and monitor\r\n"),
            "{text}"
        );
        // Back to the console.
        mux.input(b"\x01cz");
        assert_eq!(serial.read(&mut buf), 1);
        assert_eq!(buf[0], b'z');
    }

    #[test]
    fn monitor_only_mux_has_the_focus_at_once() {
        let out = OutputSlot::new();
        let sink = Shared::default();
        out.connect(Box::new(sink.clone()));
        let (tx, rx) = channel();
        let mut mux = Mux::new(out, None, Some(tx), Events::new(), "p".into());
        mux.start();
        mux.input(b"q\n");
        assert_eq!(rx.recv().unwrap(), b"q\n");
        assert!(sink.0.lock().unwrap().ends_with(PROMPT.as_bytes()));
    }
}
