//! RTAS: the token table and the argument buffer of `H_RTAS`.
//!
//! QEMU installs no RTAS blob any more: `/rtas` lists the call names with
//! their tokens and the guest enters RTAS with hcall `KVMPPC_H_RTAS`
//! (0xF000), r4 = the guest-physical address of a big-endian
//! `{token, nargs, nret, args[nargs], rets[nret]}` buffer. Tokens follow
//! QEMU's fixed table so that guests and streams see the same numbers.

use spapr_irq::papr::rtas::TOKEN_BASE;

/// The machine's own RTAS calls (interrupt controllers add theirs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtasCall {
    /// `display-character`.
    DisplayCharacter,
    /// `get-time-of-day`.
    GetTimeOfDay,
    /// `set-time-of-day`.
    SetTimeOfDay,
    /// `power-off`.
    PowerOff,
    /// `system-reboot`.
    SystemReboot,
    /// `query-cpu-stopped-state`.
    QueryCpuStoppedState,
    /// `start-cpu`.
    StartCpu,
    /// `stop-self`.
    StopSelf,
    /// `ibm,get-system-parameter`.
    GetSystemParameter,
    /// `check-exception`.
    CheckException,
    /// `event-scan`.
    EventScan,
    /// `nvram-fetch`.
    NvramFetch,
    /// `nvram-store`.
    NvramStore,
    /// `ibm,os-term`.
    OsTerm,
}

/// (call, name, token offset from 0x2000), QEMU's numbering.
const TABLE: &[(RtasCall, &str, u32)] = &[
    (RtasCall::DisplayCharacter, "display-character", 0x00),
    (RtasCall::GetTimeOfDay, "get-time-of-day", 0x01),
    (RtasCall::SetTimeOfDay, "set-time-of-day", 0x02),
    (RtasCall::PowerOff, "power-off", 0x03),
    (RtasCall::SystemReboot, "system-reboot", 0x04),
    (
        RtasCall::QueryCpuStoppedState,
        "query-cpu-stopped-state",
        0x05,
    ),
    (RtasCall::StartCpu, "start-cpu", 0x06),
    (RtasCall::StopSelf, "stop-self", 0x07),
    (
        RtasCall::GetSystemParameter,
        "ibm,get-system-parameter",
        0x08,
    ),
    (RtasCall::CheckException, "check-exception", 0x0E),
    (RtasCall::EventScan, "event-scan", 0x0F),
    (RtasCall::NvramFetch, "nvram-fetch", 0x12),
    (RtasCall::NvramStore, "nvram-store", 0x13),
    (RtasCall::OsTerm, "ibm,os-term", 0x1F),
];

impl RtasCall {
    /// Every machine RTAS call.
    pub fn all() -> impl Iterator<Item = Self> {
        TABLE.iter().map(|t| t.0)
    }

    /// Name in `/rtas`.
    pub fn name(self) -> &'static str {
        TABLE.iter().find(|t| t.0 == self).map_or("", |t| t.1)
    }

    /// Token.
    pub fn token(self) -> u32 {
        TOKEN_BASE + TABLE.iter().find(|t| t.0 == self).map_or(0, |t| t.2)
    }

    /// The call a token stands for.
    pub fn from_token(token: u32) -> Option<Self> {
        let off = token.checked_sub(TOKEN_BASE)?;
        TABLE.iter().find(|t| t.2 == off).map(|t| t.0)
    }
}

/// Most argument plus return words an RTAS buffer may declare; PAPR
/// buffers hold 16 (Linux's `rtas_args`), and anything larger is refused
/// before any guest memory is read.
pub const MAX_RTAS_WORDS: u32 = 64;

/// A parsed RTAS buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtasBuffer {
    /// Guest-physical address of the buffer.
    pub addr: u64,
    /// Token.
    pub token: u32,
    /// Input words.
    pub args: Vec<u32>,
    /// Number of return words the guest provided room for.
    pub nret: u32,
}

impl RtasBuffer {
    /// Guest-physical address of return word `i`.
    pub fn ret_addr(&self, i: u32) -> u64 {
        self.addr + 12 + 4 * (self.args.len() as u64 + u64::from(i))
    }
}

/// Why an RTAS buffer was refused (the hcall returns `H_PARAMETER`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RtasBufferError {
    /// The header or arguments lie outside guest RAM.
    #[error("RTAS buffer at {0:#x} is outside guest memory")]
    BadAddress(u64),
    /// nargs + nret is larger than [`MAX_RTAS_WORDS`].
    #[error("RTAS buffer declares {nargs} args and {nret} rets")]
    TooLarge {
        /// Declared argument count.
        nargs: u32,
        /// Declared return count.
        nret: u32,
    },
}

/// Reads the buffer at `addr` with `read` (guest-physical address, bytes).
pub fn parse_buffer(
    addr: u64,
    read: impl Fn(u64, &mut [u8]) -> bool,
) -> Result<RtasBuffer, RtasBufferError> {
    let mut hdr = [0u8; 12];
    if !read(addr, &mut hdr) {
        return Err(RtasBufferError::BadAddress(addr));
    }
    let word =
        |i: usize| u32::from_be_bytes([hdr[i * 4], hdr[i * 4 + 1], hdr[i * 4 + 2], hdr[i * 4 + 3]]);
    let (token, nargs, nret) = (word(0), word(1), word(2));
    if nargs.saturating_add(nret) > MAX_RTAS_WORDS {
        return Err(RtasBufferError::TooLarge { nargs, nret });
    }
    let mut raw = vec![0u8; nargs as usize * 4];
    let args_addr = addr
        .checked_add(12)
        .ok_or(RtasBufferError::BadAddress(addr))?;
    if !read(args_addr, &mut raw) {
        return Err(RtasBufferError::BadAddress(args_addr));
    }
    let args = raw
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Ok(RtasBuffer {
        addr,
        token,
        args,
        nret,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_follow_qemu() {
        assert_eq!(RtasCall::PowerOff.token(), 0x2003);
        assert_eq!(RtasCall::CheckException.token(), 0x200E);
        assert_eq!(RtasCall::from_token(0x2006), Some(RtasCall::StartCpu));
        assert_eq!(RtasCall::from_token(0x200A), None); // ibm,set-xive: XICS's
        assert_eq!(RtasCall::from_token(5), None);
        assert_eq!(RtasCall::OsTerm.name(), "ibm,os-term");
        let mut names: Vec<_> = RtasCall::all().map(RtasCall::token).collect();
        names.dedup();
        assert_eq!(names.len(), TABLE.len());
    }

    #[test]
    fn buffers_are_bounded() {
        let mut mem = vec![0u8; 64];
        mem[0..4].copy_from_slice(&0x2003u32.to_be_bytes());
        mem[4..8].copy_from_slice(&2u32.to_be_bytes());
        mem[8..12].copy_from_slice(&1u32.to_be_bytes());
        mem[12..16].copy_from_slice(&u32::MAX.to_be_bytes());
        mem[16..20].copy_from_slice(&u32::MAX.to_be_bytes());
        let read = |a: u64, b: &mut [u8]| {
            let a = a as usize;
            match mem.get(a..a + b.len()) {
                Some(s) => {
                    b.copy_from_slice(s);
                    true
                }
                None => false,
            }
        };
        let buf = parse_buffer(0, read).unwrap();
        assert_eq!(buf.args, vec![u32::MAX, u32::MAX]);
        assert_eq!(buf.ret_addr(0), 20);
        assert!(matches!(
            parse_buffer(60, read),
            Err(RtasBufferError::BadAddress(60))
        ));
        let mut big = mem.clone();
        big[4..8].copy_from_slice(&1000u32.to_be_bytes());
        let read_big = |a: u64, b: &mut [u8]| {
            let a = a as usize;
            big.get(a..a + b.len())
                .map(|s| b.copy_from_slice(s))
                .is_some()
        };
        assert!(matches!(
            parse_buffer(0, read_big),
            Err(RtasBufferError::TooLarge { .. })
        ));
    }
}
