//! Jaxley's HH written as a user would write a channel in their own crate: the textbook rate
//! functions (six exponentials, no shared powers) and an `init_state` without
//! `#[inline(always)]`. `benches/step.rs` times it next to the built-in HH.
use huxley::Mechanism;
use huxley::Scalar;
use huxley::math::{save_exp, solve_gate_exponential, vtrap};
use huxley::mechanisms::{Var, own};
use huxley::scalar::c;

/// `(α, β)` of the m, h and n gates (Jaxley's formulas).
#[inline(always)]
fn rates<T: Scalar>(v: T) -> [(T, T); 3] {
    let am = c::<T>(0.1) * vtrap(-(v + c(40.0)), c(10.0));
    let bm = c::<T>(4.0) * save_exp(-(v + c(65.0)) * c(1.0 / 18.0));
    let ah = c::<T>(0.07) * save_exp(-(v + c(65.0)) * c(1.0 / 20.0));
    let bh = c::<T>(1.0) / (save_exp(-(v + c(35.0)) * c(1.0 / 10.0)) + c(1.0));
    let an = c::<T>(0.01) * vtrap(-(v + c(55.0)), c(10.0));
    let bn = c::<T>(0.125) * save_exp(-(v + c(65.0)) * c(1.0 / 80.0));
    [(am, bm), (ah, bh), (an, bn)]
}

/// Jaxley's `HH`, as a user channel.
#[derive(Clone, Copy, Debug, Default)]
pub struct UserHH;

impl Mechanism<6, 3> for UserHH {
    fn name(&self) -> &str {
        "UserHH"
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
        "i_UserHH".to_string()
    }
    #[inline(always)]
    fn update_states<T: Scalar>(&self, s: &mut [T; 3], _p: &[T; 6], v: T, dt: T) {
        for (x, (alpha, beta)) in s.iter_mut().zip(rates(v)) {
            *x = solve_gate_exponential(*x, dt, alpha, beta);
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
    // Not `#[inline(always)]`: the library must not need it for the update loop to vectorise.
    fn init_state<T: Scalar>(&self, s: &mut [T; 3], _p: &[T; 6], v: T, _dt: T) {
        for (x, (alpha, beta)) in s.iter_mut().zip(rates(v)) {
            *x = alpha / (alpha + beta);
        }
    }
}
