//! The Hodgkin–Huxley channel (Jaxley's `HH`).

use super::{Mechanism, Var, own};
use crate::math::{save_exp, solve_gate_exponential, vtrap};
use crate::scalar::{Scalar, c};

/// Hodgkin–Huxley sodium, potassium and leak currents (Sterratt et al.), as Jaxley's `HH`.
///
/// Parameters `HH_gNa` 0.12, `HH_gK` 0.036, `HH_gLeak` 3e-4 S/cm², `HH_eNa` 50, `HH_eK` −77,
/// `HH_eLeak` −54.3 mV; states `HH_m`, `HH_h`, `HH_n` (default 0.2); current `i_HH`.
/// Gates advance by exponential Euler. Unlike Jaxley, `vtrap` uses its limit at
/// `v = −40` and `v = −55` mV instead of returning 0/0.
#[derive(Clone, Copy, Debug, Default)]
pub struct HH;

impl HH {
    #[inline(always)]
    fn m_gate<T: Scalar>(v: T) -> (T, T) {
        let alpha = c::<T>(0.1) * vtrap(-(v + c(40.0)), c(10.0));
        let beta = c::<T>(4.0) * save_exp(-(v + c(65.0)) * c(1.0 / 18.0));
        (alpha, beta)
    }
    #[inline(always)]
    fn h_gate<T: Scalar>(v: T) -> (T, T) {
        let alpha = c::<T>(0.07) * save_exp(-(v + c(65.0)) * c(1.0 / 20.0));
        let beta = c::<T>(1.0) / (save_exp(-(v + c(35.0)) * c(1.0 / 10.0)) + c(1.0));
        (alpha, beta)
    }
    #[inline(always)]
    fn n_gate<T: Scalar>(v: T) -> (T, T) {
        let alpha = c::<T>(0.01) * vtrap(-(v + c(55.0)), c(10.0));
        let beta = c::<T>(0.125) * save_exp(-(v + c(65.0)) * c(1.0 / 80.0));
        (alpha, beta)
    }
}

impl Mechanism<6, 3> for HH {
    fn name(&self) -> &str {
        "HH"
    }
    fn params(&self) -> [Var; 6] {
        [
            own("gNa", 0.12),
            own("gK", 0.036),
            own("gLeak", 0.0003),
            own("eNa", 50.0),
            own("eK", -77.0),
            own("eLeak", -54.3),
        ]
    }
    fn states(&self) -> [Var; 3] {
        [own("m", 0.2), own("h", 0.2), own("n", 0.2)]
    }
    fn current_name(&self, _name: &str) -> String {
        "i_HH".to_string()
    }
    #[inline(always)]
    fn update_states<T: Scalar>(&self, s: &mut [T; 3], _p: &[T; 6], v: T, dt: T) {
        let (am, bm) = Self::m_gate(v);
        let (ah, bh) = Self::h_gate(v);
        let (an, bn) = Self::n_gate(v);
        s[0] = solve_gate_exponential(s[0], dt, am, bm);
        s[1] = solve_gate_exponential(s[1], dt, ah, bh);
        s[2] = solve_gate_exponential(s[2], dt, an, bn);
    }
    #[inline(always)]
    fn compute_current<T: Scalar>(&self, s: &[T; 3], p: &[T; 6], v: T) -> T {
        let (m, h, n) = (s[0], s[1], s[2]);
        let g_na = p[0] * (m * (m * m)) * h;
        let n2 = n * n;
        let g_k = p[1] * (n2 * n2);
        g_na * (v - p[3]) + g_k * (v - p[4]) + p[2] * (v - p[5])
    }
    #[inline(always)]
    fn init_state<T: Scalar>(&self, s: &mut [T; 3], _p: &[T; 6], v: T, _dt: T) {
        let (am, bm) = Self::m_gate(v);
        let (ah, bh) = Self::h_gate(v);
        let (an, bn) = Self::n_gate(v);
        s[0] = am / (am + bm);
        s[1] = ah / (ah + bh);
        s[2] = an / (an + bn);
    }
}
