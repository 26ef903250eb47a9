//! The seed page's example 3: a loss over 3 ms of a stimulated single compartment, stepped through
//! the flat-state map, and its gradient with respect to `radius` (trainable) and `Leak_gLeak`
//! (set at run time by `data_set`), by forward-mode dual numbers through the whole run.
//!
//! `cargo run --release --example dynamics_loss_gradient`

use huxley::*;

const T_MAX: f64 = 3.0;
const DELTA_T: f64 = 0.025;

/// The loss: the mean of the recorded voltage over the run (initial state included), with the
/// trainable `params` and `Leak_gLeak = g_leak`, in any scalar type.
fn loss_fn<T: Scalar>(cell: &Cell, params: &[ParamGroup<T>], g_leak: T) -> Result<T> {
    let (init_fn, step_fn) = build_init_and_step_fn(cell, VoltageSolver::Hines, Solver::BwdEuler)?;
    let utils = DynamicStateUtils::for_step_fn(&step_fn);
    let externals = step_fn.externals().clone();
    let rec = &cell.recordings()[0];

    let param_state = cell.data_set("Leak_gLeak", g_leak, None)?;
    let (all_states, all_params) = init_fn.init::<T>(params, None, Some(&param_state), DELTA_T)?;
    let mut recordings = vec![all_states.value(&rec.state, rec.node)?];
    let mut dynamic_states = utils.flatten(&utils.remove_observables(&all_states)?)?;
    let steps = (T_MAX / DELTA_T) as usize;
    for step in 0..steps {
        let mut all_states = utils.add_observables(
            &utils.unflatten(dynamic_states.as_slice())?,
            &all_params,
            DELTA_T,
        )?;
        step_fn.step(&mut all_states, &all_params, externals.at(step), DELTA_T)?;
        recordings.push(all_states.value(&rec.state, rec.node)?);
        dynamic_states = utils.flatten(&utils.remove_observables(&all_states)?)?;
    }
    let n = T::from(recordings.len() as f64);
    Ok(recordings.into_iter().fold(T::zero(), |a, b| a + b) / n)
}

fn main() -> Result<()> {
    let mut cell = Cell::default();
    cell.insert(Leak)?;
    cell.record("v")?;
    cell.stimulate(&step_current(0.0, 1.0, 2.0, DELTA_T, T_MAX, 0.0));
    cell.make_trainable("radius", None)?;
    let params = cell.get_parameters();

    let loss = loss_fn::<f64>(&cell, &params, 1e-4)?;
    // d/d radius: seed the trainable radius with derivative 1.
    let mut seeded = params[0].cast::<Dual64>();
    seeded.values[0].eps = 1.0;
    let d_radius = loss_fn::<Dual64>(&cell, &[seeded], Dual64::from(1e-4))?;
    // d/d Leak_gLeak: seed the data_set value.
    let d_gleak = loss_fn::<Dual64>(&cell, &[params[0].cast()], Dual64::new(1e-4, 1.0))?;

    println!("loss                 = {loss:.10}");
    println!(
        "d loss / d radius    = {:.10}   (the same run in dual numbers: loss {:.10})",
        d_radius.eps, d_radius.re
    );
    println!("d loss / d Leak_gLeak = {:.6}", d_gleak.eps);
    Ok(())
}
