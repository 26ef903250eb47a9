//! Mechanisms: ion channels and pumps.
//!
//! A mechanism describes **one compartment**: its parameters and states with their defaults, how
//! its states advance over a time step at a given voltage, the current it passes, and its steady
//! state. The library drives it over every compartment where it is inserted, in loops it compiles
//! for the vector units of the CPU it runs on (see [`driver`]).
//!
//! Write a mechanism by implementing [`Mechanism`] with the number of parameters `P` and states `S`
//! as const generics; every method is generic over the scalar type, so the same code runs in `f64`
//! simulations and with dual numbers for derivatives. Mark `update_states` and `compute_current`
//! (and `update_voltage`, if you use it) `#[inline(always)]` and use [`crate::math`] for `exp` and
//! friends: the loops over compartments then vectorise. `init_state` runs once, in a loop of its
//! own, so it need not be inlined. Keep the methods branch-free where you can
//! ([`crate::math::select`], [`crate::math::min`]): a loop with a branch the compiler cannot
//! turn into a select stays scalar.
//!
//! Gradients need nothing more: the adjoint ([`crate::grad`]) runs the same methods in dual
//! numbers. For a channel whose states update independently
//! ([`Mechanism::INDEPENDENT_STATES`]) it pulls cotangents back per compartment through
//! [`Mechanism::update_partials`] and [`Mechanism::current_vjp`], whose defaults do that with
//! dual numbers; a hand-written override of either (as [`HH`] has) makes gradients cheaper.
//!
//! ```
//! use huxley::mechanisms::{Mechanism, Var, own};
//! use huxley::{Scalar, math};
//!
//! /// A leak whose conductance is given in mS/cm².
//! #[derive(Clone)]
//! struct MyLeak;
//!
//! impl Mechanism<2, 0> for MyLeak {
//!     fn name(&self) -> &str { "MyLeak" }
//!     fn params(&self) -> [Var; 2] { [own("g", 0.1), own("e", -65.0)] }
//!     fn states(&self) -> [Var; 0] { [] }
//!     #[inline(always)]
//!     fn update_states<T: Scalar>(&self, _s: &mut [T; 0], _p: &[T; 2], _v: T, _dt: T) {}
//!     #[inline(always)]
//!     fn compute_current<T: Scalar>(&self, _s: &[T; 0], p: &[T; 2], v: T) -> T {
//!         // mA/cm² (Jaxley's unit for channel currents), outward positive.
//!         p[0] * T::from(1e-3) * (v - p[1])
//!     }
//! }
//!
//! let mut comp = huxley::Compartment::new();
//! comp.insert(MyLeak);
//! assert!(comp.has_mechanism("MyLeak"));
//! ```

pub mod driver;
mod hh;
mod point;
mod pospischil;
mod pumps;
pub mod vjp;

pub use hh::HH;
pub use point::{AdEx, Fire, Izhikevich, Rate};
pub use pospischil::{CaL, CaT, K, Km, Leak, Na};
pub use pumps::{CaNernstReversal, CaPump};

use crate::scalar::Scalar;

/// A parameter or state of a mechanism: its name and default value.
///
/// Own variables ([`own`]) are stored under `"<mechanism name>_<name>"`, so two mechanisms never
/// share them and renaming the mechanism renames them. Shared variables ([`shared`]) are stored
/// under their bare name and are one array for all mechanisms that declare them (Jaxley's `eCa`,
/// `CaCon_i`, `i_Ca`, `vt`, …). A shared parameter named after a compartment property (`radius`,
/// `length`, `axial_resistivity`, `capacitance`, `area`, `volume`) reads that property.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Var {
    /// Name (without the mechanism prefix for own variables).
    pub name: &'static str,
    /// Default value, written where the mechanism is inserted.
    pub default: f64,
    /// Whether the variable is shared (unprefixed).
    pub shared: bool,
}

/// An own (prefixed) parameter or state.
pub const fn own(name: &'static str, default: f64) -> Var {
    Var {
        name,
        default,
        shared: false,
    }
}

/// A shared (unprefixed) parameter or state.
pub const fn shared(name: &'static str, default: f64) -> Var {
    Var {
        name,
        default,
        shared: true,
    }
}

/// Whether a mechanism's current acts on the membrane voltage or on an ion concentration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A channel: its current (mA/cm², outward positive) enters the voltage equation.
    Channel,
    /// A pump: its "current" is `-d[ion]/dt` (mM/ms) of the named ion state, which is advanced by
    /// implicit Euler (Jaxley's `Pump`).
    Pump {
        /// Name of the ion concentration state the pump acts on, e.g. `"CaCon_i"`.
        ion: &'static str,
    },
}

/// A channel or pump, described for one compartment.
///
/// `P` is the number of parameters and `S` the number of states. Parameters and states arrive in
/// the order of [`Mechanism::params`] and [`Mechanism::states`].
pub trait Mechanism<const P: usize, const S: usize>: Clone + Send + Sync + 'static {
    /// Whether the mechanism writes the membrane voltage directly (Jaxley's non-capacitive
    /// mechanisms such as Izhikevich or integrate-and-fire). When `true`, the library calls
    /// [`Mechanism::update_voltage`] after [`Mechanism::update_states`] and stores the voltage it
    /// returns.
    const SETS_VOLTAGE: bool = false;

    /// Whether the update of each state reads no other state of the mechanism: only itself,
    /// the voltage, the parameters and `dt`, as for Hodgkin–Huxley gates. The adjoint
    /// ([`crate::grad`]) then differentiates the updates of all such states in one dual-number
    /// pass instead of one pass per state. The default, `false`, is always correct; `true` for a
    /// mechanism where it does not hold gives wrong gradients (the crate's tests check the
    /// built-ins' declarations against their Jacobians).
    const INDEPENDENT_STATES: bool = false;

    /// Whether [`Mechanism::update_states`] reads the parameters. With `false` (and
    /// [`Mechanism::INDEPENDENT_STATES`]), the adjoint differentiates a parameter of this
    /// mechanism through its current alone. The default, `true`, is always correct.
    const UPDATE_READS_PARAMS: bool = true;

    /// Whether [`Mechanism::update_states`] returns NaN for every state when every state it
    /// started from is NaN, whatever the voltage and parameters (as for gates advanced by
    /// exponential Euler, `x_inf + (x − x_inf) e`). The step runs a mechanism that covers every
    /// compartment of a chunk over the chunk's branchpoints too (contiguous loads instead of
    /// gathers), where its states are undefined (NaN); with `true` they stay NaN by themselves
    /// instead of being reset after every update. The default, `false`, is always correct;
    /// `true` for a mechanism where it does not hold leaves numbers at branchpoints
    /// ([`check_declarations`] checks it).
    const UPDATE_KEEPS_NAN: bool = false;

    /// The mechanism's name: the prefix of its own variables (e.g. `"HH"`).
    fn name(&self) -> &str;

    /// Parameters with defaults.
    fn params(&self) -> [Var; P];

    /// States with defaults.
    fn states(&self) -> [Var; S];

    /// The name of the current this mechanism adds to, given the name it is inserted under.
    /// Mechanisms with the same current name add up (Jaxley: `i_K` from K and Km). Default:
    /// `i_<name>`.
    fn current_name(&self, name: &str) -> String {
        format!("i_{name}")
    }

    /// Channel (acts on `v`) or pump (acts on an ion).
    fn kind(&self) -> Kind {
        Kind::Channel
    }

    /// Advances the states by `dt` (ms) at membrane voltage `v` (mV).
    fn update_states<T: Scalar>(&self, states: &mut [T; S], params: &[T; P], v: T, dt: T);

    /// The current at voltage `v` (or, for a pump, at ion concentration `v`): mA/cm² for
    /// channels, mM/ms for pumps.
    fn compute_current<T: Scalar>(&self, states: &[T; S], params: &[T; P], v: T) -> T;

    /// Sets the states to their steady state at voltage `v`. The default leaves them unchanged.
    fn init_state<T: Scalar>(&self, _states: &mut [T; S], _params: &[T; P], _v: T, _dt: T) {}

    /// For mechanisms with [`Mechanism::SETS_VOLTAGE`]: the new membrane voltage, given the
    /// updated states and the voltage at the start of the step. May also change the states (a
    /// spike reset). The default returns `v` unchanged.
    fn update_voltage<T: Scalar>(&self, _states: &mut [T; S], _params: &[T; P], v: T, _dt: T) -> T {
        v
    }

    /// The parts of the state update's Jacobian that the adjoint ([`crate::grad`]) needs, for a
    /// mechanism with [`Mechanism::INDEPENDENT_STATES`]: writes the updated states to `s_new`,
    /// `∂s'_k/∂v` to `ds_dv` and `∂s'_k/∂s_k` to `ds_ds` (the other derivatives between states
    /// are zero), and if the update reads the parameters ([`Mechanism::UPDATE_READS_PARAMS`]),
    /// `∂s'_k/∂p_j` to `ds_dp`. The default ([`vjp::update_partials_by_duals`]) runs
    /// [`Mechanism::update_states`] twice in dual numbers; an override must give the same
    /// numbers (the crate's tests compare its built-ins' overrides with the default).
    #[inline(always)]
    fn update_partials(
        &self,
        s: &[f64; S],
        p: &[f64; P],
        v: f64,
        dt: f64,
        out: vjp::Partials<'_, P, S>,
    ) {
        vjp::update_partials_by_duals(self, s, p, v, dt, out)
    }

    /// Reverse mode of the current and of its linearisation at one compartment, for the
    /// adjoint: with `i_bar` the cotangent of the current `I(s, p, v)` and `g_bar` that of its
    /// slope `g = (I(v + δ) − I(v)) / δ` (δ = [`driver::FD_DELTA`], the step's linearisation),
    /// adds `i_bar ∂I/∂s + g_bar ∂g/∂s` to `s_bar` and the same for the parameters to `p_bar`,
    /// and returns it for `v`. `s` are the updated states (those the current reads). The default
    /// ([`vjp::current_vjp_by_duals`]) runs [`Mechanism::compute_current`] in dual numbers,
    /// twice per state, parameter and `v`; a hand-written override is much cheaper.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn current_vjp(
        &self,
        s: &[f64; S],
        p: &[f64; P],
        v: f64,
        i_bar: f64,
        g_bar: f64,
        s_bar: &mut [f64; S],
        p_bar: &mut [f64; P],
    ) -> f64 {
        vjp::current_vjp_by_duals(self, s, p, v, i_bar, g_bar, s_bar, p_bar)
    }

    /// The same mechanism under another name (Jaxley's `change_name`), e.g. two leaks with
    /// different parameters: `cell.insert(Leak.rename("Leak2"))`. Own variables are then stored
    /// as `Leak2_gLeak`, and the default current name becomes `i_Leak2`.
    fn rename(self, name: &str) -> Renamed<Self>
    where
        Self: Sized,
    {
        Renamed {
            inner: self,
            name: name.to_string(),
        }
    }
}

/// A mechanism inserted under another name; see [`Mechanism::rename`].
#[derive(Clone, Debug)]
pub struct Renamed<M> {
    inner: M,
    name: String,
}

impl<M: Mechanism<P, S>, const P: usize, const S: usize> Mechanism<P, S> for Renamed<M> {
    const SETS_VOLTAGE: bool = M::SETS_VOLTAGE;
    const INDEPENDENT_STATES: bool = M::INDEPENDENT_STATES;
    const UPDATE_READS_PARAMS: bool = M::UPDATE_READS_PARAMS;
    const UPDATE_KEEPS_NAN: bool = M::UPDATE_KEEPS_NAN;
    fn name(&self) -> &str {
        &self.name
    }
    fn params(&self) -> [Var; P] {
        self.inner.params()
    }
    fn states(&self) -> [Var; S] {
        self.inner.states()
    }
    fn current_name(&self, name: &str) -> String {
        self.inner.current_name(name)
    }
    fn kind(&self) -> Kind {
        self.inner.kind()
    }
    #[inline(always)]
    fn update_states<T: Scalar>(&self, s: &mut [T; S], p: &[T; P], v: T, dt: T) {
        self.inner.update_states(s, p, v, dt)
    }
    #[inline(always)]
    fn compute_current<T: Scalar>(&self, s: &[T; S], p: &[T; P], v: T) -> T {
        self.inner.compute_current(s, p, v)
    }
    #[inline(always)]
    fn init_state<T: Scalar>(&self, s: &mut [T; S], p: &[T; P], v: T, dt: T) {
        self.inner.init_state(s, p, v, dt)
    }
    #[inline(always)]
    fn update_voltage<T: Scalar>(&self, s: &mut [T; S], p: &[T; P], v: T, dt: T) -> T {
        self.inner.update_voltage(s, p, v, dt)
    }
    #[inline(always)]
    fn update_partials(
        &self,
        s: &[f64; S],
        p: &[f64; P],
        v: f64,
        dt: f64,
        out: vjp::Partials<'_, P, S>,
    ) {
        self.inner.update_partials(s, p, v, dt, out)
    }
    #[inline(always)]
    fn current_vjp(
        &self,
        s: &[f64; S],
        p: &[f64; P],
        v: f64,
        i_bar: f64,
        g_bar: f64,
        s_bar: &mut [f64; S],
        p_bar: &mut [f64; P],
    ) -> f64 {
        self.inner.current_vjp(s, p, v, i_bar, g_bar, s_bar, p_bar)
    }
}

/// A mechanism as the module stores it: names resolved, defaults known.
#[derive(Clone, Debug, PartialEq)]
pub struct MechanismInfo {
    /// Name it was inserted under.
    pub name: String,
    /// Channel or pump.
    pub kind: InfoKind,
    /// Name of the current it adds to.
    pub current_name: String,
    /// Full parameter names (prefixed for own ones) with defaults, in declaration order.
    pub params: Vec<(String, f64)>,
    /// Full state names with defaults, in declaration order.
    pub states: Vec<(String, f64)>,
    /// Whether it writes the membrane voltage.
    pub sets_voltage: bool,
    /// [`Mechanism::INDEPENDENT_STATES`].
    pub independent_states: bool,
    /// [`Mechanism::UPDATE_READS_PARAMS`].
    pub update_reads_params: bool,
    /// [`Mechanism::UPDATE_KEEPS_NAN`].
    pub update_keeps_nan: bool,
}

/// Owned form of [`Kind`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InfoKind {
    /// Acts on `v`.
    Channel,
    /// Acts on the named ion concentration.
    Pump(String),
}

impl MechanismInfo {
    /// The state its current acts on: `"v"` or the pump's ion.
    pub fn target(&self) -> &str {
        match &self.kind {
            InfoKind::Channel => "v",
            InfoKind::Pump(ion) => ion,
        }
    }

    pub(crate) fn from_mechanism<M: Mechanism<P, S>, const P: usize, const S: usize>(
        m: &M,
    ) -> Self {
        let name = m.name().to_string();
        let full = |v: &Var| {
            if v.shared {
                v.name.to_string()
            } else {
                format!("{name}_{}", v.name)
            }
        };
        MechanismInfo {
            kind: match m.kind() {
                Kind::Channel => InfoKind::Channel,
                Kind::Pump { ion } => InfoKind::Pump(ion.to_string()),
            },
            current_name: m.current_name(&name),
            params: m.params().iter().map(|v| (full(v), v.default)).collect(),
            states: m.states().iter().map(|v| (full(v), v.default)).collect(),
            sets_voltage: M::SETS_VOLTAGE,
            independent_states: M::INDEPENDENT_STATES,
            update_reads_params: M::UPDATE_READS_PARAMS,
            update_keeps_nan: M::UPDATE_KEEPS_NAN,
            name,
        }
    }
}

/// Checks a mechanism's [`Mechanism::INDEPENDENT_STATES`] and
/// [`Mechanism::UPDATE_READS_PARAMS`] against the Jacobian of its update, by dual numbers at
/// voltages across the physiological range (−90 to 35 mV), states across (0, 1) and the default
/// parameters: a state declared independent may move no other state, a parameter the update
/// declares unread may move no state. The derivatives must be exactly zero (a structural zero),
/// and each state's derivative with respect to itself must not be. With
/// [`Mechanism::UPDATE_KEEPS_NAN`], the update of NaN states must give NaN states at the same
/// voltages, with the default parameters and with NaN ones. A test of your own channel can
/// call it; the crate's tests check the built-ins.
///
/// ```
/// use huxley::mechanisms::check_declarations;
/// use huxley::{HH, Na};
/// check_declarations(&HH)?;
/// check_declarations(&Na)?;
/// # Ok::<(), huxley::Error>(())
/// ```
pub fn check_declarations<M: Mechanism<P, S>, const P: usize, const S: usize>(
    m: &M,
) -> crate::Result<()> {
    use crate::scalar::Dual64;
    let fail = |what: String| {
        Err(crate::Error::WrongDeclaration {
            mechanism: m.name().to_string(),
            what,
        })
    };
    let p0: [f64; P] = m.params().map(|v| v.default);
    for v in [-90.0, -65.0, -40.0, -10.0, 0.0, 35.0] {
        if M::UPDATE_KEEPS_NAN {
            for p in [p0, [f64::NAN; P]] {
                let mut s = [f64::NAN; S];
                m.update_states(&mut s, &p, v, 0.025);
                if let Some(k) = (0..S).find(|&k| !s[k].is_nan()) {
                    return fail(format!("state {k} is {} after NaN at v = {v}", s[k]));
                }
            }
        }
        for s0 in [0.05, 0.4, 0.9] {
            let s: [f64; S] = std::array::from_fn(|j| s0 + 0.03 * j as f64);
            let run = |seed_s: Option<usize>, seed_p: Option<usize>| {
                let mut sd: [Dual64; S] = std::array::from_fn(|j| {
                    Dual64::new(s[j], f64::from(u8::from(seed_s == Some(j))))
                });
                let pd: [Dual64; P] = std::array::from_fn(|q| {
                    Dual64::new(p0[q], f64::from(u8::from(seed_p == Some(q))))
                });
                m.update_states(&mut sd, &pd, Dual64::from(v), Dual64::from(0.025));
                sd.map(|x| x.eps)
            };
            if M::INDEPENDENT_STATES {
                for k in 0..S {
                    let d = run(Some(k), None);
                    if let Some(j) = (0..S).find(|&j| j != k && d[j] != 0.0) {
                        return fail(format!("state {j} depends on state {k} at v = {v}"));
                    }
                    if d[k] == 0.0 {
                        return fail(format!("state {k} does not depend on itself at v = {v}"));
                    }
                }
            }
            if !M::UPDATE_READS_PARAMS {
                for q in 0..P {
                    if run(None, Some(q)).iter().any(|&d| d != 0.0) {
                        return fail(format!("the update reads parameter {q}"));
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_declarations_match_the_update_jacobians() {
        check_declarations(&HH).unwrap();
        check_declarations(&Leak).unwrap();
        check_declarations(&Na).unwrap();
        check_declarations(&K).unwrap();
        check_declarations(&Km).unwrap();
        check_declarations(&CaL).unwrap();
        check_declarations(&CaT).unwrap();
        check_declarations(&HH.rename("HH2")).unwrap();
        const {
            assert!(<Renamed<HH> as Mechanism<6, 3>>::INDEPENDENT_STATES);
            assert!(!<Renamed<HH> as Mechanism<6, 3>>::UPDATE_READS_PARAMS);
        }
    }

    /// Two coupled states declared independent, and a parameter-reading update declared not to
    /// read them: the check finds both.
    #[test]
    fn wrong_declarations_are_found() {
        #[derive(Clone)]
        struct Coupled<const INDEP: bool, const READS: bool>;
        impl<const INDEP: bool, const READS: bool> Mechanism<1, 2> for Coupled<INDEP, READS> {
            const INDEPENDENT_STATES: bool = INDEP;
            const UPDATE_READS_PARAMS: bool = READS;
            fn name(&self) -> &str {
                "Coupled"
            }
            fn params(&self) -> [Var; 1] {
                [own("k", 0.5)]
            }
            fn states(&self) -> [Var; 2] {
                [own("a", 0.1), own("b", 0.1)]
            }
            fn update_states<T: Scalar>(&self, s: &mut [T; 2], p: &[T; 1], _v: T, dt: T) {
                let a = s[0];
                s[0] = a + dt * (s[1] - a);
                s[1] *= T::from(1.0) - dt * p[0];
            }
            fn compute_current<T: Scalar>(&self, s: &[T; 2], _p: &[T; 1], v: T) -> T {
                s[0] * v
            }
        }
        assert!(check_declarations(&Coupled::<false, true>).is_ok());
        assert!(
            check_declarations(&Coupled::<true, true>)
                .unwrap_err()
                .to_string()
                .contains("mechanism `Coupled`: state 0 depends on state 1")
        );
        assert!(
            check_declarations(&Coupled::<false, false>)
                .unwrap_err()
                .to_string()
                .contains("reads parameter 0")
        );
    }

    /// A gate that relaxes to its steady state in one step (`x ← x_inf(v)`) forgets a NaN: it
    /// may not declare [`Mechanism::UPDATE_KEEPS_NAN`]; the same gate by exponential Euler may.
    #[test]
    fn a_wrong_nan_declaration_is_found() {
        #[derive(Clone)]
        struct Gate<const EXACT: bool>;
        impl<const EXACT: bool> Mechanism<1, 1> for Gate<EXACT> {
            const UPDATE_KEEPS_NAN: bool = true;
            fn name(&self) -> &str {
                "Gate"
            }
            fn params(&self) -> [Var; 1] {
                [own("g", 0.1)]
            }
            fn states(&self) -> [Var; 1] {
                [own("x", 0.1)]
            }
            fn update_states<T: Scalar>(&self, s: &mut [T; 1], _p: &[T; 1], v: T, dt: T) {
                let inf = T::from(1.0) / (T::from(1.0) + crate::math::exp(-v * T::from(0.1)));
                s[0] = if EXACT {
                    inf
                } else {
                    crate::math::exponential_euler(s[0], dt, inf, T::from(2.0))
                };
            }
            fn compute_current<T: Scalar>(&self, s: &[T; 1], p: &[T; 1], v: T) -> T {
                p[0] * s[0] * v
            }
        }
        assert!(check_declarations(&Gate::<false>).is_ok());
        assert!(
            check_declarations(&Gate::<true>)
                .unwrap_err()
                .to_string()
                .contains("mechanism `Gate`: state 0 is 0.")
        );
    }
}
