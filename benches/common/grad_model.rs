//! The gradient benchmark's model (shared by `benches/grad.rs` and
//! `examples/grad_profile.rs`): an HH binary-tree cell of 1000 compartments (125 branches × 8), a
//! 0.2 nA step 1–11 ms into branch 0, v recorded at branch 0 comp 0 and branch 124 comp 7, every
//! branch's `HH_gNa` and `radius` trainable (250 values), 20 ms (800 steps), loss
//! `mean((v + 65)²)`.
#![allow(dead_code)]

use huxley::*;
use nalgebra::DMatrix;

/// The benchmark cell; with `channels`, Pospischil's channels and the calcium group instead of
/// HH (Leak, Na, K, Km, CaL, CaT, CaPump, CaNernstReversal: 8 mechanisms, 9 dynamic keys) and
/// `Na_gNa` instead of `HH_gNa`.
pub fn cell(channels: bool) -> Result<Cell> {
    cell_with(channels, true)
}

/// [`cell`], with `pumps = false` leaving out the calcium group's CaPump and CaNernstReversal
/// (so that every mechanism is a channel with independent states).
pub fn cell_with(channels: bool, pumps: bool) -> Result<Cell> {
    let parents: Vec<i64> = (0..125)
        .map(|i| if i == 0 { -1 } else { (i - 1) / 2 })
        .collect();
    let mut cell = Cell::new(&Branch::new(&Compartment::new(), 8)?, &parents)?;
    let gna = if channels {
        cell.insert(Leak)?
            .insert(Na)?
            .insert(K)?
            .insert(Km)?
            .insert(CaL)?
            .insert(CaT)?;
        if pumps {
            cell.insert(CaPump)?.insert(CaNernstReversal)?;
        }
        cell.set("v", -65.0)?;
        cell.init_states(0.025)?;
        "Na_gNa"
    } else {
        cell.insert(HH)?;
        "HH_gNa"
    };
    cell.branch(0)?
        .comp(0)?
        .stimulate(&step_current(1.0, 10.0, 0.2, 0.025, 20.0, 0.0));
    cell.branch(0)?.comp(0)?.record("v")?;
    cell.branch(124)?.comp(7)?.record("v")?;
    for key in [gna, "radius"] {
        for b in 0..125 {
            cell.branch(b)?.make_trainable(key, None)?;
        }
    }
    Ok(cell)
}

/// The loss `mean((v + 65)²)` over recordings of `shape`, with its gradient written out.
pub fn loss(shape: (usize, usize)) -> MeanSquaredError {
    MeanSquaredError::new(DMatrix::from_element(shape.0, shape.1, -65.0))
}
