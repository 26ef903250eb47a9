//! Times the Hines solve alone on the benchmark network (ns per node).
#[path = "../benches/common/network_model.rs"]
mod network_model;

use huxley::compile::Compiled;
use huxley::solver::hines;
use huxley::*;

#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
fn solve512(
    c: &Compiled,
    p: &AllParams<f64>,
    lin: &[f64],
    cst: &[f64],
    v: &mut [f64],
    d: &mut [f64],
    r: &mut [f64],
) {
    hines::solve(c, p, lin, cst, v, 0.025, d, r);
}

fn main() {
    let n_cells: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse().unwrap())
        .unwrap_or(1000);
    let net = network_model::network(n_cells, 1);
    let (init_fn, _) =
        build_init_and_step_fn(&net, VoltageSolver::Hines, Solver::BwdEuler).unwrap();
    let (s, p) = init_fn.init::<f64>(&[], None, None, 0.025).unwrap();
    let c = init_fn.compiled();
    let n = c.n_nodes();
    let lin = vec![0.3; n];
    let cst = vec![-2.0; n];
    let v0: Vec<f64> = s.get("v").unwrap().to_vec();
    let (mut d, mut r, mut v) = (vec![0.0; n], vec![0.0; n], v0.clone());
    // Many short runs, best taken: the minimum filters out a noisy machine.
    let reps = 50;
    let mut best = f64::INFINITY;
    for _ in 0..200 {
        let t = std::time::Instant::now();
        for _ in 0..reps {
            v.copy_from_slice(&v0);
            unsafe { solve512(c, &p, &lin, &cst, &mut v, &mut d, &mut r) };
        }
        best = best.min(t.elapsed().as_nanos() as f64 / (reps * n) as f64);
    }
    println!(
        "{best:.2} ns per node (hines::solve, {n} nodes, {} units)",
        c.hines_order().units.len()
    );
}
