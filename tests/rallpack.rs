//! Rallpack 1: a passive cable against its analytic solution, and the observed convergence order
//! of backward Euler and Crank–Nicolson.
//!
//! 1 mm cable of 1 µm diameter in 1000 compartments, RA 100 Ω·cm, RM 40 kΩ·cm² (Leak with
//! gLeak 2.5e-5 S/cm², eLeak −65 mV), CM 1 µF/cm², 0.1 nA into the first compartment from t = 0,
//! 250 ms. λ = 1 mm, τ = 40 ms.

use huxley::*;
use std::f64::consts::PI;

const T_MAX: f64 = 250.0;
const N: usize = 1000;

fn cable() -> Result<Cell> {
    let mut comp = Compartment::new();
    comp.set("radius", 0.5)?
        .set("length", 1.0)?
        .set("axial_resistivity", 100.0)?
        .set("v", -65.0)?;
    comp.insert(Leak)?
        .set("Leak_gLeak", 2.5e-5)?
        .set("Leak_eLeak", -65.0)?;
    let mut cell = Cell::new(&Branch::new(&comp, N)?, &[-1])?;
    cell.comp(0)?.record("v")?;
    cell.comp(N - 1)?.record("v")?;
    Ok(cell)
}

fn simulate(dt: f64, solver: Solver) -> Result<nalgebra::DMatrix<f64>> {
    let mut cell = cable()?;
    let steps = (T_MAX / dt).round() as usize;
    cell.comp(0)?.stimulate(&vec![0.1; steps + 2]);
    let opts = IntegrateOptions {
        delta_t: dt,
        solver,
        ..Default::default()
    };
    let out = integrate(&cell, &opts)?.recordings;
    Ok(out.columns(0, steps + 1).into_owned())
}

/// Sealed cable of electrotonic length `l`, current step at X = 0: voltage above rest (mV) at
/// electrotonic position `x` and time `t` (in units of τ), `j = I r_a λ` in mV.
fn analytic(x: f64, t: f64, l: f64, j: f64) -> f64 {
    let steady = j * ((l - x).cosh()) / l.sinh();
    if t == 0.0 {
        return 0.0;
    }
    let mut transient = (-t).exp();
    for n in 1..100_000 {
        let k = n as f64 * PI / l;
        let term = 2.0 * (k * x).cos() * (-(1.0 + k * k) * t).exp() / (1.0 + k * k);
        transient += term;
        if (-(1.0 + k * k) * t).exp() < 1e-18 {
            break;
        }
    }
    steady - j / l * transient
}

fn rel_rms(sim: &[f64], reference: &[f64]) -> f64 {
    let rms = (sim
        .iter()
        .zip(reference)
        .map(|(a, b)| (a - b).powi(2))
        .sum::<f64>()
        / sim.len() as f64)
        .sqrt();
    let (lo, hi) = reference
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &x| {
            (l.min(x), h.max(x))
        });
    rms / (hi - lo)
}

#[test]
fn rallpack1_matches_the_analytic_cable() -> Result<()> {
    let dt = 0.05;
    let out = simulate(dt, Solver::BwdEuler)?;
    let (ra, rm, cm, a_cm): (f64, f64, f64, f64) = (100.0, 40_000.0, 1.0, 0.5e-4);
    let lambda_cm = (rm * a_cm / (2.0 * ra)).sqrt();
    let tau = rm * cm * 1e-3; // ms
    let r_axial = ra / (PI * a_cm * a_cm); // Ω/cm
    let j = 0.1e-9 * r_axial * lambda_cm * 1e3; // mV
    let l = 0.1 / lambda_cm;
    for (row, x_um) in [(0, 0.5), (1, 999.5)] {
        let x = x_um * 1e-4 / lambda_cm;
        let reference: Vec<f64> = (0..out.ncols())
            .map(|k| -65.0 + analytic(x, k as f64 * dt / tau, l, j))
            .collect();
        let sim: Vec<f64> = out.row(row).iter().copied().collect();
        let err = rel_rms(&sim, &reference);
        eprintln!(
            "Rallpack 1 at x = {x_um} µm: relative RMS error {:.4}%",
            err * 100.0
        );
        assert!(err < 2e-4, "relative RMS error {err:e} at x = {x_um} µm");
    }
    Ok(())
}

#[test]
fn convergence_order_in_time() -> Result<()> {
    let fine_dt = 0.003125;
    for (solver, name) in [
        (Solver::BwdEuler, "bwd_euler"),
        (Solver::CrankNicolson, "crank_nicolson"),
    ] {
        let fine = simulate(fine_dt, solver)?;
        let mut errors = [[0.0; 2]; 3];
        for (i, dt) in [0.1, 0.05, 0.025].into_iter().enumerate() {
            let out = simulate(dt, solver)?;
            let stride = (dt / fine_dt).round() as usize;
            for row in 0..2 {
                let sim: Vec<f64> = out.row(row).iter().copied().collect();
                let reference: Vec<f64> = (0..sim.len()).map(|k| fine[(row, k * stride)]).collect();
                errors[i][row] = rel_rms(&sim, &reference);
            }
        }
        for row in 0..2 {
            let r1 = errors[0][row] / errors[1][row];
            let r2 = errors[1][row] / errors[2][row];
            eprintln!(
                "{name}, {}: error ratios when dt halves: {r1:.3}, {r2:.3}",
                ["first comp", "last comp"][row]
            );
            match (solver, row) {
                (Solver::BwdEuler, _) => {
                    assert!((1.8..2.2).contains(&r1) && (1.8..2.2).contains(&r2))
                }
                // Far from the injection site Crank–Nicolson is second order.
                (Solver::CrankNicolson, 1) => {
                    assert!((3.6..4.4).contains(&r1) && (3.6..4.4).contains(&r2))
                }
                _ => {}
            }
        }
    }
    Ok(())
}
