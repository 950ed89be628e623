//! Boot images: the firmware at guest address 0, the kernel ELF at
//! `0x400000 + address`, the initrd and the device tree near the top of the
//! RMA, as QEMU's pseries places them.
//!
//! Images are kept in memory and copied again at every machine reset, as
//! QEMU's ROM images are, so a guest that scribbled over its own code still
//! reboots.

use goblin::elf::{header, program_header, Elf};

use crate::memory::GuestRam;

/// Where the kernel is loaded: `KERNEL_LOAD_ADDR` in QEMU.
pub const KERNEL_LOAD_ADDR: u64 = 0x40_0000;
/// Room reserved for the device tree (`FDT_MAX_SIZE`).
pub const FDT_MAX_SIZE: u64 = 0x20_0000;
/// RTAS and the device tree must be below this (`RTAS_MAX_ADDR`).
pub const RTAS_MAX_ADDR: u64 = 0x8000_0000;

/// The project's own boot firmware (built from `guests/firmware`), used
/// when no `-bios` is given: big-endian code at 0x100 that jumps to the
/// kernel at 0x400000 with r3 untouched.
pub const BUILTIN_FIRMWARE: &[u8] = include_bytes!("../../../guests/images/firmware.bin");

/// A loadable segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// Guest-physical address.
    pub addr: u64,
    /// Bytes from the file.
    pub data: Vec<u8>,
    /// Size in memory (the rest is zeroed).
    pub mem_size: u64,
}

/// A parsed kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kernel {
    /// Segments, already relocated to their guest addresses.
    pub segments: Vec<Segment>,
    /// Entry point (guest-physical).
    pub entry: u64,
    /// Lowest and one-past-highest address used.
    pub span: (u64, u64),
    /// Whether the ELF is little-endian.
    pub little_endian: bool,
}

/// Why an image could not be loaded. The messages follow QEMU's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// The kernel file could not be read or parsed.
    #[error("could not load kernel '{0}'")]
    Kernel(String),
    /// The firmware could not be read.
    #[error("could not load firmware '{0}'")]
    Firmware(String),
    /// The initrd could not be read.
    #[error("could not load initial ram disk '{0}'")]
    Initrd(String),
    /// An image does not fit in RAM or overlaps another.
    #[error("{0}")]
    Layout(String),
}

/// QEMU's `translate_kernel_address`: the low 28 bits of the address, above
/// the load address.
fn translate(addr: u64) -> u64 {
    (addr & 0x0fff_ffff) + KERNEL_LOAD_ADDR
}

fn parse_elf(data: &[u8]) -> Result<Kernel, String> {
    let elf = Elf::parse(data).map_err(|e| e.to_string())?;
    if !elf.is_64 || elf.header.e_machine != header::EM_PPC64 {
        return Err("not a PowerPC 64 ELF".into());
    }
    let mut segments = Vec::new();
    let mut lo = u64::MAX;
    let mut hi = 0u64;
    for ph in &elf.program_headers {
        if ph.p_type != program_header::PT_LOAD {
            continue;
        }
        let file = usize::try_from(ph.p_offset)
            .ok()
            .zip(usize::try_from(ph.p_filesz).ok())
            .and_then(|(off, len)| data.get(off..off.checked_add(len)?))
            .ok_or("segment outside the file")?;
        let mem_size = ph.p_memsz;
        if (file.len() as u64) > mem_size {
            return Err("segment larger on file than in memory".into());
        }
        let addr = translate(ph.p_paddr);
        let end = addr.checked_add(mem_size).ok_or("segment wraps")?;
        lo = lo.min(addr);
        hi = hi.max(end);
        segments.push(Segment {
            addr,
            data: file.to_vec(),
            mem_size,
        });
    }
    if segments.is_empty() {
        return Err("no loadable segment".into());
    }
    Ok(Kernel {
        segments,
        entry: translate(elf.header.e_entry),
        span: (lo, hi),
        little_endian: elf.little_endian,
    })
}

/// Parses a kernel ELF (ET_EXEC or position-independent ET_DYN, either
/// endianness) into relocated segments.
pub fn parse_kernel(path: &str, data: &[u8]) -> Result<Kernel, LoadError> {
    parse_elf(data).map_err(|e| {
        tracing::debug!(path, error = %e, "kernel ELF refused");
        LoadError::Kernel(path.into())
    })
}

/// Where everything goes in guest RAM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// Device tree address (r3 at entry).
    pub fdt: u64,
    /// Initrd placement, if any.
    pub initrd: Option<(u64, u64)>,
}

/// Computes the layout: the FDT at `min(RMA, RTAS_MAX_ADDR) - FDT_MAX_SIZE`
/// (0x1fe00000 with 512 MiB, as QEMU), the initrd right below it, neither
/// overlapping the kernel or its 64 KiB stack above the image.
pub fn layout(
    ram_size: u64,
    kernel: Option<&Kernel>,
    initrd_len: Option<u64>,
) -> Result<Layout, LoadError> {
    let rma = ram_size.min(RTAS_MAX_ADDR);
    let fdt = rma
        .checked_sub(FDT_MAX_SIZE)
        .ok_or_else(|| LoadError::Layout("RAM too small for the device tree".into()))?;
    // The image's stack area: edata rounded up to 64 KiB, then 64 KiB more.
    let image_end = kernel.map_or(0, |k| ((k.span.1 + 0xffff) & !0xffff) + 0x1_0000);
    if image_end > fdt {
        return Err(LoadError::Layout(format!(
            "kernel image ends at {image_end:#x}, above the device tree at {fdt:#x}"
        )));
    }
    let initrd = match initrd_len {
        None => None,
        Some(len) => {
            let base = fdt
                .checked_sub(len)
                .map(|b| b & !0xffff)
                .filter(|&b| b >= image_end)
                .ok_or_else(|| {
                    LoadError::Layout(format!(
                        "initial ram disk of {len} bytes does not fit between the kernel and the device tree"
                    ))
                })?;
            Some((base, len))
        }
    };
    Ok(Layout { fdt, initrd })
}

/// Copies the kernel's segments into RAM (zeroing the tail of each).
pub fn copy_kernel(ram: &GuestRam, k: &Kernel) -> Result<(), LoadError> {
    for s in &k.segments {
        if !ram.write(s.addr, &s.data)
            || !ram.zero(
                s.addr + s.data.len() as u64,
                s.mem_size - s.data.len() as u64,
            )
        {
            return Err(LoadError::Layout(format!(
                "kernel segment at {:#x} ({} bytes) does not fit in RAM",
                s.addr, s.mem_size
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fdt_address_matches_qemu() {
        assert_eq!(layout(512 << 20, None, None).unwrap().fdt, 0x1fe0_0000);
        assert_eq!(layout(1 << 30, None, None).unwrap().fdt, 0x3fe0_0000);
        assert_eq!(layout(8 << 30, None, None).unwrap().fdt, 0x7fe0_0000);
    }

    #[test]
    fn initrd_sits_below_the_fdt_and_above_the_stack() {
        let l = layout(512 << 20, None, Some(0x12345)).unwrap();
        let (base, len) = l.initrd.unwrap();
        assert!(base + len <= l.fdt);
        assert_eq!(base & 0xffff, 0);
        assert!(layout(512 << 20, None, Some(600 << 20)).is_err());
    }

    #[test]
    fn garbage_is_not_a_kernel() {
        assert_eq!(
            parse_kernel("x", b"not an elf").unwrap_err().to_string(),
            "could not load kernel 'x'"
        );
    }

    #[test]
    fn the_demo_guest_parses() {
        let data = include_bytes!("../../../guests/images/demo.elf");
        let k = parse_kernel("demo.elf", data).unwrap();
        assert!(k.little_endian);
        assert_eq!(k.entry, KERNEL_LOAD_ADDR);
        assert!(k.span.0 >= KERNEL_LOAD_ADDR);
    }

    #[test]
    fn builtin_firmware_branches_at_0x100() {
        assert!(BUILTIN_FIRMWARE.len() > 0x104);
    }
}
