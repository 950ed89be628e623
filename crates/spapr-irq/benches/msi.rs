//! The MSI allocator of pseries-3.1 and later ([`MsiAllocator`]): one
//! allocation and its release, on an empty map and on a map with every
//! number used but the requested block (the free block is the last one,
//! so a first-fit search walks the whole map):
//!
//! - `alloc_free_1`: one MSI-X vector (no alignment);
//! - `alloc_free_8msi`: an 8-vector multi-message MSI block (aligned on 8).
//!
//! A counting allocator reports the allocations of 10 000 alloc/free
//! pairs (`PERF alloc ...`, read by `cargo xtask bench`; the target is
//! zero).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use spapr_irq::numbering::{MSI_BASE, NR_MSIS};
use spapr_irq::{MsiAllocator, MsiKind};

#[global_allocator]
static GLOBAL: alloc_count::Counting = alloc_count::Counting;

/// An allocator with everything used except the last `free` numbers.
fn filled(free: u32) -> MsiAllocator {
    let mut a = MsiAllocator::new();
    if free < NR_MSIS {
        assert_eq!(a.alloc(NR_MSIS - free, MsiKind::MsiX).unwrap(), MSI_BASE);
    }
    a
}

fn alloc_free(a: &mut MsiAllocator, num: u32, kind: MsiKind) -> u32 {
    let first = a.alloc(num, kind).expect("a free block");
    a.free(first, num);
    first
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("msi_allocator");
    for (name, num, kind) in [
        ("alloc_free_1", 1, MsiKind::MsiX),
        ("alloc_free_8msi", 8, MsiKind::Msi),
    ] {
        for (state, mut a) in [("empty", filled(NR_MSIS)), ("full", filled(num))] {
            let expect = if state == "empty" {
                MSI_BASE
            } else {
                MSI_BASE + NR_MSIS - num
            };
            assert_eq!(alloc_free(&mut a, num, kind), expect);
            let before = alloc_count::allocations();
            for _ in 0..10_000 {
                black_box(alloc_free(&mut a, num, kind));
            }
            let n = alloc_count::allocations() - before;
            let id = format!("{name}/{state}");
            println!("PERF alloc msi_allocator/{id} {n} per 10000");
            g.bench_function(&id, |b| {
                b.iter(|| black_box(alloc_free(&mut a, black_box(num), kind)))
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
