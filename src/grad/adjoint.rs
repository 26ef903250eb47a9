//! Reverse mode: forward run with checkpoints, then the backward sweep step by step.

use super::checkpoint::{held_states, segment_len};
use super::passes::{self, Pass, SynInfo, Targets};
use super::{Gradient, chain, check_finite_loss};
use crate::compile::{Compiled, KeyKind};
use crate::dynamics::DynamicStateUtils;
use crate::dynamics::step_adjoint::{TreeAdjoint, VoltageAdjoint, VoltageStage, voltage_adjoint};
use crate::error::{Error, Result};
use crate::externals::ExternalsAt;
use crate::integrate::{IntegrateOptions, build_init_and_step_fn, check_finite, plan_steps};
use crate::model::{Module, ParamGroup, ParamState};
use crate::parallel::Parallelism;
use crate::scalar::Dual64;
use crate::solver::{Solver, VoltageSolver};
use crate::state::{AllParams, AllStates};
use crate::step;
use nalgebra::DMatrix;
use std::sync::{Arc, Mutex};

/// The loss with its gradient with respect to the recordings.
pub(crate) type LossWithGrad<'a> = dyn Fn(&DMatrix<f64>) -> Result<(f64, DMatrix<f64>)> + 'a;

/// Cotangents of the arrays of `all_params` that the step reads, accumulated over the sweep.
pub(crate) struct ParamAdjoint {
    /// Of `all_params.data` (per key and node).
    pub data: Vec<f64>,
    /// Of `inv_cm`.
    pub inv_cm: Vec<f64>,
    /// Of the tree coefficients and axial conductances.
    pub tree: TreeAdjoint,
}

/// The vector–Jacobian product of one step, `x_n ↦ x_{n+1}` on the flat dynamic state, with the
/// parameter cotangents accumulated. Buffers are allocated once.
pub(crate) struct StepAdjoint {
    utils: DynamicStateUtils,
    c: Arc<Compiled>,
    solver: Solver,
    vsolver: VoltageSolver,
    dt: f64,
    params: AllParams<f64>,
    /// The parameters as dual numbers with zero derivatives (shared by the state passes).
    params_dual: AllParams<Dual64>,
    /// Index of `v` among the dynamic keys.
    kv: usize,
    /// The dual-number passes of a step (see [`passes`]): per dynamic node key, per parameter
    /// array the step reads and a trainable or `data_set` value changes (`inv_cm` if the
    /// capacitance does), per group of edges for synapse keys, per group of pre-synaptic nodes.
    /// Independent: run in parallel.
    passes: Vec<Mutex<Pass>>,
    parallelism: Parallelism,
    syn: SynInfo,
    /// Indices of the passes that seed pre-synaptic voltages, and of the others.
    pre_passes: Vec<usize>,
    other_passes: Vec<usize>,
    post_sum: Vec<f64>,
    /// Per node: cotangents of the gathered pre-synaptic voltage, and of the voltage after the
    /// mechanism updates.
    vpre_bar: Vec<f64>,
    vbar: Vec<f64>,
    /// Position in `all_states` of every flat-state entry, and the same as runs of consecutive
    /// entries at consecutive positions (see [`passes::Run`]).
    flat_pos: Vec<usize>,
    flat_runs: Vec<passes::Run>,
    /// Voltages with the branchpoints' computed (and their scratch arrays).
    v_bp: Vec<f64>,
    bp_num: Vec<f64>,
    bp_den: Vec<f64>,
    /// Whether the area's cotangent from the stimuli is needed.
    area_stimuli: bool,
    /// Nodes whose voltage is clamped.
    v_clamped: Vec<usize>,
    s: AllStates<f64>,
    v_old: Vec<f64>,
    v_sol: Vec<f64>,
    lin_v: Vec<f64>,
    cst_v: Vec<f64>,
    /// Cotangents per dynamic key and node.
    wn: Vec<f64>,
    adj: VoltageAdjoint,
    pbar: ParamAdjoint,
}

impl StepAdjoint {
    pub(crate) fn new(
        utils: DynamicStateUtils,
        solver: Solver,
        vsolver: VoltageSolver,
        dt: f64,
        params: AllParams<f64>,
        touched: &[String],
        parallelism: Parallelism,
    ) -> Result<StepAdjoint> {
        let c = utils.c.clone();
        let n = c.n_nodes();
        let dl = utils.layout.clone();
        let kv = dl
            .keys
            .binary_search_by(|k| k.as_str().cmp("v"))
            .expect("v is dynamic");
        // Parameter keys the step reads: mechanism parameters, synapse parameters, and the
        // area (stimuli and synapses).
        let key_of_off = |off: usize| (0..c.params.len()).find(|&k| c.params.offset(k) == off);
        let mut read: Vec<usize> = c
            .mechs
            .iter()
            .flat_map(|m| m.param_off.iter().filter_map(|&off| key_of_off(off)))
            .collect();
        if !c.syns.is_empty() {
            read.push(c.area_key);
        }
        read.sort_unstable();
        read.dedup();
        let touched_key = |k: usize| touched.iter().any(|t| *t == c.params.names()[k]);
        // Stimuli read the area too: `I / area · 1e5`, differentiated by hand unless something
        // else reads the area anyway.
        let area_stimuli = touched_key(c.area_key)
            && !read.contains(&c.area_key)
            && c.externals.series.iter().any(|s| s.key_id == usize::MAX);
        let node_params: Vec<usize> = read.into_iter().filter(|&k| touched_key(k)).collect();
        let mut edge_params: Vec<(usize, usize)> = Vec::new();
        for (y, syn) in c.syns.iter().enumerate() {
            for &off in &syn.param_off {
                if let Some(k) = key_of_off(off).filter(|&k| touched_key(k)) {
                    edge_params.push((k, y));
                }
            }
        }
        edge_params.sort_unstable();
        edge_params.dedup();
        let inv_cm = touched.iter().any(|t| t == "capacitance");
        let syn = SynInfo::new(&c, &utils, kv)?;
        let v_clamped = c
            .externals
            .series
            .iter()
            .filter(|s| s.key_id == 0)
            .flat_map(|s| s.nodes.iter().map(|&i| i as usize))
            .collect();
        let params_dual = params.cast::<Dual64>();
        let passes: Vec<Mutex<Pass>> =
            passes::seeds(&c, &utils, &syn, &node_params, &edge_params, inv_cm)
                .into_iter()
                .enumerate()
                .map(|(i, seed)| Mutex::new(Pass::new(&c, &utils, seed, &params_dual, i == 0)))
                .collect();
        let is_pre = |p: &Mutex<Pass>| {
            let p = p.lock().unwrap_or_else(|e| e.into_inner());
            matches!(p.seed, passes::PassSeed::PreSlots { .. })
        };
        let (pre_passes, other_passes): (Vec<usize>, Vec<usize>) =
            (0..passes.len()).partition(|&i| is_pre(&passes[i]));
        let nk = dl.keys.len();
        let flat_pos: Vec<usize> = (0..dl.keys.len())
            .flat_map(|k| {
                let off = dl.states.offset(dl.all_key[k]);
                dl.entries[k].iter().map(move |&i| off + i as usize)
            })
            .collect();
        Ok(StepAdjoint {
            s: AllStates::from_data(&c, vec![f64::NAN; c.states.total_len()]),
            v_old: vec![0.0; n],
            v_sol: vec![0.0; n],
            lin_v: vec![0.0; n],
            cst_v: vec![0.0; n],
            wn: vec![0.0; nk * n],
            adj: VoltageAdjoint::new(&c),
            pbar: ParamAdjoint {
                data: vec![0.0; params.data.len()],
                inv_cm: vec![0.0; n],
                tree: TreeAdjoint::new(&c),
            },
            utils,
            solver,
            vsolver,
            dt,
            params,
            params_dual,
            kv,
            passes,
            parallelism,
            area_stimuli,
            v_clamped,
            post_sum: vec![0.0; n],
            vpre_bar: vec![0.0; n],
            vbar: vec![0.0; n],
            flat_runs: passes::runs(flat_pos.iter().copied()),
            flat_pos,
            v_bp: vec![0.0; n],
            bp_num: vec![0.0; n],
            bp_den: vec![0.0; n],
            pre_passes,
            other_passes,
            syn,
            c,
        })
    }

    /// `out = (∂x_{n+1}/∂x_n)ᵀ w` at `x` (= x_n), and the parameter cotangents `(∂x_{n+1}/∂p)ᵀ w`
    /// added to `self.pbar`.
    pub(crate) fn vjp(
        &mut self,
        x: &[f64],
        ext: ExternalsAt<'_, f64>,
        w: &[f64],
        out: &mut [f64],
    ) -> Result<()> {
        let c = self.c.clone();
        let dl = self.utils.layout.clone();
        let n = c.n_nodes();
        let dt = self.dt;
        // The dual-number passes through the local stages (see `passes`), in parallel, each
        // with its own buffers. Their real parts are the f64 step's: the voltage terms and the
        // voltage after the mechanism updates, which the voltage solve reads.
        // Branchpoint voltages (read by nothing that reaches a compartment, but kept finite and
        // as the plain step has them), once per step in f64.
        let vk = dl.range(self.kv);
        for (&xv, &node) in x[vk].iter().zip(&dl.entries[self.kv]) {
            self.v_bp[node as usize] = xv;
        }
        crate::solver::explicit::branchpoint_voltages(
            &c,
            &self.params.axial,
            &mut self.v_bp,
            &mut self.bp_num,
            &mut self.bp_den,
        );
        {
            let (passes, flat_pos, v_bp) = (&self.passes, &self.flat_pos, &self.v_bp);
            let flat_runs = &self.flat_runs;
            let shared = &self.params_dual;
            let c = &*c;
            self.parallelism.for_each(passes.len(), |pi| {
                let mut guard = passes[pi].lock().unwrap_or_else(|e| e.into_inner());
                let pass = &mut *guard;
                // The state at x, with the pass's seed (as `DynamicStateUtils::scatter`).
                let data = &mut pass.states.data;
                for r in flat_runs {
                    let src = &x[r.src..r.src + r.len];
                    for (d, &xj) in data[r.dst..r.dst + r.len].iter_mut().zip(src) {
                        *d = Dual64::new(xj, 0.0);
                    }
                }
                for &j in &pass.seed_idx {
                    data[flat_pos[j]].eps = 1.0;
                }
                for &b in &c.bp_nodes {
                    data[b as usize] = Dual64::from(v_bp[b as usize]);
                }
                let mut ws = step::take_workspace(c, &mut pass.states);
                let params = pass.params.as_ref().unwrap_or(shared);
                step::pre_solve(c, &mut pass.states, params, ext, dt, &mut ws);
                pass.states.ws = ws;
            });
        }
        {
            let first = self.passes[0].get_mut().unwrap_or_else(|e| e.into_inner());
            let (st, ws) = (&first.states.data, &first.states.ws);
            for i in 0..n {
                self.v_old[i] = st[i].re;
                self.lin_v[i] = ws.lin[i].re;
                self.cst_v[i] = ws.cst[i].re;
            }
        }
        // The voltage solve in f64.
        let mut ws = step::take_workspace(&c, &mut self.s);
        self.s.data[..n].copy_from_slice(&self.v_old);
        ws.lin[..n].copy_from_slice(&self.lin_v);
        ws.cst[..n].copy_from_slice(&self.cst_v);
        let solved = step::solve_voltage(
            &c,
            self.solver,
            self.vsolver,
            &mut self.s,
            &self.params,
            dt,
            &mut ws,
        );
        self.s.ws = ws;
        solved?;
        let cn = self.solver == Solver::CrankNicolson;
        for i in 0..n {
            let v_new = self.s.data[i];
            self.v_sol[i] = if cn {
                0.5 * (v_new + self.v_old[i])
            } else {
                v_new
            };
        }
        // Cotangents per key and node.
        let nk = dl.keys.len();
        for k in (0..nk).filter(|&k| self.syn.key_type[k].is_none()) {
            for (&wx, &node) in w[dl.range(k)].iter().zip(&dl.entries[k]) {
                self.wn[k * n + node as usize] = wx;
            }
        }
        let kv = self.kv;
        for &i in &self.v_clamped {
            self.wn[kv * n + i] = 0.0; // a clamped voltage depends on nothing
        }
        let stage = VoltageStage {
            c: &c,
            solver: self.solver,
            dt,
            params: &self.params,
            lin: &self.lin_v,
            cst: &self.cst_v,
            v_sol: &self.v_sol,
            v_old: &self.v_old,
        };
        voltage_adjoint(
            &stage,
            &self.wn[kv * n..(kv + 1) * n],
            &mut self.adj,
            Some(&mut self.pbar.tree),
        )?;
        if self.area_stimuli {
            // cst_v ∋ I / area · 1e5 · inv_cm at every stimulated node.
            let area_off = c.params.offset(c.area_key);
            for series in ext.ext.series.iter().filter(|s| s.key_id == usize::MAX) {
                for (&node, &i_amp) in series.nodes.iter().zip(series.at(ext.t)) {
                    let node = node as usize;
                    let area = self.params.data[area_off + node];
                    self.pbar.data[area_off + node] -=
                        self.adj.cst[node] * i_amp * 1e5 / (area * area) * self.params.inv_cm[node];
                }
            }
        }
        // Contraction with the output cotangents, combined in a fixed order. The pre-synaptic
        // voltages' passes come first: their cotangents join that of the voltage after the
        // mechanism updates, which the other passes contract with.
        self.vpre_bar.fill(0.0);
        self.vbar.fill(0.0);
        for phase in 0..2 {
            let ids = if phase == 0 {
                &self.pre_passes
            } else {
                &self.other_passes
            };
            let mut targets = Targets {
                out: &mut *out,
                data: &mut self.pbar.data,
                inv_cm: &mut self.pbar.inv_cm,
                post_sum: &mut self.post_sum,
                vpre_bar: &mut self.vpre_bar,
            };
            for &pi in ids {
                let pass = self.passes[pi].get_mut().unwrap_or_else(|e| e.into_inner());
                pass.contract(
                    &self.utils,
                    &self.syn,
                    kv,
                    &self.adj,
                    &self.wn,
                    w,
                    &self.vbar,
                );
                passes::combine(pass, &self.utils, &self.syn, &mut targets);
            }
            if phase == 0 {
                for ((vb, a), p) in self.vbar.iter_mut().zip(&self.adj.v).zip(&self.vpre_bar) {
                    *vb = a + p;
                }
            }
        }
        Ok(())
    }
}

/// The flat index of every recording (only dynamic states at compartments are supported).
fn recording_slots(c: &Compiled, utils: &DynamicStateUtils) -> Result<Vec<usize>> {
    let dl = &utils.layout;
    c.recordings
        .iter()
        .map(|&(k, node)| {
            let name = &c.states.names()[k];
            let unsupported = |why: &str| {
                Error::Unsupported(format!(
                    "the adjoint of a recording of `{name}` at node {node} ({why}); use \
                     value_and_grad_forward"
                ))
            };
            if matches!(
                c.states.kinds[k],
                KeyKind::Current { read: false } | KeyKind::SynapseCurrent
            ) {
                return Err(unsupported("a current is an observable, not a state"));
            }
            let kd = dl
                .all_key
                .iter()
                .position(|&a| a == k)
                .ok_or_else(|| unsupported("not a dynamic state"))?;
            let j = dl.entries[kd]
                .binary_search(&(node as u32))
                .map_err(|_| unsupported("not a compartment"))?;
            Ok(dl.offsets[kd] + j)
        })
        .collect()
}

/// Value and gradient by the discrete adjoint.
pub(crate) fn run(
    module: &Module,
    opts: &IntegrateOptions,
    params: &[ParamGroup<f64>],
    param_state: Option<&[ParamState<f64>]>,
    loss: &LossWithGrad<'_>,
    grad_opts: &super::GradOptions,
) -> Result<Gradient> {
    if opts.solver == Solver::ExpEuler {
        return Err(Error::Unsupported(
            "the adjoint of exponential Euler; use value_and_grad_forward".into(),
        ));
    }
    let (init_fn, step_fn) = build_init_and_step_fn(module, opts.voltage_solver, opts.solver)?;
    let step_fn = step_fn.with_parallelism(opts.parallelism.clone());
    let c = init_fn.compiled().clone();
    if c.recordings.is_empty() {
        return Err(Error::NoRecordings);
    }
    let utils = DynamicStateUtils::for_step_fn(&step_fn);
    let slots = recording_slots(&c, &utils)?;
    let (steps, ext) = plan_steps(&c.externals, opts)?;
    let dt = opts.delta_t;
    let (mut s, p) = init_fn.init::<f64>(params, None, param_state, dt)?;
    let dim = utils.len();
    let k = segment_len(grad_opts.checkpointing, steps, dim * 8)?;
    // Forward: recordings, and every k-th flat state.
    let every = opts.record_every;
    let cols = steps / every + 1;
    let mut rec = DMatrix::<f64>::zeros(c.recordings.len(), cols);
    let record = |s: &AllStates<f64>, rec: &mut DMatrix<f64>, col: usize| {
        for (r, &(key, node)) in c.recordings.iter().enumerate() {
            rec[(r, col)] = s.data[c.states.offset(key) + node];
        }
    };
    record(&s, &mut rec, 0);
    let mut flat = utils.remove_observables(&s)?;
    let n_check = steps.div_ceil(k);
    let mut store: Vec<f64> = Vec::with_capacity(n_check * dim);
    step_fn.in_pool(|| -> Result<()> {
        for t in 0..steps {
            if t.is_multiple_of(k) {
                utils.remove_observables_into(&s, &mut flat)?;
                store.extend_from_slice(&flat.data);
            }
            step_fn.step(&mut s, &p, ext.at(t), dt)?;
            check_finite(&c, &s, t + 1, dt)?;
            if (t + 1).is_multiple_of(every) {
                record(&s, &mut rec, (t + 1) / every);
            }
        }
        Ok(())
    })?;
    let checkpoints: Vec<&[f64]> = store.chunks(dim.max(1)).take(n_check).collect();
    let (value, grec) = loss(&rec)?;
    check_finite_loss(value, &grec)?;
    // Which parameter arrays the trainables and data_set values change.
    let mut touched: Vec<String> = params.iter().map(|g| g.key.clone()).collect();
    touched.extend(param_state.unwrap_or(&[]).iter().map(|g| g.key.clone()));
    if touched.iter().any(|t| t == "radius" || t == "length") {
        for g in [
            "radius",
            "length",
            "area",
            "volume",
            "resistive_load_in",
            "resistive_load_out",
        ] {
            touched.push(g.into());
        }
    }
    // Backward sweep.
    let mut sa = StepAdjoint::new(
        utils.clone(),
        opts.solver,
        opts.voltage_solver,
        dt,
        p.clone(),
        &touched,
        opts.parallelism.clone(),
    )?;
    let add_rec = |lam: &mut [f64], t: usize| {
        if t.is_multiple_of(every) {
            for (r, &slot) in slots.iter().enumerate() {
                lam[slot] += grec[(r, t / every)];
            }
        }
    };
    let mut lam = vec![0.0; dim];
    let mut lam_prev = vec![0.0; dim];
    add_rec(&mut lam, steps);
    let mut seg: Vec<Vec<f64>> = (1..k.min(steps.max(1))).map(|_| vec![0.0; dim]).collect();
    let mut s_re = AllStates::from_data(&c, vec![f64::NAN; c.states.total_len()]);
    let mut dyn_re = utils.remove_observables(&s)?;
    // On a worker thread of the pool, so that the parallel passes of every step are cheap.
    opts.parallelism.run(true, || -> Result<()> {
        for si in (0..checkpoints.len()).rev() {
            let a = si * k;
            let b = (a + k).min(steps);
            // Recompute the segment's states x_{a+1} .. x_{b-1} from its checkpoint.
            for t in a + 1..b {
                let prev = if t == a + 1 {
                    checkpoints[si]
                } else {
                    &seg[t - a - 2]
                };
                dyn_re.data.copy_from_slice(prev);
                utils.scatter(&dyn_re, &p, &mut s_re)?;
                step::step(
                    &c,
                    opts.solver,
                    opts.voltage_solver,
                    &crate::Parallelism::Serial,
                    &mut s_re,
                    &p,
                    ext.at(t - 1),
                    dt,
                )?;
                utils.remove_observables_into(&s_re, &mut dyn_re)?;
                seg[t - a - 1].copy_from_slice(&dyn_re.data);
            }
            for t in (a..b).rev() {
                let x = if t == a {
                    checkpoints[si]
                } else {
                    &seg[t - a - 1]
                };
                sa.vjp(x, ext.at(t), &lam, &mut lam_prev)?;
                std::mem::swap(&mut lam, &mut lam_prev);
                add_rec(&mut lam, t);
            }
        }
        Ok(())
    })?;
    let stored = (checkpoints.len() + seg.len()).max(1);
    debug_assert!(steps == 0 || stored <= held_states(steps, k));
    let (gp, gps) =
        chain::to_trainables(&init_fn, params, param_state, dt, &sa.pbar, &utils, &lam)?;
    Ok(Gradient {
        value,
        params: gp,
        param_state: gps,
        stored_states: stored,
    })
}
