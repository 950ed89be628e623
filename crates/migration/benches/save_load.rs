//! Save and load of a machine-sized state in dual mode: 1024 vCPUs (each
//! with an ICP section, a XIVE thread context and a CPU register section),
//! 8192 interrupt sources (ICS, XIVE source and EAS tables), 8192 ENDs, the
//! machine section; and 64 MiB of guest RAM, half of it zero pages, as a
//! bulk section. Prints the stream sizes.

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::sync::{Arc, Mutex};

use common::Setup;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use migration::{BulkDecl, Loader, Migratable, MigrationError, StreamWriter, TypedMigratable};
use serde::{Deserialize, Serialize};

/// Architected registers of a POWER vCPU, in the shape of QEMU's `cpu`
/// section (GPRs, FPRs/VSRs, VMX, the main SPRs).
#[derive(Serialize, Deserialize, Clone)]
struct CpuRegs {
    gpr: Vec<u64>,
    vsr: Vec<(u64, u64)>,
    vmx: Vec<(u64, u64)>,
    pc: u64,
    msr: u64,
    lr: u64,
    ctr: u64,
    cr: u32,
    xer: u64,
    fpscr: u64,
    vscr: u32,
    spr: Vec<(u16, u64)>,
    decrementer: u64,
}

struct Cpu {
    index: u32,
    regs: Mutex<CpuRegs>,
}

impl Cpu {
    fn new(index: u32) -> Self {
        let i = u64::from(index);
        Self {
            index,
            regs: Mutex::new(CpuRegs {
                gpr: (0..32).map(|r| r * 0x1111_1111 + i).collect(),
                vsr: (0..64).map(|r| (r + i, !r)).collect(),
                vmx: (0..32).map(|r| (r, r << 32 | i)).collect(),
                pc: 0xc000_0000_0001_0000 + i * 4,
                msr: 0x8000_0000_0280_1033,
                lr: 0xc000_0000_0000_1234,
                ctr: i,
                cr: 0x4200_0000,
                xer: 0,
                fpscr: 0,
                vscr: 0x0001_0000,
                spr: (0..48)
                    .map(|n: u16| (256 + n, u64::from(n) * 0x1000 + i))
                    .collect(),
                decrementer: 0x7fff_ffff,
            }),
        }
    }
}

impl TypedMigratable for Cpu {
    type State = CpuRegs;
    fn name(&self) -> &str {
        "cpu"
    }
    fn instance_id(&self) -> u32 {
        self.index
    }
    fn version_id(&self) -> u32 {
        5
    }
    fn save_state(&self) -> Result<CpuRegs, MigrationError> {
        Ok(self.regs.lock().unwrap().clone())
    }
    fn apply_state(&self, s: CpuRegs) {
        *self.regs.lock().unwrap() = s;
    }
}

/// The controllers' and machine's sections plus one `cpu` section per vCPU.
fn components(setup: &Setup) -> Vec<Arc<dyn Migratable>> {
    let mut v: Vec<Arc<dyn Migratable>> = (0..VCPUS)
        .map(|i| Arc::new(Cpu::new(i)) as Arc<dyn Migratable>)
        .collect();
    v.extend(setup.components());
    v
}

const VCPUS: u32 = 1024;
const SOURCES: u32 = 8192;
const RAM: usize = 64 << 20;

fn machine_state(c: &mut Criterion) {
    let src = Setup::new("dual", VCPUS, SOURCES);
    src.scramble(1);
    let comps = components(&src);
    let header = src.header();
    let stream = migration::save_to_vec(&header, &comps).unwrap();
    eprintln!(
        "machine state: {VCPUS} vCPUs, {SOURCES} sources, {} sections: stream {} bytes",
        comps.len(),
        stream.len()
    );
    let mut g = c.benchmark_group("machine_state");
    g.throughput(Throughput::Bytes(stream.len() as u64));
    g.sample_size(20);
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
    let dst_comps = components(&dst);
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
