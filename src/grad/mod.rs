//! Gradients of a loss over whole simulations with respect to trainable parameters and
//! `data_set` values.
//!
//! - [`value_and_grad`]: reverse mode (discrete adjoint). A forward run stores checkpoints, then
//!   a backward sweep goes from the last step to the first. Per step: the transposed tree solve
//!   of the voltage stage (with the cotangents of the tree coefficients, `∂L/∂A = −λ vᵀ`), and the
//!   local Jacobians of the other stages — mechanisms, currents, pumps, synapses — contracted with
//!   the output cotangents, from dual-number passes through the same step code: one pass per
//!   dynamic state key and per parameter array that the step reads and the trainables change
//!   (all nodes seeded at once, since these stages are local to a node), plus, for networks,
//!   passes for synapse states and parameters (edges grouped so that no two seeded edges end on
//!   the same node) and for the pre-synaptic voltages. The passes of a step run in parallel (see
//!   [`crate::Parallelism`]; results do not depend on it). At the end the cotangents of every
//!   array of `all_params` the step reads, and of the initial state, are chained to the
//!   trainable and `data_set` values by forward mode through `init` (values whose effects are
//!   disjoint share a pass), so geometry (radius, length, axial resistivity, capacitance) needs
//!   no hand-written derivative. Models made only of channels with independent states (HH
//!   cells; Pospischil's channels without the calcium pump group) skip the passes: a local
//!   reverse mode pulls the cotangent back per compartment ([`crate::mechanisms::Mechanism::update_partials`],
//!   [`crate::mechanisms::Mechanism::current_vjp`]).
//! - [`value_and_grad_forward`]: forward mode, one dual-number run of the whole simulation per
//!   parameter value; for a handful of parameters, and as a cross-check.
//!
//! The adjoint covers backward Euler, Crank–Nicolson and forward Euler with the Hines or the
//! sparse-LU voltage solver (the transposed solves use Hines either way); cells, networks with
//! any synapse type, point neurons; recordings of `v` and of dynamic states (mechanism and
//! synapse states, currents that a mechanism reads) at compartments. It returns
//! [`Error::Unsupported`] for recorded observable currents (e.g. `i_HH`, synapse currents) and
//! for exponential Euler: use [`value_and_grad_forward`]. Models with **ion diffusion** are
//! differentiated by forward mode inside [`value_and_grad`] (exact, one simulation per value;
//! `stored_states` is then 0).
//!
//! Checkpointing ([`Checkpointing`]): every k-th state of the forward run is stored and each
//! segment is recomputed during the sweep; the gradient is bit for bit the same for every k.

pub(crate) mod adjoint;
mod buffers;
mod chain;
mod checkpoint;
mod compress;
mod forward;
mod local;
mod loss;
mod passes;
mod rebuild;
mod split;
pub(crate) mod step_vjp;
mod store;
mod sweep;

pub use buffers::release_buffers;
pub use loss::{Loss, MeanSquaredError};
use loss::{check_finite_loss, loss_and_grad};

use crate::error::{Error, Result};
use crate::integrate::IntegrateOptions;
use crate::model::{Module, ParamGroup, ParamState};
use crate::scalar::Dual64;
use nalgebra::DMatrix;

/// How many states the backward sweep of [`value_and_grad`] keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Checkpointing {
    /// Every state of the forward run (fastest, memory `O(steps)`).
    ///
    /// The memory of the stored states is kept for the next gradient (touching tens of
    /// megabytes of fresh memory costs about as much as the forward run);
    /// [`release_buffers`] frees it.
    All,
    /// Every k-th state; the states of each segment are recomputed during the sweep (at most
    /// `steps / k + k` states held).
    Every(usize),
    /// The shortest segments (least recomputation) whose stored states fit in `bytes` (a
    /// state is `8 ×` the length of the flat dynamic state); if none fit, the segment length
    /// that holds the fewest states (about `2·sqrt(steps)`).
    MemoryBudget {
        /// Memory for stored states, in bytes.
        bytes: usize,
    },
    /// About `sqrt(steps)` segments of `sqrt(steps)` steps (memory `O(sqrt(steps))`, one extra
    /// forward run, which the pipelined sweep on two or more threads overlaps with the
    /// backward passes).
    #[default]
    Auto,
}

/// Options of [`value_and_grad`].
#[derive(Clone, Debug, Default)]
pub struct GradOptions {
    /// Which states the backward sweep stores.
    pub checkpointing: Checkpointing,
}

/// A loss value and its gradient.
#[derive(Clone, Debug, PartialEq)]
pub struct Gradient {
    /// The loss.
    pub value: f64,
    /// `d loss / d` every trainable value, in the structure of `get_parameters()`.
    pub params: Vec<ParamGroup<f64>>,
    /// `d loss / d` every `data_set` value, in the structure of the given `param_state`.
    pub param_state: Vec<ParamState<f64>>,
    /// How many full states the backward sweep held at most (0 for forward mode).
    pub stored_states: usize,
}

fn check_finite_gradient(g: &Gradient) -> Result<()> {
    let groups = g
        .params
        .iter()
        .map(|p| (&p.key, &p.values))
        .chain(g.param_state.iter().map(|p| (&p.key, &p.values)));
    for (key, values) in groups {
        if let Some((i, x)) = values.iter().enumerate().find(|(_, x)| !x.is_finite()) {
            return Err(Error::NonFiniteGradient {
                what: format!("gradient of `{key}` value {i}"),
                value: *x,
            });
        }
    }
    Ok(())
}

/// Checks the trainable values against the module's trainables: names and counts.
fn check_params(module: &Module, params: &[ParamGroup<f64>]) -> Result<()> {
    let t = module.trainables();
    if params.len() != t.len() {
        return Err(Error::LengthMismatch {
            what: "trainable parameter groups (one per make_trainable call)".into(),
            expected: t.len(),
            got: params.len(),
        });
    }
    for (i, (p, t)) in params.iter().zip(t).enumerate() {
        if p.key != t.key {
            return Err(Error::UnknownName {
                name: p.key.clone(),
                context: format!("trainable parameter group {i} is `{}`", t.key),
            });
        }
        if p.values.len() != t.values.len() {
            return Err(Error::LengthMismatch {
                what: format!("values of trainable `{}` (group {i})", t.key),
                expected: t.values.len(),
                got: p.values.len(),
            });
        }
    }
    Ok(())
}

/// Whether the adjoint handles this model (else forward mode is used: ion diffusion).
fn adjoint_supported(module: &Module) -> bool {
    module.diffusion.is_empty()
}

/// The loss of a simulation of `module` and its gradient with respect to the trainable values
/// `params` (as from `get_parameters()`) and to every value of `param_state` (from `data_set`),
/// by reverse mode (discrete adjoint; see the [module documentation](self) for what it covers).
///
/// ```
/// use huxley::grad::{GradOptions, Loss, value_and_grad};
/// use huxley::{Branch, Cell, Compartment, HH, IntegrateOptions, Scalar, step_current};
/// use nalgebra::DMatrix;
///
/// struct MeanSquare;
/// impl Loss for MeanSquare {
///     fn value<T: Scalar>(&self, rec: &DMatrix<T>) -> T {
///         let n = T::from(rec.len() as f64);
///         rec.iter().fold(T::zero(), |acc, &v| acc + (v + T::from(65.0)).powi(2)) / n
///     }
/// }
/// # fn main() -> huxley::Result<()> {
/// let mut cell = Cell::new(&Branch::new(&Compartment::new(), 2)?, &[-1, 0, 0])?;
/// cell.insert(HH)?;
/// cell.branch(0)?.comp(0)?.stimulate(&step_current(0.5, 1.0, 0.2, 0.025, 3.0, 0.0));
/// cell.branch(2)?.comp(1)?.record("v")?;
/// cell.make_trainable("HH_gNa", None)?;
/// cell.branch(1)?.make_trainable("radius", None)?;
/// let opts = IntegrateOptions::t_max(3.0);
/// let g = value_and_grad(&cell, &opts, &cell.get_parameters(), None, &MeanSquare, &GradOptions::default())?;
/// assert_eq!(g.params[0].key, "HH_gNa");
/// assert!(g.params[0].values[0].is_finite() && g.params[1].values[0] != 0.0);
/// # Ok(()) }
/// ```
pub fn value_and_grad<L: Loss>(
    module: &Module,
    opts: &IntegrateOptions,
    params: &[ParamGroup<f64>],
    param_state: Option<&[ParamState<f64>]>,
    loss: &L,
    grad_opts: &GradOptions,
) -> Result<Gradient> {
    check_params(module, params)?;
    if !adjoint_supported(module) {
        return value_and_grad_forward(module, opts, params, param_state, loss);
    }
    let g = adjoint::run(
        module,
        opts,
        params,
        param_state,
        &|rec| loss_and_grad(loss, rec, &opts.parallelism),
        grad_opts,
    )?;
    check_finite_gradient(&g)?;
    Ok(g)
}

/// [`value_and_grad`] with a loss given together with its gradient with respect to the
/// recordings: `loss(recordings) = (value, d value / d recordings)` (same shape as the
/// recordings).
pub fn value_and_grad_with<F>(
    module: &Module,
    opts: &IntegrateOptions,
    params: &[ParamGroup<f64>],
    param_state: Option<&[ParamState<f64>]>,
    loss: F,
    grad_opts: &GradOptions,
) -> Result<Gradient>
where
    F: Fn(&DMatrix<f64>) -> (f64, DMatrix<f64>),
{
    check_params(module, params)?;
    let with_shape = |rec: &DMatrix<f64>| -> Result<(f64, DMatrix<f64>)> {
        let (v, g) = loss(rec);
        if g.shape() != rec.shape() {
            return Err(Error::ShapeMismatch {
                what: "gradient of the loss (must have the shape of the recordings)".into(),
                expected: rec.shape(),
                got: g.shape(),
            });
        }
        Ok((v, g))
    };
    let g = if adjoint_supported(module) {
        adjoint::run(module, opts, params, param_state, &with_shape, grad_opts)?
    } else {
        forward::run_forward(module, opts, params, param_state, &|rec: &DMatrix<
            Dual64,
        >| {
            let re = rec.map(|x| x.re);
            let (v, g) = with_shape(&re)?;
            check_finite_loss(v, &g)?;
            let eps = g.iter().zip(rec.iter()).map(|(g, r)| g * r.eps).sum();
            Ok(Dual64::new(v, eps))
        })?
    };
    check_finite_gradient(&g)?;
    Ok(g)
}

/// The loss and its gradient by forward mode: one dual-number simulation per trainable value and
/// per `param_state` value (every solver, recorded currents, networks and diffusion included).
/// Same arguments and result as [`value_and_grad`] (without its options; `stored_states` is 0).
pub fn value_and_grad_forward<L: Loss>(
    module: &Module,
    opts: &IntegrateOptions,
    params: &[ParamGroup<f64>],
    param_state: Option<&[ParamState<f64>]>,
    loss: &L,
) -> Result<Gradient> {
    check_params(module, params)?;
    let g = forward::run_forward(module, opts, params, param_state, &|rec: &DMatrix<
        Dual64,
    >| {
        loss.validate(rec.shape())?;
        let v = loss.value(rec);
        if !v.re.is_finite() {
            return Err(Error::NonFiniteGradient {
                what: "loss".into(),
                value: v.re,
            });
        }
        Ok(v)
    })?;
    check_finite_gradient(&g)?;
    Ok(g)
}
