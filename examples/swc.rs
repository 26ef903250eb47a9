//! An SWC morphology with HH in the soma and axon and a passive dendritic tree.
//!
//! `cargo run --release --example swc [FILE.swc]` (default: the L5PC test morphology beside the
//! checkout).

use huxley::{
    HH, IntegrateOptions, Leak, SwcOptions, integrate, read_swc, spike_count, step_current,
};

fn main() -> huxley::Result<()> {
    let path = std::env::args().nth(1).unwrap_or_else(|| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/morphologies/morph_l5pc_with_axon.swc"
        )
        .into()
    });
    let mut cell = read_swc(&path, 2, &SwcOptions::default())?;
    cell.insert(Leak)?;
    cell.group("soma")?.insert(HH)?;
    cell.group("axon")?.insert(HH)?;
    cell.set("axial_resistivity", 100.0)?;
    cell.branch(3)?.set_ncomp(8, None)?; // re-cut one branch from its traced points
    cell.group("soma")?.branch(0)?.loc(0.5)?.record("v")?;
    let current = step_current(1.0, 10.0, 2.0, 0.025, 20.0, 0.0);
    cell.group("soma")?.branch(0)?.loc(0.5)?.stimulate(&current);
    let sim = integrate(&cell, &IntegrateOptions::default())?;
    let v: Vec<f64> = sim.recordings.row(0).iter().copied().collect();
    println!(
        "{path}: {} branches, {} compartments, groups {:?}; {} somatic spikes in 20 ms",
        cell.n_branches(),
        cell.n_comps(),
        cell.group_names(),
        spike_count(&v, 0.0)
    );
    Ok(())
}
