//! Save and load of a machine-sized state: 1024 vCPUs (one ICP section
//! each), 8192 interrupt sources (ICS, XIVE source and EAS tables), 8192
//! ENDs, the machine section; and 64 MiB of guest RAM, half of it zero
//! pages, as a bulk section. Prints the stream sizes.

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;

use common::Setup;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use migration::{BulkDecl, Loader, StreamWriter};

const VCPUS: u32 = 1024;
const SOURCES: u32 = 8192;
const RAM: usize = 64 << 20;

fn machine_state(c: &mut Criterion) {
    let src = Setup::new("dual", VCPUS, SOURCES);
    src.scramble(1);
    let stream = src.snapshot();
    eprintln!(
        "machine state: {VCPUS} vCPUs, {SOURCES} sources, {} sections: stream {} bytes",
        src.components().len(),
        stream.len()
    );
    let mut g = c.benchmark_group("machine_state");
    g.throughput(Throughput::Bytes(stream.len() as u64));
    g.sample_size(20);
    let comps = src.components();
    let header = src.header();
    // The output buffer is reused, so page faults of a fresh allocation are
    // not counted.
    let mut out = Vec::with_capacity(stream.len());
    g.bench_function(BenchmarkId::new("save", stream.len()), |b| {
        b.iter(|| {
            out.clear();
            black_box(migration::save(&mut out, &header, &comps).unwrap());
        })
    });
    let dst = Setup::new("dual", VCPUS, SOURCES);
    let dst_comps = dst.components();
    g.bench_function(BenchmarkId::new("load", stream.len()), |b| {
        b.iter(|| {
            let mut loader = Loader::new();
            loader.components(dst_comps.iter().cloned());
            black_box(loader.load_slice(&stream).unwrap())
        })
    });
    g.finish();
}

fn ram(c: &mut Criterion) {
    let src = Setup::new("xics", 1, 16);
    let mut image = vec![0u8; RAM];
    for (i, page) in image.chunks_mut(4096).enumerate() {
        if i % 2 == 1 {
            page.fill((i % 255) as u8 + 1);
        }
    }
    let save = |out: &mut Vec<u8>| {
        out.clear();
        let mut w = StreamWriter::new(out, &src.header()).unwrap();
        for comp in src.components() {
            w.save(comp.as_ref()).unwrap();
        }
        w.begin_bulk(&[BulkDecl {
            name: "ram".into(),
            instance_id: 0,
            version_id: 1,
            len: RAM as u64,
        }])
        .unwrap();
        w.bulk_pages(&image, 4096).unwrap();
        w.finish().unwrap();
    };
    let mut stream = Vec::new();
    save(&mut stream);
    eprintln!(
        "ram: {} MiB, half zero pages: stream {} bytes",
        RAM >> 20,
        stream.len()
    );
    let mut g = c.benchmark_group("ram_64MiB");
    g.throughput(Throughput::Bytes(RAM as u64));
    g.sample_size(10);
    let mut out = Vec::with_capacity(stream.len());
    g.bench_function("save", |b| b.iter(|| save(black_box(&mut out))));
    let dst = Setup::new("xics", 1, 16);
    let mut sink = vec![0u8; RAM];
    g.bench_function("load", |b| {
        b.iter(|| {
            let mut loader = Loader::new();
            loader
                .components(dst.components())
                .bulk("ram", 0, 1, 1, &mut sink);
            black_box(loader.load_slice(&stream).unwrap());
        })
    });
    g.finish();
}

criterion_group!(benches, machine_state, ram);
criterion_main!(benches);
