//! Synapses: currents between a pre-synaptic and a post-synaptic compartment of a network.
//!
//! A synapse is described for **one connection** (one edge of the network): its parameters and
//! states with defaults, how its states advance over a time step given the pre- and
//! post-synaptic voltages, and the current (nA) it injects into the post-synaptic compartment.
//! The library drives it over every edge of its type, in loops it compiles for the vector units
//! of the CPU (see [`driver`]), exactly as it does for [`crate::mechanisms`].
//!
//! Parameters and states are stored per edge, in edge order (Jaxley's `jaxedges`): the key
//! `IonotropicSynapse_gS` of `all_params` has one value per `IonotropicSynapse` edge, the key
//! `IonotropicSynapse_s` of `all_states` likewise, and `i_IonotropicSynapse` is the current of
//! each edge (nA, outward positive at the post-synaptic membrane).
//!
//! How a synapse enters the voltage equation (Jaxley's `_synapse_currents`): its current `I`
//! (nA) is converted to a density on the post-synaptic compartment, `I·1e5/area` (µA/cm²), and
//! linearised by a finite difference that perturbs **both** `v_pre` and `v_post` by 1e-3 mV; the
//! slope and constant are added to the post-synaptic node, after the channel terms (×1000) and
//! the external current, and everything is divided by the capacitance.
//!
//! A synapse whose update is `s ← s·a + b` with `a` and `b` depending only on the pre-synaptic
//! voltage and some parameters (exponential-Euler synapses such as the built-in ones) can say
//! so with [`Synapse::PRE_AFFINE`]: edges leaving one node then share the coefficients, computed
//! once per node (checked by [`check_pre_affine`] when the synapse is connected).
//!
//! Write your own synapse by implementing [`Synapse`]:
//!
//! ```
//! use huxley::mechanisms::{Var, own};
//! use huxley::synapses::Synapse;
//! use huxley::{Scalar, math};
//!
//! /// A synapse whose conductance follows the pre-synaptic voltage with a delay of `tau`.
//! #[derive(Clone)]
//! struct Smooth;
//!
//! impl Synapse<3, 1> for Smooth {
//!     fn name(&self) -> &str { "Smooth" }
//!     fn params(&self) -> [Var; 3] { [own("g", 1e-3), own("e", 0.0), own("tau", 5.0)] }
//!     fn states(&self) -> [Var; 1] { [own("x", 0.0)] }
//!     #[inline(always)]
//!     fn update_states<T: Scalar>(&self, s: &mut [T; 1], p: &[T; 3], v_pre: T, _v_post: T, dt: T) {
//!         let target = T::from(1.0) / (T::from(1.0) + math::save_exp(-(v_pre + T::from(20.0))));
//!         s[0] = math::exponential_euler(s[0], dt, target, p[2]);
//!     }
//!     #[inline(always)]
//!     fn compute_current<T: Scalar>(&self, s: &[T; 1], p: &[T; 3], _v_pre: T, v_post: T) -> T {
//!         p[0] * s[0] * (v_post - p[1]) // nA
//!     }
//! }
//! # fn main() -> huxley::Result<()> {
//! use huxley::{Cell, Network, connect};
//! let mut net = Network::new(&[Cell::default(), Cell::default()])?;
//! let pre = net.cell(0)?.selection();
//! let post = net.cell(1)?.selection();
//! connect(&mut net, &pre, &post, Smooth)?;
//! assert_eq!(net.n_edges(), 1);
//! # Ok(()) }
//! ```

mod builtin;
pub mod driver;

pub use builtin::{IonotropicSynapse, TanhConductanceSynapse, TanhRateSynapse, TestSynapse};

use crate::mechanisms::Var;
use crate::scalar::Scalar;

/// A synapse type, described for one connection.
///
/// `P` is the number of parameters and `S` the number of states; they arrive in the order of
/// [`Synapse::params`] and [`Synapse::states`]. Conductances are in µS, currents in nA.
pub trait Synapse<const P: usize, const S: usize>: Clone + Send + Sync + 'static {
    /// The synapse's name: the prefix of its own variables and the type name of its edges.
    fn name(&self) -> &str;

    /// Parameters with defaults (own ones are stored as `<name>_<var>`).
    fn params(&self) -> [Var; P];

    /// States with defaults.
    fn states(&self) -> [Var; S];

    /// Advances the states by `dt` (ms), given the pre- and post-synaptic voltages (mV) at the
    /// start of the step.
    fn update_states<T: Scalar>(
        &self,
        states: &mut [T; S],
        params: &[T; P],
        v_pre: T,
        v_post: T,
        dt: T,
    );

    /// Whether the state update is affine in the states with coefficients that depend only on
    /// the parameters listed in [`Synapse::PRE_AFFINE_PARAMS`], the pre-synaptic voltage and
    /// the time step: `s_new[k] = s[k]·a[k] + b[k]` with `(a[k], b[k]) = pre_affine(..)[k]`,
    /// bit for bit what [`Synapse::update_states`] computes (Jaxley's exponential-Euler synapses
    /// are of this kind).
    ///
    /// Edges that leave the same node then share the coefficients: when those parameters have
    /// one value on every edge of the type and the type has at least two edges per
    /// pre-synaptic node, the step computes them once per pre-synaptic node instead of once per
    /// edge. The results are the same either way.
    const PRE_AFFINE: bool = false;

    /// The parameters (indices into [`Synapse::params`]) that [`Synapse::pre_affine`] reads.
    const PRE_AFFINE_PARAMS: &'static [usize] = &[];

    /// The coefficients `(a, b)` of each state's update (see [`Synapse::PRE_AFFINE`]). Only
    /// called if `PRE_AFFINE` is `true`, and then it may read only the parameters of
    /// `PRE_AFFINE_PARAMS` (the others are those of an arbitrary edge). The default is the
    /// identity.
    #[inline(always)]
    fn pre_affine<T: Scalar>(&self, params: &[T; P], v_pre: T, dt: T) -> [(T, T); S] {
        let _ = (params, v_pre, dt);
        [(T::one(), T::zero()); S]
    }

    /// The current through the synapse (nA, positive out of the post-synaptic cell).
    fn compute_current<T: Scalar>(
        &self,
        states: &[T; S],
        params: &[T; P],
        v_pre: T,
        v_post: T,
    ) -> T;

    /// The same synapse under another name (Jaxley's `change_name`): its edges form a separate
    /// type with its own parameters, e.g. an excitatory and an inhibitory `IonotropicSynapse`.
    fn rename(self, name: &str) -> RenamedSynapse<Self>
    where
        Self: Sized,
    {
        RenamedSynapse {
            inner: self,
            name: name.to_string(),
        }
    }
}

/// Checks a synapse's [`Synapse::PRE_AFFINE`] declaration (nothing to check without it):
/// at pre-synaptic voltages from −90 to 35 mV, two post-synaptic voltages, states across
/// (0, 1) and the default parameters, [`Synapse::update_states`] must give exactly
/// `s·a + b` with the coefficients of [`Synapse::pre_affine`] (whatever the post-synaptic
/// voltage), and the coefficients may not depend on a parameter outside
/// [`Synapse::PRE_AFFINE_PARAMS`] (their derivatives by dual numbers must be exactly zero).
/// `connect` and the other connection functions run it, so a wrong declaration is an error
/// ([`crate::Error::WrongDeclaration`]) instead of wrong numbers.
///
/// ```
/// use huxley::synapses::check_pre_affine;
/// use huxley::{IonotropicSynapse, TestSynapse};
/// check_pre_affine(&IonotropicSynapse)?;
/// check_pre_affine(&TestSynapse)?;
/// # Ok::<(), huxley::Error>(())
/// ```
pub fn check_pre_affine<Y: Synapse<P, S>, const P: usize, const S: usize>(
    y: &Y,
) -> crate::Result<()> {
    use crate::scalar::Dual64;
    if !Y::PRE_AFFINE {
        return Ok(());
    }
    let fail = |what: String| {
        Err(crate::Error::WrongDeclaration {
            mechanism: y.name().to_string(),
            what,
        })
    };
    if let Some(&k) = Y::PRE_AFFINE_PARAMS.iter().find(|&&k| k >= P) {
        return fail(format!(
            "PRE_AFFINE_PARAMS lists parameter {k}, but the synapse has {P}"
        ));
    }
    let p0: [f64; P] = y.params().map(|v| v.default);
    let dt = 0.025;
    for v_pre in [-90.0, -65.0, -40.0, -10.0, 0.0, 35.0] {
        let ab = y.pre_affine(&p0, v_pre, dt);
        for v_post in [-70.0, 20.0] {
            for s0 in [0.05, 0.4, 0.9] {
                let s: [f64; S] = std::array::from_fn(|j| s0 + 0.03 * j as f64);
                let mut new = s;
                y.update_states(&mut new, &p0, v_pre, v_post, dt);
                for k in 0..S {
                    let affine = s[k] * ab[k].0 + ab[k].1;
                    if affine.to_bits() != new[k].to_bits() {
                        return fail(format!(
                            "declares PRE_AFFINE, but at v_pre = {v_pre}, v_post = {v_post}                              state {k} updates to {} while s·a + b = {affine}",
                            new[k]
                        ));
                    }
                }
            }
        }
        for q in (0..P).filter(|q| !Y::PRE_AFFINE_PARAMS.contains(q)) {
            let pd: [Dual64; P] =
                std::array::from_fn(|j| Dual64::new(p0[j], f64::from(u8::from(j == q))));
            let abd = y.pre_affine(&pd, Dual64::from(v_pre), Dual64::from(dt));
            if abd.iter().any(|(a, b)| a.eps != 0.0 || b.eps != 0.0) {
                return fail(format!(
                    "its update coefficients depend on parameter `{}`, which                      PRE_AFFINE_PARAMS does not list",
                    y.params()[q].name
                ));
            }
        }
    }
    Ok(())
}

/// A synapse under another name; see [`Synapse::rename`].
#[derive(Clone, Debug)]
pub struct RenamedSynapse<Y> {
    inner: Y,
    name: String,
}

impl<Y: Synapse<P, S>, const P: usize, const S: usize> Synapse<P, S> for RenamedSynapse<Y> {
    fn name(&self) -> &str {
        &self.name
    }
    fn params(&self) -> [Var; P] {
        self.inner.params()
    }
    fn states(&self) -> [Var; S] {
        self.inner.states()
    }
    #[inline(always)]
    fn update_states<T: Scalar>(&self, s: &mut [T; S], p: &[T; P], v_pre: T, v_post: T, dt: T) {
        self.inner.update_states(s, p, v_pre, v_post, dt)
    }
    const PRE_AFFINE: bool = Y::PRE_AFFINE;
    const PRE_AFFINE_PARAMS: &'static [usize] = Y::PRE_AFFINE_PARAMS;
    #[inline(always)]
    fn pre_affine<T: Scalar>(&self, p: &[T; P], v_pre: T, dt: T) -> [(T, T); S] {
        self.inner.pre_affine(p, v_pre, dt)
    }
    #[inline(always)]
    fn compute_current<T: Scalar>(&self, s: &[T; S], p: &[T; P], v_pre: T, v_post: T) -> T {
        self.inner.compute_current(s, p, v_pre, v_post)
    }
}

/// A synapse type as the network stores it: names resolved, defaults known.
#[derive(Clone, Debug, PartialEq)]
pub struct SynapseInfo {
    /// Type name.
    pub name: String,
    /// Name of its current state, `i_<name>`.
    pub current_name: String,
    /// Full parameter names with defaults, in declaration order.
    pub params: Vec<(String, f64)>,
    /// Full state names with defaults, in declaration order.
    pub states: Vec<(String, f64)>,
    /// If the update is affine with per-pre-synaptic-node coefficients
    /// ([`Synapse::PRE_AFFINE`]): the parameters they read ([`Synapse::PRE_AFFINE_PARAMS`]).
    pub pre_affine: Option<Vec<usize>>,
}

impl SynapseInfo {
    pub(crate) fn from_synapse<Y: Synapse<P, S>, const P: usize, const S: usize>(y: &Y) -> Self {
        let name = y.name().to_string();
        let full = |v: &Var| {
            if v.shared {
                v.name.to_string()
            } else {
                format!("{name}_{}", v.name)
            }
        };
        SynapseInfo {
            current_name: format!("i_{name}"),
            params: y.params().iter().map(|v| (full(v), v.default)).collect(),
            states: y.states().iter().map(|v| (full(v), v.default)).collect(),
            pre_affine: Y::PRE_AFFINE.then(|| Y::PRE_AFFINE_PARAMS.to_vec()),
            name,
        }
    }

    /// Whether `key` is one of its parameters, states or its current.
    pub fn has_key(&self, key: &str) -> bool {
        self.current_name == key
            || self.params.iter().any(|(p, _)| p == key)
            || self.states.iter().any(|(s, _)| s == key)
    }
}
