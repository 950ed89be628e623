//! Raw mode for a terminal on stdin, the way QEMU's stdio chardev sets it:
//! no line buffering and no local echo (the guest or the monitor echoes),
//! output post-processing kept (`\n` still moves to the start of the next
//! line), and Ctrl-C still a signal unless `signal=off` (the `-nographic`
//! mux, where Ctrl-C goes to the guest and Ctrl-A x ends the program).
//!
//! The original settings are kept in a process-wide slot so that every
//! way out of the program ([`restore`]) puts the terminal back.

use std::io::{self, IsTerminal};
use std::sync::Mutex;

static SAVED: Mutex<Option<libc::termios>> = Mutex::new(None);

/// Whether stdin is a terminal.
pub fn stdin_is_tty() -> bool {
    io::stdin().is_terminal()
}

/// Puts the stdin terminal in raw mode; does nothing when stdin is not a
/// terminal or raw mode is already on.
pub fn enter_raw(signal: bool) -> io::Result<()> {
    if !stdin_is_tty() {
        return Ok(());
    }
    let mut saved = SAVED.lock().unwrap_or_else(|p| p.into_inner());
    if saved.is_some() {
        return Ok(());
    }
    // SAFETY: termios is a plain C struct of integers and arrays, for which
    // all-zero bytes are a valid value; tcgetattr overwrites it.
    let mut tty: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: fd 0 is open (it is a terminal, checked above) and `tty`
    // points to a termios this function owns.
    if unsafe { libc::tcgetattr(libc::STDIN_FILENO, &mut tty) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let original = tty;
    tty.c_iflag &= !(libc::IGNBRK
        | libc::BRKINT
        | libc::PARMRK
        | libc::ISTRIP
        | libc::INLCR
        | libc::IGNCR
        | libc::ICRNL
        | libc::IXON);
    tty.c_oflag |= libc::OPOST;
    tty.c_lflag &= !(libc::ECHO | libc::ECHONL | libc::ICANON | libc::IEXTEN);
    if !signal {
        tty.c_lflag &= !libc::ISIG;
    }
    tty.c_cflag &= !(libc::CSIZE | libc::PARENB);
    tty.c_cflag |= libc::CS8;
    tty.c_cc[libc::VMIN] = 1;
    tty.c_cc[libc::VTIME] = 0;
    // SAFETY: fd 0 is a terminal and `tty` is a valid termios obtained from
    // tcgetattr with flag bits changed.
    if unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &tty) } != 0 {
        return Err(io::Error::last_os_error());
    }
    *saved = Some(original);
    Ok(())
}

/// Restores the terminal settings saved by [`enter_raw`], if any. Safe to
/// call from any thread, any number of times.
pub fn restore() {
    let saved = SAVED.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some(original) = saved {
        // SAFETY: `original` is the termios tcgetattr returned for fd 0,
        // which is still the same terminal.
        unsafe {
            libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &original);
        }
    }
}
