//! Prints the scalability table of the README:
//!
//! ```sh
//! cargo run --release --example network_table            # 1 … 10 000 cells, 20 ms each
//! T_MAX=100 CELLS=1,10,100,1000 cargo run --release --example network_table
//! ```
//!
//! The network is the one of `benches/network.rs` (see `benches/common/network_model.rs`): Jaxley's
//! regression-benchmark cell (7 branches × 2 compartments, HH, driven to fire tonically), random
//! `IonotropicSynapse` connections with expected in-degree 10. Every configuration is simulated
//! with `integrate` (one recorded voltage) on 1 and on 2 threads; the time is the best of a few
//! runs. Memory is the size of every array a simulation holds (compiled model, states with their
//! workspace, parameters), split into what grows with compartments and what grows with
//! synapses ([`huxley::compile::Compiled::memory`]).
#[path = "../benches/common/network_model.rs"]
mod network_model;

use huxley::*;
use std::sync::Arc;
use std::time::Instant;

fn main() -> Result<()> {
    let cells: Vec<usize> = std::env::var("CELLS")
        .unwrap_or_else(|_| "1,10,100,1000,10000".into())
        .split(',')
        .map(|s| s.trim().parse().expect("a number of cells"))
        .collect();
    let t_max: f64 = std::env::var("T_MAX")
        .ok()
        .map(|s| s.parse().unwrap())
        .unwrap_or(20.0);
    let dt = 0.025;
    let steps = (t_max / dt).floor() as usize + 1;
    println!(
        "{} steps ({t_max} ms at dt = {dt} ms); times: best of 5-40 alternating runs of integrate",
        steps
    );
    println!(
        "{:>7} {:>8} {:>9} {:>9} {:>9} | {:>10} {:>9} {:>9} | {:>10} {:>9} {:>9} {:>7} | {:>8} {:>8}",
        "cells",
        "comps",
        "synapses",
        "build ms",
        "compile",
        "1 thr: s",
        "ns/comp",
        "ns/syn",
        "2 thr: s",
        "ns/comp",
        "ns/syn",
        "speedup",
        "B/comp",
        "B/syn"
    );
    let pool2 = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .expect("a pool"),
    );
    for &n in &cells {
        let t = Instant::now();
        let mut net = network_model::network(n, 1);
        let build = t.elapsed().as_secs_f64();
        net.cell(0)?.branch(0)?.comp(0)?.record("v")?;
        let (comps, syns) = (net.n_comps(), net.n_edges());
        // Alternate 1 and 2 threads and keep the best of each: the machine is shared, so the
        // minimum is the best estimate of the undisturbed time.
        let reps = (60_000_000 / (comps * steps)).clamp(5, 40);
        let mut best = [f64::INFINITY; 2];
        let configs = [Parallelism::Serial, Parallelism::Pool(pool2.clone())];
        for _ in 0..reps {
            for (k, par) in configs.iter().enumerate() {
                let opts = IntegrateOptions {
                    t_max: Some(t_max),
                    delta_t: dt,
                    parallelism: par.clone(),
                    ..Default::default()
                };
                let t = Instant::now();
                let sim = integrate(&net, &opts)?;
                best[k] = best[k].min(t.elapsed().as_secs_f64());
                assert!(sim.recordings.max() > 0.0, "the cells fire");
            }
        }
        let t = Instant::now();
        let (init_fn, _) = build_init_and_step_fn(&net, VoltageSolver::Hines, Solver::BwdEuler)?;
        let compile = t.elapsed().as_secs_f64();
        let (s, p) = init_fn.init::<f64>(&[], None, None, dt)?;
        let mem = init_fn.compiled().memory(&s, &p);
        let per = |secs: f64, count: usize| secs * 1e9 / (count * steps) as f64;
        println!(
            "{:>7} {:>8} {:>9} {:>9.1} {:>9.1} | {:>10.3} {:>9.1} {:>9.1} | {:>10.3} {:>9.1} {:>9.1} {:>7.2} | {:>8.0} {:>8.0}",
            n,
            comps,
            syns,
            build * 1e3,
            compile * 1e3,
            best[0],
            per(best[0], comps),
            per(best[0], syns),
            best[1],
            per(best[1], comps),
            per(best[1], syns),
            best[0] / best[1],
            mem.node_bytes as f64 / comps as f64,
            mem.synapse_bytes as f64 / syns as f64,
        );
    }
    Ok(())
}
