//! Jaxley's non-capacitive mechanisms for point-neuron networks: `Izhikevich`, `AdEx`, `Fire`
//! and `Rate`. They pass no current; they write the membrane voltage directly in their state
//! update ([`Mechanism::SETS_VOLTAGE`]), from the voltage at the start of the step. The cable
//! solve then starts from that voltage (with synaptic and external currents still acting).

use super::{Mechanism, Var, own, shared};
use crate::math::{exponential_euler, min, save_exp, select};
use crate::scalar::{Scalar, c};

/// The Izhikevich (2003) neuron, as Jaxley's `Izhikevich`.
///
/// Parameters `Izhikevich_a` 0.02, `_b` 0.2, `_c` −65, `_d` 8; state `Izhikevich_u` 0; current
/// name `Izhikevich_izhikevich` (always zero). Each step: `u` relaxes towards `b·v` by exponential
/// Euler with `τ = 1/a`, then `v += dt·(0.04v² + 5v + 140 − u)` (forward Euler); where `v ≥ 30`,
/// `v = c` and `u += d`. `init_states` sets `u = b·v`.
///
/// ```
/// use huxley::{Compartment, IntegrateOptions, Izhikevich, integrate, spike_count, step_current};
/// # fn main() -> huxley::Result<()> {
/// let mut neuron = Compartment::new();
/// neuron.insert(Izhikevich)?;
/// neuron.init_states(0.025)?;
/// neuron.stimulate(&step_current(5.0, 100.0, 0.01, 0.025, 120.0, 0.0));
/// neuron.record("v")?;
/// let v: Vec<f64> = integrate(&neuron, &IntegrateOptions::default())?.recordings.row(0).iter().copied().collect();
/// assert!(spike_count(&v, 0.0) >= 3); // regular spiking
/// # Ok(()) }
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Izhikevich;

impl Mechanism<4, 1> for Izhikevich {
    const SETS_VOLTAGE: bool = true;
    fn name(&self) -> &str {
        "Izhikevich"
    }
    fn params(&self) -> [Var; 4] {
        [
            own("a", 0.02),
            own("b", 0.2),
            own("c", -65.0),
            own("d", 8.0),
        ]
    }
    fn states(&self) -> [Var; 1] {
        [own("u", 0.0)]
    }
    fn current_name(&self, name: &str) -> String {
        format!("{name}_izhikevich")
    }
    #[inline(always)]
    fn update_states<T: Scalar>(&self, s: &mut [T; 1], p: &[T; 4], v: T, dt: T) {
        s[0] = exponential_euler(s[0], dt, p[1] * v, c::<T>(1.0) / p[0]);
    }
    #[inline(always)]
    fn update_voltage<T: Scalar>(&self, s: &mut [T; 1], p: &[T; 4], v: T, dt: T) -> T {
        let dv = c::<T>(0.04) * (v * v) + c::<T>(5.0) * v + c(140.0) - s[0];
        let v = v + dt * dv;
        let spike = v.re() >= 30.0;
        s[0] = select(spike, s[0] + p[3], s[0]);
        select(spike, p[2], v)
    }
    #[inline(always)]
    fn compute_current<T: Scalar>(&self, _s: &[T; 1], _p: &[T; 4], _v: T) -> T {
        T::zero()
    }
    #[inline(always)]
    fn init_state<T: Scalar>(&self, s: &mut [T; 1], p: &[T; 4], v: T, _dt: T) {
        s[0] = p[1] * v;
    }
}

/// A rate neuron, as Jaxley's `Rate`: the voltage (a unit-less rate) decays towards 0 by
/// exponential Euler with time constant `Rate_tau` (1 ms). Current name `Rate_rate` (zero).
/// Networks of rate neurons are usually coupled by [`crate::TanhRateSynapse`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Rate;

impl Mechanism<1, 0> for Rate {
    const SETS_VOLTAGE: bool = true;
    fn name(&self) -> &str {
        "Rate"
    }
    fn params(&self) -> [Var; 1] {
        [own("tau", 1.0)]
    }
    fn states(&self) -> [Var; 0] {
        []
    }
    fn current_name(&self, name: &str) -> String {
        format!("{name}_rate")
    }
    #[inline(always)]
    fn update_states<T: Scalar>(&self, _s: &mut [T; 0], _p: &[T; 1], _v: T, _dt: T) {}
    #[inline(always)]
    fn update_voltage<T: Scalar>(&self, _s: &mut [T; 0], p: &[T; 1], v: T, dt: T) -> T {
        exponential_euler(v, dt, T::zero(), p[0])
    }
    #[inline(always)]
    fn compute_current<T: Scalar>(&self, _s: &[T; 0], _p: &[T; 1], _v: T) -> T {
        T::zero()
    }
}

/// Threshold and reset, as Jaxley's `Fire`: where `v > Fire_vth` (−50 mV) at the start of the
/// step, `v = Fire_vreset` (−70 mV) and the state `Fire_spikes` is 1 (else 0). With a
/// [`crate::Leak`] it makes a leaky integrate-and-fire neuron. Current name `Fire_fire` (zero).
#[derive(Clone, Copy, Debug, Default)]
pub struct Fire;

impl Mechanism<2, 1> for Fire {
    const SETS_VOLTAGE: bool = true;
    fn name(&self) -> &str {
        "Fire"
    }
    fn params(&self) -> [Var; 2] {
        [own("vth", -50.0), own("vreset", -70.0)]
    }
    fn states(&self) -> [Var; 1] {
        [own("spikes", 0.0)]
    }
    fn current_name(&self, name: &str) -> String {
        format!("{name}_fire")
    }
    #[inline(always)]
    fn update_states<T: Scalar>(&self, _s: &mut [T; 1], _p: &[T; 2], _v: T, _dt: T) {}
    #[inline(always)]
    fn update_voltage<T: Scalar>(&self, s: &mut [T; 1], p: &[T; 2], v: T, _dt: T) -> T {
        let spike = v.re() > p[0].re();
        s[0] = select(spike, T::one(), T::zero());
        select(spike, p[1], v)
    }
    #[inline(always)]
    fn compute_current<T: Scalar>(&self, _s: &[T; 1], _p: &[T; 2], _v: T) -> T {
        T::zero()
    }
}

/// The adaptive exponential integrate-and-fire neuron (Brette & Gerstner 2005), as Jaxley's
/// `AdEx`.
///
/// Parameters `AdEx_g_L` 10, `_E_L` −70, `_v_T` −50, `_delta_T` 2, `_v_threshold` 0,
/// `_v_reset` −58, `_tau_w` 30, `_a` 2, `_b` 0, and the compartment's `capacitance`; states
/// `AdEx_w` 0 and `AdEx_spikes`; current name `i_AdEx` (zero). Each step: `w` relaxes towards
/// `a(v − E_L)` with `τ_w`; `v += dt·(−g_L(v − E_L) + g_L·Δ_T·e^{min((v − v_T)/Δ_T, 10)} − w)/C`;
/// where `v ≥ v_threshold`, `v = v_reset` and `w += b`.
#[derive(Clone, Copy, Debug, Default)]
pub struct AdEx;

impl Mechanism<10, 2> for AdEx {
    const SETS_VOLTAGE: bool = true;
    fn name(&self) -> &str {
        "AdEx"
    }
    fn params(&self) -> [Var; 10] {
        [
            own("g_L", 10.0),
            own("E_L", -70.0),
            own("v_T", -50.0),
            own("delta_T", 2.0),
            own("v_threshold", 0.0),
            own("v_reset", -58.0),
            own("tau_w", 30.0),
            own("a", 2.0),
            own("b", 0.0),
            shared("capacitance", 1.0),
        ]
    }
    fn states(&self) -> [Var; 2] {
        [own("w", 0.0), own("spikes", 0.0)]
    }
    #[inline(always)]
    fn update_states<T: Scalar>(&self, s: &mut [T; 2], p: &[T; 10], v: T, dt: T) {
        s[0] = exponential_euler(s[0], dt, p[7] * (v - p[1]), p[6]);
    }
    #[inline(always)]
    fn update_voltage<T: Scalar>(&self, s: &mut [T; 2], p: &[T; 10], v: T, dt: T) -> T {
        let (g_l, e_l, v_t, delta_t) = (p[0], p[1], p[2], p[3]);
        let i_leak = g_l * (v - e_l);
        let exp_arg = min((v - v_t) / delta_t, c(10.0));
        let i_exp = g_l * delta_t * save_exp(exp_arg);
        let dv = (-i_leak + i_exp - s[0]) / p[9];
        let v = v + dt * dv;
        let spike = v.re() >= p[4].re();
        s[0] = select(spike, s[0] + p[8], s[0]);
        s[1] = select(spike, T::one(), T::zero());
        select(spike, p[5], v)
    }
    #[inline(always)]
    fn compute_current<T: Scalar>(&self, _s: &[T; 2], _p: &[T; 10], _v: T) -> T {
        T::zero()
    }
}
