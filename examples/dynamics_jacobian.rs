//! The seed page's example 2: the Jacobian of one step of a 3-branch Leak cell, by forward-mode
//! dual numbers pushed through the step; and, as a bonus, its transpose applied to a vector
//! without forming it (a vector–Jacobian product).
//!
//! `cargo run --release --example dynamics_jacobian`

use huxley::*;
use nalgebra::DVector;

fn main() -> Result<()> {
    let comp = Compartment::new();
    let branch = Branch::new(&comp, 2)?;
    let mut cell = Cell::new(&branch, &[-1, 0, 0])?;
    cell.insert(Leak)?;

    let params = cell.get_parameters();
    let (init_fn, step_fn) = build_init_and_step_fn(&cell, VoltageSolver::Hines, Solver::BwdEuler)?;
    let utils = build_dynamic_state_utils(&cell)?;
    let (all_states, all_params) = init_fn.init::<f64>(&params, None, None, 0.025)?;
    let dynamic_states = utils.flatten(&utils.remove_observables(&all_states)?)?;

    // step_dynamics = unflatten → add_observables → step_fn → remove_observables → flatten.
    let externals = step_fn.externals().clone(); // no stimuli: empty
    let mut lin = utils.linearize(
        &step_fn,
        dynamic_states.as_slice(),
        &all_params,
        externals.at(0),
        0.025,
    )?;
    let jacobian = lin.jacobian()?;
    println!(
        "flat state keys: {:?} ({} values)",
        utils.keys(),
        dynamic_states.len()
    );
    println!("Jacobian of one step (rows: x_n+1, columns: x_n):{jacobian:.6}");
    let row_sums: Vec<f64> = jacobian.row_iter().map(|r| r.sum()).collect();
    println!("row sums (1 minus the leak per step): {row_sums:.9?}");

    let w = DVector::from_fn(dynamic_states.len(), |i, _| i as f64);
    println!("Jᵀ w without forming J: {:.6?}", lin.vjp(&w)?.as_slice());
    println!(
        "Jᵀ w from the dense J:  {:.6?}",
        (jacobian.transpose() * &w).as_slice()
    );
    Ok(())
}
