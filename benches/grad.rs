//! Gradients of a whole simulation against the simulation itself, for the model of
//! `benches/common/grad_model.rs` (an HH cell of 1000 compartments, 250 trainable values, 800
//! steps).
//!
//! `cargo bench --bench grad`

use criterion::{Criterion, criterion_group, criterion_main};
use huxley::grad::{Checkpointing, GradOptions, value_and_grad};
use huxley::*;
use std::time::Duration;

#[path = "common/grad_model.rs"]
mod grad_model;

fn bench(c: &mut Criterion) {
    let cell = grad_model::cell(false).unwrap();
    let opts = IntegrateOptions::t_max(20.0);
    let params = cell.get_parameters();
    let shape = integrate_with(&cell, &opts, &params, None, None)
        .unwrap()
        .recordings
        .shape();
    let loss = grad_model::loss(shape);
    let mut g = c.benchmark_group("grad_hh_1000");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(8))
        .warm_up_time(Duration::from_millis(500));
    // `init` runs once per simulation, and once per dual-number pass of the chain rule from
    // `all_params` to the 250 trainable values.
    let (init_fn, _) =
        build_init_and_step_fn(&cell, VoltageSolver::Hines, Solver::BwdEuler).unwrap();
    g.bench_function("init", |b| {
        b.iter(|| init_fn.init::<f64>(&params, None, None, 0.025).unwrap())
    });
    g.bench_function("forward", |b| {
        b.iter(|| integrate_with(&cell, &opts, &params, None, None).unwrap())
    });
    for (name, checkpointing) in [
        ("grad_all", Checkpointing::All),
        ("grad_auto", Checkpointing::Auto),
    ] {
        let go = GradOptions { checkpointing };
        g.bench_function(name, |b| {
            b.iter(|| value_and_grad(&cell, &opts, &params, None, &loss, &go).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
