//! The seed page's example 1: all_states → flat vector of true ODE states → all_states.
//!
//! `cargo run --release --example dynamics_round_trip`

use huxley::*;

fn main() -> Result<()> {
    let mut cell = Cell::default();
    cell.insert(HH)?;
    let params = cell.get_parameters();
    let (init_fn, _step_fn) =
        build_init_and_step_fn(&cell, VoltageSolver::Hines, Solver::BwdEuler)?;
    let utils = build_dynamic_state_utils(&cell)?;

    let (all_states, all_params) = init_fn.init::<f64>(&params, None, None, 0.025)?;
    let dynamic_states = utils.flatten(&utils.remove_observables(&all_states)?)?;
    let recovered_all_states = utils.add_observables(
        &utils.unflatten(dynamic_states.as_slice())?,
        &all_params,
        0.025,
    )?;

    println!("all_states keys:      {:?}", all_states.keys());
    println!("dynamic (flat) keys:  {:?}", utils.keys());
    println!("flat state:           {:?}", dynamic_states.as_slice());
    for (key, values) in recovered_all_states.iter() {
        let original = all_states.get(key)?;
        let same = values
            .iter()
            .zip(original)
            .all(|(a, b)| a == b || (a.is_nan() && b.is_nan()));
        println!("recovered {key:6} = {values:?} (identical to the original: {same})");
    }
    Ok(())
}
