//! Jaxley's synapses: `IonotropicSynapse`, `TestSynapse`, `TanhRateSynapse`,
//! `TanhConductanceSynapse`.

use super::Synapse;
use crate::math::save_exp;
use crate::mechanisms::{Var, own};
use crate::scalar::{Scalar, c};

/// The open fraction of Jaxley's ionotropic synapses advanced by exponential Euler towards
/// `s∞ = 1/(1 + e^{(v_th − v_pre)/δ})` with time constant `τ = (1 − s∞)/k_minus`:
/// `s·e + s∞·(1 − e)`, `e = save_exp(−dt/τ)`, returned as the pair `(e, s∞·(1 − e))`.
/// (Jaxley divides twice, `slope = −1/τ`; one division `−k_minus/(1 − s∞)` gives the same up to
/// rounding.)
#[inline(always)]
fn open_fraction<T: Scalar>(v_pre: T, v_th: T, delta: T, k_minus: T, dt: T) -> (T, T) {
    let s_inf = c::<T>(1.0) / (c::<T>(1.0) + save_exp((v_th - v_pre) / delta));
    let slope = -(k_minus / (c::<T>(1.0) - s_inf));
    let e = save_exp(slope * dt);
    (e, s_inf * (c::<T>(1.0) - e))
}

/// A generic ionotropic synapse (Abbott & Marder 1998), as Jaxley's `IonotropicSynapse`.
///
/// Parameters `IonotropicSynapse_gS` 1e-4 µS, `_e_syn` 0 mV, `_k_minus` 0.025 /ms, `_v_th`
/// −35 mV, `_delta` 10 mV; state `IonotropicSynapse_s` 0.2 (open fraction).
/// `s∞ = 1/(1 + e^{(v_th − v_pre)/δ})`, `τ = (1 − s∞)/k_minus`, `s` relaxes to `s∞` with `τ`;
/// `I = gS·s·(v_post − e_syn)` (nA).
#[derive(Clone, Copy, Debug, Default)]
pub struct IonotropicSynapse;

impl Synapse<5, 1> for IonotropicSynapse {
    fn name(&self) -> &str {
        "IonotropicSynapse"
    }
    fn params(&self) -> [Var; 5] {
        [
            own("gS", 1e-4),
            own("e_syn", 0.0),
            own("k_minus", 0.025),
            own("v_th", -35.0),
            own("delta", 10.0),
        ]
    }
    fn states(&self) -> [Var; 1] {
        [own("s", 0.2)]
    }
    #[inline(always)]
    fn update_states<T: Scalar>(&self, s: &mut [T; 1], p: &[T; 5], v_pre: T, _v_post: T, dt: T) {
        let (a, b) = open_fraction(v_pre, p[3], p[4], p[2], dt);
        s[0] = s[0] * a + b;
    }
    const PRE_AFFINE: bool = true;
    const PRE_AFFINE_PARAMS: &'static [usize] = &[2, 3, 4];
    #[inline(always)]
    fn pre_affine<T: Scalar>(&self, p: &[T; 5], v_pre: T, dt: T) -> [(T, T); 1] {
        [open_fraction(v_pre, p[3], p[4], p[2], dt)]
    }
    #[inline(always)]
    fn compute_current<T: Scalar>(&self, s: &[T; 1], p: &[T; 5], _v_pre: T, v_post: T) -> T {
        p[0] * s[0] * (v_post - p[1])
    }
}

/// Jaxley's `TestSynapse`: an ionotropic synapse with fixed `v_th` −35 mV, `δ` 10 mV,
/// `k_minus` 1/40 /ms and `e_syn` 0 mV. Parameter `TestSynapse_gC` 1e-4 µS, state
/// `TestSynapse_c` 0.2; `I = gC·c·v_post`.
#[derive(Clone, Copy, Debug, Default)]
pub struct TestSynapse;

impl Synapse<1, 1> for TestSynapse {
    fn name(&self) -> &str {
        "TestSynapse"
    }
    fn params(&self) -> [Var; 1] {
        [own("gC", 1e-4)]
    }
    fn states(&self) -> [Var; 1] {
        [own("c", 0.2)]
    }
    #[inline(always)]
    fn update_states<T: Scalar>(&self, s: &mut [T; 1], _p: &[T; 1], v_pre: T, _v_post: T, dt: T) {
        let [(a, b)] = self.pre_affine(&[T::zero()], v_pre, dt);
        s[0] = s[0] * a + b;
    }
    const PRE_AFFINE: bool = true;
    #[inline(always)]
    fn pre_affine<T: Scalar>(&self, _p: &[T; 1], v_pre: T, dt: T) -> [(T, T); 1] {
        [open_fraction(v_pre, c(-35.0), c(10.0), c(1.0 / 40.0), dt)]
    }
    #[inline(always)]
    fn compute_current<T: Scalar>(&self, s: &[T; 1], p: &[T; 1], _v_pre: T, v_post: T) -> T {
        p[0] * s[0] * (v_post - c(0.0))
    }
}

/// Jaxley's `TanhRateSynapse` (no state): `I = −gS·tanh((v_pre − x_offset)·slope)`.
/// Parameters `TanhRateSynapse_gS` 1e-4, `_x_offset` −70, `_slope` 1. Used with rate neurons
/// ([`crate::Rate`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct TanhRateSynapse;

impl Synapse<3, 0> for TanhRateSynapse {
    fn name(&self) -> &str {
        "TanhRateSynapse"
    }
    fn params(&self) -> [Var; 3] {
        [own("gS", 1e-4), own("x_offset", -70.0), own("slope", 1.0)]
    }
    fn states(&self) -> [Var; 0] {
        []
    }
    #[inline(always)]
    fn update_states<T: Scalar>(&self, _s: &mut [T; 0], _p: &[T; 3], _pre: T, _post: T, _dt: T) {}
    #[inline(always)]
    fn compute_current<T: Scalar>(&self, _s: &[T; 0], p: &[T; 3], v_pre: T, _v_post: T) -> T {
        -p[0] * ((v_pre - p[1]) * p[2]).tanh()
    }
}

/// Jaxley's `TanhConductanceSynapse` (no state):
/// `I = tanh((v_pre − x_offset)·slope)·gS·(v_post − e_syn)`. Parameters
/// `TanhConductanceSynapse_gS` 1e-4, `_e_syn` 0, `_x_offset` −70, `_slope` 1.
#[derive(Clone, Copy, Debug, Default)]
pub struct TanhConductanceSynapse;

impl Synapse<4, 0> for TanhConductanceSynapse {
    fn name(&self) -> &str {
        "TanhConductanceSynapse"
    }
    fn params(&self) -> [Var; 4] {
        [
            own("gS", 1e-4),
            own("e_syn", 0.0),
            own("x_offset", -70.0),
            own("slope", 1.0),
        ]
    }
    fn states(&self) -> [Var; 0] {
        []
    }
    #[inline(always)]
    fn update_states<T: Scalar>(&self, _s: &mut [T; 0], _p: &[T; 4], _pre: T, _post: T, _dt: T) {}
    #[inline(always)]
    fn compute_current<T: Scalar>(&self, _s: &[T; 0], p: &[T; 4], v_pre: T, v_post: T) -> T {
        ((v_pre - p[2]) * p[3]).tanh() * p[0] * (v_post - p[1])
    }
}
