//! SIGINT, SIGTERM and SIGHUP end the program the way QEMU ends: a
//! `terminating on signal N from pid P (name)` line, the `SHUTDOWN` event
//! (reason `host-signal`), the terminal restored, the sockets removed, and
//! exit status 0.
//!
//! The signals are blocked in every thread (the mask is set before any
//! thread starts, and threads inherit it) and received synchronously by one
//! watcher thread with `sigwaitinfo`, so no code runs in a signal handler.

use std::io;
use std::thread;

const SIGNALS: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

fn signal_set() -> libc::sigset_t {
    // SAFETY: sigset_t is a plain bit array; zeroed is a valid value that
    // sigemptyset then initialises.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid, writable sigset_t; the signal numbers are
    // valid.
    unsafe {
        libc::sigemptyset(&mut set);
        for s in SIGNALS {
            libc::sigaddset(&mut set, s);
        }
    }
    set
}

/// Blocks the termination signals in the calling thread (and so in every
/// thread it starts afterwards). Call first thing in `main`.
pub fn block() -> io::Result<()> {
    let set = signal_set();
    // SAFETY: `set` is an initialised sigset_t; a null old-mask pointer is
    // allowed.
    let r = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if r != 0 {
        return Err(io::Error::from_raw_os_error(r));
    }
    Ok(())
}

/// QEMU's message for a signal `signo` sent by `pid` (0 when unknown).
pub fn message(signo: i32, pid: i32) -> String {
    if pid > 0 {
        let name = std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .map(|s| s.trim_end().to_string())
            .unwrap_or_default();
        format!("terminating on signal {signo} from pid {pid} ({name})")
    } else {
        format!("terminating on signal {signo}")
    }
}

/// Starts the watcher: `on_signal(signo, sender_pid)` runs on its thread
/// for each termination signal received.
pub fn spawn_watcher(on_signal: impl Fn(i32, i32) + Send + 'static) -> io::Result<()> {
    thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let set = signal_set();
            loop {
                // SAFETY: siginfo_t is plain data; zeroed is valid and
                // sigwaitinfo fills it.
                let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
                // SAFETY: `set` is initialised and `info` is writable.
                let signo = unsafe { libc::sigwaitinfo(&set, &mut info) };
                if signo < 0 {
                    continue; // EINTR
                }
                // SAFETY: for a signal from kill()/the tty, the kernel filled
                // the sender fields that si_pid reads.
                let pid = unsafe { info.si_pid() };
                on_signal(signo, pid);
            }
        })
        .map(|_| ())
}
