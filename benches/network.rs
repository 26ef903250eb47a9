//! One step of the scalability-benchmark network (see `common/network_model.rs`): 1 to 10 000 cells of
//! Jaxley's regression-benchmark cell with HH, random IonotropicSynapse connections with
//! expected in-degree 10, on 1 and 2 threads. Criterion reports time per step and compartments
//! per second; `examples/network_table.rs` prints the README's table.
//!
//! `cargo bench --bench network`

#[path = "common/network_model.rs"]
mod network_model;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use huxley::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("network");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500));
    let pool2 = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap(),
    );
    for &n_cells in &[1usize, 10, 100, 1000, 10_000] {
        let net = network_model::network(n_cells, 1);
        let n_comps = net.n_comps();
        for (threads, par) in [
            (1, Parallelism::Serial),
            (2, Parallelism::Pool(pool2.clone())),
        ] {
            let (init_fn, step_fn) =
                build_init_and_step_fn(&net, VoltageSolver::Hines, Solver::BwdEuler).unwrap();
            let step_fn = step_fn.with_parallelism(par);
            let (mut states, params) = init_fn.init::<f64>(&[], None, None, 0.025).unwrap();
            let none = Externals::none();
            group.throughput(Throughput::Elements(n_comps as u64));
            group.bench_with_input(
                BenchmarkId::new(format!("{threads}thread"), n_cells),
                &n_cells,
                |b, _| {
                    // Steps run inside the pool, as `integrate` runs them.
                    b.iter_custom(|iters| {
                        step_fn.in_pool(|| {
                            let t = Instant::now();
                            for _ in 0..iters {
                                step_fn
                                    .step(&mut states, &params, none.at(0), 0.025)
                                    .unwrap();
                            }
                            t.elapsed()
                        })
                    })
                },
            );
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
