//! A channel defined outside the crate: an A-type potassium current (Connor–Stevens style),
//! inserted next to the built-in ones, and a second leak under another name.
//!
//! `cargo run --release --example custom_channel`

use huxley::math::{exp, solve_inf_gate_exponential};
use huxley::mechanisms::{Mechanism, Var, own, shared};
use huxley::*;

/// Transient potassium current `gKA a³ b (v − eK)`; `eK` is the shared reversal that K and Km
/// use, so the three potassium currents can share it (and its current adds to `i_K`).
#[derive(Clone, Copy)]
struct KA;

impl KA {
    #[inline(always)]
    fn gates<T: Scalar>(v: T) -> (T, T, T, T) {
        let one = T::from(1.0);
        let a_inf = one / (one + exp(-(v + T::from(60.0)) * T::from(1.0 / 8.5)));
        let b_inf = one / (one + exp((v + T::from(78.0)) * T::from(1.0 / 6.0)));
        let tau_a = T::from(0.37)
            + one
                / (exp((v + T::from(35.8)) * T::from(1.0 / 19.7))
                    + exp(-(v + T::from(79.7)) * T::from(1.0 / 12.7)));
        let tau_b = T::from(19.0);
        (a_inf, tau_a, b_inf, tau_b)
    }
}

impl Mechanism<2, 2> for KA {
    // Each gate's update reads only itself and `v`, and no parameter: gradients through this
    // channel then need fewer dual-number passes (see `Mechanism::INDEPENDENT_STATES`).
    const INDEPENDENT_STATES: bool = true;
    const UPDATE_READS_PARAMS: bool = false;
    fn name(&self) -> &str {
        "KA"
    }
    fn params(&self) -> [Var; 2] {
        [own("gKA", 0.01), shared("eK", -90.0)]
    }
    fn states(&self) -> [Var; 2] {
        [own("a", 0.1), own("b", 0.5)]
    }
    fn current_name(&self, _name: &str) -> String {
        "i_K".into()
    }
    #[inline(always)]
    fn update_states<T: Scalar>(&self, s: &mut [T; 2], _p: &[T; 2], v: T, dt: T) {
        let (a_inf, tau_a, b_inf, tau_b) = Self::gates(v);
        s[0] = solve_inf_gate_exponential(s[0], dt, a_inf, tau_a);
        s[1] = solve_inf_gate_exponential(s[1], dt, b_inf, tau_b);
    }
    #[inline(always)]
    fn compute_current<T: Scalar>(&self, s: &[T; 2], p: &[T; 2], v: T) -> T {
        let a = s[0];
        p[0] * (a * a * a) * s[1] * (v - p[1])
    }
    #[inline(always)]
    fn init_state<T: Scalar>(&self, s: &mut [T; 2], _p: &[T; 2], v: T, _dt: T) {
        let (a_inf, _, b_inf, _) = Self::gates(v);
        s[0] = a_inf;
        s[1] = b_inf;
    }
}

fn run(with_ka: bool) -> Result<Vec<f64>> {
    let mut comp = Compartment::new();
    comp.set("radius", 5.0)?;
    comp.insert(Na)?.insert(K)?.insert(Leak)?;
    comp.insert(Leak.rename("Leak2"))?
        .set("Leak2_gLeak", 2e-5)?
        .set("Leak2_eLeak", -90.0)?;
    if with_ka {
        comp.insert(KA)?;
    }
    comp.set("v", -70.0)?;
    comp.init_states(0.025)?;
    comp.stimulate(&step_current(5.0, 90.0, 0.05, 0.025, 100.0, 0.0));
    comp.record("v")?;
    let sim = integrate(&comp, &IntegrateOptions::t_max(100.0))?;
    Ok(sim.recordings.row(0).iter().copied().collect())
}

fn main() -> Result<()> {
    // The declarations above, checked against the update's Jacobian.
    huxley::mechanisms::check_declarations(&KA)?;
    let without = run(false)?;
    let with = run(true)?;
    let first = |v: &[f64]| {
        spike_times(v, 0.0, 0.025)
            .first()
            .copied()
            .unwrap_or(f64::NAN)
    };
    println!(
        "without KA: {:2} spikes, first at {:.2} ms",
        spike_count(&without, 0.0),
        first(&without)
    );
    println!(
        "with KA:    {:2} spikes, first at {:.2} ms (the A-current delays and slows firing)",
        spike_count(&with, 0.0),
        first(&with)
    );
    Ok(())
}
