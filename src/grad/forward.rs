//! Forward mode: one dual-number simulation per parameter value.

use super::Gradient;
use crate::error::Result;
use crate::integrate::{IntegrateOptions, build_init_and_step_fn, run};
use crate::model::{Module, ParamGroup, ParamState};
use crate::scalar::Dual64;
use nalgebra::DMatrix;

/// The loss of the dual recordings, with the derivative of the seeded value in its `eps`.
pub(crate) type DualLoss<'a> = dyn Fn(&DMatrix<Dual64>) -> Result<Dual64> + 'a;

/// Seeds (one at a time) every trainable value, then every `param_state` value, runs the
/// simulation with dual numbers and differentiates the loss.
pub(crate) fn run_forward(
    module: &Module,
    opts: &IntegrateOptions,
    params: &[ParamGroup<f64>],
    param_state: Option<&[ParamState<f64>]>,
    loss: &DualLoss<'_>,
) -> Result<Gradient> {
    let (init_fn, step_fn) = build_init_and_step_fn(module, opts.voltage_solver, opts.solver)?;
    let step_fn = step_fn.with_parallelism(opts.parallelism.clone());
    let mut dual_params: Vec<ParamGroup<Dual64>> = params.iter().map(|p| p.cast()).collect();
    let ps = param_state.unwrap_or(&[]);
    let mut dual_ps: Vec<ParamState<Dual64>> = ps.iter().map(|p| p.map(Dual64::from)).collect();
    let simulate = |dp: &[ParamGroup<Dual64>], dps: &[ParamState<Dual64>]| -> Result<Dual64> {
        let sim = step_fn
            .in_pool(|| run(&init_fn, &step_fn, opts, dp, param_state.map(|_| dps), None))?;
        loss(&sim.recordings)
    };
    let mut value = None;
    let mut grad_params: Vec<ParamGroup<f64>> = params
        .iter()
        .map(|p| ParamGroup {
            key: p.key.clone(),
            values: vec![0.0; p.values.len()],
        })
        .collect();
    for g in 0..params.len() {
        for i in 0..params[g].values.len() {
            dual_params[g].values[i].eps = 1.0;
            let l = simulate(&dual_params, &dual_ps);
            dual_params[g].values[i].eps = 0.0;
            let l = l?;
            value = Some(l.re);
            grad_params[g].values[i] = l.eps;
        }
    }
    let mut grad_ps: Vec<ParamState<f64>> = ps.iter().map(|p| p.map(|_| 0.0)).collect();
    for g in 0..ps.len() {
        for i in 0..ps[g].values.len() {
            dual_ps[g].values[i].eps = 1.0;
            let l = simulate(&dual_params, &dual_ps);
            dual_ps[g].values[i].eps = 0.0;
            let l = l?;
            value = Some(l.re);
            grad_ps[g].values[i] = l.eps;
        }
    }
    let value = match value {
        Some(v) => v,
        None => simulate(&dual_params, &dual_ps)?.re,
    };
    Ok(Gradient {
        value,
        params: grad_params,
        param_state: grad_ps,
        stored_states: 0,
    })
}
