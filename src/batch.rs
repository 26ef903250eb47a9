//! Batches of simulations of one module (Jaxley's `jax.vmap` over `integrate`): many parameter
//! sets, run-time values (`data_set`) or stimuli (`data_stimulate`), in parallel over the batch.
//!
//! The module is compiled once; the runs share the compiled model and run in parallel with
//! rayon, each one serial inside (the batch already uses the cores). Every run is bit for bit the
//! run [`crate::integrate_with`] would do alone, whatever the number of threads.

use crate::error::{Error, Result};
use crate::externals::DataStimuli;
use crate::grad::{GradOptions, Gradient, Loss, value_and_grad};
use crate::integrate::{InitFn, StepFn};
use crate::integrate::{IntegrateOptions, Simulation, build_init_and_step_fn, run_with_externals};
use crate::model::{Module, ParamGroup, ParamState};
use crate::parallel::Parallelism;
use crate::scalar::Scalar;

/// Runs `run(i)` for `i in 0..n`, in parallel over `i` as `parallelism` allows, results in order;
/// the error of the first failing run (by index) if any fails.
fn map_batch<R: Send>(
    parallelism: &Parallelism,
    n: usize,
    run: impl Fn(usize) -> Result<R> + Sync + Send,
) -> Result<Vec<R>> {
    use rayon::prelude::*;
    let results: Vec<Result<R>> = match parallelism {
        Parallelism::Serial => (0..n).map(run).collect(),
        Parallelism::Auto => (0..n).into_par_iter().map(run).collect(),
        Parallelism::Pool(pool) => pool.install(|| (0..n).into_par_iter().map(run).collect()),
    };
    results.into_iter().collect()
}

/// Compiles `module` once, with serial steps.
fn compile(module: &Module, opts: &IntegrateOptions) -> Result<(InitFn, StepFn)> {
    let (init_fn, step_fn) = build_init_and_step_fn(module, opts.voltage_solver, opts.solver)?;
    Ok((init_fn, step_fn.with_parallelism(Parallelism::Serial)))
}

/// Simulates `module` once per parameter set (Jaxley's `vmap` of `integrate` over `params`
/// and `param_state`): run `k` uses the trainable values `params_sets[k]` (as
/// [`crate::Module::get_parameters`] returns them) and, if given, the run-time values
/// `param_states[k]` (from `data_set`).
///
/// The module is compiled once and the runs are spread over threads by `opts.parallelism`
/// ([`Parallelism::Serial`]: one after the other; `Auto`: rayon's current pool; `Pool`: that
/// pool), each run serial inside. Every result is bit for bit that of
/// [`crate::integrate_with`] with the same inputs. `param_states`, if given, must have one entry
/// per parameter set. In [`crate::Dual64`] (seed one direction per run) the batch gives
/// forward-mode derivatives in parallel.
///
/// ```
/// use huxley::{Cell, HH, IntegrateOptions, ParamGroup, integrate_batch, step_current};
/// # fn main() -> huxley::Result<()> {
/// let mut cell = Cell::default();
/// cell.insert(HH)?;
/// cell.record("v")?;
/// cell.stimulate(&step_current(0.5, 3.0, 0.1, 0.025, 5.0, 0.0));
/// cell.make_trainable("HH_gNa", None)?;
/// let sets: Vec<Vec<ParamGroup<f64>>> = [0.08, 0.12, 0.16]
///     .iter()
///     .map(|&g| vec![ParamGroup { key: "HH_gNa".to_string(), values: vec![g] }])
///     .collect();
/// let sims = integrate_batch(&cell, &IntegrateOptions::default(), &sets, None)?;
/// assert_eq!(sims.len(), 3);
/// assert!(sims[2].recordings.max() > sims[0].recordings.max()); // more Na, higher peak
/// # Ok(()) }
/// ```
pub fn integrate_batch<T: Scalar>(
    module: &Module,
    opts: &IntegrateOptions,
    params_sets: &[Vec<ParamGroup<T>>],
    param_states: Option<&[Vec<ParamState<T>>]>,
) -> Result<Vec<Simulation<T>>> {
    if let Some(ps) = param_states
        && ps.len() != params_sets.len()
    {
        return Err(Error::LengthMismatch {
            what: "param_states (one per parameter set of the batch)".into(),
            expected: params_sets.len(),
            got: ps.len(),
        });
    }
    let (init_fn, step_fn) = compile(module, opts)?;
    let ext = &init_fn.compiled().externals;
    map_batch(&opts.parallelism, params_sets.len(), |k| {
        let ps = param_states.map(|p| p[k].as_slice());
        run_with_externals(&init_fn, &step_fn, opts, ext, &params_sets[k], ps, None)
    })
}

/// Simulates `module` once per set of run-time stimuli (Jaxley's `vmap` of `integrate` over
/// `data_stimuli`): run `k` injects the currents of `stimuli[k]` (from
/// [`crate::View::data_stimulate`]) on top of the module's own stimuli, with the module's
/// trainable values ([`crate::Module::get_parameters`]).
///
/// Compiled once, parallel over the batch as [`integrate_batch`]. All currents of one run (the
/// module's and the data stimuli) must have the same length, as in Jaxley (an
/// [`Error::LengthMismatch`] otherwise); with `opts.t_max` they are then zero-padded or cut as
/// in [`crate::integrate`]. A stimulus at a node that is not a compartment of the module is an
/// [`Error::IndexOutOfRange`].
///
/// ```
/// use huxley::{Cell, DataStimuli, HH, IntegrateOptions, integrate_batch_stimuli, step_current};
/// # fn main() -> huxley::Result<()> {
/// let mut cell = Cell::default();
/// cell.insert(HH)?;
/// cell.record("v")?;
/// let batch: Vec<DataStimuli> = [0.0, 0.05, 0.1]
///     .iter()
///     .map(|&amp| cell.all().data_stimulate(&step_current(0.5, 3.0, amp, 0.025, 5.0, 0.0), None))
///     .collect();
/// let sims = integrate_batch_stimuli(&cell, &IntegrateOptions::default(), &batch)?;
/// assert!(sims[0].recordings.max() < sims[2].recordings.max());
/// # Ok(()) }
/// ```
pub fn integrate_batch_stimuli(
    module: &Module,
    opts: &IntegrateOptions,
    stimuli: &[DataStimuli],
) -> Result<Vec<Simulation<f64>>> {
    let (init_fn, step_fn) = compile(module, opts)?;
    let c = init_fn.compiled();
    let n = c.n_nodes();
    for ds in stimuli {
        for s in &ds.stimuli {
            if s.node >= n || !c.graph.is_comp[s.node] {
                return Err(Error::IndexOutOfRange {
                    what: "stimulated node (not a compartment of the module)",
                    index: s.node,
                    len: n,
                });
            }
        }
    }
    let params = module.get_parameters();
    map_batch(&opts.parallelism, stimuli.len(), |k| {
        let ext = c
            .externals
            .with_extra_currents(&module.stimuli, &stimuli[k])?;
        run_with_externals(&init_fn, &step_fn, opts, &ext, &params, None, None)
    })
}

/// Gradients of one loss for many parameter sets (Jaxley's `vmap` of `value_and_grad` over
/// `params` and `param_state`, the workflow of fitting with several starting points and of
/// simulation-based inference): entry `k` is [`crate::value_and_grad`] with `params_sets[k]`
/// and, if given, `param_states[k]`.
///
/// Parallel over the batch as `opts.parallelism` allows ([`integrate_batch`]), each gradient
/// computed serially inside; every entry is bit for bit the single call's result.
///
/// ```
/// use huxley::{Cell, GradOptions, HH, IntegrateOptions, Loss, ParamGroup, Scalar};
/// use huxley::{step_current, value_and_grad_batch};
/// use nalgebra::DMatrix;
/// struct Mean;
/// impl Loss for Mean {
///     fn value<T: Scalar>(&self, rec: &DMatrix<T>) -> T {
///         rec.iter().fold(T::zero(), |a, &x| a + x) / T::from(rec.len() as f64)
///     }
/// }
/// # fn main() -> huxley::Result<()> {
/// let mut cell = Cell::default();
/// cell.insert(HH)?;
/// cell.record("v")?;
/// cell.stimulate(&step_current(0.5, 1.0, 0.05, 0.025, 2.0, 0.0));
/// cell.make_trainable("HH_gK", None)?;
/// let sets: Vec<Vec<ParamGroup<f64>>> = [0.03, 0.036, 0.04]
///     .iter()
///     .map(|&g| vec![ParamGroup { key: "HH_gK".to_string(), values: vec![g] }])
///     .collect();
/// let opts = IntegrateOptions::t_max(2.0);
/// let grads = value_and_grad_batch(&cell, &opts, &sets, None, &Mean, &GradOptions::default())?;
/// assert_eq!(grads.len(), 3);
/// assert!(grads.iter().all(|g| g.params[0].values[0] < 0.0)); // more K, lower voltage
/// # Ok(()) }
/// ```
pub fn value_and_grad_batch<L: Loss>(
    module: &Module,
    opts: &IntegrateOptions,
    params_sets: &[Vec<ParamGroup<f64>>],
    param_states: Option<&[Vec<ParamState<f64>>]>,
    loss: &L,
    grad_opts: &GradOptions,
) -> Result<Vec<Gradient>> {
    if let Some(ps) = param_states
        && ps.len() != params_sets.len()
    {
        return Err(Error::LengthMismatch {
            what: "param_states (one per parameter set of the batch)".into(),
            expected: params_sets.len(),
            got: ps.len(),
        });
    }
    let inner = IntegrateOptions {
        parallelism: Parallelism::Serial,
        ..opts.clone()
    };
    map_batch(&opts.parallelism, params_sets.len(), |k| {
        let ps = param_states.map(|p| p[k].as_slice());
        value_and_grad(module, &inner, &params_sets[k], ps, loss, grad_opts)
    })
}
