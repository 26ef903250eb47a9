//! The chain rule from the cotangents of `all_params` (and of the initial state) to the
//! trainable and `data_set` values: forward mode through `init`, one pass per value.

use super::adjoint::ParamAdjoint;
use crate::dynamics::DynamicStateUtils;
use crate::error::Result;
use crate::integrate::InitFn;
use crate::model::{ParamGroup, ParamState};
use crate::scalar::Dual64;

fn dot(eps: impl Iterator<Item = f64>, bar: &[f64]) -> f64 {
    eps.zip(bar)
        .filter(|(_, b)| **b != 0.0)
        .map(|(e, b)| e * b)
        .sum()
}

/// `dθ = Σ p̄ · ∂all_params/∂θ + λ₀ · ∂x₀/∂θ` for every trainable value, then every
/// `param_state` value.
pub(crate) fn to_trainables(
    init_fn: &InitFn,
    params: &[ParamGroup<f64>],
    param_state: Option<&[ParamState<f64>]>,
    dt: f64,
    pbar: &ParamAdjoint,
    utils: &DynamicStateUtils,
    lam0: &[f64],
) -> Result<(Vec<ParamGroup<f64>>, Vec<ParamState<f64>>)> {
    let mut dp: Vec<ParamGroup<Dual64>> = params.iter().map(|p| p.cast()).collect();
    let ps = param_state.unwrap_or(&[]);
    let mut dps: Vec<ParamState<Dual64>> = ps
        .iter()
        .map(|p| ParamState {
            key: p.key.clone(),
            nodes: p.nodes.clone(),
            values: p.values.iter().map(|&v| Dual64::from(v)).collect(),
        })
        .collect();
    let tree = &pbar.tree;
    let derivative = |dp: &[ParamGroup<Dual64>], dps: &[ParamState<Dual64>]| -> Result<f64> {
        let (s, p) = init_fn.init(dp, None, param_state.map(|_| dps), dt)?;
        let x0 = utils.remove_observables(&s)?;
        let e = |v: &[Dual64]| v.iter().map(|x| x.eps).collect::<Vec<_>>();
        Ok(dot(p.data.iter().map(|x| x.eps), &pbar.data)
            + dot(p.inv_cm.iter().map(|x| x.eps), &pbar.inv_cm)
            + dot(p.h_lower.iter().map(|x| x.eps), &tree.h_lower)
            + dot(p.h_upper.iter().map(|x| x.eps), &tree.h_upper)
            + dot(p.h_gsum.iter().map(|x| x.eps), &tree.h_gsum)
            + dot(p.axial.iter().map(|x| x.eps), &tree.axial)
            + dot(e(&x0.data).into_iter(), lam0))
    };
    let mut gp: Vec<ParamGroup<f64>> = params
        .iter()
        .map(|p| ParamGroup {
            key: p.key.clone(),
            values: vec![0.0; p.values.len()],
        })
        .collect();
    for g in 0..dp.len() {
        for i in 0..dp[g].values.len() {
            dp[g].values[i].eps = 1.0;
            let d = derivative(&dp, &dps);
            dp[g].values[i].eps = 0.0;
            gp[g].values[i] = d?;
        }
    }
    let mut gps: Vec<ParamState<f64>> = ps
        .iter()
        .map(|p| ParamState {
            key: p.key.clone(),
            nodes: p.nodes.clone(),
            values: vec![0.0; p.values.len()],
        })
        .collect();
    for g in 0..dps.len() {
        for i in 0..dps[g].values.len() {
            dps[g].values[i].eps = 1.0;
            let d = derivative(&dp, &dps);
            dps[g].values[i].eps = 0.0;
            gps[g].values[i] = d?;
        }
    }
    Ok((gp, gps))
}
