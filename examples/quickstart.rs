//! Quick start: a branched Hodgkin–Huxley cell, 50 ms with a current step into the soma.
//!
//! `cargo run --release --example quickstart` prints the spike count and peak voltage at three
//! places and writes every trace to `traces.csv` (time in ms, then one column per recording).

use huxley::*;
use std::io::Write;

fn main() -> Result<()> {
    // A cell of 7 branches (a root, two children, four grandchildren), 4 compartments each.
    let branch = Branch::new(&Compartment::new(), 4)?;
    let mut cell = Cell::new(&branch, &[-1, 0, 0, 1, 1, 2, 2])?;
    cell.insert(HH)?;

    let dt = 0.025;
    let t_max = 50.0;
    cell.branch(0)?
        .loc(0.0)?
        .stimulate(&step_current(5.0, 40.0, 0.04, dt, t_max, 0.0));
    cell.branch(0)?.loc(0.0)?.record("v")?;
    cell.branch(1)?.loc(1.0)?.record("v")?;
    cell.branch(6)?.loc(1.0)?.record("v")?;

    let sim = integrate(
        &cell,
        &IntegrateOptions {
            delta_t: dt,
            t_max: Some(t_max),
            ..Default::default()
        },
    )?;
    let names = [
        "soma (branch 0, loc 0)",
        "branch 1, loc 1",
        "branch 6, loc 1",
    ];
    for (row, name) in names.iter().enumerate() {
        let v: Vec<f64> = sim.recordings.row(row).iter().copied().collect();
        let spikes = spike_times(&v, 0.0, dt);
        let peak = v.iter().fold(f64::NEG_INFINITY, |m, &x| m.max(x));
        println!(
            "{name:24} {:2} spikes, peak {peak:6.2} mV, first at {:.3} ms",
            spikes.len(),
            spikes.first().unwrap_or(&f64::NAN)
        );
    }

    let mut out = std::io::BufWriter::new(
        std::fs::File::create("traces.csv").expect("traces.csv is writable"),
    );
    writeln!(out, "t_ms,v_soma,v_branch1_end,v_branch6_end").expect("write");
    for (k, t) in sim.times.iter().enumerate() {
        let row: Vec<String> = (0..3)
            .map(|r| format!("{:.6}", sim.recordings[(r, k)]))
            .collect();
        writeln!(out, "{t:.3},{}", row.join(",")).expect("write");
    }
    println!(
        "wrote traces.csv ({} time points, {} compartments simulated)",
        sim.times.len(),
        cell.n_comps()
    );
    Ok(())
}
