//! Simulating: `build_init_and_step_fn` and `integrate`, with Jaxley's semantics.

use crate::compile::{Compiled, EdgeKind};
use crate::error::{Error, Result};
use crate::externals::{Externals, ExternalsAt, py_floordiv};
use crate::model::{Module, ParamGroup, ParamState, Trainable};
use crate::parallel::Parallelism;
use crate::scalar::Scalar;
use crate::solver::{Solver, VoltageSolver, exp_euler, explicit, sparse_lu};
use crate::state::{AllParams, AllStates, Workspace};
use crate::step;
use nalgebra::DMatrix;
use std::sync::Arc;

impl Compiled {
    pub(crate) fn lu_plan(&self) -> Result<&sparse_lu::Plan> {
        self.lu
            .get_or_init(|| sparse_lu::Plan::new(self))
            .as_ref()
            .map_err(|e| e.clone())
    }
}

/// Initialises states and parameters (Jaxley's `init_fn`); see [`build_init_and_step_fn`].
#[derive(Clone)]
pub struct InitFn {
    c: Arc<Compiled>,
    solver: Solver,
}

/// Advances `all_states` by one time step in place (Jaxley's `step_fn`); see
/// [`build_init_and_step_fn`].
#[derive(Clone)]
pub struct StepFn {
    c: Arc<Compiled>,
    solver: Solver,
    voltage_solver: VoltageSolver,
    parallelism: Parallelism,
}

/// Compiles `module` and returns its init and step functions (Jaxley's
/// `build_init_and_step_fn`). Both are generic over the scalar type: run them with `f64`, or with
/// [`crate::Dual64`] to push derivatives through.
///
/// ```
/// use huxley::{Cell, HH, Solver, VoltageSolver, build_init_and_step_fn, step_current};
/// # fn main() -> huxley::Result<()> {
/// let mut cell = Cell::default();
/// cell.insert(HH)?;
/// cell.record("v")?;
/// cell.stimulate(&step_current(1.0, 2.0, 0.1, 0.025, 5.0, 0.0));
/// let (init_fn, step_fn) = build_init_and_step_fn(&cell, VoltageSolver::Hines, Solver::BwdEuler)?;
/// let params = cell.get_parameters();
/// let (mut states, all_params) = init_fn.init::<f64>(&params, None, None, 0.025)?;
/// let ext = step_fn.externals().clone();
/// for k in 0..200 {
///     step_fn.step(&mut states, &all_params, ext.at(k), 0.025)?;
/// }
/// assert!(states.get("v")?[0] > -80.0);
/// # Ok(()) }
/// ```
pub fn build_init_and_step_fn(
    module: &Module,
    voltage_solver: VoltageSolver,
    solver: Solver,
) -> Result<(InitFn, StepFn)> {
    let implicit_tree = voltage_solver == VoltageSolver::Hines
        && matches!(solver, Solver::BwdEuler | Solver::CrankNicolson);
    if !module.diffusion.is_empty() && !implicit_tree {
        return Err(Error::Unsupported(format!(
            "ion diffusion ({}) needs the Hines voltage solver with backward Euler or \
             Crank–Nicolson, not {solver:?} with {voltage_solver:?}",
            module.diffusion.join(", ")
        )));
    }
    let c = Arc::new(Compiled::new(module)?);
    Ok((
        InitFn {
            c: c.clone(),
            solver,
        },
        StepFn {
            c,
            solver,
            voltage_solver,
            parallelism: Parallelism::Auto,
        },
    ))
}

impl InitFn {
    /// The compiled model.
    pub fn compiled(&self) -> &Arc<Compiled> {
        &self.c
    }

    /// `(all_states, all_params)` for a run (Jaxley's `init_fn(params, all_states, param_state,
    /// delta_t)`): `params` are the trainable values (as from `get_parameters()`), `param_state`
    /// further run-time values (from `data_set`). If `all_states` is given it is used as it is
    /// (continuing a simulation); otherwise states come from the module, overridden by trainable
    /// initial states, with the membrane currents computed and branchpoint voltages set.
    pub fn init<T: Scalar>(
        &self,
        params: &[ParamGroup<T>],
        all_states: Option<AllStates<T>>,
        param_state: Option<&[ParamState<T>]>,
        delta_t: f64,
    ) -> Result<(AllStates<T>, AllParams<T>)> {
        crate::error::check_positive("delta_t", delta_t, || "init_fn".into())?;
        init(
            &self.c,
            self.solver,
            params,
            all_states,
            param_state,
            delta_t,
        )
    }
}

impl StepFn {
    /// The compiled model.
    pub fn compiled(&self) -> &Arc<Compiled> {
        &self.c
    }

    /// The module's stimuli and clamps as time series; `externals().at(k)` are the inputs of
    /// step `k + 1`.
    pub fn externals(&self) -> &Externals<f64> {
        &self.c.externals
    }

    /// The solver.
    pub fn solver(&self) -> Solver {
        self.solver
    }

    /// The voltage solver.
    pub fn voltage_solver(&self) -> VoltageSolver {
        self.voltage_solver
    }

    /// How steps use threads (default [`Parallelism::Auto`]).
    pub fn parallelism(&self) -> &Parallelism {
        &self.parallelism
    }

    /// The same step function with another threading policy; results do not depend on it.
    pub fn with_parallelism(mut self, parallelism: Parallelism) -> Self {
        self.parallelism = parallelism;
        self
    }

    /// Runs `f` where the parallel regions of the steps inside it are cheapest. Useful around a
    /// loop of many steps of a network (`integrate` runs its loop in it): without it every
    /// step hands its chunks to the pool anew, waking its threads.
    ///
    /// For a model of several chunks and a [`Parallelism`] of more than one thread, `f` runs on
    /// the calling thread with a team of threads started for it (as many as the pool has, the
    /// calling thread included, at most one per chunk), which wait for the steps' parallel
    /// regions by spinning and so are awake when a region starts; each thread takes the same
    /// chunks step after step, so that their arrays stay in its core's caches. Called on a
    /// worker thread of a rayon pool (say, one simulation of many in a parallel iterator), `f`
    /// runs there and the regions go to that pool, without spinning threads. The results are
    /// the same bit for bit either way.
    pub fn in_pool<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        match self.team_threads() {
            t if t > 1 => crate::team::with_team(t, f),
            _ => self.parallelism.run(self.c.chunks.len() > 1, f),
        }
    }

    /// The threads of the team [`StepFn::in_pool`] runs the steps on, called on this thread
    /// (1: no team).
    pub(crate) fn team_threads(&self) -> usize {
        let chunks = self.c.chunks.len();
        if chunks > 1
            && rayon::current_thread_index().is_none()
            && !matches!(self.parallelism, Parallelism::Serial)
        {
            crate::team::team_size(self.parallelism.threads().min(chunks))
        } else {
            1
        }
    }

    /// Advances `all_states` by one step of `delta_t` ms in place, with external inputs `ext`
    /// (Jaxley's `step_fn(all_states, all_params, externals, external_inds, delta_t)`).
    pub fn step<T: Scalar, E: Scalar>(
        &self,
        all_states: &mut AllStates<T>,
        all_params: &AllParams<T>,
        ext: ExternalsAt<'_, E>,
        delta_t: f64,
    ) -> Result<()> {
        if !(delta_t.is_finite() && delta_t > 0.0) {
            return Err(Error::InvalidValue {
                name: "delta_t".into(),
                value: delta_t,
                requirement: "positive and finite",
                location: "step_fn".into(),
            });
        }
        all_states.check_layout(&self.c.states)?;
        all_params.check_layout(&self.c.params)?;
        if ext.ext.layout_id != 0 && ext.ext.layout_id != self.c.states.fingerprint {
            return Err(Error::LayoutMismatch(
                "externals built for another model".into(),
            ));
        }
        if let Some(s) = ext.ext.series.iter().find(|s| ext.t >= s.steps) {
            return Err(Error::IndexOutOfRange {
                what: "time point of external input",
                index: ext.t,
                len: s.steps,
            });
        }
        step::step(
            &self.c,
            self.solver,
            self.voltage_solver,
            &self.parallelism,
            all_states,
            all_params,
            ext,
            delta_t,
        )
    }
}

/// One list of `(key, nodes per value, values)`: the trainable values, then the `param_state`
/// entries; borrowed (`init` runs once per pass of the gradient's chain rule).
type Entry<'a, T> = (&'a str, &'a [Vec<usize>], &'a [T]);

/// The [`Entry`]s of the trainable values `params` (checked against `trainables`) and of
/// `extra`.
fn pstate<'a, T: Scalar>(
    trainables: &'a [Trainable],
    params: &'a [ParamGroup<T>],
    extra: Option<&'a [ParamState<T>]>,
) -> Result<Vec<Entry<'a, T>>> {
    if params.len() != trainables.len() {
        return Err(Error::LengthMismatch {
            what: "trainable parameter groups (one per make_trainable call)".into(),
            expected: trainables.len(),
            got: params.len(),
        });
    }
    let mut out = Vec::with_capacity(params.len() + extra.map_or(0, |e| e.len()));
    for (t, p) in trainables.iter().zip(params) {
        if p.key != t.key || p.values.len() != t.nodes.len() {
            return Err(Error::LengthMismatch {
                what: format!("values of trainable `{}` (given as `{}`)", t.key, p.key),
                expected: t.nodes.len(),
                got: p.values.len(),
            });
        }
        out.push((t.key.as_str(), &t.nodes[..], &p.values[..]));
    }
    for e in extra.unwrap_or(&[]) {
        out.push((e.key.as_str(), &e.nodes[..], &e.values[..]));
    }
    Ok(out)
}

fn init<T: Scalar>(
    c: &Arc<Compiled>,
    solver: Solver,
    params: &[ParamGroup<T>],
    all_states: Option<AllStates<T>>,
    param_state: Option<&[ParamState<T>]>,
    delta_t: f64,
) -> Result<(AllStates<T>, AllParams<T>)> {
    let n = c.n_nodes();
    let ps = pstate(&c.trainables, params, param_state)?;
    let mut pdata: Vec<T> = c.init_params.iter().map(|&x| T::from(x)).collect();
    let mut sdata: Vec<T> = c.init_states.iter().map(|&x| T::from(x)).collect();
    // Look-ups once per key (a trainable per branch makes many entries of one key), and the
    // geometry's offsets once.
    let mut keys: Vec<(&str, Option<usize>, Option<usize>)> = Vec::new();
    let geometry = || {
        let pos = |name: &str| c.params.offset(c.params.position(name).expect("geometry"));
        [
            "length",
            "radius",
            "area",
            "volume",
            "resistive_load_in",
            "resistive_load_out",
        ]
        .map(pos)
    };
    let mut geo: Option<[usize; 6]> = None;
    for &(key, nodes_of, values) in &ps {
        let (pk, sk) = match keys.iter().find(|(k, _, _)| *k == key) {
            Some(&(_, pk, sk)) => (pk, sk),
            None => {
                let found = (c.params.position(key), c.states.position(key));
                keys.push((key, found.0, found.1));
                found
            }
        };
        if pk.is_none() && sk.is_none() {
            return Err(Error::UnknownName {
                name: key.into(),
                context: "neither a parameter nor a state".into(),
            });
        }
        if nodes_of.len() != values.len() {
            return Err(Error::LengthMismatch {
                what: format!("values of `{key}`"),
                expected: nodes_of.len(),
                got: values.len(),
            });
        }
        let len = pk
            .map(|k| c.params.len_of(k))
            .or(sk.map(|k| c.states.len_of(k)))
            .unwrap_or(n);
        let (p_at, s_at) = (pk.map(|k| c.params.range(k)), sk.map(|k| c.states.range(k)));
        for (nodes, &val) in nodes_of.iter().zip(values) {
            for &node in nodes {
                if node >= len {
                    return Err(Error::IndexOutOfRange {
                        what: "node (or edge within its synapse type)",
                        index: node,
                        len,
                    });
                }
            }
            if let Some(r) = &p_at {
                let arr = &mut pdata[r.clone()];
                for &node in nodes {
                    arr[node] = val;
                }
            }
            if let Some(r) = &s_at {
                let arr = &mut sdata[r.clone()];
                for &node in nodes {
                    arr[node] = val;
                }
            }
        }
        if key == "radius" || key == "length" {
            let [l, r, a, vol, rin, rout] = *geo.get_or_insert_with(geometry);
            let pi = T::from(std::f64::consts::PI);
            for &node in nodes_of.iter().flatten() {
                let (len, rad) = (pdata[l + node], pdata[r + node]);
                let load = len / T::from(2.0) / (rad * rad) / pi;
                pdata[a + node] = T::from(2.0) * pi * rad * len;
                pdata[vol + node] = len * rad * rad * pi;
                pdata[rin + node] = load;
                pdata[rout + node] = load;
            }
        }
    }
    let mut p = AllParams {
        layout: c.params.clone(),
        data: pdata,
        axial: vec![],
        h_lower: vec![],
        h_upper: vec![],
        h_gsum: vec![],
        inv_cm: vec![],
        ion_axial: vec![],
        ion_hines: vec![],
        exp_euler: None,
        uniform: vec![],
        uniform_node: vec![],
        syn_affine: vec![],
        compiled: c.clone(),
    };
    check_geometry(c, &p)?;
    derive(c, &mut p);
    if solver == Solver::ExpEuler {
        p.exp_euler = Some((delta_t, exp_euler::transition_matrix(c, &p.axial, delta_t)));
    }
    let states = match all_states {
        Some(mut s) => {
            s.check_layout(&c.states)?;
            if s.ws.v_old.len() != n {
                s.ws = Workspace::new(c);
            }
            s
        }
        None => {
            let mut s = AllStates::from_data(c, sdata);
            let mut ws = std::mem::take(&mut s.ws);
            step::init_currents(c, &mut s, &p, &mut ws);
            let (v, _) = s.data.split_at_mut(n);
            explicit::branchpoint_voltages(c, &p.axial, v, &mut ws.d, &mut ws.r);
            s.ws = ws;
            s
        }
    };
    Ok((states, p))
}

pub(crate) fn check_geometry<T: Scalar>(c: &Compiled, p: &AllParams<T>) -> Result<()> {
    for name in [
        "radius",
        "length",
        "axial_resistivity",
        "capacitance",
        "area",
        "resistive_load_in",
        "resistive_load_out",
    ] {
        let arr = p.get(name)?;
        // An SWC point of radius 0 (read with `min_radius`) gives an infinite resistive load:
        // no axial current on that side, as in Jaxley.
        let load = name.starts_with("resistive_load");
        for &node in &c.comp_nodes {
            let x = arr[node as usize].re();
            if !((x.is_finite() || (load && x == f64::INFINITY)) && x > 0.0) {
                return Err(Error::InvalidValue {
                    name: name.into(),
                    value: x,
                    requirement: if load {
                        "positive"
                    } else {
                        "positive and finite"
                    },
                    location: format!("node {node}"),
                });
            }
        }
    }
    let mut extra: Vec<usize> = c.diffused.iter().map(|d| d.param).collect();
    if !c.diffused.is_empty() {
        extra.push(c.params.position("volume").expect("geometry"));
    }
    for k in extra {
        let arr = &p.data[c.params.range(k)];
        for &node in &c.comp_nodes {
            let x = arr[node as usize].re();
            if !(x.is_finite() && x > 0.0) {
                return Err(Error::InvalidValue {
                    name: c.params.names()[k].clone(),
                    value: x,
                    requirement: "positive and finite",
                    location: format!("node {node}"),
                });
            }
        }
    }
    Ok(())
}

/// Axial conductances (Jaxley's `compute_axial_conductances`) and the Hines coefficients, for
/// the voltage and every diffused ion.
pub(crate) fn derive<T: Scalar>(c: &Compiled, p: &mut AllParams<T>) {
    let n = c.n_nodes();
    let get = |name: &str| {
        let k = c.params.position(name).expect("geometry");
        &p.data[c.params.range(k)]
    };
    let (ra, rl_in, rl_out, area, cm, volume) = (
        get("axial_resistivity"),
        get("resistive_load_in"),
        get("resistive_load_out"),
        get("area"),
        get("capacitance"),
        get("volume"),
    );
    let one = T::one();
    let scale = T::from(1e7);
    // Jaxley divides the resistive loads by `axial_conds` (1/Ra for the voltage, D for an ion):
    // comp_r_a[0] = rl_in / g (sink side), comp_r_a[1] = rl_out / g (source side).
    let conductances = |g: &dyn Fn(usize) -> T, voltage: bool| -> Vec<T> {
        let r_a = |side: bool, i: usize| {
            if side {
                rl_out[i] / g(i)
            } else {
                rl_in[i] / g(i)
            }
        };
        let g_a = |side: bool, i: usize| {
            if side {
                one / rl_out[i] * g(i)
            } else {
                one / rl_in[i] * g(i)
            }
        };
        c.graph
            .edges
            .iter()
            .map(|e| match e.kind {
                EdgeKind::CompToComp => {
                    let r = r_a(e.ordered, e.source) + r_a(!e.ordered, e.sink);
                    if voltage {
                        one / r / area[e.sink] / cm[e.sink] * scale
                    } else {
                        one / r / volume[e.sink]
                    }
                }
                EdgeKind::BpToParent | EdgeKind::BpToChild => {
                    let r = r_a(!e.ordered, e.sink);
                    if voltage {
                        one / r / area[e.sink] / cm[e.sink] * scale
                    } else {
                        one / r / volume[e.sink]
                    }
                }
                EdgeKind::ParentToBp | EdgeKind::ChildToBp => g_a(e.ordered, e.source),
            })
            .collect()
    };
    let hines_coefficients = |axial: &[T]| -> [Vec<T>; 3] {
        let ord = &c.hines;
        let mut gsum_node = vec![T::zero(); n];
        for (e, &g) in c.graph.edges.iter().zip(axial) {
            gsum_node[e.sink] += g;
        }
        let pick = |edges: &[u32]| {
            edges
                .iter()
                .map(|&e| {
                    if e == u32::MAX {
                        T::zero()
                    } else {
                        axial[e as usize]
                    }
                })
                .collect()
        };
        [
            pick(&ord.lower_edge),
            pick(&ord.upper_edge),
            ord.order.iter().map(|&i| gsum_node[i as usize]).collect(),
        ]
    };
    let axial = conductances(&|i| one / ra[i], true);
    let [lower, upper, gsum] = hines_coefficients(&axial);
    let mut ion_axial = Vec::new();
    let mut ion_hines = Vec::new();
    for d in &c.diffused {
        let dc = &p.data[c.params.range(d.param)];
        let ax = conductances(&|i| dc[i], false);
        ion_hines.push(hines_coefficients(&ax));
        ion_axial.push(ax);
    }
    p.h_lower = lower;
    p.h_upper = upper;
    p.h_gsum = gsum;
    p.inv_cm = (0..n)
        .map(|i| {
            if c.graph.is_comp[i] {
                one / cm[i]
            } else {
                T::zero()
            }
        })
        .collect();
    // Parameters with one value on all nodes of a mechanism are broadcast by the kernels.
    p.uniform = c
        .mechs
        .iter()
        .map(|m| {
            m.param_off
                .iter()
                .map(|&off| {
                    let mut nodes = m.nodes.iter();
                    let first = nodes.next().map(|i| p.data[off + i]);
                    first.is_none_or(|f| nodes.all(|i| p.data[off + i].same(f)))
                })
                .collect()
        })
        .collect();
    p.uniform_node = c
        .mechs
        .iter()
        .map(|m| m.nodes.iter().next().unwrap_or(0))
        .collect();
    p.syn_affine = syn_affine(c, p);
    p.axial = axial;
    p.ion_axial = ion_axial;
    p.ion_hines = ion_hines;
}

/// Per synapse type: whether the parameters its affine update reads
/// ([`crate::Synapse::PRE_AFFINE_PARAMS`]) have one value, derivative parts included, on all
/// its edges (see [`AllParams`]'s `syn_affine`). Recomputed by whoever changes parameter values
/// without [`derive`].
pub(crate) fn syn_affine<T: Scalar>(c: &Compiled, p: &AllParams<T>) -> Vec<bool> {
    c.syns
        .iter()
        .map(|y| {
            let read = y.syn.info().pre_affine.as_deref().unwrap_or(&[]);
            read.iter().all(|&k| {
                let off = y.param_off[k];
                let values = &p.data[off..off + y.pre.len()];
                values.iter().all(|&x| x.same(values[0]))
            })
        })
        .collect()
}

/// Options of [`integrate`] (Jaxley's keyword arguments).
#[derive(Clone, Debug)]
pub struct IntegrateOptions {
    /// Time step (ms). Default 0.025.
    pub delta_t: f64,
    /// Duration (ms). Without it the length of the stimuli decides; with it stimuli are
    /// zero-padded or truncated to `int(t_max // delta_t) + 1` steps.
    pub t_max: Option<f64>,
    /// Time-stepping scheme.
    pub solver: Solver,
    /// Linear solver of the implicit schemes.
    pub voltage_solver: VoltageSolver,
    /// Keep every k-th time point only (1 = all). Column 0 is always t = 0.
    pub record_every: usize,
    /// Return the final states (Jaxley's `return_states=True`).
    pub return_states: bool,
    /// How the steps use threads (results do not depend on it).
    pub parallelism: Parallelism,
}

impl Default for IntegrateOptions {
    fn default() -> Self {
        IntegrateOptions {
            delta_t: 0.025,
            t_max: None,
            solver: Solver::BwdEuler,
            voltage_solver: VoltageSolver::Hines,
            record_every: 1,
            return_states: false,
            parallelism: Parallelism::Auto,
        }
    }
}

impl IntegrateOptions {
    /// Default options with `t_max` set.
    pub fn t_max(t_max: f64) -> Self {
        IntegrateOptions {
            t_max: Some(t_max),
            ..Default::default()
        }
    }
}

/// What [`integrate`] returns.
#[derive(Clone, Debug)]
pub struct Simulation<T> {
    /// Recordings, shape `(n_recordings, n_kept_time_points)`; column 0 is t = 0.
    pub recordings: DMatrix<T>,
    /// Times (ms) of the columns.
    pub times: Vec<f64>,
    /// Final states, if asked for.
    pub final_states: Option<AllStates<T>>,
}

/// Simulates `module` and returns its recordings (Jaxley's `integrate`).
///
/// ```
/// use huxley::{Compartment, HH, IntegrateOptions, integrate, step_current};
/// # fn main() -> huxley::Result<()> {
/// let mut comp = Compartment::new();
/// comp.insert(HH)?;
/// comp.record("v")?;
/// comp.stimulate(&step_current(1.0, 2.0, 0.02, 0.025, 10.0, 0.0));
/// let sim = integrate(&comp, &IntegrateOptions::default())?;
/// assert_eq!(sim.recordings.shape(), (1, 402));
/// assert!(sim.recordings.max() > 20.0); // it spikes
/// # Ok(()) }
/// ```
pub fn integrate(module: &Module, opts: &IntegrateOptions) -> Result<Simulation<f64>> {
    integrate_with(module, opts, &module.get_parameters(), None, None)
}

/// [`integrate`] with trainable values, run-time parameters (`data_set`) and initial states
/// given explicitly, in any scalar type (e.g. dual numbers for forward-mode derivatives of the
/// recordings).
pub fn integrate_with<T: Scalar>(
    module: &Module,
    opts: &IntegrateOptions,
    params: &[ParamGroup<T>],
    param_state: Option<&[ParamState<T>]>,
    all_states: Option<AllStates<T>>,
) -> Result<Simulation<T>> {
    let (init_fn, step_fn) = build_init_and_step_fn(module, opts.voltage_solver, opts.solver)?;
    let step_fn = step_fn.with_parallelism(opts.parallelism.clone());
    step_fn.in_pool(|| run(&init_fn, &step_fn, opts, params, param_state, all_states))
}

/// Number of steps and the externals of a run, as Jaxley's `integrate` decides them.
pub(crate) fn plan_steps<T: Scalar>(
    ext: &Externals<T>,
    opts: &IntegrateOptions,
) -> Result<(usize, Externals<T>)> {
    let dt = opts.delta_t;
    crate::error::check_positive("delta_t", dt, || "integrate".into())?;
    if opts.record_every == 0 {
        return Err(Error::InvalidValue {
            name: "record_every".into(),
            value: 0.0,
            requirement: "at least 1",
            location: "integrate".into(),
        });
    }
    match opts.t_max {
        Some(t) => {
            if !(t.is_finite() && t >= 0.0) {
                return Err(Error::InvalidValue {
                    name: "t_max".into(),
                    value: t,
                    requirement: "finite and >= 0",
                    location: "integrate".into(),
                });
            }
            let steps = (py_floordiv(t, dt) + 1.0) as usize;
            Ok((steps, ext.with_steps(steps)?))
        }
        None => match ext.steps()? {
            Some(s) => Ok((s, ext.clone())),
            None => Err(Error::MissingTmax),
        },
    }
}

pub(crate) fn run<T: Scalar>(
    init_fn: &InitFn,
    step_fn: &StepFn,
    opts: &IntegrateOptions,
    params: &[ParamGroup<T>],
    param_state: Option<&[ParamState<T>]>,
    all_states: Option<AllStates<T>>,
) -> Result<Simulation<T>> {
    let ext = &init_fn.c.externals;
    run_with_externals(init_fn, step_fn, opts, ext, params, param_state, all_states)
}

/// [`run`] with the external inputs given (the module's own, or with run-time stimuli added).
pub(crate) fn run_with_externals<T: Scalar>(
    init_fn: &InitFn,
    step_fn: &StepFn,
    opts: &IntegrateOptions,
    externals: &Externals<f64>,
    params: &[ParamGroup<T>],
    param_state: Option<&[ParamState<T>]>,
    all_states: Option<AllStates<T>>,
) -> Result<Simulation<T>> {
    let c = &init_fn.c;
    if c.recordings.is_empty() {
        return Err(Error::NoRecordings);
    }
    let (steps, ext) = plan_steps(&externals.cast::<T>(), opts)?;
    let dt = opts.delta_t;
    let (mut s, p) = init_fn.init(params, all_states, param_state, dt)?;
    let every = opts.record_every;
    let cols = steps / every + 1;
    let mut rec = DMatrix::<T>::zeros(c.recordings.len(), cols);
    let record = |s: &AllStates<T>, rec: &mut DMatrix<T>, col: usize| {
        for (r, &(k, node)) in c.recordings.iter().enumerate() {
            rec[(r, col)] = s.data[c.states.offset(k) + node];
        }
    };
    record(&s, &mut rec, 0);
    for t in 0..steps {
        step::step(
            c,
            step_fn.solver,
            step_fn.voltage_solver,
            &step_fn.parallelism,
            &mut s,
            &p,
            ext.at(t),
            dt,
        )?;
        check_finite(c, &s, t + 1, dt)?;
        if (t + 1) % every == 0 {
            record(&s, &mut rec, (t + 1) / every);
        }
    }
    let times = (0..cols).map(|k| (k * every) as f64 * dt).collect();
    Ok(Simulation {
        recordings: rec,
        times,
        final_states: opts.return_states.then_some(s),
    })
}

/// Errors at the first non-finite voltage, or recorded value, after step `step`.
pub(crate) fn check_finite<T: Scalar>(
    c: &Compiled,
    s: &AllStates<T>,
    step: usize,
    dt: f64,
) -> Result<()> {
    let n = c.n_nodes();
    let bad = |k: usize, node: usize| Error::NonFinite {
        state: c.states.names[k].clone(),
        node,
        step,
        time: step as f64 * dt,
        value: s.data[c.states.offset(k) + node].re(),
    };
    // The step checks its chunks' voltages as it solves them, in parallel.
    if !s.ws.v_finite && !s.data[..n].iter().fold(true, |ok, x| ok & x.all_finite()) {
        let node = s.data[..n]
            .iter()
            .position(|x| !x.all_finite())
            .expect("exists");
        return Err(bad(0, node));
    }
    for &(k, node) in &c.recordings {
        if !s.data[c.states.offset(k) + node].all_finite() {
            return Err(bad(k, node));
        }
    }
    Ok(())
}
