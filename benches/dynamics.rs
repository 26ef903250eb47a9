//! The dynamic-state utilities and the derivatives of one step on a 10 000-compartment cell with
//! HH on half the branches (Leak everywhere), compared with one simulation step.
//!
//! `cargo bench --bench dynamics`

use criterion::{Criterion, criterion_group, criterion_main};
use huxley::*;
use nalgebra::DVector;
use std::time::Duration;

fn cell() -> Cell {
    let n_branches = 1250; // × 8 compartments = 10 000
    let parents: Vec<i64> = (0..n_branches)
        .map(|i| if i == 0 { -1 } else { ((i - 1) / 2) as i64 })
        .collect();
    let mut cell = Cell::new(&Branch::new(&Compartment::new(), 8).unwrap(), &parents).unwrap();
    cell.insert(Leak).unwrap();
    for b in (0..n_branches).step_by(2) {
        cell.branch(b).unwrap().insert(HH).unwrap();
    }
    cell.set("v", -30.0).unwrap();
    cell
}

fn bench(c: &mut Criterion) {
    let cell = cell();
    let dt = 0.025;
    let (init_fn, step_fn) =
        build_init_and_step_fn(&cell, VoltageSolver::Hines, Solver::BwdEuler).unwrap();
    let utils = DynamicStateUtils::for_step_fn(&step_fn);
    let (mut states, params) = init_fn.init::<f64>(&[], None, None, dt).unwrap();
    let none = Externals::none();
    let mut g = c.benchmark_group("dynamics_10k");
    g.sample_size(20)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500));
    g.bench_function("step", |b| {
        b.iter(|| step_fn.step(&mut states, &params, none.at(0), dt).unwrap())
    });
    let mut dynamic = utils.remove_observables(&states).unwrap();
    g.bench_function("remove_observables+flatten", |b| {
        b.iter(|| {
            utils
                .remove_observables_into(&states, &mut dynamic)
                .unwrap();
            utils.flatten(&dynamic).unwrap()
        })
    });
    let x = utils.flatten(&dynamic).unwrap();
    let mut out = states.clone();
    g.bench_function("unflatten+add_observables", |b| {
        b.iter(|| {
            let d = utils.unflatten(x.as_slice()).unwrap();
            utils
                .add_observables_into(&d, &params, dt, &mut out)
                .unwrap();
        })
    });
    let mut lin = utils
        .linearize(&step_fn, x.as_slice(), &params, none.at(0), dt)
        .unwrap();
    let v = DVector::from_fn(x.len(), |i, _| ((i % 7) as f64 - 3.0) * 1e-3);
    g.bench_function("jvp", |b| b.iter(|| lin.jvp(&v).unwrap()));
    lin.vjp(&v).unwrap(); // records the local Jacobians once
    g.bench_function("vjp (local Jacobians stored)", |b| {
        b.iter(|| lin.vjp(&v).unwrap())
    });
    g.bench_function("linearize + record local Jacobians", |b| {
        b.iter(|| {
            let mut l = utils
                .linearize(&step_fn, x.as_slice(), &params, none.at(0), dt)
                .unwrap();
            l.vjp(&v).unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
