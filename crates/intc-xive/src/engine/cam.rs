//! The presenter's index of thread contexts by CAM line.
//!
//! Matching an NVT must not scan every thread context, so the presenter
//! keeps, for each CAM line a context currently answers to, which context
//! and ring that is. The index is split in 64 shards, each a read-write lock
//! on its own cache line: a notification takes one shard's read lock (the
//! shard of its CAM line, so notifications to different vCPUs touch
//! different shards), and only pushing or pulling a context takes a write
//! lock. Lookups never allocate.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use parking_lot::RwLock;

use crate::engine::tctx::Ring;

const SHARD_BITS: u32 = 6;

/// Multiplicative hash for 32-bit CAM lines.
#[derive(Default)]
struct CamHasher(u64);

impl Hasher for CamHasher {
    fn finish(&self) -> u64 {
        self.0.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u32(&mut self, v: u32) {
        self.0 = u64::from(v);
    }
}

type Map = HashMap<u32, Vec<(u32, Ring)>, BuildHasherDefault<CamHasher>>;

#[repr(align(64))]
#[derive(Default)]
struct Shard(RwLock<Map>);

/// CAM line -> (context id, ring) entries.
pub struct CamIndex {
    shards: Box<[Shard]>,
}

impl std::fmt::Debug for CamIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CamIndex").finish_non_exhaustive()
    }
}

impl Default for CamIndex {
    fn default() -> Self {
        Self {
            shards: (0..1 << SHARD_BITS).map(|_| Shard::default()).collect(),
        }
    }
}

impl CamIndex {
    #[inline]
    fn shard(&self, cam: u32) -> &RwLock<Map> {
        let h = cam.wrapping_mul(0x9E37_79B1) >> (32 - SHARD_BITS);
        &self.shards[h as usize].0
    }

    /// Records that context `ctx` answers to `cam` on `ring`.
    pub fn insert(&self, cam: u32, ctx: u32, ring: Ring) {
        let mut m = self.shard(cam).write();
        let v = m.entry(cam).or_default();
        if !v.contains(&(ctx, ring)) {
            v.push((ctx, ring));
        }
    }

    /// Forgets that context `ctx` answers to `cam` on `ring`.
    pub fn remove(&self, cam: u32, ctx: u32, ring: Ring) {
        let mut m = self.shard(cam).write();
        if let Some(v) = m.get_mut(&cam) {
            v.retain(|e| *e != (ctx, ring));
            if v.is_empty() {
                m.remove(&cam);
            }
        }
    }

    /// Calls `f` with each (context, ring) answering to `cam`, under the
    /// shard's read lock (so `f` must not take context locks).
    #[inline]
    pub fn for_each(&self, cam: u32, mut f: impl FnMut(u32, Ring)) {
        let m = self.shard(cam).read();
        if let Some(v) = m.get(&cam) {
            for &(ctx, ring) in v {
                f(ctx, ring);
            }
        }
    }

    /// Number of CAM lines indexed (tests, statistics).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.0.read().len()).sum()
    }

    /// Whether nothing is indexed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
