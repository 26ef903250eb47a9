//! The vector–Jacobian product of one step for the backward sweep, in two halves: [`Plan::prepare`]
//! runs the dual-number passes at `x_n` (which do not depend on the cotangent) and the voltage
//! solve; [`Plan::finish`] applies the cotangent. For the models [`super::local`] covers, its
//! update partials and forward currents take the passes' place, and its per-compartment
//! pull-back their contraction. The sweep prepares step `n − 1` while it
//! finishes step `n` (two sets of pass buffers), so the serial finishing work overlaps the
//! passes on a second thread.

use super::compress;
use super::local::{LocalPrep, LocalTargets, LocalVjp, Wanted};
use super::passes::{self, Pass, SynInfo, Targets};
use crate::compile::Compiled;
use crate::dynamics::DynamicStateUtils;
use crate::dynamics::step_adjoint::{
    TreeAdjoint, VoltageAdjoint, VoltageStage, implicit_h, implicit_rhs_scale,
    implicit_solve_assembled, implicit_terms, voltage_adjoint,
};
use crate::error::Result;
use crate::externals::ExternalsAt;
use crate::parallel::Parallelism;
use crate::scalar::Dual64;
use crate::solver::{Solver, VoltageSolver, hines};
use crate::state::{AllParams, AllStates};
use crate::step;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

/// Cotangents of the arrays of `all_params` that the step reads, accumulated over the sweep.
pub(crate) struct ParamAdjoint {
    /// Of `all_params.data` (per key and node).
    pub data: Vec<f64>,
    /// Of `inv_cm`.
    pub inv_cm: Vec<f64>,
    /// Of the tree coefficients and axial conductances.
    pub tree: TreeAdjoint,
}

/// What the halves of a step's vector–Jacobian product share: the model, the passes' seeds and
/// order, index maps. Read-only after construction.
pub(crate) struct Plan {
    /// What each pass seeds, and which start after the updates.
    seeds: Vec<passes::PassSeed>,
    compression: compress::Compression,
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
    parallelism: Parallelism,
    syn: SynInfo,
    /// The passes that start before the updates and those that start after them (see
    /// [`compress::Compression`]); the first pass (the voltage's) runs every mechanism.
    before_passes: Vec<usize>,
    after_passes: Vec<usize>,
    /// Indices of the passes that seed pre-synaptic voltages, and of the others.
    pre_passes: Vec<usize>,
    other_passes: Vec<usize>,
    /// Position in `all_states` of every flat-state entry, and the same as runs of consecutive
    /// entries at consecutive positions (see [`passes::Run`]).
    flat_pos: Vec<usize>,
    flat_runs: Vec<passes::Run>,
    /// Whether the area's cotangent from the stimuli is needed.
    area_stimuli: bool,
    /// Nodes whose voltage is clamped.
    v_clamped: Vec<usize>,
    /// The local stages by reverse mode, for the models it covers (see [`super::local`]); then
    /// there are no dual-number passes.
    local: Option<LocalVjp>,
    /// Whether a step's new voltages are those of the next state (backward Euler or
    /// Crank–Nicolson, no voltage clamp, no mechanism that sets the voltage), so that a sweep
    /// that knows the next state skips the forward voltage solve (see [`Plan::end`]).
    v_from_next: bool,
}

/// One step's passes at `x_n` and its forward voltage stage. Shared by the threads of the
/// pipelined sweep, hence the locks (each taken by one thread at a time, uncontended).
pub(crate) struct Prepared {
    /// The dual-number passes of a step (see [`passes`]): per dynamic node key, per parameter
    /// array the step reads and a trainable or `data_set` value changes (`inv_cm` if the
    /// capacitance does), per group of edges for synapse keys, per group of pre-synaptic nodes.
    /// Independent: run in parallel.
    passes: Vec<Mutex<Pass>>,
    /// The diagonal pass (see [`compress::Compression`]).
    diag: Option<Mutex<Pass>>,
    /// The buffers of the local reverse mode, in place of the passes (see [`super::local`]).
    local: Option<Mutex<LocalPrep>>,
    /// What every pass reads: the state and the branchpoint voltages.
    input: RwLock<Input>,
    /// The queue of passes (see [`Plan::run_tasks`]).
    next: AtomicUsize,
    done: AtomicUsize,
    diag_done: AtomicBool,
    /// The forward voltage stage.
    stage: Mutex<Stage>,
}

/// The state `x_n` the passes start from, and the voltages with the branchpoints' computed.
struct Input {
    x: Vec<f64>,
    v_bp: Vec<f64>,
    bp_num: Vec<f64>,
    bp_den: Vec<f64>,
}

/// The forward voltage stage of a step, in f64.
struct Stage {
    s: AllStates<f64>,
    v_old: Vec<f64>,
    v_sol: Vec<f64>,
    lin_v: Vec<f64>,
    cst_v: Vec<f64>,
}

impl Prepared {
    /// Copies the voltages (per node, branchpoints included) of the state the passes started
    /// from into `out`: the new voltages of the step before (see [`Plan::end`]).
    pub(crate) fn copy_voltages(&self, out: &mut [f64]) {
        let input = self.input.read().unwrap_or_else(|e| e.into_inner());
        out.copy_from_slice(&input.v_bp);
    }
}

/// The cotangent side of a step: scratch arrays and the accumulated parameter cotangents.
pub(crate) struct Finish {
    post_sum: Vec<f64>,
    /// Per node: cotangents of the gathered pre-synaptic voltage, and of the voltage after the
    /// mechanism updates.
    vpre_bar: Vec<f64>,
    vbar: Vec<f64>,
    /// Cotangents per dynamic key and node.
    wn: Vec<f64>,
    adj: VoltageAdjoint,
    pub pbar: ParamAdjoint,
}

/// The vector–Jacobian product of one step, `x_n ↦ x_{n+1}` on the flat dynamic state, with the
/// parameter cotangents accumulated. Buffers are allocated once.
pub(crate) struct StepAdjoint {
    pub plan: Plan,
    pub prep: Prepared,
    /// A second set of pass buffers for the pipelined sweep ([`StepAdjoint::pipelined`]).
    pub next: Option<Prepared>,
    pub fin: Finish,
}

/// A lock that ignores poisoning (a panicking thread ends the sweep anyway).
pub(crate) fn lock<T>(p: &Mutex<T>) -> MutexGuard<'_, T> {
    p.lock().unwrap_or_else(|e| e.into_inner())
}

use crate::parallel::spin_briefly_until;

impl StepAdjoint {
    /// The step's adjoint for `touched` parameter keys (those trainables and `data_set` values
    /// change).
    pub(crate) fn new(
        utils: DynamicStateUtils,
        solver: Solver,
        vsolver: VoltageSolver,
        dt: f64,
        params: AllParams<f64>,
        touched: &[String],
        parallelism: Parallelism,
    ) -> Result<StepAdjoint> {
        Self::build(
            utils,
            solver,
            vsolver,
            dt,
            params,
            touched,
            parallelism,
            true,
        )
    }

    /// [`StepAdjoint::new`], with the local reverse mode allowed or not (the dual-number passes
    /// then cover every model; tests compare the two).
    #[allow(clippy::too_many_arguments)]
    fn build(
        utils: DynamicStateUtils,
        solver: Solver,
        vsolver: VoltageSolver,
        dt: f64,
        params: AllParams<f64>,
        touched: &[String],
        parallelism: Parallelism,
        allow_local: bool,
    ) -> Result<StepAdjoint> {
        let c = utils.c.clone();
        let n = c.n_nodes();
        let dl = utils.layout.clone();
        let kv = dl.key("v").expect("v is dynamic");
        // Parameter keys the step reads: mechanism parameters, synapse parameters, and the
        // area (stimuli and synapses).
        let mut read: Vec<usize> = c
            .mechs
            .iter()
            .flat_map(|m| m.param_off.iter().filter_map(|&off| c.params.key_at(off)))
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
                if let Some(k) = c.params.key_at(off).filter(|&k| touched_key(k)) {
                    edge_params.push((k, y));
                }
            }
        }
        edge_params.sort_unstable();
        edge_params.dedup();
        let inv_cm = touched.iter().any(|t| t == "capacitance");
        let syn = SynInfo::new(&c, &utils, kv)?;
        let v_clamped: Vec<usize> = c
            .externals
            .series
            .iter()
            .filter(|s| s.key_id == 0)
            .flat_map(|s| s.nodes.iter().map(|&i| i as usize))
            .collect();
        let v_from_next = matches!(solver, Solver::BwdEuler | Solver::CrankNicolson)
            && v_clamped.is_empty()
            && !c.sets_voltage;
        let params_dual = params.cast::<Dual64>();
        let wanted = Wanted {
            inv_cm,
            params: (0..c.params.len()).map(touched_key).collect(),
        };
        let local = LocalVjp::new(&c, &utils, kv, wanted).filter(|_| allow_local);
        let mut seeds = if local.is_some() {
            Vec::new()
        } else {
            passes::seeds(&c, &utils, &syn, &node_params, &edge_params, inv_cm)
        };
        // The voltage's pass first: it runs every mechanism, so its real parts are the step's.
        seeds.sort_by_key(|s| !matches!(s, passes::PassSeed::NodeState(k, _) if *k == kv));
        let compression = compress::compress(&c, &utils, &seeds);
        let (after_passes, before_passes): (Vec<usize>, Vec<usize>) =
            (0..seeds.len()).partition(|&i| compression.after_update[i].is_some());
        let (pre_passes, other_passes): (Vec<usize>, Vec<usize>) =
            (0..seeds.len()).partition(|&i| matches!(seeds[i], passes::PassSeed::PreSlots { .. }));
        let nk = dl.keys.len();
        let flat_pos = passes::flat_positions(&utils);
        let plan = Plan {
            seeds,
            compression,
            utils,
            c,
            solver,
            vsolver,
            dt,
            params,
            params_dual,
            kv,
            parallelism,
            syn,
            before_passes,
            after_passes,
            pre_passes,
            other_passes,
            flat_runs: passes::runs(flat_pos.iter().copied()),
            flat_pos,
            area_stimuli,
            v_clamped,
            local,
            v_from_next,
        };
        let c = &plan.c;
        let fin = Finish {
            post_sum: vec![0.0; n],
            vpre_bar: vec![0.0; n],
            vbar: vec![0.0; n],
            wn: vec![0.0; nk * n],
            adj: VoltageAdjoint::new(c),
            pbar: plan.param_adjoint(),
        };
        Ok(StepAdjoint {
            prep: plan.prepared(),
            plan,
            next: None,
            fin,
        })
    }

    /// `out = (∂x_{n+1}/∂x_n)ᵀ w` at `x` (= x_n), and the parameter cotangents `(∂x_{n+1}/∂p)ᵀ w`
    /// added to `self.fin.pbar`.
    pub(crate) fn vjp(
        &mut self,
        x: &[f64],
        ext: ExternalsAt<'_, f64>,
        w: &[f64],
        out: &mut [f64],
    ) -> Result<()> {
        self.plan.prepare(&self.prep, x, ext, None)?;
        self.plan.finish(&self.prep, &mut self.fin, ext, w, out)
    }
}

impl Plan {
    /// A set of pass buffers.
    pub(crate) fn prepared(&self) -> Prepared {
        let (c, utils) = (&*self.c, &self.utils);
        let n = c.n_nodes();
        let passes = self
            .seeds
            .iter()
            .zip(&self.compression.after_update)
            .enumerate()
            .map(|(i, (seed, au))| {
                let pass = Pass::new(c, utils, seed.clone(), &self.params_dual, i == 0);
                let mut pass = match au {
                    Some(au) => pass.after_update(au.clone(), c),
                    None => pass,
                };
                pass.limit_to_live(c, utils, &self.syn, &self.flat_pos);
                Mutex::new(pass)
            })
            .collect();
        let diag = self.compression.diagonal.as_ref().map(|(idx, updates)| {
            let mut pass =
                Pass::diagonal(c, utils, idx.clone(), updates.clone(), &self.params_dual);
            pass.limit_to_live(c, utils, &self.syn, &self.flat_pos);
            Mutex::new(pass)
        });
        Prepared {
            passes,
            diag,
            local: self.local.as_ref().map(|l| Mutex::new(l.prep(c))),
            input: RwLock::new(Input {
                x: vec![0.0; self.utils.len()],
                v_bp: vec![0.0; n],
                bp_num: vec![0.0; n],
                bp_den: vec![0.0; n],
            }),
            next: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
            diag_done: AtomicBool::new(false),
            stage: Mutex::new(Stage {
                s: AllStates::from_data(c, vec![f64::NAN; c.states.total_len()]),
                v_old: vec![0.0; n],
                v_sol: vec![0.0; n],
                lin_v: vec![0.0; n],
                cst_v: vec![0.0; n],
            }),
        }
    }

    /// The first half of the step's vector–Jacobian product at `x` (= x_n): the dual-number
    /// passes through the local stages (see [`passes`]), in parallel, each with its own buffers,
    /// and the forward voltage solve. The first pass's real parts are the f64 step's: the
    /// voltage terms and the voltage after the mechanism updates, which the solve reads.
    /// `v_next`: the voltages of the step's result, if known (see [`Plan::end`]).
    pub(crate) fn prepare(
        &self,
        pr: &Prepared,
        x: &[f64],
        ext: ExternalsAt<'_, f64>,
        v_next: Option<&[f64]>,
    ) -> Result<()> {
        self.begin(pr, x);
        let workers = self.parallelism.threads().min(self.n_tasks(pr));
        self.parallelism
            .for_each(workers, |_| self.run_tasks(pr, ext));
        self.end(pr, v_next)
    }

    /// The model's node count.
    pub(crate) fn n_nodes(&self) -> usize {
        self.c.n_nodes()
    }

    /// How many threads the sweep may use.
    pub(crate) fn threads(&self) -> usize {
        self.parallelism.threads()
    }

    /// How many passes (tasks) a step has.
    pub(crate) fn n_tasks(&self, pr: &Prepared) -> usize {
        pr.passes.len() + usize::from(pr.diag.is_some()) + usize::from(pr.local.is_some())
    }

    /// Starts preparing at `x`: takes the state, computes the branchpoint voltages (read by
    /// nothing that reaches a compartment, but kept finite and as the plain step has them) and
    /// opens the queue of passes.
    pub(crate) fn begin(&self, pr: &Prepared, x: &[f64]) {
        let mut input = pr.input.write().unwrap_or_else(|e| e.into_inner());
        let Input {
            x: xs,
            v_bp,
            bp_num,
            bp_den,
        } = &mut *input;
        xs.copy_from_slice(x);
        self.voltages(x, v_bp, bp_num, bp_den);
        pr.next.store(0, Ordering::Relaxed);
        pr.done.store(0, Ordering::Relaxed);
        pr.diag_done.store(false, Ordering::Relaxed);
    }

    /// The voltages per node of the flat state `x`, the branchpoints' computed from the
    /// compartments (`num`, `den`: scratch).
    pub(crate) fn voltages(&self, x: &[f64], v_bp: &mut [f64], num: &mut [f64], den: &mut [f64]) {
        let dl = &self.utils.layout;
        dl.scatter_key(self.kv, &x[dl.range(self.kv)], v_bp);
        crate::solver::explicit::branchpoint_voltages(&self.c, &self.params.axial, v_bp, num, den);
    }

    /// Whether the sweep can be split by nodes over threads (see [`super::split`]): the local
    /// reverse mode covers the model, and a step's new voltages are those of the next state.
    pub(crate) fn splittable(&self) -> bool {
        self.local.is_some() && self.v_from_next
    }

    /// The local reverse mode at the nodes `range` (see [`super::split`]).
    pub(crate) fn local_part(&self, range: std::ops::Range<usize>) -> Option<LocalVjp> {
        let wanted = self.local.as_ref()?.wanted().clone();
        LocalVjp::for_nodes(&self.c, &self.utils, self.kv, wanted, range)
    }

    /// The model.
    pub(crate) fn compiled(&self) -> &Compiled {
        &self.c
    }

    /// The flat state's layout.
    pub(crate) fn utils(&self) -> &DynamicStateUtils {
        &self.utils
    }

    /// Before the cotangent is known, at the flat state `x`: the local reverse mode's forward
    /// run at the nodes of `part` into `lp` (`v_bp`, `num`, `den`: scratch; `v_bp` receives
    /// the voltages per node).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn prepare_part(
        &self,
        part: &LocalVjp,
        lp: &mut LocalPrep,
        x: &[f64],
        ext: ExternalsAt<'_, f64>,
        v_bp: &[f64],
    ) {
        part.prepare(&self.c, lp, x, v_bp, &self.params, ext, self.dt);
    }

    /// Zero cotangents of the arrays of `all_params` the step reads.
    pub(crate) fn param_adjoint(&self) -> ParamAdjoint {
        ParamAdjoint {
            data: vec![0.0; self.params.data.len()],
            inv_cm: vec![0.0; self.c.n_nodes()],
            tree: TreeAdjoint::new(&self.c),
        }
    }

    /// The flat state's key `v`.
    pub(crate) fn kv(&self) -> usize {
        self.kv
    }

    /// The axial conductances per edge.
    pub(crate) fn axial(&self) -> &[f64] {
        &self.params.axial
    }

    /// The flat state's voltages (`v`'s entries) in `x`.
    pub(crate) fn flat_voltages<'a>(&self, x: &'a [f64]) -> &'a [f64] {
        &x[self.utils.layout.range(self.kv)]
    }

    /// The diagonals of the transposed voltage solve's rows of the nodes `nodes` of a split
    /// step, from the slopes `lin` per node, at their elimination positions in `d` (see
    /// [`super::split`]).
    ///
    /// # Safety
    /// As [`crate::solver::hines::assemble_transpose_diagonal`].
    pub(crate) unsafe fn transpose_diagonal(
        &self,
        lin: &[f64],
        nodes: std::ops::Range<usize>,
        d: *mut f64,
    ) {
        let h = implicit_h(self.solver, self.dt);
        // SAFETY: the caller's guarantee.
        unsafe { hines::assemble_transpose_diagonal(&self.c, &self.params, lin, h, nodes, d) }
    }

    /// The factor of the transposed voltage solve's right-hand side over the voltages'
    /// cotangents (see [`implicit_rhs_scale`]).
    pub(crate) fn rhs_scale(&self) -> f64 {
        implicit_rhs_scale(self.solver)
    }

    /// The transposed voltage solve of a split step (see [`super::split`]), its rows at their
    /// elimination positions in `d` and `r` (consumed): λ into `adj` (see
    /// [`crate::dynamics::step_adjoint::implicit_solve_assembled`]).
    pub(crate) fn solve_split(&self, d: &mut [f64], r: &mut [f64], adj: &mut VoltageAdjoint) {
        debug_assert!(self.splittable());
        // (The solve reads the coefficients only.)
        implicit_solve_assembled(&self.stage(&[], &[], &[]), d, r, adj);
    }

    /// The rest of the voltage stage's adjoint of a split step at the nodes `nodes` (into
    /// `out` and `tree`), from λ per node of the solve (see [`Plan::solve_split`]): `v_new`,
    /// `v_old`, the voltages per node after and before the step, and `wn`, the voltages'
    /// output cotangents per node, needed at `nodes` and at `parents` (the nodes and their
    /// parents, ascending); `v_sol` scratch.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn terms_split(
        &self,
        lambda: &[f64],
        v_new: &[f64],
        v_old: &[f64],
        v_sol: &mut [f64],
        wn: &[f64],
        nodes: std::ops::Range<usize>,
        parents: &[u32],
        out: &mut VoltageAdjoint,
        tree: &mut TreeAdjoint,
    ) {
        // The voltages the solve saw: the new ones (backward Euler), or the midpoint
        // (Crank–Nicolson), as [`Plan::end`] has them.
        let vs = match self.solver {
            Solver::CrankNicolson => {
                for &i in parents {
                    let i = i as usize;
                    v_sol[i] = 0.5 * (v_new[i] + v_old[i]);
                }
                &*v_sol
            }
            _ => v_new,
        };
        // (`lin` and `v_old` are the solve's only.)
        let stage = self.stage(vs, vs, vs);
        let out = (&mut out.lin[..], &mut out.cst[..], &mut out.v[..]);
        implicit_terms(&stage, wn, lambda, nodes, out, Some(tree));
    }

    /// The voltage stage with these arrays (`cst` is read by forward Euler only, which does
    /// not split).
    fn stage<'a>(&'a self, lin: &'a [f64], v_sol: &'a [f64], v_old: &'a [f64]) -> VoltageStage<'a> {
        VoltageStage {
            c: &self.c,
            solver: self.solver,
            dt: self.dt,
            params: &self.params,
            lin,
            cst: lin,
            v_sol,
            v_old,
        }
    }

    /// The finishing half at the nodes of `part` (see [`super::split`]), with the voltage
    /// stage's cotangents `adj`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn finish_part(
        &self,
        part: &LocalVjp,
        lp: &mut LocalPrep,
        adj: &VoltageAdjoint,
        ext: ExternalsAt<'_, f64>,
        w: &[f64],
        t: &mut LocalTargets<'_>,
    ) {
        if self.area_stimuli {
            self.area_from_stimuli(adj, ext, t.data, part.nodes());
        }
        part.finish(&self.c, &self.utils, lp, &self.params, adj, w, t);
    }

    /// Adds the area's cotangent from the stimuli at the nodes `range`: `cst_v ∋ I / area · 1e5
    /// · inv_cm` at every stimulated node.
    fn area_from_stimuli(
        &self,
        adj: &VoltageAdjoint,
        ext: ExternalsAt<'_, f64>,
        data: &mut [f64],
        range: std::ops::Range<usize>,
    ) {
        let area_off = self.c.params.offset(self.c.area_key);
        for series in ext.ext.series.iter().filter(|s| s.key_id == usize::MAX) {
            for (&node, &i_amp) in series.nodes.iter().zip(series.at(ext.t)) {
                let node = node as usize;
                if range.contains(&node) {
                    let area = self.params.data[area_off + node];
                    data[area_off + node] -=
                        adj.cst[node] * i_amp * 1e5 / (area * area) * self.params.inv_cm[node];
                }
            }
        }
    }

    /// Runs passes from the queue until none is left; any number of threads may call it at
    /// once (after [`Plan::begin`], made visible to them). The queue holds the diagonal pass
    /// first, then the passes that start before the updates, then those that start after them,
    /// which wait for the diagonal pass (already running on another thread, or finished, since
    /// it was taken first).
    pub(crate) fn run_tasks(&self, pr: &Prepared, ext: ExternalsAt<'_, f64>) {
        let input = pr.input.read().unwrap_or_else(|e| e.into_inner());
        if let (Some(local), Some(lp)) = (&self.local, &pr.local) {
            // One task: the forward run of the local stages and the update partials.
            if pr.next.fetch_add(1, Ordering::Relaxed) == 0 {
                let mut lp = lock(lp);
                local.prepare(
                    &self.c,
                    &mut lp,
                    &input.x,
                    &input.v_bp,
                    &self.params,
                    ext,
                    self.dt,
                );
                pr.done.fetch_add(1, Ordering::AcqRel);
            }
            return;
        }
        let (before, after) = (&self.before_passes, &self.after_passes);
        let diag = pr.diag.as_ref();
        let d = usize::from(diag.is_some());
        let n_tasks = d + before.len() + after.len();
        loop {
            let t = pr.next.fetch_add(1, Ordering::Relaxed);
            if t >= n_tasks {
                break;
            }
            if t < d {
                self.run_pass(
                    &mut lock(diag.expect("the diagonal pass")),
                    &input,
                    None,
                    ext,
                );
                pr.diag_done.store(true, Ordering::Release);
            } else if t < d + before.len() {
                self.run_pass(&mut lock(&pr.passes[before[t - d]]), &input, None, ext);
            } else {
                spin_briefly_until(|| pr.diag_done.load(Ordering::Acquire));
                let pass = &pr.passes[after[t - d - before.len()]];
                self.run_pass(&mut lock(pass), &input, diag, ext);
            }
            pr.done.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// One pass at the state of `input`.
    fn run_pass(
        &self,
        pass: &mut Pass,
        input: &Input,
        diag: Option<&Mutex<Pass>>,
        ext: ExternalsAt<'_, f64>,
    ) {
        let c = &*self.c;
        let (x, flat_pos) = (&input.x[..], &self.flat_pos[..]);
        // The state at x, with the pass's seed (as `DynamicStateUtils::scatter`).
        let data = &mut pass.states.data;
        for r in pass.copy_runs.as_ref().unwrap_or(&self.flat_runs) {
            let src = &x[r.src..r.src + r.len];
            for (d, &xj) in data[r.dst..r.dst + r.len].iter_mut().zip(src) {
                *d = Dual64::new(xj, 0.0);
            }
        }
        match (&pass.after_update, diag) {
            (Some(au), Some(diag)) => {
                // The mechanism's updated states, and for a state seed ∂x'/∂x.
                let diag = lock(diag);
                let diag = &diag.states.data;
                for r in &au.copy {
                    for (d, s) in data[r.clone()].iter_mut().zip(&diag[r.clone()]) {
                        *d = Dual64::from(s.re);
                    }
                }
                if au.state_seed {
                    for &j in &pass.seed_idx {
                        data[flat_pos[j]].eps = diag[flat_pos[j]].eps;
                    }
                }
            }
            _ => {
                for &j in &pass.seed_idx {
                    data[flat_pos[j]].eps = 1.0;
                }
            }
        }
        for &b in &c.bp_nodes {
            data[b as usize] = Dual64::from(input.v_bp[b as usize]);
        }
        let mut ws = step::take_workspace(c, &mut pass.states);
        let params = pass.params.as_ref().unwrap_or(&self.params_dual);
        step::pre_solve(c, &mut pass.states, params, ext, self.dt, &mut ws);
        pass.states.ws = ws;
        if !matches!(pass.seed, passes::PassSeed::Diagonal) {
            pass.extract(&self.utils, &self.syn); // the diagonal pass is never contracted
        }
    }

    /// Whether every pass of the step has run.
    pub(crate) fn tasks_done(&self, pr: &Prepared) -> bool {
        pr.done.load(Ordering::Acquire) >= self.n_tasks(pr)
    }

    /// Ends preparing, once every pass has run: the forward voltage solve. `v_next`: the
    /// voltages (per node, branchpoints included) of the state this step leads to, as
    /// [`Prepared::copy_voltages`] gives them for the next step; where the step's new voltages
    /// are exactly those (see [`Plan::v_from_next`]), the solve is skipped. At branchpoints they
    /// are recomputed from the compartments, which equals the solve's value up to rounding.
    pub(crate) fn end(&self, pr: &Prepared, v_next: Option<&[f64]>) -> Result<()> {
        let c = &*self.c;
        let n = c.n_nodes();
        let mut stage = lock(&pr.stage);
        let st = &mut *stage;
        // The new voltages, where they need no solve.
        let v_next = v_next.filter(|_| self.v_from_next);
        // The local reverse mode's finish reads the forward arrays from its own buffers: copies
        // only for the solve.
        let lp = pr.local.as_ref().map(lock);
        if let Some(lp) = &lp {
            if v_next.is_none() {
                st.v_old.copy_from_slice(&lp.s.data[..n]);
                st.lin_v.copy_from_slice(&lp.s.ws.lin[..n]);
                st.cst_v.copy_from_slice(&lp.s.ws.cst[..n]);
            }
        } else {
            let first = lock(&pr.passes[0]);
            let (data, ws) = (&first.states.data, &first.states.ws);
            for i in 0..n {
                st.v_old[i] = data[i].re;
                st.lin_v[i] = ws.lin[i].re;
                st.cst_v[i] = ws.cst[i].re;
            }
        }
        let v_new: &[f64] = match v_next {
            Some(v_new) => v_new,
            None => {
                // The voltage solve in f64.
                let mut ws = step::take_workspace(c, &mut st.s);
                st.s.data[..n].copy_from_slice(&st.v_old);
                ws.lin[..n].copy_from_slice(&st.lin_v);
                ws.cst[..n].copy_from_slice(&st.cst_v);
                let solved = step::solve_voltage(
                    c,
                    self.solver,
                    self.vsolver,
                    &mut st.s,
                    &self.params,
                    self.dt,
                    &mut ws,
                );
                st.s.ws = ws;
                solved?;
                &st.s.data[..n]
            }
        };
        let cn = self.solver == Solver::CrankNicolson;
        let v_old = match &lp {
            Some(lp) => &lp.s.data[..n],
            None => &st.v_old[..],
        };
        for i in 0..n {
            st.v_sol[i] = if cn {
                0.5 * (v_new[i] + v_old[i])
            } else {
                v_new[i]
            };
        }
        Ok(())
    }

    /// The second half: `out = (∂x_{n+1}/∂x_n)ᵀ w` from the passes `pr` prepared, and the
    /// parameter cotangents `(∂x_{n+1}/∂p)ᵀ w` added to `fin.pbar`.
    pub(crate) fn finish(
        &self,
        pr: &Prepared,
        fin: &mut Finish,
        ext: ExternalsAt<'_, f64>,
        w: &[f64],
        out: &mut [f64],
    ) -> Result<()> {
        let c = &*self.c;
        let dl = &self.utils.layout;
        let n = c.n_nodes();
        let stage = lock(&pr.stage);
        // Cotangents per key and node.
        let nk = dl.keys.len();
        // (The local reverse mode reads the other keys' cotangents from `w`.)
        let per_node =
            |k: usize| self.syn.key_type[k].is_none() && (self.local.is_none() || k == self.kv);
        for k in (0..nk).filter(|&k| per_node(k)) {
            dl.scatter_key(k, &w[dl.range(k)], &mut fin.wn[k * n..(k + 1) * n]);
        }
        let kv = self.kv;
        for &i in &self.v_clamped {
            fin.wn[kv * n + i] = 0.0; // a clamped voltage depends on nothing
        }
        // The local reverse mode's forward arrays are in its buffers (see `end`).
        let mut lp = pr.local.as_ref().map(lock);
        let (lin, cst, v_old) = match &lp {
            Some(lp) => (&lp.s.ws.lin[..n], &lp.s.ws.cst[..n], &lp.s.data[..n]),
            None => (&stage.lin_v[..], &stage.cst_v[..], &stage.v_old[..]),
        };
        let stage = VoltageStage {
            c,
            solver: self.solver,
            dt: self.dt,
            params: &self.params,
            lin,
            cst,
            v_sol: &stage.v_sol,
            v_old,
        };
        voltage_adjoint(
            &stage,
            &fin.wn[kv * n..(kv + 1) * n],
            &mut fin.adj,
            Some(&mut fin.pbar.tree),
        )?;
        if self.area_stimuli {
            self.area_from_stimuli(&fin.adj, ext, &mut fin.pbar.data, 0..n);
        }
        if let (Some(local), Some(lp)) = (&self.local, lp.as_mut()) {
            local.finish(
                c,
                &self.utils,
                lp,
                &self.params,
                &fin.adj,
                w,
                &mut LocalTargets {
                    out,
                    data: &mut fin.pbar.data,
                    inv_cm: &mut fin.pbar.inv_cm,
                },
            );
            return Ok(());
        }
        // Contraction with the output cotangents, combined in a fixed order. The pre-synaptic
        // voltages' passes come first: their cotangents join that of the voltage after the
        // mechanism updates, which the other passes contract with.
        fin.vpre_bar.fill(0.0);
        fin.vbar.fill(0.0);
        for phase in 0..2 {
            let ids = if phase == 0 {
                &self.pre_passes
            } else {
                &self.other_passes
            };
            let mut targets = Targets {
                out: &mut *out,
                data: &mut fin.pbar.data,
                inv_cm: &mut fin.pbar.inv_cm,
                post_sum: &mut fin.post_sum,
                vpre_bar: &mut fin.vpre_bar,
            };
            for &pi in ids {
                let mut pass = lock(&pr.passes[pi]);
                pass.contract(&self.utils, &self.syn, kv, &fin.adj, &fin.wn, w, &fin.vbar);
                passes::combine(&pass, &self.utils, &self.syn, &mut targets);
            }
            if phase == 0 {
                for ((vb, a), p) in fin.vbar.iter_mut().zip(&fin.adj.v).zip(&fin.vpre_bar) {
                    *vb = a + p;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::*;

    /// The local reverse mode gives the dual-number passes' step adjoint: the flat cotangent and
    /// the parameter cotangents, on a cell with HH on some branches (a node list), Na and K
    /// (whose updates read the shared `vt`) on others and a leak on all, a stimulus, and the
    /// capacitance and channel parameters touched; for every solver.
    #[test]
    fn local_reverse_mode_equals_the_dual_number_passes() -> Result<()> {
        let mut cell = Cell::new(&Branch::new(&Compartment::new(), 3)?, &[-1, 0, 0, 1, 1])?;
        cell.insert(Leak)?;
        cell.branch(0)?.insert(HH)?;
        cell.branch(3)?.insert(HH)?;
        cell.branch(4)?.comp(1)?.insert(HH)?;
        cell.branch(1)?.insert(Na)?.insert(K)?;
        cell.branch(2)?.comp(2)?.insert(Na)?.insert(K)?;
        cell.branch(0)?
            .comp(0)?
            .stimulate(&step_current(0.0, 1.0, 0.4, 0.025, 1.0, 0.0));
        cell.branch(2)?.set("capacitance", 1.7)?;
        let touched: Vec<String> = [
            "HH_gNa",
            "HH_eK",
            "HH_gLeak",
            "Leak_gLeak",
            "Leak_eLeak",
            "vt",
            "Na_gNa",
            "eK",
            "capacitance",
        ]
        .map(String::from)
        .to_vec();
        for solver in [Solver::BwdEuler, Solver::CrankNicolson, Solver::FwdEuler] {
            let (init_fn, step_fn) = build_init_and_step_fn(&cell, VoltageSolver::Hines, solver)?;
            let utils = DynamicStateUtils::for_step_fn(&step_fn);
            let c = utils.c.clone();
            let dt = 0.025;
            let (mut s, p) = init_fn.init::<f64>(&[], None, None, dt)?;
            let (_, ext) =
                crate::integrate::plan_steps(&c.externals, &IntegrateOptions::t_max(1.0))?;
            for t in 0..10 {
                step_fn.step(&mut s, &p, ext.at(t), dt)?;
            }
            let x = utils.remove_observables(&s)?.data;
            let w: Vec<f64> = (0..x.len())
                .map(|j| ((j * 7919 % 101) as f64 - 50.0) / 37.0)
                .collect();
            let run = |allow_local: bool| -> Result<(Vec<f64>, ParamAdjoint)> {
                let mut sa = StepAdjoint::build(
                    utils.clone(),
                    solver,
                    VoltageSolver::Hines,
                    dt,
                    p.clone(),
                    &touched,
                    Parallelism::Serial,
                    allow_local,
                )?;
                assert_eq!(sa.plan.local.is_some(), allow_local);
                let mut out = vec![f64::NAN; x.len()];
                sa.vjp(&x, ext.at(10), &w, &mut out)?;
                Ok((out, sa.fin.pbar))
            };
            let (out_l, pb_l) = run(true)?;
            let (out_p, pb_p) = run(false)?;
            let close = |a: &[f64], b: &[f64], what: &str| {
                let scale = b.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
                assert!(scale > 0.0, "{what}: all zero");
                for (j, (x, y)) in a.iter().zip(b).enumerate() {
                    assert!(
                        (x - y).abs() <= 1e-12 * scale,
                        "{solver:?} {what}[{j}]: {x} vs {y}"
                    );
                }
            };
            close(&out_l, &out_p, "state cotangent");
            for key in &touched[..touched.len() - 1] {
                let r = c.params.range(c.params.position(key).expect("a parameter"));
                close(&pb_l.data[r.clone()], &pb_p.data[r], key);
            }
            close(&pb_l.inv_cm, &pb_p.inv_cm, "inv_cm");
        }
        Ok(())
    }
}
