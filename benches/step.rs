//! ns per compartment-step of HH binary-tree cells (8 compartments per branch, radius 1 µm),
//! single thread, Hines and sparse LU. Cells are driven to spike so the gates move.
//!
//! Also `UserChannel`: the same cells with Jaxley's HH written as a user's channel
//! (`benches/common/user_hh.rs`), which must run about as fast as the built-in one.
//!
//! `cargo bench --bench step`

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use huxley::*;
use std::time::Duration;

#[path = "common/user_hh.rs"]
mod user_hh;

/// An HH binary-tree cell of `n_branches` branches (the built-in HH, or the user's).
fn binary_tree_cell(n_branches: usize, user_channel: bool) -> Cell {
    let parents: Vec<i64> = (0..n_branches)
        .map(|i| if i == 0 { -1 } else { ((i - 1) / 2) as i64 })
        .collect();
    let mut cell = Cell::new(&Branch::new(&Compartment::new(), 8).unwrap(), &parents).unwrap();
    if user_channel {
        cell.insert(user_hh::UserHH).unwrap();
    } else {
        cell.insert(HH).unwrap();
    }
    cell
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("step");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_millis(500));
    let cases = [8usize, 125, 1250, 12500]
        .into_iter()
        .flat_map(|n| {
            [
                (n, false, VoltageSolver::Hines),
                (n, false, VoltageSolver::SparseLu),
            ]
        })
        .chain([125, 1250].map(|n| (n, true, VoltageSolver::Hines)));
    for (n_branches, user, vs) in cases {
        let cell = binary_tree_cell(n_branches, user);
        let n_comps = cell.n_comps();
        let name = if user {
            "UserChannel".to_string()
        } else {
            format!("{vs:?}")
        };
        {
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
            group.bench_with_input(BenchmarkId::new(&name, n_comps), &n_comps, |b, _| {
                b.iter(|| {
                    step_fn
                        .step(&mut states, &params, none.at(0), 0.025)
                        .unwrap()
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
