//! Gradients of whole simulations: the adjoint (`value_and_grad`) against Jaxley's `jax.grad`
//! (`tools/reference/gen_gradients.py`), central finite differences and forward mode;
//! checkpointing; bad input.

mod common;

use common::*;
use huxley::grad::{Checkpointing, GradOptions, Gradient, Loss, value_and_grad_with};
use huxley::*;
use nalgebra::DMatrix;

const DT: f64 = 0.025;

/// `mean((recordings + 65)^2)`, as the reference scripts.
struct MeanSq;
impl Loss for MeanSq {
    fn value<T: Scalar>(&self, rec: &DMatrix<T>) -> T {
        let n = T::from(rec.len() as f64);
        rec.iter()
            .fold(T::zero(), |acc, &v| acc + (v + T::from(65.0)) * (v + T::from(65.0)))
            / n
    }
}

fn opts(solver: Solver, vsolver: VoltageSolver, t_max: f64) -> IntegrateOptions {
    IntegrateOptions {
        t_max: Some(t_max),
        solver,
        voltage_solver: vsolver,
        ..Default::default()
    }
}

fn all_states() -> GradOptions {
    GradOptions {
        checkpointing: Checkpointing::All,
    }
}

/// Every gradient value, trainables then param_state, in order.
fn flat(g: &Gradient) -> Vec<f64> {
    g.params
        .iter()
        .flat_map(|p| p.values.iter().copied())
        .chain(g.param_state.iter().flat_map(|p| p.values.iter().copied()))
        .collect()
}

fn max_rel(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() / y.abs().max(1e-3 * scale))
        .fold(0.0, f64::max)
}

/// The model of `grad_hh_cell.json`, with per-branch trainables `HH_gNa` then `radius`.
fn hh_cell(trainable: bool) -> Result<Cell> {
    let mut cell = Cell::new(&Branch::new(&Compartment::new(), 2)?, &[-1, 0, 0, 1, 1])?;
    cell.insert(HH)?;
    for b in 0..5 {
        cell.branch(b)?.set("length", 10.0 + 5.0 * b as f64)?;
        cell.branch(b)?.set("radius", 1.0 - 0.1 * b as f64)?;
    }
    cell.branch(0)?
        .comp(0)?
        .stimulate(&step_current(0.5, 2.0, 0.2, DT, 5.0, 0.0));
    cell.branch(0)?.comp(0)?.record("v")?;
    cell.branch(3)?.comp(1)?.record("v")?;
    cell.branch(4)?.comp(1)?.record("v")?;
    if trainable {
        for key in ["HH_gNa", "radius"] {
            for b in 0..5 {
                cell.branch(b)?.make_trainable(key, None)?;
            }
        }
    }
    Ok(cell)
}

fn reference_grads(case: &serde_json::Value) -> Vec<f64> {
    case["grads"]
        .as_array()
        .expect("grads")
        .iter()
        .flat_map(|g| vec_f64(&g["values"]))
        .collect()
}

#[test]
fn hh_cell_matches_jax_grad() -> Result<()> {
    for (file, solver) in [
        ("grad_hh_cell.json", Solver::BwdEuler),
        ("grad_hh_cell_cn.json", Solver::CrankNicolson),
        ("grad_hh_cell_fe.json", Solver::FwdEuler),
    ] {
        let case = load(file);
        let cell = hh_cell(true)?;
        let o = opts(solver, VoltageSolver::Hines, 5.0);
        let g = value_and_grad(&cell, &o, &cell.get_parameters(), None, &MeanSq, &all_states())?;
        let loss = case["loss"].as_f64().unwrap();
        let want = reference_grads(&case);
        let d = max_rel(&flat(&g), &want);
        eprintln!(
            "{file}: loss {:e} rel, gradient max rel diff {d:e}",
            (g.value - loss).abs() / loss
        );
        assert!((g.value - loss).abs() < 1e-10 * loss);
        assert!(d < 1e-8, "{file}: {:?} vs {want:?}", flat(&g));
    }
    Ok(())
}
