//! Pospischil et al. (2008) channels, as in Jaxley: Leak, Na, K, Km, CaL, CaT.

use super::{Mechanism, Var, own, shared};
use crate::math::{efun, save_exp, solve_gate_exponential, solve_inf_gate_exponential};
use crate::scalar::{Scalar, c};

/// Passive leak: `gLeak (v − eLeak)`; parameters `<name>_gLeak` 1e-4 S/cm², `<name>_eLeak` −70 mV;
/// current `i_<name>`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Leak;

impl Mechanism<2, 0> for Leak {
    const INDEPENDENT_STATES: bool = true;
    const UPDATE_KEEPS_NAN: bool = true;
    const UPDATE_READS_PARAMS: bool = false;
    fn name(&self) -> &str {
        "Leak"
    }
    fn params(&self) -> [Var; 2] {
        [own("gLeak", 1e-4), own("eLeak", -70.0)]
    }
    fn states(&self) -> [Var; 0] {
        []
    }
    #[inline(always)]
    fn update_states<T: Scalar>(&self, _s: &mut [T; 0], _p: &[T; 2], _v: T, _dt: T) {}
    #[inline(always)]
    fn compute_current<T: Scalar>(&self, _s: &[T; 0], p: &[T; 2], v: T) -> T {
        p[0] * (v - p[1])
    }
}

/// Fast sodium channel: `gNa m³h (v − eNa)`; parameters `Na_gNa` 0.05, shared `eNa` 50 and `vt`
/// −60; states `Na_m`, `Na_h`; current `i_Na`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Na;

impl Na {
    #[inline(always)]
    fn m_gate<T: Scalar>(v: T, vt: T) -> (T, T) {
        let v_alpha = v - vt - c(13.0);
        let alpha = c::<T>(0.32) * efun(c::<T>(-0.25) * v_alpha) * c(1.0 / 0.25);
        let v_beta = v - vt - c(40.0);
        let beta = c::<T>(0.28) * efun(c::<T>(0.2) * v_beta) * c(1.0 / 0.2);
        (alpha, beta)
    }
    #[inline(always)]
    fn h_gate<T: Scalar>(v: T, vt: T) -> (T, T) {
        let v_alpha = v - vt - c(17.0);
        let alpha = c::<T>(0.128) * save_exp(-v_alpha * c(1.0 / 18.0));
        let v_beta = v - vt - c(40.0);
        let beta = c::<T>(4.0) / (save_exp(-v_beta * c(1.0 / 5.0)) + c(1.0));
        (alpha, beta)
    }
}

impl Mechanism<3, 2> for Na {
    const INDEPENDENT_STATES: bool = true;
    const UPDATE_KEEPS_NAN: bool = true;
    fn name(&self) -> &str {
        "Na"
    }
    fn params(&self) -> [Var; 3] {
        [own("gNa", 50e-3), shared("eNa", 50.0), shared("vt", -60.0)]
    }
    fn states(&self) -> [Var; 2] {
        [own("m", 0.2), own("h", 0.2)]
    }
    fn current_name(&self, _name: &str) -> String {
        "i_Na".to_string()
    }
    #[inline(always)]
    fn update_states<T: Scalar>(&self, s: &mut [T; 2], p: &[T; 3], v: T, dt: T) {
        let (am, bm) = Self::m_gate(v, p[2]);
        let (ah, bh) = Self::h_gate(v, p[2]);
        s[0] = solve_gate_exponential(s[0], dt, am, bm);
        s[1] = solve_gate_exponential(s[1], dt, ah, bh);
    }
    #[inline(always)]
    fn compute_current<T: Scalar>(&self, s: &[T; 2], p: &[T; 3], v: T) -> T {
        let m = s[0];
        p[0] * (m * (m * m)) * s[1] * (v - p[1])
    }
    #[inline(always)]
    fn init_state<T: Scalar>(&self, s: &mut [T; 2], p: &[T; 3], v: T, _dt: T) {
        let (am, bm) = Self::m_gate(v, p[2]);
        let (ah, bh) = Self::h_gate(v, p[2]);
        s[0] = am / (am + bm);
        s[1] = ah / (ah + bh);
    }
}

/// Delayed-rectifier potassium channel: `gK n⁴ (v − eK)`; parameters `K_gK` 5e-3, shared `eK` −90
/// and `vt` −60; state `K_n`; current `i_K`.
#[derive(Clone, Copy, Debug, Default)]
pub struct K;

impl K {
    #[inline(always)]
    fn n_gate<T: Scalar>(v: T, vt: T) -> (T, T) {
        let v_alpha = v - vt - c(15.0);
        let alpha = c::<T>(0.032) * efun(c::<T>(-0.2) * v_alpha) * c(1.0 / 0.2);
        let v_beta = v - vt - c(10.0);
        let beta = c::<T>(0.5) * save_exp(-v_beta * c(1.0 / 40.0));
        (alpha, beta)
    }
}

impl Mechanism<3, 1> for K {
    const INDEPENDENT_STATES: bool = true;
    const UPDATE_KEEPS_NAN: bool = true;
    fn name(&self) -> &str {
        "K"
    }
    fn params(&self) -> [Var; 3] {
        [own("gK", 5e-3), shared("eK", -90.0), shared("vt", -60.0)]
    }
    fn states(&self) -> [Var; 1] {
        [own("n", 0.2)]
    }
    fn current_name(&self, _name: &str) -> String {
        "i_K".to_string()
    }
    #[inline(always)]
    fn update_states<T: Scalar>(&self, s: &mut [T; 1], p: &[T; 3], v: T, dt: T) {
        let (a, b) = Self::n_gate(v, p[2]);
        s[0] = solve_gate_exponential(s[0], dt, a, b);
    }
    #[inline(always)]
    fn compute_current<T: Scalar>(&self, s: &[T; 1], p: &[T; 3], v: T) -> T {
        let n2 = s[0] * s[0];
        p[0] * (n2 * n2) * (v - p[1])
    }
    #[inline(always)]
    fn init_state<T: Scalar>(&self, s: &mut [T; 1], p: &[T; 3], v: T, _dt: T) {
        let (a, b) = Self::n_gate(v, p[2]);
        s[0] = a / (a + b);
    }
}

/// Slow M-type potassium channel: `gKm p (v − eK)`; parameters `Km_gKm` 4e-6, `Km_taumax` 4000 ms,
/// shared `eK`; state `Km_p`; current `i_K`.
///
/// `init_state` sets `p` to its true steady state `p∞(v)`; Jaxley's returns `p∞/(p∞ + τ)`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Km;

impl Km {
    #[inline(always)]
    fn p_gate<T: Scalar>(v: T, taumax: T) -> (T, T) {
        let v_p = v + c(35.0);
        let p_inf = c::<T>(1.0) / (c::<T>(1.0) + save_exp(c::<T>(-0.1) * v_p));
        let tau =
            taumax / (c::<T>(3.3) * save_exp(c::<T>(0.05) * v_p) + save_exp(c::<T>(-0.05) * v_p));
        (p_inf, tau)
    }
}

impl Mechanism<3, 1> for Km {
    const INDEPENDENT_STATES: bool = true;
    const UPDATE_KEEPS_NAN: bool = true;
    fn name(&self) -> &str {
        "Km"
    }
    fn params(&self) -> [Var; 3] {
        [
            own("gKm", 0.004e-3),
            own("taumax", 4000.0),
            shared("eK", -90.0),
        ]
    }
    fn states(&self) -> [Var; 1] {
        [own("p", 0.2)]
    }
    fn current_name(&self, _name: &str) -> String {
        "i_K".to_string()
    }
    #[inline(always)]
    fn update_states<T: Scalar>(&self, s: &mut [T; 1], p: &[T; 3], v: T, dt: T) {
        let (p_inf, tau) = Self::p_gate(v, p[1]);
        s[0] = solve_inf_gate_exponential(s[0], dt, p_inf, tau);
    }
    #[inline(always)]
    fn compute_current<T: Scalar>(&self, s: &[T; 1], p: &[T; 3], v: T) -> T {
        p[0] * s[0] * (v - p[2])
    }
    #[inline(always)]
    fn init_state<T: Scalar>(&self, s: &mut [T; 1], p: &[T; 3], v: T, _dt: T) {
        s[0] = Self::p_gate(v, p[1]).0;
    }
}

/// L-type calcium channel: `gCaL q² r (v − eCa)`; parameters `CaL_gCaL` 1e-4, shared `eCa` 120;
/// states `CaL_q`, `CaL_r`; current `i_Ca`.
#[derive(Clone, Copy, Debug, Default)]
pub struct CaL;

impl CaL {
    #[inline(always)]
    fn q_gate<T: Scalar>(v: T) -> (T, T) {
        let v_alpha = -v - c(27.0);
        let alpha = c::<T>(0.055) * efun(v_alpha * c(1.0 / 3.8)) * c(3.8);
        let v_beta = -v - c(75.0);
        let beta = c::<T>(0.94) * save_exp(v_beta * c(1.0 / 17.0));
        (alpha, beta)
    }
    #[inline(always)]
    fn r_gate<T: Scalar>(v: T) -> (T, T) {
        let v_alpha = -v - c(13.0);
        let alpha = c::<T>(0.000457) * save_exp(v_alpha * c(1.0 / 50.0));
        let v_beta = -v - c(15.0);
        let beta = c::<T>(0.0065) / (save_exp(v_beta * c(1.0 / 28.0)) + c(1.0));
        (alpha, beta)
    }
}

impl Mechanism<2, 2> for CaL {
    const INDEPENDENT_STATES: bool = true;
    const UPDATE_KEEPS_NAN: bool = true;
    const UPDATE_READS_PARAMS: bool = false;
    fn name(&self) -> &str {
        "CaL"
    }
    fn params(&self) -> [Var; 2] {
        [own("gCaL", 0.1e-3), shared("eCa", 120.0)]
    }
    fn states(&self) -> [Var; 2] {
        [own("q", 0.2), own("r", 0.2)]
    }
    fn current_name(&self, _name: &str) -> String {
        "i_Ca".to_string()
    }
    #[inline(always)]
    fn update_states<T: Scalar>(&self, s: &mut [T; 2], _p: &[T; 2], v: T, dt: T) {
        let (aq, bq) = Self::q_gate(v);
        let (ar, br) = Self::r_gate(v);
        s[0] = solve_gate_exponential(s[0], dt, aq, bq);
        s[1] = solve_gate_exponential(s[1], dt, ar, br);
    }
    #[inline(always)]
    fn compute_current<T: Scalar>(&self, s: &[T; 2], p: &[T; 2], v: T) -> T {
        p[0] * (s[0] * s[0]) * s[1] * (v - p[1])
    }
    #[inline(always)]
    fn init_state<T: Scalar>(&self, s: &mut [T; 2], _p: &[T; 2], v: T, _dt: T) {
        let (aq, bq) = Self::q_gate(v);
        let (ar, br) = Self::r_gate(v);
        s[0] = aq / (aq + bq);
        s[1] = ar / (ar + br);
    }
}

/// T-type calcium channel: `gCaT s∞² u (v − eCa)`; parameters `CaT_gCaT` 4e-5, `CaT_vx` 2 mV,
/// shared `eCa` 120; state `CaT_u`; current `i_Ca`.
///
/// `init_state` sets `u` to its true steady state `u∞(v)`; Jaxley's returns `u∞/(u∞ + τ)`.
#[derive(Clone, Copy, Debug, Default)]
pub struct CaT;

impl CaT {
    #[inline(always)]
    fn u_gate<T: Scalar>(v: T, vx: T) -> (T, T) {
        let v_u1 = v + vx + c(81.0);
        let u_inf = c::<T>(1.0) / (c::<T>(1.0) + save_exp(v_u1 * c(1.0 / 4.0)));
        let tau = (c::<T>(30.8) + (c::<T>(211.4) + save_exp((v + vx + c(113.2)) * c(1.0 / 5.0))))
            / (c::<T>(3.7) * (c::<T>(1.0) + save_exp((v + vx + c(84.0)) * c(1.0 / 3.2))));
        (u_inf, tau)
    }
}

impl Mechanism<3, 1> for CaT {
    const INDEPENDENT_STATES: bool = true;
    const UPDATE_KEEPS_NAN: bool = true;
    fn name(&self) -> &str {
        "CaT"
    }
    fn params(&self) -> [Var; 3] {
        [own("gCaT", 0.4e-4), own("vx", 2.0), shared("eCa", 120.0)]
    }
    fn states(&self) -> [Var; 1] {
        [own("u", 0.2)]
    }
    fn current_name(&self, _name: &str) -> String {
        "i_Ca".to_string()
    }
    #[inline(always)]
    fn update_states<T: Scalar>(&self, s: &mut [T; 1], p: &[T; 3], v: T, dt: T) {
        let (u_inf, tau) = Self::u_gate(v, p[1]);
        s[0] = solve_inf_gate_exponential(s[0], dt, u_inf, tau);
    }
    #[inline(always)]
    fn compute_current<T: Scalar>(&self, s: &[T; 1], p: &[T; 3], v: T) -> T {
        let s_inf = c::<T>(1.0) / (c::<T>(1.0) + save_exp(-(v + p[1] + c(57.0)) * c(1.0 / 6.2)));
        p[0] * (s_inf * s_inf) * s[0] * (v - p[2])
    }
    #[inline(always)]
    fn init_state<T: Scalar>(&self, s: &mut [T; 1], p: &[T; 3], v: T, _dt: T) {
        s[0] = Self::u_gate(v, p[1]).0;
    }
}
