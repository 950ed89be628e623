//! Guest RAM: one region from guest-physical 0, through vm-memory.
//!
//! Every access the machine makes on the guest's behalf (RTAS buffers, CAS
//! vectors, hcall operands) goes through these bounds-checked helpers: an
//! address the guest made up returns `false`/`None`, never panics and never
//! touches anything outside the region.

use std::sync::{Arc, OnceLock};

use ppc_cpu::CpuShared;
use vm_memory::{Bytes, GuestAddress, GuestMemoryBackend, GuestMemoryMmap};

/// Host page size the page map is read in.
pub const HOST_PAGE: u64 = 4096;

/// Guest RAM.
///
/// Writes made here (images, RTAS results, migrated pages) also invalidate
/// the vCPUs' decoded code for the bytes written, once the code cache is
/// attached, so that no stale decoded instruction ever runs.
#[derive(Debug, Clone)]
pub struct GuestRam {
    mem: GuestMemoryMmap,
    size: u64,
    code: Arc<OnceLock<Arc<CpuShared>>>,
}

/// Why RAM could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("cannot allocate {size} bytes of guest RAM: {reason}")]
pub struct RamError {
    size: u64,
    reason: String,
}

impl GuestRam {
    /// Maps `size` bytes of anonymous memory at guest-physical 0.
    pub fn new(size: u64) -> Result<Self, RamError> {
        let len = usize::try_from(size).map_err(|_| RamError {
            size,
            reason: "too large for this host".into(),
        })?;
        let mem =
            GuestMemoryMmap::from_ranges(&[(GuestAddress(0), len)]).map_err(|e| RamError {
                size,
                reason: e.to_string(),
            })?;
        Ok(Self {
            mem,
            size,
            code: Arc::new(OnceLock::new()),
        })
    }

    /// Connects the vCPUs' decoded-code cache, which every later write
    /// invalidates.
    pub fn attach_code_cache(&self, shared: Arc<CpuShared>) {
        let _ = self.code.set(shared);
    }

    fn written(&self, addr: u64, len: u64) {
        if let Some(c) = self.code.get() {
            c.invalidate_code(addr, len);
        }
    }

    /// The vm-memory object (for the vCPUs and the controllers).
    pub fn mmap(&self) -> &GuestMemoryMmap {
        &self.mem
    }

    /// RAM size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Whether `[addr, addr + len)` lies inside RAM.
    pub fn contains(&self, addr: u64, len: u64) -> bool {
        addr.checked_add(len).is_some_and(|end| end <= self.size)
    }

    /// Reads bytes; false (and `buf` unspecified) if outside RAM.
    pub fn read(&self, addr: u64, buf: &mut [u8]) -> bool {
        self.contains(addr, buf.len() as u64)
            && self.mem.read_slice(buf, GuestAddress(addr)).is_ok()
    }

    /// Writes bytes; false (and nothing written) if outside RAM.
    pub fn write(&self, addr: u64, buf: &[u8]) -> bool {
        let ok = self.contains(addr, buf.len() as u64)
            && self.mem.write_slice(buf, GuestAddress(addr)).is_ok();
        if ok {
            self.written(addr, buf.len() as u64);
        }
        ok
    }

    /// The pages of RAM (as `(first page, page count)` runs of host pages)
    /// that may hold non-zero data: those the host has in memory or in
    /// swap. A page the process never touched reads as zero and is not
    /// listed, which lets migration skip untouched RAM without reading it.
    /// When the host's page map cannot be read, the whole RAM is one run.
    pub fn populated_runs(&self) -> Vec<(u64, u64)> {
        let pages = self.size.div_ceil(HOST_PAGE);
        let whole = vec![(0, pages)];
        let Ok(base) = self.mem.get_host_address(GuestAddress(0)) else {
            return whole;
        };
        // Only the address's value is used, to find our entries in the
        // page map: no memory is accessed through it.
        let first = base as u64 / HOST_PAGE;
        let Ok(mut map) = std::fs::File::open("/proc/self/pagemap") else {
            return whole;
        };
        use std::io::{Read, Seek, SeekFrom};
        if map.seek(SeekFrom::Start(first * 8)).is_err() {
            return whole;
        }
        let mut runs: Vec<(u64, u64)> = Vec::new();
        let mut buf = vec![0u8; 8 * 4096];
        let mut page = 0;
        while page < pages {
            let n = ((pages - page) as usize).min(4096);
            if map.read_exact(&mut buf[..n * 8]).is_err() {
                return whole;
            }
            for (i, e) in buf[..n * 8].chunks_exact(8).enumerate() {
                let entry = u64::from_ne_bytes(e.try_into().expect("8 bytes"));
                // Bit 63: present in memory; bit 62: swapped out.
                if entry >> 62 != 0 {
                    let p = page + i as u64;
                    match runs.last_mut() {
                        Some((start, len)) if *start + *len == p => *len += 1,
                        _ => runs.push((p, 1)),
                    }
                }
            }
            page += n as u64;
        }
        runs
    }

    /// Reads a big-endian 32-bit word.
    pub fn read_be32(&self, addr: u64) -> Option<u32> {
        let mut b = [0u8; 4];
        self.read(addr, &mut b).then(|| u32::from_be_bytes(b))
    }

    /// Writes a big-endian 32-bit word.
    pub fn write_be32(&self, addr: u64, v: u32) -> bool {
        self.write(addr, &v.to_be_bytes())
    }

    /// Fills `len` bytes with zero.
    pub fn zero(&self, addr: u64, len: u64) -> bool {
        if !self.contains(addr, len) {
            return false;
        }
        let chunk = [0u8; 4096];
        let mut done = 0;
        while done < len {
            let n = (len - done).min(4096);
            if !self.write(addr + done, &chunk[..n as usize]) {
                return false;
            }
            done += n;
        }
        true
    }

    /// Copies `len` bytes inside RAM.
    pub fn copy(&self, dst: u64, src: u64, len: u64) -> bool {
        if !self.contains(dst, len) || !self.contains(src, len) {
            return false;
        }
        let mut buf = [0u8; 4096];
        let mut done = 0;
        while done < len {
            let n = (len - done).min(4096) as usize;
            if !self.read(src + done, &mut buf[..n]) || !self.write(dst + done, &buf[..n]) {
                return false;
            }
            done += n as u64;
        }
        true
    }
}

impl crate::cas::CasMemory for GuestRam {
    fn read(&self, addr: u64, buf: &mut [u8]) -> bool {
        GuestRam::read(self, addr, buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untouched_pages_are_not_populated() {
        let ram = GuestRam::new(64 << 20).unwrap();
        let before: u64 = ram.populated_runs().iter().map(|r| r.1).sum();
        assert!(ram.write_be32(40 << 20, 1));
        let runs = ram.populated_runs();
        let pages: u64 = runs.iter().map(|r| r.1).sum();
        assert!(pages >= 1 && pages <= before + 1, "{runs:?}");
        assert!(runs
            .iter()
            .any(|&(s, n)| s <= (40 << 20) / 4096 && (40 << 20) / 4096 < s + n));
    }

    #[test]
    fn accesses_are_bounded() {
        let ram = GuestRam::new(1 << 20).unwrap();
        assert!(ram.write_be32(0x1000, 0xdead_beef));
        assert_eq!(ram.read_be32(0x1000), Some(0xdead_beef));
        assert_eq!(ram.read_be32((1 << 20) - 2), None);
        assert!(!ram.write(u64::MAX - 1, &[1, 2, 3]));
        assert!(ram.copy(0x2000, 0x1000, 4));
        assert_eq!(ram.read_be32(0x2000), Some(0xdead_beef));
        assert!(ram.zero(0x1000, 8192));
        assert_eq!(ram.read_be32(0x2000), Some(0));
        assert!(!ram.zero(0xff000, 0x2000));
    }
}
