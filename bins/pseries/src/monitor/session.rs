//! Monitor sessions over a byte stream: the QMP loop (greeting, frames in,
//! replies and events out through a per-client writer thread) and the HMP
//! loop (banner, `(qemu) ` prompt, a line editor with echo on terminals).
//!
//! HMP echoes what is typed only on a terminal. QEMU's readline echoes on
//! sockets and pipes too (with cursor-movement escapes), which a client
//! like `socat` or a script then sees twice; here they see only the
//! answers and prompts.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;
use std::time::{Duration, Instant};

use super::actions::Actions;
use super::hmp::{crlf, Hmp};
use super::json::{Framer, J};
use super::qmp::{After, QmpSession};

/// How long `quit` waits for its reply to reach the client.
const QUIT_FLUSH: Duration = Duration::from_secs(2);

/// The HMP prompt.
pub const PROMPT: &str = "(qemu) ";

/// A bidirectional byte stream: one client of a monitor.
pub struct Connection {
    /// Bytes from the client.
    pub reader: Box<dyn Read + Send>,
    /// Bytes to the client.
    pub writer: Box<dyn Write + Send>,
    /// Whether it is a terminal (HMP then echoes what is typed).
    pub is_tty: bool,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("is_tty", &self.is_tty)
            .finish_non_exhaustive()
    }
}

/// QMP commands taken from a client whose reply is not written yet. A
/// command can end the machine (`system_powerdown` with a guest that
/// powers off at once): the program waits for this to reach zero before
/// it exits, so that the client still gets its reply, as from QEMU.
static REPLIES_IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

/// Waits (at most `timeout`) until every QMP command taken so far has had
/// its reply written to its client.
pub fn wait_for_replies(timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while REPLIES_IN_FLIGHT.load(Ordering::Acquire) != 0 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(1));
    }
}

enum Out {
    Message(J),
    /// A command's reply: written, then counted out of
    /// [`REPLIES_IN_FLIGHT`].
    Reply(J),
    Flush(Sender<()>),
}

/// Writes one message; a client that went away is ignored (the reader
/// sees EOF and ends the session).
fn write_message(w: &mut dyn Write, j: &J, pretty: bool) {
    // QEMU's monitor turns every \n into \r\n.
    let mut text = if pretty {
        j.pretty().replace('\n', "\r\n")
    } else {
        j.compact()
    };
    text.push_str("\r\n");
    let _ = w.write_all(text.as_bytes()).and_then(|()| w.flush());
}

fn writer_thread(mut w: Box<dyn Write + Send>, rx: Receiver<Out>, pretty: bool) {
    // Keep draining after a write error, so senders never block.
    for out in rx {
        match out {
            Out::Message(j) => write_message(&mut w, &j, pretty),
            Out::Reply(j) => {
                write_message(&mut w, &j, pretty);
                REPLIES_IN_FLIGHT.fetch_sub(1, Ordering::AcqRel);
            }
            Out::Flush(done) => {
                let _ = w.flush();
                let _ = done.send(());
            }
        }
    }
}

/// Serves one QMP client until it disconnects.
pub fn run_qmp(conn: Connection, actions: Actions, pretty: bool) {
    let (tx, rx) = mpsc::channel::<Out>();
    let writer = thread::Builder::new()
        .name("qmp-writer".into())
        .spawn(move || writer_thread(conn.writer, rx, pretty));
    let Ok(writer) = writer else { return };
    let mut session = QmpSession::new(actions.clone());
    let _ = tx.send(Out::Message(QmpSession::greeting()));
    let mut subscription = None;
    let mut framer = Framer::new();
    let mut reader = conn.reader;
    let mut buf = [0u8; 4096];
    loop {
        let (frames, eof) = match reader.read(&mut buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Ok(0) | Err(_) => (framer.finish(), true),
            Ok(n) => (framer.push(&buf[..n]), false),
        };
        for frame in frames {
            REPLIES_IN_FLIGHT.fetch_add(1, Ordering::AcqRel);
            let (reply, after) = session.handle(frame);
            if after == After::Negotiated {
                // Subscribed before the reply leaves, so that an event
                // emitted once the client has its reply reaches it.
                let etx = tx.clone();
                subscription = Some(
                    actions
                        .events
                        .subscribe(move |m: &J| etx.send(Out::Message(m.clone())).is_ok()),
                );
            }
            if tx.send(Out::Reply(reply)).is_err() {
                REPLIES_IN_FLIGHT.fetch_sub(1, Ordering::AcqRel);
            }
            match after {
                After::Nothing | After::Negotiated => {}
                After::Quit => {
                    let (dtx, drx) = mpsc::channel();
                    let _ = tx.send(Out::Flush(dtx));
                    let _ = drx.recv_timeout(QUIT_FLUSH);
                    actions.quit_now();
                }
            }
        }
        if eof {
            break;
        }
    }
    drop(subscription);
    drop(tx);
    let _ = writer.join();
}

/// Options of an HMP session.
#[derive(Debug, Clone, Copy)]
pub struct HmpSessionOptions {
    /// Print the banner and the first prompt at once (not for a monitor
    /// behind a mux, which prints them when it gets the focus).
    pub greet: bool,
}

/// Serves one HMP client until it disconnects.
pub fn run_hmp(conn: Connection, actions: Actions, opts: HmpSessionOptions) {
    let hmp = Hmp::new(actions.clone());
    let mut writer = conn.writer;
    let mut put = |text: &str| {
        let _ = writer
            .write_all(text.as_bytes())
            .and_then(|()| writer.flush());
    };
    if opts.greet {
        put(&crlf(&Hmp::banner()));
        put(PROMPT);
    }
    let mut editor = LineEditor::default();
    let mut reader = conn.reader;
    let mut buf = [0u8; 1024];
    loop {
        let n = match reader.read(&mut buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        for &b in &buf[..n] {
            let mut echo = Vec::new();
            let line = editor.feed(b, &mut echo);
            if conn.is_tty && !echo.is_empty() {
                put(&String::from_utf8_lossy(&echo));
            }
            if let Some(line) = line {
                let out = hmp.execute(&line, true);
                put(&crlf(&out.text));
                if out.quit {
                    actions.quit_now();
                    return;
                }
                put(PROMPT);
            }
        }
    }
}

/// A minimal line editor: printable characters, backspace, Ctrl-U; escape
/// sequences (arrow keys) are swallowed. It produces the echo for a
/// terminal and the completed lines.
#[derive(Debug, Default)]
pub struct LineEditor {
    line: Vec<u8>,
    /// 0: normal; 1: after ESC; 2: inside `ESC [` / `ESC O`.
    escape: u8,
    last_cr: bool,
}

impl LineEditor {
    /// Feeds one byte; returns a line when Enter completes one.
    pub fn feed(&mut self, b: u8, echo: &mut Vec<u8>) -> Option<String> {
        let after_cr = std::mem::replace(&mut self.last_cr, false);
        match self.escape {
            1 => {
                self.escape = if b == b'[' || b == b'O' { 2 } else { 0 };
                return None;
            }
            2 => {
                if (0x40..=0x7e).contains(&b) {
                    self.escape = 0;
                }
                return None;
            }
            _ => {}
        }
        match b {
            b'\n' if after_cr => None,
            b'\r' | b'\n' => {
                self.last_cr = b == b'\r';
                echo.extend_from_slice(b"\r\n");
                let line = String::from_utf8_lossy(&self.line).into_owned();
                self.line.clear();
                Some(line)
            }
            0x7f | 0x08 => {
                // Remove one UTF-8 character.
                while let Some(c) = self.line.pop() {
                    if c & 0xc0 != 0x80 {
                        break;
                    }
                }
                echo.extend_from_slice(b"\x08 \x08");
                None
            }
            0x15 => {
                let chars = String::from_utf8_lossy(&self.line).chars().count();
                for _ in 0..chars {
                    echo.extend_from_slice(b"\x08 \x08");
                }
                self.line.clear();
                None
            }
            0x1b => {
                self.escape = 1;
                None
            }
            c if c < 0x20 => None,
            c => {
                self.line.push(c);
                echo.push(c);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_all(e: &mut LineEditor, bytes: &[u8]) -> (Vec<String>, Vec<u8>) {
        let mut lines = Vec::new();
        let mut echo = Vec::new();
        for &b in bytes {
            if let Some(l) = e.feed(b, &mut echo) {
                lines.push(l);
            }
        }
        (lines, echo)
    }

    #[test]
    fn line_editing() {
        let mut e = LineEditor::default();
        let (lines, echo) = feed_all(&mut e, b"info statx\x7fus\r\ninfo\x1b[Acpus\n");
        assert_eq!(
            lines,
            vec!["info status".to_string(), "infocpus".to_string()]
        );
        assert!(echo.starts_with(b"info statx\x08 \x08us\r\n"));
        let (lines, _) = feed_all(&mut e, b"junk\x15q\r");
        assert_eq!(lines, vec!["q".to_string()]);
        let (lines, _) = feed_all(&mut e, b"\n\n");
        assert_eq!(lines, vec![String::new()]);
    }
}
