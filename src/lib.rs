//! # huxley
//!
//! Fast, differentiable simulation of morphologically detailed neurons: compartments, branches
//! and cells, ion channels and pumps, the cable equation solved by implicit Euler on the
//! neuron's tree, step-by-step integration, and derivatives through the same code by dual
//! numbers. Default numerics reproduce [Jaxley](https://github.com/jaxleyverse/jaxley) 0.14.0.
//!
//! Data flows one way: **describe** ([`model`]: [`Compartment`], [`Branch`], [`Cell`], views,
//! `set`/`insert`/`record`/`stimulate`) → **compile** ([`compile`]: flat arrays, node and
//! elimination orders, state layouts) → **step** ([`step`](crate::StepFn), [`solver`],
//! [`mechanisms`]) → **observe** (recordings, spikes). Around the gradient: parameter
//! [`transforms`], the [`Adam`] optimiser ([`optim`]), batches of runs ([`integrate_batch`],
//! [`integrate_batch_stimuli`]) and [`Module::write_trainables`].
//!
//! ```
//! use huxley::{Branch, Cell, Compartment, HH, IntegrateOptions, integrate, spike_count, step_current};
//! # fn main() -> huxley::Result<()> {
//! let branch = Branch::new(&Compartment::new(), 4)?;
//! let mut cell = Cell::new(&branch, &[-1, 0, 0, 1, 1])?;
//! cell.insert(HH)?;
//! cell.branch(0)?.comp(0)?.stimulate(&step_current(1.0, 5.0, 0.1, 0.025, 20.0, 0.0));
//! cell.branch(4)?.loc(1.0)?.record("v")?;
//! let sim = integrate(&cell, &IntegrateOptions::default())?;
//! let v: Vec<f64> = sim.recordings.row(0).iter().copied().collect();
//! assert!(spike_count(&v, 0.0) >= 1);
//! # Ok(()) }
//! ```

// Kernels index several arrays with one loop variable on purpose: that is the shape the
// compiler vectorises.
#![allow(clippy::needless_range_loop)]
#![warn(missing_docs)]

mod batch;
pub mod compile;
pub mod dynamics;
mod error;
pub mod externals;
pub mod grad;
mod integrate;
pub mod math;
pub mod mechanisms;
pub mod model;
pub mod optim;
mod parallel;
mod rng;
pub mod scalar;
pub mod solver;
mod spikes;
pub mod state;
mod step;
pub mod swc;
pub mod synapses;
mod team;
pub mod transforms;

pub use batch::{integrate_batch, integrate_batch_stimuli, value_and_grad_batch};
pub use dynamics::{DynamicStateUtils, DynamicStates, Linearization, build_dynamic_state_utils};
pub use error::{Error, Result, SetNcompError};
pub use externals::{DataStimuli, Externals, ExternalsAt, step_current};
pub use grad::{
    Checkpointing, GradOptions, Gradient, Loss, MeanSquaredError, value_and_grad,
    value_and_grad_forward, value_and_grad_with,
};
pub use integrate::{
    InitFn, IntegrateOptions, Simulation, StepFn, build_init_and_step_fn, integrate, integrate_with,
};
pub use mechanisms::{
    AdEx, CaL, CaNernstReversal, CaPump, CaT, Fire, HH, Izhikevich, K, Km, Leak, Mechanism, Na,
    Rate,
};
pub use model::{
    Branch, Cell, Clamp, Compartment, Connection, EdgeLevel, EdgeView, Level, Module, Network,
    ParamGroup, ParamState, Recording, Selection, Stimulus, View, Views, connect,
    connectivity_matrix_connect, fully_connect, sparse_connect,
};
pub use optim::Adam;
pub use parallel::Parallelism;
pub use scalar::{Dual64, Scalar};
pub use solver::{Solver, VoltageSolver};
pub use spikes::{spike_count, spike_times};
pub use state::{AllParams, AllStates};
pub use step::point_to_density;
pub use swc::{SwcOptions, parse_swc, read_swc};
pub use synapses::{
    IonotropicSynapse, Synapse, TanhConductanceSynapse, TanhRateSynapse, TestSynapse,
};
pub use transforms::{ParamTransform, Transform};
