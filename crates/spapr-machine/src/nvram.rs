//! The VIO NVRAM (`qemu,spapr-nvram`): a byte array the guest reads and
//! writes with RTAS `nvram-fetch` / `nvram-store`.

/// QEMU's default NVRAM size.
pub const DEFAULT_NVRAM_SIZE: usize = 64 * 1024;

/// The NVRAM contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nvram {
    /// `reg` of the device.
    pub reg: u32,
    /// Its interrupt number.
    pub irq: u32,
    /// Contents.
    pub data: Vec<u8>,
}

impl Nvram {
    /// A zeroed NVRAM.
    pub fn new(reg: u32, irq: u32) -> Self {
        Self {
            reg,
            irq,
            data: vec![0; DEFAULT_NVRAM_SIZE],
        }
    }

    /// The range `[offset, offset + len)` if it lies wholly inside (QEMU
    /// refuses `nvram-fetch`/`nvram-store` requests that do not).
    pub fn range(&self, offset: u64, len: u64) -> Option<std::ops::Range<usize>> {
        let end = offset.checked_add(len)?;
        (end <= self.data.len() as u64).then_some(offset as usize..end as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_must_fit() {
        let n = Nvram::new(0x7100_0001, 0x1101);
        assert_eq!(n.range(0, 16), Some(0..16));
        assert_eq!(n.range(65530, 6), Some(65530..65536));
        assert_eq!(n.range(65530, 100), None);
        assert_eq!(n.range(65536, 1), None);
        assert_eq!(n.range(u64::MAX, u64::MAX), None);
    }
}
