//! Gradients of a whole simulation against the simulation itself: an HH binary-tree cell of
//! 1000 compartments (125 branches × 8), a 0.2 nA step 1–11 ms into branch 0, v recorded at
//! branch 0 comp 0 and branch 124 comp 7, every branch's `HH_gNa` and `radius` trainable (250
//! values), 20 ms (800 steps), loss `mean((v + 65)²)`.
//!
//! `cargo bench --bench grad`

use criterion::{Criterion, criterion_group, criterion_main};
use huxley::grad::{Checkpointing, GradOptions, Loss, value_and_grad};
use huxley::*;
use nalgebra::DMatrix;
use std::time::Duration;

struct MeanSq;
impl Loss for MeanSq {
    fn value<T: Scalar>(&self, rec: &DMatrix<T>) -> T {
        let n = T::from(rec.len() as f64);
        rec.iter().fold(T::zero(), |a, &v| {
            a + (v + T::from(65.0)) * (v + T::from(65.0))
        }) / n
    }
}

fn cell() -> Cell {
    let parents: Vec<i64> = (0..125)
        .map(|i| if i == 0 { -1 } else { (i - 1) / 2 })
        .collect();
    let mut cell = Cell::new(&Branch::new(&Compartment::new(), 8).unwrap(), &parents).unwrap();
    cell.insert(HH).unwrap();
    cell.branch(0)
        .unwrap()
        .comp(0)
        .unwrap()
        .stimulate(&step_current(1.0, 10.0, 0.2, 0.025, 20.0, 0.0));
    cell.branch(0)
        .unwrap()
        .comp(0)
        .unwrap()
        .record("v")
        .unwrap();
    cell.branch(124)
        .unwrap()
        .comp(7)
        .unwrap()
        .record("v")
        .unwrap();
    for key in ["HH_gNa", "radius"] {
        for b in 0..125 {
            cell.branch(b).unwrap().make_trainable(key, None).unwrap();
        }
    }
    cell
}

fn bench(c: &mut Criterion) {
    let cell = cell();
    let opts = IntegrateOptions::t_max(20.0);
    let params = cell.get_parameters();
    let mut g = c.benchmark_group("grad_hh_1000");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(8))
        .warm_up_time(Duration::from_millis(500));
    g.bench_function("forward", |b| {
        b.iter(|| integrate_with(&cell, &opts, &params, None, None).unwrap())
    });
    for (name, checkpointing) in [
        ("grad_all", Checkpointing::All),
        ("grad_auto", Checkpointing::Auto),
    ] {
        let go = GradOptions { checkpointing };
        g.bench_function(name, |b| {
            b.iter(|| value_and_grad(&cell, &opts, &params, None, &MeanSq, &go).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
