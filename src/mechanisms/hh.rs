//! The Hodgkin–Huxley channel (Jaxley's `HH`).

use super::driver::FD_DELTA;
use super::vjp::Partials;
use super::{Mechanism, Var, own};
use crate::math::{
    exp, gate_decay_and_slope, min, save_exp, save_exp_f64, solve_gate_exponential_frac,
    vtrap_frac_with_exp,
};
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
    /// The rates of the m, h and n gates at `v` as fractions
    /// `(α_num, α_den, β_num, β_den)`, Jaxley's formulas:
    /// `α_m = 0.1 vtrap(−(v+40), 10)`, `β_m = 4 e^{−(v+65)/18}`, `α_h = 0.07 e^{−(v+65)/20}`,
    /// `β_h = 1 / (e^{−(v+35)/10} + 1)`, `α_n = 0.01 vtrap(−(v+55), 10)`,
    /// `β_n = 0.125 e^{−(v+65)/80}`, every exponential clipped at `e^20` (`save_exp`).
    ///
    /// The kernel is bound both by its exponentials and by its divisions, so it saves on both
    /// (about 20 % of an HH step, with the same numbers to ~1e-11 mV):
    /// - five of the six exponentials are powers of one: with `u = −(v+65)` and
    ///   `E = e^{u/80}`, `e^{u/20} = E⁴`, `e^{u/10} = E⁸`, and the others are `E⁸` times a
    ///   constant (`e^{−(v+35)/10} = E⁸ e³`, `e^{−(v+40)/10} = E⁸ e^{2.5}`,
    ///   `e^{−(v+55)/10} = E⁸ e`), each clipped at `e^20` as `save_exp` would; two exponentials
    ///   instead of six, within about ten ulp of six separate ones;
    /// - quotients stay fractions until [`solve_gate_exponential_frac`] divides once per gate.
    #[inline(always)]
    fn rates<T: Scalar>(v: T) -> [(T, T, T, T); 3] {
        let one = c::<T>(1.0);
        let clip = c::<T>(save_exp_f64(20.0));
        let u = -(v + c(65.0));
        let e80 = exp(u * c(1.0 / 80.0));
        let e40 = e80 * e80;
        let e20 = e40 * e40;
        let e10 = e20 * e20;
        let beta_m = c::<T>(4.0) * save_exp(u * c(1.0 / 18.0));
        let alpha_h = c::<T>(0.07) * min(e20, clip);
        let beta_h_den = min(e10 * c(E_3), clip) + one;
        let beta_n = c::<T>(0.125) * min(e80, clip);
        let (am_num, am_den) =
            vtrap_frac_with_exp(-(v + c(40.0)), c(10.0), min(e10 * c(E_2_5), clip));
        let (an_num, an_den) = vtrap_frac_with_exp(
            -(v + c(55.0)),
            c(10.0),
            min(e10 * c(std::f64::consts::E), clip),
        );
        [
            (c::<T>(0.1) * am_num, am_den, beta_m, one),
            (alpha_h, one, one, beta_h_den),
            (c::<T>(0.01) * an_num, an_den, beta_n, one),
        ]
    }
}

impl HH {
    /// [`HH::rates`] in `f64` with the derivative of every entry with respect to `v`: each
    /// exponential there is `e^{a v + b}` (times a constant), whose derivative is `a` times
    /// itself, or 0 where it is clipped. The values are those of [`HH::rates`] to the last bit.
    #[inline(always)]
    fn rates_and_slopes(v: f64) -> [([f64; 4], [f64; 4]); 3] {
        let clip = save_exp_f64(20.0);
        // `min(x, clip)` as `rates` takes it, with the derivative `a x` unless clipped.
        let clipped = |x: f64, a: f64| if clip < x { (clip, 0.0) } else { (x, a * x) };
        let u = -(v + 65.0);
        let e80 = exp(u * (1.0 / 80.0));
        let e40 = e80 * e80;
        let e20 = e40 * e40;
        let e10 = e20 * e20;
        let arg_m = u * (1.0 / 18.0);
        let beta_m = 4.0 * save_exp(arg_m);
        let d_beta_m = if arg_m > 20.0 {
            0.0
        } else {
            beta_m * (-1.0 / 18.0)
        };
        let (ah, d_ah) = clipped(e20, -1.0 / 20.0);
        let (bh, d_bh) = clipped(e10 * E_3, -1.0 / 10.0);
        let (bn, d_bn) = clipped(e80, -1.0 / 80.0);
        let (em, d_em) = clipped(e10 * E_2_5, -1.0 / 10.0);
        let (en, d_en) = clipped(e10 * std::f64::consts::E, -1.0 / 10.0);
        let (am_num, am_den) = vtrap_frac_with_exp(-(v + 40.0), 10.0, em);
        let (an_num, an_den) = vtrap_frac_with_exp(-(v + 55.0), 10.0, en);
        // `vtrap`'s numerator is `x = −(v + c)` (slope −1) over `e − 1`, or near `x = 0` its
        // limit `10 (1 − x/20)` (slope 1/2) over 1, as `vtrap_frac_with_exp` chooses.
        let vtrap_slopes = |x: f64, d_e: f64| {
            if (x * (1.0 / 10.0)).abs() < 1e-6 {
                (0.5, 0.0)
            } else {
                (-1.0, d_e)
            }
        };
        let (d_am_num, d_am_den) = vtrap_slopes(-(v + 40.0), d_em);
        let (d_an_num, d_an_den) = vtrap_slopes(-(v + 55.0), d_en);
        [
            (
                [0.1 * am_num, am_den, beta_m, 1.0],
                [0.1 * d_am_num, d_am_den, d_beta_m, 0.0],
            ),
            (
                [0.07 * ah, 1.0, 1.0, bh + 1.0],
                [0.07 * d_ah, 0.0, 0.0, d_bh],
            ),
            (
                [0.01 * an_num, an_den, 0.125 * bn, 1.0],
                [0.01 * d_an_num, d_an_den, 0.125 * d_bn, 0.0],
            ),
        ]
    }
}

/// `e^{2.5}` and `e^3`, correctly rounded.
const E_2_5: f64 = 12.182493960703473;
const E_3: f64 = 20.085536923187668;

impl Mechanism<6, 3> for HH {
    const INDEPENDENT_STATES: bool = true;
    const UPDATE_READS_PARAMS: bool = false;
    const UPDATE_KEEPS_NAN: bool = true;
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
        for (x, (an, ad, bn, bd)) in s.iter_mut().zip(Self::rates(v)) {
            *x = solve_gate_exponential_frac(*x, dt, an, ad, bn, bd);
        }
    }
    #[inline(always)]
    fn compute_current<T: Scalar>(&self, s: &[T; 3], p: &[T; 6], v: T) -> T {
        let (m, h, n) = (s[0], s[1], s[2]);
        let g_na = p[0] * (m * (m * m)) * h;
        let n2 = n * n;
        let g_k = p[1] * (n2 * n2);
        g_na * (v - p[3]) + g_k * (v - p[4]) + p[2] * (v - p[5])
    }
    /// By hand: the rates and their derivatives with respect to `v` (`HH::rates_and_slopes`),
    /// then each gate's update and its derivatives ([`gate_decay_and_slope`]). The new gates
    /// and decay factors are the update's to the last bit; the derivatives with respect to `v`
    /// agree with dual numbers' to rounding.
    #[inline(always)]
    fn update_partials(
        &self,
        s: &[f64; 3],
        _p: &[f64; 6],
        v: f64,
        dt: f64,
        out: Partials<'_, 6, 3>,
    ) {
        for (k, (f, df)) in Self::rates_and_slopes(v).into_iter().enumerate() {
            let (x, dx_dv, e) = gate_decay_and_slope(s[k], dt, f, df);
            out.s_new[k] = x;
            out.ds_dv[k] = dx_dv;
            out.ds_ds[k] = e;
        }
    }
    /// By hand, with the slope's derivatives taken as the finite difference the step computes
    /// (each the difference of the current's derivatives at `v + δ` and `v`, over `δ`).
    #[inline(always)]
    fn current_vjp(
        &self,
        s: &[f64; 3],
        p: &[f64; 6],
        v: f64,
        i_bar: f64,
        g_bar: f64,
        s_bar: &mut [f64; 3],
        p_bar: &mut [f64; 6],
    ) -> f64 {
        let (m, h, n) = (s[0], s[1], s[2]);
        let inv_delta = 1.0 / FD_DELTA;
        let vd = v + FD_DELTA;
        // `∂I/∂x = a (u − e)` at `u = v` and `v + δ`: contracted with `Ī` and `ḡ`.
        let pull = |a: f64, e: f64| {
            i_bar * (a * (v - e)) + g_bar * ((a * (vd - e) - a * (v - e)) * inv_delta)
        };
        let m3 = m * (m * m);
        let m3h = m3 * h;
        let n2 = n * n;
        let n4 = n2 * n2;
        let (g_na, g_k) = (p[0] * m3h, p[1] * n4);
        s_bar[0] += pull(p[0] * (3.0 * (m * m)) * h, p[3]);
        s_bar[1] += pull(p[0] * m3, p[3]);
        s_bar[2] += pull(p[1] * (4.0 * (n2 * n)), p[4]);
        p_bar[0] += pull(m3h, p[3]);
        p_bar[1] += pull(n4, p[4]);
        p_bar[2] += pull(1.0, p[5]);
        // The reversal potentials and `v` shift the current, not its slope.
        p_bar[3] -= i_bar * g_na;
        p_bar[4] -= i_bar * g_k;
        p_bar[5] -= i_bar * p[2];
        i_bar * (g_na + g_k + p[2])
    }
    #[inline(always)]
    fn init_state<T: Scalar>(&self, s: &mut [T; 3], _p: &[T; 6], v: T, _dt: T) {
        for (x, (an, ad, bn, bd)) in s.iter_mut().zip(Self::rates(v)) {
            let an_bd = an * bd;
            *x = an_bd / (an_bd + bn * ad);
        }
    }
}
