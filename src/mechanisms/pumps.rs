//! Pumps and ion bookkeeping: CaPump and CaNernstReversal (Jaxley's `jaxley.pumps`).

use super::{Kind, Mechanism, Var, own, shared};
use crate::math::ln;
use crate::scalar::{Scalar, c};

/// Calcium buffering and extrusion (modified from Destexhe et al. 1994), as Jaxley's `CaPump`.
///
/// Acts on `CaCon_i`: `dCa/dt = −1e4·i_Ca·γ/(2F·depth) − (Ca − min)/decay`, F = 96485.
/// Parameters `CaPump_gamma` 0.05, `CaPump_decay` 80 ms, `CaPump_depth` 0.1 µm,
/// `CaPump_minCaCon_i` 1e-4 mM; reads the shared states `i_Ca` (the calcium current of the previous
/// step) and `CaCon_i`; current `i_CaPump` (mM/ms).
#[derive(Clone, Copy, Debug, Default)]
pub struct CaPump;

impl Mechanism<4, 2> for CaPump {
    fn name(&self) -> &str {
        "CaPump"
    }
    fn params(&self) -> [Var; 4] {
        [
            own("gamma", 0.05),
            own("decay", 80.0),
            own("depth", 0.1),
            own("minCaCon_i", 1e-4),
        ]
    }
    fn states(&self) -> [Var; 2] {
        [shared("i_Ca", 1e-8), shared("CaCon_i", 5e-05)]
    }
    fn current_name(&self, _name: &str) -> String {
        "i_CaPump".to_string()
    }
    fn kind(&self) -> Kind {
        Kind::Pump { ion: "CaCon_i" }
    }
    #[inline(always)]
    fn update_states<T: Scalar>(&self, _s: &mut [T; 2], _p: &[T; 4], _v: T, _dt: T) {}
    #[inline(always)]
    fn compute_current<T: Scalar>(&self, s: &[T; 2], p: &[T; 4], ca: T) -> T {
        const FARADAY: f64 = 96485.0;
        let drive = c::<T>(-10_000.0) * s[0] * p[0] / (c::<T>(2.0 * FARADAY) * p[2]);
        let decay = (ca - p[3]) / p[1];
        -(drive - decay)
    }
}

/// Calcium reversal potential from the Nernst equation, as Jaxley's `CaNernstReversal`:
/// `eCa = 1000·RT/(2F)·ln(CaCon_e/CaCon_i)` with R 8.314, T 279.45 K, F 96485.3329.
///
/// States (shared) `eCa` 0, `CaCon_i` 5e-5 mM, `CaCon_e` 2 mM. It passes no current (it adds zero
/// to `i_Ca`). As in Jaxley, channels read `eCa` as a *parameter*, i.e. the value at
/// initialisation; the state `eCa` is what this mechanism computes each step.
#[derive(Clone, Copy, Debug, Default)]
pub struct CaNernstReversal;

impl Mechanism<0, 3> for CaNernstReversal {
    fn name(&self) -> &str {
        "CaNernstReversal"
    }
    fn params(&self) -> [Var; 0] {
        []
    }
    fn states(&self) -> [Var; 3] {
        [
            shared("eCa", 0.0),
            shared("CaCon_i", 5e-05),
            shared("CaCon_e", 2.0),
        ]
    }
    fn current_name(&self, _name: &str) -> String {
        "i_Ca".to_string()
    }
    fn kind(&self) -> Kind {
        Kind::Pump { ion: "CaCon_i" }
    }
    #[inline(always)]
    fn update_states<T: Scalar>(&self, s: &mut [T; 3], _p: &[T; 0], _v: T, _dt: T) {
        const R: f64 = 8.314;
        const TEMP: f64 = 279.45;
        const F: f64 = 96485.3329;
        let k = c::<T>(R * TEMP / (2.0 * F) * 1000.0);
        s[0] = k * ln(s[2] / s[1]);
    }
    #[inline(always)]
    fn compute_current<T: Scalar>(&self, _s: &[T; 3], _p: &[T; 0], _x: T) -> T {
        T::zero()
    }
}
