//! Reading and compiling the large test morphology (morph_l5pc_with_axon.swc, 10 617 points,
//! 324 branches at ncomp = 1): `read_swc`, then `build_init_and_step_fn` and `init` — a model
//! ready to step. Also each stage alone.
//!
//! `cargo bench --bench swc`

use criterion::{Criterion, criterion_group, criterion_main};
use huxley::*;
use std::hint::black_box;
use std::time::Duration;

const L5PC: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/morphologies/morph_l5pc_with_axon.swc"
);

fn ready_to_step(ncomp: usize) -> (AllStates<f64>, AllParams<f64>, StepFn) {
    let mut cell = read_swc(L5PC, ncomp, &SwcOptions::default()).unwrap();
    cell.insert(HH).unwrap();
    let (init_fn, step_fn) =
        build_init_and_step_fn(&cell, VoltageSolver::Hines, Solver::BwdEuler).unwrap();
    let (states, params) = init_fn.init::<f64>(&[], None, None, 0.025).unwrap();
    (states, params, step_fn)
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("swc_l5pc");
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(5))
        .warm_up_time(Duration::from_millis(500));
    let bytes = std::fs::read(L5PC).unwrap();
    group.bench_function("read_swc ncomp=1", |b| {
        b.iter(|| read_swc(black_box(L5PC), 1, &SwcOptions::default()).unwrap())
    });
    group.bench_function("parse_swc (in memory) ncomp=1", |b| {
        b.iter(|| parse_swc(black_box(&bytes), 1, &SwcOptions::default()).unwrap())
    });
    let mut cell = read_swc(L5PC, 1, &SwcOptions::default()).unwrap();
    cell.insert(HH).unwrap();
    group.bench_function("compile + init ncomp=1", |b| {
        b.iter(|| {
            let (init_fn, _step) =
                build_init_and_step_fn(black_box(&cell), VoltageSolver::Hines, Solver::BwdEuler)
                    .unwrap();
            init_fn.init::<f64>(&[], None, None, 0.025).unwrap()
        })
    });
    for ncomp in [1, 4] {
        group.bench_function(format!("read + compile + init ncomp={ncomp}"), |b| {
            b.iter(|| ready_to_step(black_box(ncomp)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
