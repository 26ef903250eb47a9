//! `cargo run --release --example profile_network -- <cells> <threads>`: ns per
//! compartment-step of the scalability-benchmark network (best of REPS runs of STEPS steps).
#[path = "../benches/common/network_model.rs"]
mod network_model;

use huxley::*;
use std::sync::Arc;

fn main() {
    let mut args = std::env::args().skip(1);
    let n_cells: usize = args.next().map(|s| s.parse().unwrap()).unwrap_or(1000);
    let threads: usize = args.next().map(|s| s.parse().unwrap()).unwrap_or(1);
    let env = |k: &str, d: usize| {
        std::env::var(k)
            .ok()
            .map(|s| s.parse().unwrap())
            .unwrap_or(d)
    };
    let (steps, reps) = (env("STEPS", 400), env("REPS", 10));
    let t = std::time::Instant::now();
    let net = network_model::network(n_cells, 1);
    let build = t.elapsed();
    let par = if threads == 1 {
        Parallelism::Serial
    } else {
        Parallelism::Pool(Arc::new(
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap(),
        ))
    };
    let (init_fn, step_fn) =
        build_init_and_step_fn(&net, VoltageSolver::Hines, Solver::BwdEuler).unwrap();
    let step_fn = step_fn.with_parallelism(par);
    let (mut s, p) = init_fn.init::<f64>(&[], None, None, 0.025).unwrap();
    let none = Externals::none();
    let n_comps = net.n_comps();
    let mut best = f64::INFINITY;
    step_fn.in_pool(|| {
        for _ in 0..reps {
            let t = std::time::Instant::now();
            for _ in 0..steps {
                step_fn.step(&mut s, &p, none.at(0), 0.025).unwrap();
            }
            let x = t.elapsed().as_nanos() as f64 / (steps * n_comps) as f64;
            if std::env::var_os("VERBOSE").is_some() {
                eprintln!("  {x:.2}");
            }
            best = best.min(x);
        }
    });
    let v = s.get("v").unwrap();
    let vmax = v.iter().cloned().fold(f64::MIN, f64::max);
    println!(
        "{n_cells} cells, {} synapses, {threads} threads, {} chunks: {best:.2} ns per compartment-step (build {:.1} ms, v max {vmax:.1})",
        net.n_edges(),
        init_fn.compiled().n_chunks(),
        build.as_secs_f64() * 1e3
    );
}
