//! ns per compartment-step of HH binary-tree cells (8 compartments per branch, radius 1 µm),
//! single thread, Hines and sparse LU. Cells are driven to spike so the gates move.
//!
//! `cargo bench --bench step`

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use huxley::*;
use std::time::Duration;

pub fn binary_tree_cell(n_branches: usize) -> Cell {
    let parents: Vec<i64> = (0..n_branches)
        .map(|i| if i == 0 { -1 } else { ((i - 1) / 2) as i64 })
        .collect();
    let mut cell = Cell::new(&Branch::new(&Compartment::new(), 8).unwrap(), &parents).unwrap();
    cell.insert(HH).unwrap();
    cell
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("step");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_millis(500));
    for &n_branches in &[8usize, 125, 1250, 12500] {
        let cell = binary_tree_cell(n_branches);
        let n_comps = cell.n_comps();
        for vs in [VoltageSolver::Hines, VoltageSolver::SparseLu] {
            let (init_fn, step_fn) = build_init_and_step_fn(&cell, vs, Solver::BwdEuler).unwrap();
            // One thread (large cells are split into chunks that could run in parallel).
            let step_fn = step_fn.with_parallelism(Parallelism::Serial);
            let (mut states, params) = init_fn.init::<f64>(&[], None, None, 0.025).unwrap();
            // Depolarise so that every compartment fires: the gates are not at rest.
            states
                .get_mut("v")
                .unwrap()
                .iter_mut()
                .for_each(|v| *v = -20.0);
            let none = Externals::none();
            group.throughput(Throughput::Elements(n_comps as u64));
            group.bench_with_input(
                BenchmarkId::new(format!("{vs:?}"), n_comps),
                &n_comps,
                |b, _| {
                    b.iter(|| {
                        step_fn
                            .step(&mut states, &params, none.at(0), 0.025)
                            .unwrap()
                    })
                },
            );
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
