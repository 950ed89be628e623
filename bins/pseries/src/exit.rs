//! Exit statuses and what every way out of the program must undo: the
//! terminal's raw mode and the unix socket files this process created.
//!
//! Statuses (the kvm-unit-tests harness depends on them): 0 when the guest
//! powered off or the user quit, 1 for a user error (bad option,
//! unreadable file), 2 or more for a failure of the VM (guest hang,
//! unimplemented instruction, emulator error), never 1.

use std::path::PathBuf;
use std::sync::Mutex;

use crate::chardev::terminal;

/// The guest powered off, or `quit`.
pub const POWERED_OFF: u8 = 0;
/// A user error: bad option, file that cannot be read.
pub const USER_ERROR: u8 = 1;
/// The VM failed.
pub const VM_FAILURE: u8 = 2;

static SOCKETS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Remembers a unix socket this process bound, to remove it at exit.
pub fn register_socket(path: PathBuf) {
    SOCKETS.lock().unwrap_or_else(|p| p.into_inner()).push(path);
}

/// Forgets a socket (already removed by its owner).
pub fn unregister_socket(path: &std::path::Path) {
    SOCKETS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .retain(|p| p != path);
}

/// Restores the terminal and removes the sockets. Idempotent.
pub fn cleanup() {
    terminal::restore();
    let paths = std::mem::take(&mut *SOCKETS.lock().unwrap_or_else(|p| p.into_inner()));
    for p in paths {
        let _ = std::fs::remove_file(p);
    }
}

/// Cleans up and ends the process now, from any thread.
pub fn terminate(status: u8) -> ! {
    cleanup();
    std::process::exit(i32::from(status))
}

/// The program name for messages: the basename of argv\[0\] (so a
/// `qemu-system-ppc64` symlink speaks as QEMU does), `pseries` otherwise.
pub fn program_name() -> String {
    std::env::args_os()
        .next()
        .and_then(|a| {
            std::path::Path::new(&a)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
        })
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "pseries".to_string())
}
