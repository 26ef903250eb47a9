//! A network of 1000 HH cells with random ionotropic synapses (the README's network example).
//!
//! `cargo run --release --example network`
use huxley::{
    Branch, Cell, Compartment, HH, IntegrateOptions, IonotropicSynapse, Network, Parallelism,
    integrate, sparse_connect, step_current,
};

fn main() -> huxley::Result<()> {
    let mut cell = Cell::new(
        &Branch::new(&Compartment::new(), 2)?,
        &[-1, 0, 0, 1, 1, 2, 2],
    )?;
    cell.insert(HH)?;
    let mut net = Network::new(&vec![cell; 1000])?; // nodes numbered cell by cell
    let all = net.all().selection();
    sparse_connect(&mut net, &all, &all, IonotropicSynapse, 0.01, 42)?; // seeded
    net.set("IonotropicSynapse_gS", 2e-3)?; // every IonotropicSynapse
    net.synapse("IonotropicSynapse")?
        .edge(0)?
        .set("IonotropicSynapse_gS", 1e-2)?;
    net.cell(0)?
        .branch(0)?
        .comp(0)?
        .stimulate(&step_current(1.0, 5.0, 0.5, 0.025, 50.0, 0.0));
    net.cell(1)?.branch(6)?.loc(1.0)?.record("v")?;
    net.synapse("IonotropicSynapse")?
        .edge(0)?
        .record("IonotropicSynapse_s")?;
    let t = std::time::Instant::now();
    let sim = integrate(&net, &IntegrateOptions::default())?; // all cores
    let parallel = t.elapsed();
    let t = std::time::Instant::now();
    let one = integrate(
        &net,
        &IntegrateOptions {
            parallelism: Parallelism::Serial,
            ..Default::default()
        },
    )?;
    let serial = t.elapsed();
    assert_eq!(sim.recordings, one.recordings); // bit for bit
    println!(
        "{} cells, {} synapses: v max {:.1} mV; {:.2} s on all cores, {:.2} s on one",
        net.n_cells(),
        net.n_edges(),
        sim.recordings.row(0).max(),
        parallel.as_secs_f64(),
        serial.as_secs_f64()
    );
    Ok(())
}
