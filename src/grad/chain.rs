//! The chain rule from the cotangents of `all_params` (and of the initial state) to the
//! trainable and `data_set` values: forward mode through `init`.
//!
//! One dual-number `init` per value would cost `O(n)` each; instead values whose effects are
//! disjoint share a pass. A value changes `all_params` and the initial state only near its nodes
//! (the nodes themselves for mechanism parameters; the edges around them for geometry), so every
//! value gets a footprint (its nodes and their neighbours up to two graph edges away), values with
//! disjoint footprints are seeded together, and every derivative entry is attributed by its node.
//! If an entry with a cotangent changes outside every footprint of its pass, the pass is redone
//! value by value (never expected; it keeps the result exact whatever a model does).

use super::step_vjp::ParamAdjoint;
use crate::dynamics::DynamicStateUtils;
use crate::error::Result;
use crate::integrate::InitFn;
use crate::model::{ParamGroup, ParamState};
use crate::scalar::Dual64;
use crate::state::AllParams;

/// The gradients of the trainable values and of the `param_state` values.
type Grads = (Vec<ParamGroup<f64>>, Vec<ParamState<f64>>);

/// One value to differentiate: in `params` (`ps = false`) or `param_state`, group, index.
#[derive(Clone, Copy)]
struct Seed {
    ps: bool,
    g: usize,
    i: usize,
}

/// The derivatives of `all_params` and of the initial state with respect to every trainable
/// value, then every `param_state` value, as the passes of `init` in dual numbers give them:
/// independent of the cotangents, so they can be computed while the simulation runs.
pub(crate) struct InitJacobian {
    seeds: Vec<Seed>,
    passes: Vec<PassJacobian>,
}

/// One pass's nonzero derivatives, per array in a fixed order (see [`TARGETS`]): `(index,
/// derivative, owner)`, the owner being the seed whose footprint holds the entry's node
/// (`usize::MAX`: none; a pass of one seed owns everything).
struct PassJacobian {
    seeds: Vec<usize>,
    entries: [Vec<(usize, f64, usize)>; TARGETS],
}

/// Sets the derivative part of seed `s`'s value to `e`.
fn set_eps(dp: &mut [ParamGroup<Dual64>], dps: &mut [ParamState<Dual64>], s: Seed, e: f64) {
    if s.ps {
        dps[s.g].values[s.i].eps = e;
    } else {
        dp[s.g].values[s.i].eps = e;
    }
}

/// The arrays a value's derivative reaches, in the order the contraction visits them: the
/// parameter data, `inv_cm`, the tree coefficients (lower, upper, sum), the axial conductances,
/// the initial flat state.
const TARGETS: usize = 7;

/// The arrays of [`TARGETS`] in `init`'s dual-number output `p` and initial flat state `x0`.
fn targets<'a>(p: &'a AllParams<Dual64>, x0: &'a [Dual64]) -> [&'a [Dual64]; TARGETS] {
    [
        &p.data, &p.inv_cm, &p.h_lower, &p.h_upper, &p.h_gsum, &p.axial, x0,
    ]
}

/// [`InitJacobian`] of `init_fn` at `params` and `param_state`.
pub(crate) fn init_jacobian(
    init_fn: &InitFn,
    params: &[ParamGroup<f64>],
    param_state: Option<&[ParamState<f64>]>,
    dt: f64,
    utils: &DynamicStateUtils,
) -> Result<InitJacobian> {
    let c = init_fn.compiled();
    let n = c.n_nodes();
    let trainables = &c.trainables;
    let ps = param_state.unwrap_or(&[]);
    let mut dp: Vec<ParamGroup<Dual64>> = params.iter().map(|p| p.cast()).collect();
    let mut dps: Vec<ParamState<Dual64>> = ps.iter().map(|p| p.map(Dual64::from)).collect();
    let mut seeds: Vec<Seed> = Vec::new();
    for (g, p) in params.iter().enumerate() {
        seeds.extend((0..p.values.len()).map(|i| Seed { ps: false, g, i }));
    }
    for (g, p) in ps.iter().enumerate() {
        seeds.extend((0..p.values.len()).map(|i| Seed { ps: true, g, i }));
    }
    let nodes_of = |s: Seed| -> &[usize] {
        if s.ps {
            &ps[s.g].nodes[s.i]
        } else {
            &trainables[s.g].nodes[s.i]
        }
    };
    // The node of every entry that carries a cotangent (usize::MAX: not a node array).
    let all_node_keys = c.syns.is_empty() && (0..c.params.len()).all(|k| c.params.len_of(k) == n);
    let data_node: Vec<usize> = (0..c.params.len())
        .flat_map(|k| {
            (0..c.params.len_of(k)).map(move |j| if all_node_keys { j } else { usize::MAX })
        })
        .collect();
    let node_id: Vec<usize> = (0..n).collect();
    let pos_node: Vec<usize> = c.hines.order.iter().map(|&i| i as usize).collect();
    let edge_node: Vec<usize> = c.graph.edges.iter().map(|e| e.sink).collect();
    let dl = &utils.layout;
    let x0_node: Vec<usize> = dl.entries.iter().flatten().map(|&i| i as usize).collect();
    // Footprints and passes (greedy colouring).
    let mut neighbours: Vec<Vec<usize>> = vec![Vec::new(); n];
    for e in &c.graph.edges {
        neighbours[e.source].push(e.sink);
        neighbours[e.sink].push(e.source);
    }
    let mut mark = vec![false; n];
    let mut footprint = |nodes: &[usize]| -> Option<Vec<usize>> {
        if nodes.iter().any(|&i| i >= n) {
            return None;
        }
        let mut out: Vec<usize> = nodes.to_vec();
        for &i in &out {
            mark[i] = true;
        }
        let mut frontier = out.clone();
        for _ in 0..2 {
            let mut next = Vec::new();
            for &i in &frontier {
                for &j in &neighbours[i] {
                    if !mark[j] {
                        mark[j] = true;
                        next.push(j);
                    }
                }
            }
            out.extend_from_slice(&next);
            frontier = next;
        }
        for &i in &out {
            mark[i] = false;
        }
        Some(out)
    };
    struct Pass {
        seeds: Vec<(usize, Vec<usize>)>,
        used: Vec<bool>,
    }
    let mut passes: Vec<Pass> = Vec::new();
    for (si, &s) in seeds.iter().enumerate() {
        let fp = if all_node_keys {
            footprint(nodes_of(s))
        } else {
            None
        };
        let Some(fp) = fp else {
            passes.push(Pass {
                seeds: vec![(si, (0..n).collect())],
                used: vec![true; n],
            });
            continue;
        };
        match passes.iter_mut().find(|p| fp.iter().all(|&i| !p.used[i])) {
            Some(p) => {
                for &i in &fp {
                    p.used[i] = true;
                }
                p.seeds.push((si, fp));
            }
            None => {
                let mut used = vec![false; n];
                for &i in &fp {
                    used[i] = true;
                }
                passes.push(Pass {
                    seeds: vec![(si, fp)],
                    used,
                });
            }
        }
    }
    let mut owner = vec![usize::MAX; n];
    let mut out = Vec::with_capacity(passes.len());
    for pass in &passes {
        for (si, fp) in &pass.seeds {
            set_eps(&mut dp, &mut dps, seeds[*si], 1.0);
            for &i in fp {
                owner[i] = *si;
            }
        }
        let result = init_fn.init(&dp, None, param_state.map(|_| &dps[..]), dt);
        for (si, _) in &pass.seeds {
            set_eps(&mut dp, &mut dps, seeds[*si], 0.0);
        }
        let (s, p) = result?;
        let x0 = utils.remove_observables(&s)?;
        let single = pass.seeds.len() == 1;
        let nonzero = |eps: &[Dual64], node: &[usize]| -> Vec<(usize, f64, usize)> {
            eps.iter()
                .zip(node)
                .enumerate()
                .filter(|(_, (e, _))| e.eps != 0.0)
                .map(|(k, (e, &i))| {
                    let o = match single {
                        true => pass.seeds[0].0,
                        false if i < n => owner[i],
                        false => usize::MAX,
                    };
                    (k, e.eps, o)
                })
                .collect()
        };
        let nodes: [&[usize]; TARGETS] = [
            &data_node, &node_id, &pos_node, &pos_node, &pos_node, &edge_node, &x0_node,
        ];
        let eps = targets(&p, &x0.data);
        out.push(PassJacobian {
            seeds: pass.seeds.iter().map(|(si, _)| *si).collect(),
            entries: std::array::from_fn(|j| nonzero(eps[j], nodes[j])),
        });
        for (_, fp) in &pass.seeds {
            for &i in fp {
                owner[i] = usize::MAX;
            }
        }
    }
    Ok(InitJacobian { seeds, passes: out })
}

/// `dθ = Σ p̄ · ∂all_params/∂θ + λ₀ · ∂x₀/∂θ` for every trainable value, then every
/// `param_state` value, from the derivatives `jac` of `init_fn` (at the same values).
#[allow(clippy::too_many_arguments)]
pub(crate) fn to_trainables(
    jac: &InitJacobian,
    init_fn: &InitFn,
    params: &[ParamGroup<f64>],
    param_state: Option<&[ParamState<f64>]>,
    dt: f64,
    pbar: &ParamAdjoint,
    utils: &DynamicStateUtils,
    lam0: &[f64],
) -> Result<Grads> {
    let seeds = &jac.seeds;
    let ps = param_state.unwrap_or(&[]);
    let mut dp: Vec<ParamGroup<Dual64>> = params.iter().map(|p| p.cast()).collect();
    let mut dps: Vec<ParamState<Dual64>> = ps.iter().map(|p| p.map(Dual64::from)).collect();
    let [h_lower, h_upper, h_gsum] = pbar.tree.at_positions(init_fn.compiled());
    let bars: [&[f64]; TARGETS] = [
        &pbar.data,
        &pbar.inv_cm,
        &h_lower,
        &h_upper,
        &h_gsum,
        &pbar.tree.axial,
        lam0,
    ];
    let mut grads = vec![0.0; seeds.len()];
    for pass in &jac.passes {
        let mut lost = false;
        for (entries, bar) in pass.entries.iter().zip(bars) {
            for &(k, e, o) in entries {
                let b = bar[k];
                if b == 0.0 {
                    continue;
                }
                if o != usize::MAX {
                    grads[o] += e * b;
                } else {
                    lost = true;
                }
            }
        }
        if lost {
            // Redo this pass value by value.
            for &si in &pass.seeds {
                grads[si] = 0.0;
            }
            for &si in &pass.seeds {
                let s = seeds[si];
                set_eps(&mut dp, &mut dps, s, 1.0);
                let result = init_fn.init(&dp, None, param_state.map(|_| &dps[..]), dt);
                set_eps(&mut dp, &mut dps, s, 0.0);
                let (st, p) = result?;
                let x0 = utils.remove_observables(&st)?;
                let dot = |eps: &[Dual64], bar: &[f64]| -> f64 {
                    eps.iter()
                        .zip(bar)
                        .filter(|(e, b)| **b != 0.0 && e.eps != 0.0)
                        .map(|(e, b)| e.eps * b)
                        .sum()
                };
                grads[si] = targets(&p, &x0.data)
                    .into_iter()
                    .zip(bars)
                    .map(|(eps, bar)| dot(eps, bar))
                    .sum();
            }
        }
    }
    let mut gp: Vec<ParamGroup<f64>> = params
        .iter()
        .map(|p| ParamGroup {
            key: p.key.clone(),
            values: vec![0.0; p.values.len()],
        })
        .collect();
    let mut gps: Vec<ParamState<f64>> = ps.iter().map(|p| p.map(|_| 0.0)).collect();
    for (s, g) in seeds.iter().zip(grads) {
        if s.ps {
            gps[s.g].values[s.i] = g;
        } else {
            gp[s.g].values[s.i] = g;
        }
    }
    Ok((gp, gps))
}
