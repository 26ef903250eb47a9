//! Exact discrete checks: a passive compartment against its closed form, and the tree solvers
//! against a dense LU.

use huxley::solver::{dense, hines, sparse_lu};
use huxley::*;

#[test]
fn passive_compartment_follows_the_backward_euler_closed_form() -> Result<()> {
    let (g, e, i_na, dt) = (2e-4, -65.0, 0.05, 0.025);
    let mut comp = Compartment::new();
    comp.insert(Leak)?
        .set("Leak_gLeak", g)?
        .set("Leak_eLeak", e)?
        .set("v", e)?;
    comp.set("capacitance", 1.5)?;
    comp.record("v")?;
    let n = 2000;
    comp.stimulate(&vec![i_na; n]);
    let out = integrate(
        &comp,
        &IntegrateOptions {
            delta_t: dt,
            ..Default::default()
        },
    )?
    .recordings;
    let area = comp.column("area")?[0];
    // cm dV/dt = −1000 g (V − E) + I·1e5/area  (µA/cm²)
    let ir = i_na / area * 1e5 / (1000.0 * g);
    let tau = 1.5 / (1000.0 * g);
    let mut worst = 0.0f64;
    for k in 0..=n {
        let exact = e + ir * (1.0 - (1.0 + dt / tau).powi(-(k as i32)));
        worst = worst.max((out[(0, k)] - exact).abs());
    }
    assert!(worst < 1e-10 * ir.abs(), "max error {worst:e} vs IR = {ir}");
    Ok(())
}

/// A deterministic pseudo-random generator (SplitMix64), so the trees are reproducible.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E3779B97F4A7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() * n as f64) as usize % n
    }
}

fn random_cell(rng: &mut Rng, n_branches: usize) -> Result<Cell> {
    let mut parents = vec![-1i64];
    for b in 1..n_branches {
        parents.push(rng.below(b) as i64);
    }
    let branches: Vec<Branch> = (0..n_branches)
        .map(|_| Branch::new(&Compartment::new(), 1 + rng.below(5)))
        .collect::<Result<_>>()?;
    let mut cell = Cell::from_branches(&branches, &parents)?;
    let n = cell.n_comps();
    let radius: Vec<f64> = (0..n).map(|_| 0.2 + 3.0 * rng.next()).collect();
    let length: Vec<f64> = (0..n).map(|_| 1.0 + 50.0 * rng.next()).collect();
    let ra: Vec<f64> = (0..n).map(|_| 50.0 + 5000.0 * rng.next()).collect();
    let cm: Vec<f64> = (0..n).map(|_| 0.5 + 2.0 * rng.next()).collect();
    cell.set_values("radius", &radius)?;
    cell.set_values("length", &length)?;
    cell.set_values("axial_resistivity", &ra)?;
    cell.set_values("capacitance", &cm)?;
    Ok(cell)
}

/// Solves one random system on `module`'s tree (or forest) with Hines, the sparse LU and a dense
/// LU, and the transposed system with Hines against the dense transpose.
fn check_solvers_agree(module: &Module, rng: &mut Rng, what: &str) -> Result<()> {
    let (init_fn, _) = build_init_and_step_fn(module, VoltageSolver::Hines, Solver::BwdEuler)?;
    let c = init_fn.compiled();
    let (_, p) = init_fn.init::<f64>(&[], None, None, 0.025)?;
    let n = c.n_nodes();
    let is_comp = &c.graph().is_comp;
    let lin: Vec<f64> = (0..n)
        .map(|i| if is_comp[i] { 5.0 * rng.next() } else { 0.0 })
        .collect();
    let cst: Vec<f64> = (0..n)
        .map(|i| {
            if is_comp[i] {
                100.0 * (rng.next() - 0.5)
            } else {
                0.0
            }
        })
        .collect();
    let v: Vec<f64> = (0..n).map(|_| -80.0 + 60.0 * rng.next()).collect();
    let h = 0.05;
    let (mut d, mut r, mut x_hines) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    x_hines.copy_from_slice(&v);
    hines::solve(c, &p, &lin, &cst, &mut x_hines, h, &mut d, &mut r);
    let plan = sparse_lu::Plan::new(c)?;
    let mut work = sparse_lu::LuWork::new(&plan);
    let mut x_lu = vec![0.0; n];
    sparse_lu::solve(&plan, &mut work, c, &p, &lin, &cst, &v, h, &mut x_lu)?;
    let x_dense = dense::solve(c, &p, &lin, &cst, &v, h).expect("non-singular");
    for i in 0..n {
        assert!(
            (x_hines[i] - x_dense[i]).abs() < 1e-10,
            "Hines vs dense at node {i} ({what})"
        );
        assert!(
            (x_lu[i] - x_dense[i]).abs() < 1e-10,
            "sparse LU vs dense at node {i} ({what})"
        );
    }
    // The transposed system Aᵀ λ = w by the same elimination with swapped off-diagonals.
    let (a, _) = dense::assemble(c, &p, &lin, &cst, &v, h);
    let w: Vec<f64> = (0..n).map(|_| rng.next() - 0.5).collect();
    let mut lambda = w.clone();
    hines::solve_transpose(c, &p, &lin, h, &mut lambda, &mut d, &mut r);
    let lam = nalgebra::DVector::from_vec(lambda);
    let resid = a.transpose() * &lam - nalgebra::DVector::from_vec(w);
    assert!(
        resid.amax() < 1e-12 * (1.0 + a.amax() * lam.amax()),
        "transposed Hines residual {} ({what})",
        resid.amax()
    );
    Ok(())
}

#[test]
fn hines_sparse_lu_and_dense_lu_agree_on_random_trees() -> Result<()> {
    let mut rng = Rng(7);
    for &n_branches in &[1usize, 2, 3, 7, 20, 60] {
        for _ in 0..3 {
            let cell = random_cell(&mut rng, n_branches)?;
            check_solvers_agree(&cell, &mut rng, &format!("{n_branches} branches"))?;
        }
    }
    Ok(())
}

/// Networks are forests: one tree per cell, each its own solve unit.
#[test]
fn hines_sparse_lu_and_dense_lu_agree_on_random_forests() -> Result<()> {
    let mut rng = Rng(13);
    for &n_cells in &[2usize, 5, 12] {
        let cells: Vec<Cell> = (0..n_cells)
            .map(|_| {
                let nb = 1 + rng.below(12);
                random_cell(&mut rng, nb)
            })
            .collect::<Result<_>>()?;
        let net = Network::new(&cells)?;
        check_solvers_agree(&net, &mut rng, &format!("{n_cells} cells"))?;
    }
    Ok(())
}

#[test]
fn hines_and_sparse_lu_give_the_same_simulation() -> Result<()> {
    let mut rng = Rng(11);
    let mut cell = random_cell(&mut rng, 15)?;
    cell.insert(HH)?;
    cell.branch(0)?
        .comp(0)?
        .stimulate(&step_current(1.0, 3.0, 0.5, 0.025, 10.0, 0.0));
    let mut brs = cell.branches();
    while let Some(b) = brs.next() {
        b.loc(1.0)?.record("v")?;
    }
    let mut opts = IntegrateOptions::t_max(10.0);
    let a = integrate(&cell, &opts)?.recordings;
    opts.voltage_solver = VoltageSolver::SparseLu;
    let b = integrate(&cell, &opts)?.recordings;
    let worst = (&a - &b).abs().max();
    assert!(worst < 1e-10, "max |ΔV| = {worst:e}");
    assert!(
        a.max() > 0.0,
        "the cell spikes, so the comparison covers the nonlinear regime"
    );
    Ok(())
}
