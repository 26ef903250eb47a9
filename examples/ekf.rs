//! What the flat state is for: an extended Kalman filter on a multi-compartment HH cell that
//! observes only a noisy somatic voltage and recovers the hidden gating states and the distal
//! voltages.
//!
//! The filter's model is the simulation step itself, `x_{n+1} = F(x_n)` on the flat vector of
//! true ODE states; its Jacobian comes from dual numbers pushed through the same step code.
//!
//! `cargo run --release --example ekf`

use huxley::*;
use nalgebra::{DMatrix, DVector};

/// A small deterministic normal-random generator (xorshift + Box–Muller), to keep the example
/// free of extra dependencies.
struct Noise(u64);
impl Noise {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform().max(1e-300), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

fn main() -> Result<()> {
    let dt = 0.025;
    let t_max = 40.0;
    let steps = (t_max / dt) as usize;
    // Soma-like root branch and two dendrites, 4 compartments each, HH everywhere.
    let mut cell = Cell::new(&Branch::new(&Compartment::new(), 4)?, &[-1, 0, 0])?;
    cell.insert(HH)?;
    cell.branch(0)?.set("radius", 2.0)?;
    // A known, irregular input into the soma.
    let mut noise = Noise(42);
    let current: Vec<f64> = (0..steps + 2)
        .map(|k| {
            if k as f64 * dt > 5.0 {
                0.15 + 0.1 * noise.normal()
            } else {
                0.0
            }
        })
        .collect();
    cell.branch(0)?.comp(0)?.stimulate(&current);

    cell.init_states(dt)?; // the filter's guess: every gate at rest
    let (init_fn, step_fn) = build_init_and_step_fn(&cell, VoltageSolver::Hines, Solver::BwdEuler)?;
    let utils = DynamicStateUtils::for_step_fn(&step_fn);
    let ext = step_fn.externals().clone();

    // The truth starts depolarised with its gates out of equilibrium; the filter starts at rest.
    let mut truth_cell = cell.clone();
    truth_cell.set("v", -58.0)?;
    truth_cell.branch(2)?.set("v", -45.0)?;
    truth_cell
        .set("HH_h", 0.3)?
        .set("HH_n", 0.45)?
        .set("HH_m", 0.1)?;
    let (truth_states, params) =
        build_init_and_step_fn(&truth_cell, VoltageSolver::Hines, Solver::BwdEuler)?
            .0
            .init::<f64>(&[], None, None, dt)?;
    let mut truth = utils.flatten(&utils.remove_observables(&truth_states)?)?;
    let (guess_states, _) = init_fn.init::<f64>(&[], None, None, dt)?;
    let mut x = utils.flatten(&utils.remove_observables(&guess_states)?)?;
    let mut open_loop = x.clone();

    let n = x.len();
    let soma = utils.key_range("v")?.start; // node 0: the first compartment of the root branch
    let distal = utils.key_range("v")?.end - 1; // the tip of the last dendrite
    let gates: Vec<usize> = ["HH_h", "HH_m", "HH_n"]
        .iter()
        .flat_map(|k| utils.key_range(k).unwrap())
        .collect();
    let sigma_obs = 1.0; // mV
    let r = sigma_obs * sigma_obs;
    let q = DMatrix::from_fn(n, n, |i, j| {
        if i != j {
            0.0
        } else if gates.contains(&i) {
            1e-6
        } else {
            1e-3
        }
    });
    let mut p = DMatrix::from_fn(n, n, |i, j| {
        if i != j {
            0.0
        } else if gates.contains(&i) {
            0.05
        } else {
            100.0
        }
    });

    let rms_gates = |a: &DVector<f64>, b: &DVector<f64>| {
        (gates.iter().map(|&i| (a[i] - b[i]).powi(2)).sum::<f64>() / gates.len() as f64).sqrt()
    };
    println!("  t (ms) | EKF: gate RMS err  distal |ΔV| | open loop: gate RMS err  distal |ΔV|");
    for k in 0..steps {
        // Truth and its noisy somatic voltage.
        truth = utils.step_dynamics(&step_fn, truth.as_slice(), &params, ext.at(k), dt)?;
        let y = truth[soma] + sigma_obs * noise.normal();
        open_loop = utils.step_dynamics(&step_fn, open_loop.as_slice(), &params, ext.at(k), dt)?;
        // Predict: x ← F(x), P ← J P Jᵀ + Q.
        let mut lin = utils.linearize(&step_fn, x.as_slice(), &params, ext.at(k), dt)?;
        let j = lin.jacobian()?;
        x = lin.x_next().clone();
        p = &j * &p * j.transpose() + &q;
        // Update with the scalar observation H = e_soma.
        let s = p[(soma, soma)] + r;
        let gain = p.column(soma) / s;
        let innovation = y - x[soma];
        x += &gain * innovation;
        let pk = p.row(soma).into_owned();
        p -= &gain * pk;
        if (k + 1) % 160 == 0 {
            println!(
                "{:8.1} | {:18.4} {:12.3} | {:24.4} {:12.3}",
                (k + 1) as f64 * dt,
                rms_gates(&x, &truth),
                (x[distal] - truth[distal]).abs(),
                rms_gates(&open_loop, &truth),
                (open_loop[distal] - truth[distal]).abs()
            );
        }
    }
    Ok(())
}
