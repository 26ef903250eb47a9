//! The network of the scalability benchmark (shared by `benches/network.rs` and
//! `examples/network_table.rs`): Jaxley's regression-benchmark cell (7 branches of 2
//! compartments, parents `[-1, 0, 0, 1, 1, 2, 2]`) with HH, `n_cells` copies, random connections
//! through `IonotropicSynapse` with connection probability `p = min(1, 10/n_cells)` (expected
//! in-degree 10, so synapses grow linearly with cells). `HH_eLeak = −30 mV` depolarises every
//! cell enough to fire tonically, so the gates move all the time.
#![allow(dead_code)]

use huxley::*;

pub fn regression_cell() -> Cell {
    let branch = Branch::new(&Compartment::new(), 2).unwrap();
    let mut cell = Cell::new(&branch, &[-1, 0, 0, 1, 1, 2, 2]).unwrap();
    cell.insert(HH).unwrap();
    cell.set("HH_eLeak", -30.0).unwrap();
    cell
}

pub fn network(n_cells: usize, seed: u64) -> Network {
    let cells = vec![regression_cell(); n_cells];
    let mut net = Network::new(&cells).unwrap();
    let all = net.all().selection();
    let p = (10.0 / n_cells as f64).min(1.0);
    sparse_connect(&mut net, &all, &all, IonotropicSynapse, p, seed).unwrap();
    net.set("IonotropicSynapse_gS", 1e-3).unwrap();
    net
}
