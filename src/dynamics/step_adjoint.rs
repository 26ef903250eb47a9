//! The pieces of one step's vector–Jacobian product that [`super::Linearization::vjp`] and the
//! whole-simulation adjoint ([`crate::grad`]) share: the adjoint of the voltage stage (with the
//! cotangents of the tree coefficients), and one dual-number pass through the local stages.

use super::DynamicStateUtils;
use crate::compile::{Compiled, EdgeKind};
use crate::error::{Error, Result};
use crate::externals::ExternalsAt;
use crate::scalar::Dual64;
use crate::solver::{Solver, hines};
use crate::state::{AllParams, AllStates};
use crate::step;
use nalgebra::DVector;

/// Cotangents of the inputs of the voltage stage, per node.
pub(crate) struct VoltageAdjoint {
    /// Of the voltages at the start of the step.
    pub v: Vec<f64>,
    /// Of the slope of the linearised currents (divided by Cm).
    pub lin: Vec<f64>,
    /// Of the constant term (divided by Cm).
    pub cst: Vec<f64>,
    /// Scratch: λ of the transposed solve, and the elimination arrays.
    lambda: Vec<f64>,
    d: Vec<f64>,
    r: Vec<f64>,
    /// Forward Euler: the compartments around each branchpoint.
    around: BpAround,
}

impl VoltageAdjoint {
    /// λ of the transposed solve per node (see [`implicit_solve`]).
    pub(crate) fn lambda(&self) -> &[f64] {
        &self.lambda
    }

    pub(crate) fn new(c: &Compiled) -> Self {
        let n = c.n_nodes();
        let z = || vec![0.0; n];
        VoltageAdjoint {
            v: z(),
            lin: z(),
            cst: z(),
            lambda: z(),
            d: z(),
            r: z(),
            around: BpAround::new(c),
        }
    }
}

/// Per branchpoint, the compartments joined to it (edges compartment → branchpoint, whose
/// conductances weight the branchpoint's voltage), in compressed rows; with scratch arrays, so
/// that the forward-Euler adjoint allocates nothing per step.
struct BpAround {
    /// Rows: node `bp` owns `edges[start[bp]..start[bp + 1]]`.
    start: Vec<usize>,
    /// (compartment, edge index).
    edges: Vec<(usize, usize)>,
    /// Per node: the summed conductance into it from its row, and a cotangent.
    wsum: Vec<f64>,
    bar_bp: Vec<f64>,
}

impl BpAround {
    fn new(c: &Compiled) -> Self {
        let n = c.n_nodes();
        let into_bp = |kind: EdgeKind| matches!(kind, EdgeKind::ParentToBp | EdgeKind::ChildToBp);
        let mut start = vec![0usize; n + 1];
        for e in c.graph.edges.iter().filter(|e| into_bp(e.kind)) {
            start[e.sink + 1] += 1;
        }
        for i in 0..n {
            start[i + 1] += start[i];
        }
        let mut next = start.clone();
        let mut edges = vec![(0, 0); start[n]];
        for (ei, e) in c.graph.edges.iter().enumerate() {
            if into_bp(e.kind) {
                edges[next[e.sink]] = (e.source, ei);
                next[e.sink] += 1;
            }
        }
        BpAround {
            start,
            edges,
            wsum: vec![0.0; n],
            bar_bp: vec![0.0; n],
        }
    }
}

/// Cotangents of the arrays of `all_params` that the voltage stage reads (accumulated).
#[derive(Clone)]
pub(crate) struct TreeAdjoint {
    /// Per node, of `h_lower`, `h_upper`, `h_gsum` at the node's Hines position (accumulated in
    /// node order, so that the sweep reads λ and the voltages without going through the
    /// positions; [`TreeAdjoint::at_positions`] gives them in `all_params`' order).
    pub h_lower: Vec<f64>,
    pub h_upper: Vec<f64>,
    pub h_gsum: Vec<f64>,
    /// Per graph edge, of `axial` (forward Euler reads it directly).
    pub axial: Vec<f64>,
}

impl TreeAdjoint {
    pub(crate) fn new(c: &Compiled) -> Self {
        let n = c.n_nodes();
        TreeAdjoint {
            h_lower: vec![0.0; n],
            h_upper: vec![0.0; n],
            h_gsum: vec![0.0; n],
            axial: vec![0.0; c.graph.edges.len()],
        }
    }

    /// `h_lower`, `h_upper` and `h_gsum` per Hines position, as `all_params` has them.
    pub(crate) fn at_positions(&self, c: &Compiled) -> [Vec<f64>; 3] {
        let ord = &c.hines.order;
        [&self.h_lower, &self.h_upper, &self.h_gsum]
            .map(|a| ord.iter().map(|&i| a[i as usize]).collect())
    }
}

/// What the forward voltage stage of one step saw.
pub(crate) struct VoltageStage<'a> {
    pub c: &'a Compiled,
    pub solver: Solver,
    pub dt: f64,
    pub params: &'a AllParams<f64>,
    /// Slope of the linearised currents (divided by Cm), per node.
    pub lin: &'a [f64],
    /// Constant term (divided by Cm), per node.
    pub cst: &'a [f64],
    /// Voltages entering the bilinear term of the solve (v_new for backward Euler, v_half for
    /// Crank–Nicolson), per node.
    pub v_sol: &'a [f64],
    /// Voltages at the start of the step, per node (branchpoints included).
    pub v_old: &'a [f64],
}

/// `Gᵀ w` for the conductance matrix `G` of the compartments with branchpoints eliminated (the
/// operator forward Euler applies), without forming `G`; with `tree`, also adds the cotangents of
/// the axial conductances for the output cotangent `w · dt` at voltages `v`.
fn conductance_transpose_times(
    c: &Compiled,
    axial: &[f64],
    w: &[f64],
    out: &mut [f64],
    around: &mut BpAround,
    tree: Option<(&mut TreeAdjoint, &[f64], f64)>,
) {
    let n = c.n_nodes();
    out[..n].fill(0.0);
    let BpAround {
        start,
        edges,
        wsum,
        bar_bp,
    } = around;
    let row = |bp: usize| &edges[start[bp]..start[bp + 1]];
    for (bp, ws) in wsum.iter_mut().enumerate() {
        *ws = row(bp).iter().map(|&(_, ei)| axial[ei]).sum();
    }
    let wsum = &*wsum;
    // G[i][i] −= g, G[i][j] += g for compartment edges; G[i][j] += g w_j / Σw around branchpoints.
    for (e, &g) in c.graph.edges.iter().zip(axial) {
        match e.kind {
            EdgeKind::CompToComp => {
                out[e.sink] -= g * w[e.sink];
                out[e.source] += g * w[e.sink];
            }
            EdgeKind::BpToParent | EdgeKind::BpToChild => {
                out[e.sink] -= g * w[e.sink];
                for &(j, ej) in row(e.source) {
                    out[j] += g * (axial[ej] / wsum[e.source]) * w[e.sink];
                }
            }
            _ => {}
        }
    }
    if let Some((tree, v, dt)) = tree {
        let v_bp =
            |bp: usize| row(bp).iter().map(|&(j, ej)| axial[ej] * v[j]).sum::<f64>() / wsum[bp];
        // Cotangent of every branchpoint voltage.
        bar_bp.fill(0.0);
        for (ei, (e, &g)) in c.graph.edges.iter().zip(axial).enumerate() {
            match e.kind {
                EdgeKind::CompToComp => {
                    tree.axial[ei] += dt * w[e.sink] * (v[e.source] - v[e.sink]);
                }
                EdgeKind::BpToParent | EdgeKind::BpToChild => {
                    tree.axial[ei] += dt * w[e.sink] * (v_bp(e.source) - v[e.sink]);
                    bar_bp[e.source] += dt * w[e.sink] * g;
                }
                _ => {}
            }
        }
        for bp in 0..n {
            if row(bp).is_empty() || bar_bp[bp] == 0.0 {
                continue;
            }
            let vb = v_bp(bp);
            for &(j, ei) in row(bp) {
                tree.axial[ei] += bar_bp[bp] * (v[j] - vb) / wsum[bp];
            }
        }
    }
}

/// Cotangents of `v_old`, `lin` and `cst` given the cotangent `w` of the new voltage (per node;
/// zero where the voltage is clamped). With `tree`, adds the cotangents of the tree
/// coefficients (backward Euler, Crank–Nicolson) or of the axial conductances (forward Euler).
pub(crate) fn voltage_adjoint(
    st: &VoltageStage<'_>,
    w: &[f64],
    adj: &mut VoltageAdjoint,
    tree: Option<&mut TreeAdjoint>,
) -> Result<()> {
    let c = st.c;
    let n = c.n_nodes();
    let dt = st.dt;
    match st.solver {
        Solver::BwdEuler | Solver::CrankNicolson => {
            implicit_solve(st, w, adj);
            let VoltageAdjoint {
                lambda,
                lin,
                cst,
                v,
                ..
            } = adj;
            implicit_terms(st, w, lambda, 0..n, (lin, cst, v), tree);
        }
        Solver::FwdEuler => {
            // v_new = v + dt (cst − lin v + G v) on the compartments.
            let tree = tree.map(|t| (t, st.v_old, dt));
            conductance_transpose_times(
                c,
                &st.params.axial,
                w,
                &mut adj.lambda,
                &mut adj.around,
                tree,
            );
            let gtw = &adj.lambda;
            for i in 0..n {
                adj.v[i] = w[i] + dt * (gtw[i] - st.lin[i] * w[i]);
                adj.lin[i] = -dt * w[i] * st.v_old[i];
                adj.cst[i] = dt * w[i];
            }
        }
        Solver::ExpEuler => {
            if tree.is_some() {
                return Err(Error::Unsupported(
                    "gradients of whole simulations with exponential Euler".into(),
                ));
            }
            // v' = exponential Euler of the channels per compartment, v_new = M v'.
            let (_, m) = st.params.exp_euler.as_ref().ok_or_else(|| {
                Error::Unsupported("exponential Euler needs its transition matrix".into())
            })?;
            let comps = &c.comp_nodes;
            let wc = DVector::from_iterator(comps.len(), comps.iter().map(|&i| w[i as usize]));
            let u = m.transpose() * wc;
            adj.v.fill(0.0);
            adj.lin.fill(0.0);
            adj.cst.fill(0.0);
            for (k, &node) in comps.iter().enumerate() {
                let i = node as usize;
                // Derivatives of the local update by dual numbers, one seed at a time.
                let local = |v: Dual64, l: Dual64, cst: Dual64| {
                    let h = Dual64::from(dt);
                    if l.re == 0.0 {
                        v + cst * h
                    } else {
                        crate::math::exponential_euler(v, h, cst / l, Dual64::from(1.0) / l)
                    }
                };
                let (v0, l0, c0) = (st.v_old[i], st.lin[i], st.cst[i]);
                let d = |a: [f64; 3]| {
                    local(
                        Dual64::new(v0, a[0]),
                        Dual64::new(l0, a[1]),
                        Dual64::new(c0, a[2]),
                    )
                    .eps
                };
                adj.v[i] = u[k] * d([1.0, 0.0, 0.0]);
                adj.lin[i] = u[k] * d([0.0, 1.0, 0.0]);
                adj.cst[i] = u[k] * d([0.0, 0.0, 1.0]);
            }
        }
    }
    Ok(())
}

/// The transposed solve of an implicit step with step `h`: λ per node into `adj.lambda`, and
/// per elimination position into `adj.r`.
#[inline(always)]
fn implicit_lambda(st: &VoltageStage<'_>, w: &[f64], adj: &mut VoltageAdjoint, h: f64, cn: bool) {
    for (l, x) in adj.lambda.iter_mut().zip(w) {
        *l = if cn { 2.0 * x } else { *x };
    }
    hines::solve_transpose(
        st.c,
        st.params,
        st.lin,
        h,
        &mut adj.lambda,
        &mut adj.d,
        &mut adj.r,
    );
}

/// The first half of [`voltage_adjoint`] for an implicit step, split so that threads share the
/// second ([`implicit_terms`]): the transposed solve, λ per node into `adj.lambda` and per
/// elimination position into `adj.r`. Compiled for the best instruction set of this CPU.
pub(crate) fn implicit_solve(st: &VoltageStage<'_>, w: &[f64], adj: &mut VoltageAdjoint) {
    let cn = st.solver == Solver::CrankNicolson;
    debug_assert!(cn || st.solver == Solver::BwdEuler);
    let h = if cn { st.dt / 2.0 } else { st.dt };
    #[cfg(target_arch = "x86_64")]
    {
        use crate::mechanisms::driver::{SimdLevel, simd_level};
        #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
        fn avx512(st: &VoltageStage<'_>, w: &[f64], adj: &mut VoltageAdjoint, h: f64, cn: bool) {
            implicit_lambda(st, w, adj, h, cn)
        }
        #[target_feature(enable = "avx2,fma")]
        fn avx2(st: &VoltageStage<'_>, w: &[f64], adj: &mut VoltageAdjoint, h: f64, cn: bool) {
            implicit_lambda(st, w, adj, h, cn)
        }
        match simd_level() {
            // SAFETY: the CPU supports the features (checked by `simd_level`).
            SimdLevel::Avx512 => return unsafe { avx512(st, w, adj, h, cn) },
            // SAFETY: as above.
            SimdLevel::Avx2 => return unsafe { avx2(st, w, adj, h, cn) },
            SimdLevel::Baseline => {}
        }
    }
    implicit_lambda(st, w, adj, h, cn)
}

/// [`implicit_solve`] with the rows of the transposed system already at their elimination
/// positions, as threads that split a step write them: the diagonals in `d` (see
/// [`hines::assemble_transpose_diagonal`], with step [`implicit_h`]) and the right-hand side in
/// `r` (`w` times [`implicit_rhs_scale`]); both consumed. λ per node into `adj.lambda`.
/// Compiled for the best instruction set of this CPU.
pub(crate) fn implicit_solve_assembled(
    st: &VoltageStage<'_>,
    d: &mut [f64],
    r: &mut [f64],
    adj: &mut VoltageAdjoint,
) {
    let h = implicit_h(st.solver, st.dt);
    #[inline(always)]
    fn solve(st: &VoltageStage<'_>, h: f64, d: &mut [f64], r: &mut [f64], l: &mut [f64]) {
        hines::solve_transpose_assembled(st.c, st.params, h, d, r, l)
    }
    #[cfg(target_arch = "x86_64")]
    {
        use crate::mechanisms::driver::{SimdLevel, simd_level};
        #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
        fn avx512(st: &VoltageStage<'_>, h: f64, d: &mut [f64], r: &mut [f64], l: &mut [f64]) {
            solve(st, h, d, r, l)
        }
        #[target_feature(enable = "avx2,fma")]
        fn avx2(st: &VoltageStage<'_>, h: f64, d: &mut [f64], r: &mut [f64], l: &mut [f64]) {
            solve(st, h, d, r, l)
        }
        match simd_level() {
            // SAFETY: the CPU supports the features (checked by `simd_level`).
            SimdLevel::Avx512 => return unsafe { avx512(st, h, d, r, &mut adj.lambda) },
            // SAFETY: as above.
            SimdLevel::Avx2 => return unsafe { avx2(st, h, d, r, &mut adj.lambda) },
            SimdLevel::Baseline => {}
        }
    }
    solve(st, h, d, r, &mut adj.lambda)
}

/// The step of an implicit solver's system: `dt` (backward Euler) or `dt / 2`
/// (Crank–Nicolson).
pub(crate) fn implicit_h(solver: Solver, dt: f64) -> f64 {
    if solver == Solver::CrankNicolson {
        dt / 2.0
    } else {
        dt
    }
}

/// The factor of the transposed solve's right-hand side over the voltages' output cotangents:
/// 2 for Crank–Nicolson (whose step is `v_new = 2 v_mid − v_old`), 1 for backward Euler.
pub(crate) fn implicit_rhs_scale(solver: Solver) -> f64 {
    if solver == Solver::CrankNicolson {
        2.0
    } else {
        1.0
    }
}

/// The second half of [`voltage_adjoint`] for an implicit step (after [`implicit_solve`], whose
/// λ per node is `lambda`): the cotangents of `v`, `lin` and `cst` at the nodes `nodes` into
/// `out` (those three arrays, per node), and, with `tree`, the tree coefficients' of those nodes
/// (see [`TreeAdjoint`]). `st.v_sol` and `w` (the voltages' output cotangents per node) as for
/// [`voltage_adjoint`], needed at `nodes` and at their parents. Threads that split a step each
/// take their nodes.
pub(crate) fn implicit_terms(
    st: &VoltageStage<'_>,
    w: &[f64],
    lambda: &[f64],
    nodes: std::ops::Range<usize>,
    out: (&mut [f64], &mut [f64], &mut [f64]),
    tree: Option<&mut TreeAdjoint>,
) {
    let cn = st.solver == Solver::CrankNicolson;
    let h = if cn { st.dt / 2.0 } else { st.dt };
    let (lin, cst, v) = out;
    let vs = st.v_sol;
    for i in nodes.clone() {
        lin[i] = -h * lambda[i] * vs[i];
        cst[i] = h * lambda[i];
        v[i] = lambda[i] - if cn { w[i] } else { 0.0 };
    }
    let Some(tree) = tree else { return };
    // ∂L/∂A_ij = −λ_i v_j: A_kk ∋ h gsum, A[node, parent] = −h lower,
    // A[parent, node] = −h upper. Per node, its parent's λ and voltage read in node order (a
    // root is its own parent and gets nothing).
    let parent = &st.c.hines.parent_node[nodes.clone()];
    let TreeAdjoint {
        h_lower,
        h_upper,
        h_gsum,
        ..
    } = tree;
    let (lo, up, gs) = (
        &mut h_lower[nodes.clone()],
        &mut h_upper[nodes.clone()],
        &mut h_gsum[nodes.clone()],
    );
    let (lam, v) = (&lambda[nodes.clone()], &vs[nodes.clone()]);
    for (j, &p) in parent.iter().enumerate() {
        let p = p as usize;
        let root = p == nodes.start + j;
        let l = h * lam[j];
        gs[j] -= l * v[j];
        lo[j] += if root { 0.0 } else { l * vs[p] };
        up[j] += if root { 0.0 } else { h * lambda[p] * v[j] };
    }
}

/// One dual-number pass through the local stages of a step (mechanisms, currents, synapses,
/// pumped ions, state clamps) from the flat state `x`, with the flat entries in `seed` given
/// derivative 1 (and whatever derivatives `params` carry, and the workspace's `pre_eps`). On return `states` holds the outputs
/// and `states.ws.lin[..n]` / `states.ws.cst[..n]` the voltage terms.
#[allow(clippy::too_many_arguments)]
pub(crate) fn dual_pass(
    utils: &DynamicStateUtils,
    x: &[f64],
    seed: &[usize],
    params: &AllParams<Dual64>,
    ext: ExternalsAt<'_, f64>,
    dt: f64,
    dyn_buf: &mut super::DynamicStates<Dual64>,
    states: &mut AllStates<Dual64>,
) -> Result<()> {
    for (d, &xj) in dyn_buf.data.iter_mut().zip(x) {
        *d = Dual64::new(xj, 0.0);
    }
    for &j in seed {
        dyn_buf.data[j].eps = 1.0;
    }
    utils.scatter(dyn_buf, params, states)?;
    let mut ws = step::take_workspace(&utils.c, states);
    step::pre_solve(&utils.c, states, params, ext, dt, &mut ws);
    states.ws = ws;
    Ok(())
}
