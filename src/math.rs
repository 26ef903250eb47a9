//! Branch-free maths for mechanism code, generic over [`Scalar`].
//!
//! These functions compile to straight-line code (selects instead of branches), so that loops over
//! compartments vectorise. They reproduce Jaxley's helpers (`save_exp`, `vtrap`, `efun`) except
//! where Jaxley divides 0 by 0: `vtrap` and `efun` return their limit there, as NEURON does
//! (see `docs/differences-from-jaxley.md`).

use crate::scalar::Scalar;

/// Coefficients (highest degree first) of a degree-11 Chebyshev-fitted polynomial for `e^r` on
/// `|r| ≤ ln2/2`; its approximation error (3e-18) is far below one ulp.
const EXP_POLY: [f64; 12] = [
    2.5110037605963777e-08,
    2.763263963904103e-07,
    2.755724091857897e-06,
    2.4801485482328494e-05,
    0.00019841269890047113,
    0.0013888888952314775,
    0.008333333333319601,
    0.0416666666664881,
    0.1666666666666668,
    0.5000000000000019,
    1.0,
    1.0,
];

/// `e^x` for `x ≤ 709` (callers clip the upper end). Range reduction to `|r| ≤ ln2/2`, the
/// polynomial with fused multiply-adds (exactly rounded steps, so every instruction set gives
/// the same bits), and the power of two assembled from the exponent bits.
/// Below −708 the result is `e^−708` ≈ 3e−308 instead of an underflow to 0. NaN stays NaN.
#[inline(always)]
fn exp_core(x: f64) -> f64 {
    const LOG2E: f64 = std::f64::consts::LOG2_E;
    const LN2_HI: f64 = 6.931_471_803_691_238e-1; // fdlibm's ln2_hi (trailing zero bits)
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    const SHIFT: f64 = 6_755_399_441_055_744.0; // 1.5 * 2^52: rounds to an integer in the low bits
    let xc = if x < -708.0 { -708.0 } else { x };
    let t = xc.mul_add(LOG2E, SHIFT);
    let k = t - SHIFT;
    let r = (-k).mul_add(LN2_LO, (-k).mul_add(LN2_HI, xc));
    // The terms of degree 2 to 11 by Horner's rule in r² over pairs of coefficients (five
    // independent multiply-adds, then a chain of four), the last two steps by Horner's rule in
    // r, which keeps its rounding (within one ulp, as often as Horner's rule throughout): a
    // chain of seven dependent multiply-adds instead of eleven (the gate kernels are bound by
    // such chains).
    let c = |k: usize| EXP_POLY[11 - k]; // coefficient of r^k
    let r2 = r * r;
    let mut q = c(11).mul_add(r, c(10));
    for k in (1..5).rev() {
        q = q.mul_add(r2, c(2 * k + 1).mul_add(r, c(2 * k)));
    }
    let p = q.mul_add(r, c(1)).mul_add(r, c(0));
    let scale = f64::from_bits(t.to_bits().wrapping_add(1023) << 52);
    p * scale
}

/// `e^x` for `f64`: branch-free, so it vectorises; within about one ulp of the correctly rounded
/// result; 0 below −708, +∞ above 709.
#[inline(always)]
pub fn exp_f64(x: f64) -> f64 {
    let xc = if x > 709.0 { 709.0 } else { x };
    let y = exp_core(xc);
    let y = if x < -708.0 { 0.0 } else { y };
    if x > 709.0 { f64::INFINITY } else { y }
}

/// `e^min(x, 20)` for `f64` (Jaxley's `save_exp`), with the upper range check folded into the
/// clip.
#[inline(always)]
pub fn save_exp_f64(x: f64) -> f64 {
    exp_core(if x > 20.0 { 20.0 } else { x })
}

/// `e^x` with the library's fast exponential (see [`exp_f64`]).
#[inline(always)]
pub fn exp<T: Scalar>(x: T) -> T {
    x.exp_fast()
}

/// Natural logarithm.
#[inline(always)]
pub fn ln<T: Scalar>(x: T) -> T {
    x.ln_fast()
}

/// The smaller of two values (`a` if either is NaN-free and smaller; branch-free).
#[inline(always)]
pub fn min<T: Scalar>(a: T, b: T) -> T {
    if b < a { b } else { a }
}

/// The larger of two values (branch-free).
#[inline(always)]
pub fn max<T: Scalar>(a: T, b: T) -> T {
    if b > a { b } else { a }
}

/// `if cond { a } else { b }`, written so that it compiles to a select.
#[inline(always)]
pub fn select<T: Scalar>(cond: bool, a: T, b: T) -> T {
    if cond { a } else { b }
}

/// Jaxley's `save_exp`: `exp(min(x, 20))`, which keeps rate functions finite.
#[inline(always)]
pub fn save_exp<T: Scalar>(x: T) -> T {
    x.save_exp_fast()
}

/// `x / (exp(x / y) - 1)` with `save_exp`, and its limit `y (1 - x/(2y))` where `|x/y| < 1e-6`
/// (Jaxley's `_vtrap` returns 0/0 = NaN at `x = 0`; NEURON uses this limit).
#[inline(always)]
pub fn vtrap<T: Scalar>(x: T, y: T) -> T {
    // `1 / y` folds to a constant for literal `y`: a multiplication instead of a division.
    vtrap_with_exp(x, y, save_exp(x * (T::from(1.0) / y)))
}

/// [`vtrap`] with `save_exp(x / y)` given as `e` (for callers that get it more cheaply than
/// from an exponential of its own).
#[inline(always)]
pub fn vtrap_with_exp<T: Scalar>(x: T, y: T, e: T) -> T {
    let q = x * (T::from(1.0) / y);
    let regular = x / (e - T::from(1.0));
    let series = y * (T::from(1.0) - q * T::from(0.5));
    select(q.re().abs() < 1e-6, series, regular)
}

/// [`vtrap_with_exp`] as a fraction `(numerator, denominator)`: `(x, e − 1)`, or its limit
/// `(y (1 − x/(2y)), 1)` where `|x/y| < 1e-6`, so that a caller can fold the division into a
/// later one (see [`solve_gate_exponential_frac`]).
#[inline(always)]
pub fn vtrap_frac_with_exp<T: Scalar>(x: T, y: T, e: T) -> (T, T) {
    let q = x * (T::from(1.0) / y);
    let series = y * (T::from(1.0) - q * T::from(0.5));
    let small = q.re().abs() < 1e-6;
    (
        select(small, series, x),
        select(small, T::from(1.0), e - T::from(1.0)),
    )
}

/// `x / (exp(x) - 1)` with `save_exp` (Jaxley's `efun`), and its limit `1 - x/2` where
/// `|x| < 1e-6`.
#[inline(always)]
pub fn efun<T: Scalar>(x: T) -> T {
    let regular = x / (save_exp(x) - T::from(1.0));
    let series = T::from(1.0) - x * T::from(0.5);
    select(x.re().abs() < 1e-6, series, regular)
}

/// Jaxley's `exponential_euler`: the exact solution of `dx/dt = (x_inf - x) / tau` over `dt`,
/// `x e + x_inf (1 - e)` with `e = save_exp(-dt / tau)`.
#[inline(always)]
pub fn exponential_euler<T: Scalar>(x: T, dt: T, x_inf: T, tau: T) -> T {
    let e = save_exp(-dt / tau);
    x * e + x_inf * (T::from(1.0) - e)
}

/// Jaxley's `solve_gate_exponential`: exponential Euler for a gate with rates `alpha`, `beta`,
/// i.e. `x_inf + (x − x_inf) e^{−dt (α + β)}` with `x_inf = α / (α + β)`. (Jaxley divides by
/// `τ = 1/(α + β)`; multiplying by `α + β` is the same up to rounding and saves a division.)
#[inline(always)]
pub fn solve_gate_exponential<T: Scalar>(x: T, dt: T, alpha: T, beta: T) -> T {
    let rate = alpha + beta;
    let x_inf = alpha / rate;
    let e = save_exp(-dt * rate);
    x * e + x_inf * (T::from(1.0) - e)
}

/// [`solve_gate_exponential`] for rates given as fractions `α = a_num / a_den` and
/// `β = b_num / b_den`, with one division instead of up to four: with
/// `S = a_num b_den + b_num a_den` and `q = 1 / (S a_den b_den)`, `x_inf = α / (α + β) =
/// a_num b_den · a_den b_den · q` and `α + β = S² q`. The result differs from the form with
/// four divisions by a few ulp. Vector divisions are slow and not pipelined, so a gate kernel
/// whose rates are quotients (`vtrap`, `1 / (1 + e^x)`) can be bound by them.
///
/// The new gate is `x_inf + (x − x_inf) e` rather than Jaxley's `x e + x_inf (1 − e)` (equal
/// up to rounding): one multiplication fewer, and one step instead of three after the
/// exponential, which ends the kernel's longest chain of dependent operations.
#[inline(always)]
pub fn solve_gate_exponential_frac<T: Scalar>(
    x: T,
    dt: T,
    a_num: T,
    a_den: T,
    b_num: T,
    b_den: T,
) -> T {
    gate_and_decay_frac(x, dt, a_num, a_den, b_num, b_den).0
}

/// [`solve_gate_exponential_frac`] and its decay factor `e^{−dt (α + β)}`, which is the new
/// gate's derivative with respect to the old one (for hand-written adjoints).
#[inline(always)]
pub fn gate_and_decay_frac<T: Scalar>(
    x: T,
    dt: T,
    a_num: T,
    a_den: T,
    b_num: T,
    b_den: T,
) -> (T, T) {
    let g = GateTerms::new(x, dt, [a_num, a_den, b_num, b_den]);
    (g.x_new, g.e)
}

/// The terms of one exponential-Euler gate update from the rates' fractions
/// `[α_num, α_den, β_num, β_den]`, shared by [`gate_and_decay_frac`] and
/// [`gate_decay_and_slope`] so that both give the same bits.
struct GateTerms<T> {
    sum: T,
    den: T,
    /// `1 / (sum den)`.
    q: T,
    x_inf: T,
    /// The exponent `−dt (α + β)`, before `save_exp` clips it.
    arg: T,
    e: T,
    x_new: T,
}

impl<T: Scalar> GateTerms<T> {
    #[inline(always)]
    fn new(x: T, dt: T, [a_num, a_den, b_num, b_den]: [T; 4]) -> Self {
        let an_bd = a_num * b_den;
        let sum = an_bd + b_num * a_den;
        let den = a_den * b_den;
        let q = T::from(1.0) / (sum * den);
        let x_inf = an_bd * den * q;
        let arg = sum * (sum * -dt) * q;
        let e = save_exp(arg);
        GateTerms {
            sum,
            den,
            q,
            x_inf,
            arg,
            e,
            x_new: (x - x_inf) * e + x_inf,
        }
    }
}

/// [`gate_and_decay_frac`] in `f64` with the new gate's derivative with respect to `v`, given
/// the rates' fractions `f = [α_num, α_den, β_num, β_den]` and their derivatives `df`: returns
/// `(x_new, ∂x_new/∂v, e)`. `x_new` and `e` are [`gate_and_decay_frac`]'s to the last bit; the
/// derivative is `∂x_∞/∂v (1 − e) + (x − x_∞) ∂e/∂v` with `x_∞ = α/(α + β)` and
/// `e = e^{−dt (α + β)}` (0 where the exponential clips), written out instead of pushed through
/// dual numbers (about half the operations).
#[inline(always)]
pub fn gate_decay_and_slope(x: f64, dt: f64, f: [f64; 4], df: [f64; 4]) -> (f64, f64, f64) {
    let [a_num, a_den, b_num, b_den] = f;
    let [da_num, da_den, db_num, db_den] = df;
    let GateTerms {
        sum,
        den,
        q,
        x_inf,
        arg,
        e,
        x_new,
    } = GateTerms::new(x, dt, f);
    // x_∞ = an_bd / sum and α + β = sum / den, with 1/sum = den q and 1/den = sum q.
    let d_an_bd = da_num * b_den + a_num * db_den;
    let d_sum = d_an_bd + db_num * a_den + b_num * da_den;
    let d_den = da_den * b_den + a_den * db_den;
    let d_x_inf = (d_an_bd - x_inf * d_sum) * (den * q);
    let rate = sum * (sum * q);
    let d_rate = (d_sum - rate * d_den) * (sum * q);
    let d_e = if arg > 20.0 { 0.0 } else { -dt * d_rate * e };
    (x_new, d_x_inf * (1.0 - e) + (x - x_inf) * d_e, e)
}

/// Jaxley's `solve_inf_gate_exponential`: exponential Euler towards `s_inf` with time constant
/// `tau` (written as `save_exp(-1/tau * dt)`, Jaxley's operation order).
#[inline(always)]
pub fn solve_inf_gate_exponential<T: Scalar>(x: T, dt: T, s_inf: T, tau: T) -> T {
    let slope = -(T::from(1.0) / tau);
    let e = save_exp(slope * dt);
    x * e + s_inf * (T::from(1.0) - e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_dual::Dual64;

    #[test]
    fn fast_exp_is_within_two_ulp_of_std() {
        let mut worst = 0.0f64;
        let mut x = -700.0;
        while x < 700.0 {
            let a = exp_f64(x);
            let b = x.exp();
            worst = worst.max(((a - b) / b).abs());
            x += 0.0137;
        }
        assert!(worst < 2.5e-16, "worst relative error {worst:e}");
    }

    #[test]
    fn fast_exp_rounds_as_well_as_horners_rule() {
        // Horner's rule throughout differs from the standard library's `exp` in 6.9 % of these
        // points (by one ulp), and so does this evaluation; pairs in r² down to the constant
        // term (no Horner steps at the end) in 26.5 %.
        let (mut differ, mut count) = (0usize, 0usize);
        let mut x = -700.0;
        while x < 700.0 {
            differ += usize::from(exp_f64(x) != x.exp());
            count += 1;
            x += 0.000713;
        }
        let share = differ as f64 / count as f64;
        assert!(share < 0.08, "{:.1} % not as std rounds", share * 100.0);
    }

    #[test]
    fn save_exp_agrees_with_exp_below_the_clip() {
        let mut x = -700.0;
        while x < 20.0 {
            assert_eq!(save_exp_f64(x), exp_f64(x), "at {x}");
            x += 0.0173;
        }
    }

    #[test]
    fn fast_exp_edges() {
        assert_eq!(exp_f64(0.0), 1.0);
        assert_eq!(exp_f64(-1000.0), 0.0);
        assert_eq!(exp_f64(1000.0), f64::INFINITY);
        assert!(exp_f64(f64::NAN).is_nan());
        assert!((exp_f64(1.0) - std::f64::consts::E).abs() < 1e-15);
    }

    #[test]
    fn dual_exp_uses_the_same_real_part() {
        let x = Dual64::new(0.37, 1.0);
        let y = exp(x);
        assert_eq!(y.re, exp_f64(0.37));
        assert_eq!(y.eps, exp_f64(0.37));
    }

    #[test]
    fn vtrap_has_its_limit_at_zero() {
        assert_eq!(vtrap(0.0, 10.0), 10.0);
        let near: f64 = vtrap(1e-3, 10.0);
        let exact = 1e-3 / ((1e-4f64).exp_m1());
        // exp(1e-4) - 1 cancels four digits: 1 ulp of exp becomes 1e-12 relative here.
        assert!((near - exact).abs() < 1e-10);
        assert_eq!(efun(0.0), 1.0);
        assert!((efun(2.0f64) - 2.0 / (2.0f64.exp() - 1.0)).abs() < 1e-15);
    }

    #[test]
    fn save_exp_clips_at_20() {
        assert_eq!(save_exp(50.0), exp_f64(20.0));
        assert!(save_exp(f64::NAN).is_nan());
    }
}
