//! Fitting a detailed neuron model by gradient descent: recover the per-branch sodium
//! conductances and radii of an asymmetric branched HH cell from its simulated voltage at
//! several sites.
//!
//! ```sh
//! cargo run --release --example fit
//! ```
//!
//! The "recordings" are a simulation with the true parameters. The fit starts from values
//! perturbed by up to ±20 %, maps every parameter to an unconstrained value through a sigmoid
//! onto a plausible range (Jaxley's `ParamTransform`), and runs Adam on the mean squared error
//! of the voltage traces; gradients come from [`huxley::value_and_grad`] (discrete adjoint with
//! checkpointing). It prints the loss per epoch and the final relative error of every
//! parameter.
use huxley::*;

const DT: f64 = 0.025;
const T_MAX: f64 = 10.0;
const BRANCHES: usize = 5;

/// The cell: five branches of different lengths (no two interchangeable), HH everywhere, a
/// current step into the start of branch 0, voltage recorded at the end of every branch; the
/// sodium conductance and the radius of every branch are trainable (one value per branch).
fn cell() -> Result<Cell> {
    let mut cell = Cell::new(&Branch::new(&Compartment::new(), 2)?, &[-1, 0, 0, 1, 2])?;
    cell.insert(HH)?;
    for b in 0..BRANCHES {
        cell.branch(b)?.set("length", 15.0 + 10.0 * b as f64)?;
    }
    cell.branch(0)?
        .comp(0)?
        .stimulate(&step_current(1.0, 8.0, 0.2, DT, T_MAX, 0.0));
    for b in 0..BRANCHES {
        cell.branch(b)?.loc(1.0)?.record("v")?;
    }
    cell.all_branches().make_trainable("HH_gNa", None)?;
    cell.all_branches().make_trainable("radius", None)?;
    Ok(cell)
}

fn main() -> Result<()> {
    let cell = cell()?;
    let opts = IntegrateOptions::t_max(T_MAX);
    let truth = vec![
        ParamGroup {
            key: "HH_gNa".into(),
            values: (0..BRANCHES).map(|b| 0.09 + 0.015 * b as f64).collect(),
        },
        ParamGroup {
            key: "radius".into(),
            values: (0..BRANCHES).map(|b| 1.3 - 0.15 * b as f64).collect(),
        },
    ];
    // The data: a simulation with the true parameters.
    let target = integrate_with(&cell, &opts, &truth, None, None)?.recordings;
    // Mean squared difference to the target traces (mV²), with its gradient written out.
    let loss = MeanSquaredError::new(target);

    // Start from perturbed values (deterministic: +20 %, −15 %, +10 %, …).
    let factors = [1.2, 0.85, 1.1, 0.8, 1.15];
    let mut start = truth.clone();
    for (g, shift) in start.iter_mut().zip([0, 2]) {
        for (b, x) in g.values.iter_mut().enumerate() {
            *x *= factors[(b + shift) % factors.len()];
        }
    }
    // Unconstrained parameters: sigmoids onto plausible ranges.
    let transform = ParamTransform::new([
        ("HH_gNa", Transform::sigmoid(0.02, 0.3)?),
        ("radius", Transform::sigmoid(0.2, 2.5)?),
    ])?;
    let mut theta = transform.inverse(&start)?;
    let mut adam = Adam::new(0.05)?;
    let grad_opts = GradOptions::default();
    let epochs = 300;
    let t0 = std::time::Instant::now();
    let mut last = f64::NAN;
    for epoch in 0..epochs {
        let params = transform.forward(&theta)?;
        let g = value_and_grad(&cell, &opts, &params, None, &loss, &grad_opts)?;
        let grad_theta = transform.chain_gradient(&theta, &g.params)?;
        if epoch % 20 == 0 || epoch == epochs - 1 {
            println!("epoch {epoch:4}  loss {:.6e} mV²", g.value);
        }
        last = g.value;
        adam.step(&mut theta, &grad_theta)?;
    }
    let fitted = transform.forward(&theta)?;
    println!(
        "{epochs} epochs in {:.2} s; final loss {last:.3e} mV²",
        t0.elapsed().as_secs_f64()
    );
    println!(
        "{:>8} {:>6} {:>10} {:>10} {:>10} {:>9}",
        "param", "branch", "true", "start", "fitted", "rel err"
    );
    let mut worst: f64 = 0.0;
    for ((t, s), f) in truth.iter().zip(&start).zip(&fitted) {
        for b in 0..BRANCHES {
            let err = (f.values[b] - t.values[b]).abs() / t.values[b];
            worst = worst.max(err);
            println!(
                "{:>8} {:>6} {:>10.5} {:>10.5} {:>10.5} {:>9.1e}",
                t.key, b, t.values[b], s.values[b], f.values[b], err
            );
        }
    }
    println!("largest relative error: {worst:.1e} (expected < 1e-2)");
    Ok(())
}
