//! Deliberate differences from Jaxley (see docs/differences-from-jaxley.md).

use huxley::*;

#[test]
fn hh_is_finite_at_the_vtrap_singularities() -> Result<()> {
    for v0 in [-40.0, -55.0] {
        let mut comp = Compartment::new();
        comp.insert(HH)?;
        comp.set("v", v0)?;
        comp.init_states(0.025)?;
        for s in ["HH_m", "HH_h", "HH_n"] {
            assert!(comp.column(s)?[0].is_finite(), "{s} at v = {v0}");
        }
        // The limit: alpha_m(-40) = 0.1 * 10 = 1, so m_inf = 1 / (1 + beta_m(-40)).
        if v0 == -40.0 {
            let beta_m = 4.0 * (-(v0 + 65.0) / 18.0f64).exp();
            assert!((comp.column("HH_m")?[0] - 1.0 / (1.0 + beta_m)).abs() < 1e-15);
        }
        comp.record("v")?;
        let out = integrate(&comp, &IntegrateOptions::t_max(1.0))?.recordings;
        assert!(out.iter().all(|x| x.is_finite()));
        // Continuous across the singularity: a hair away gives nearly the same gate.
        let mut near = Compartment::new();
        near.insert(HH)?;
        near.set("v", v0 + 1e-9)?;
        near.init_states(0.025)?;
        assert!((near.column("HH_m")?[0] - comp.column("HH_m")?[0]).abs() < 1e-9);
    }
    Ok(())
}

#[test]
fn branchpoint_voltage_is_the_weighted_mean_of_its_neighbours() -> Result<()> {
    let mut cell = Cell::new(&Branch::new(&Compartment::new(), 2)?, &[-1, 0, 0])?;
    cell.branch(1)?.set("radius", 2.0)?;
    cell.branch(0)?.comp(0)?.set("v", -40.0)?;
    cell.branch(0)?.comp(1)?.set("v", -60.0)?;
    cell.branch(1)?.comp(0)?.set("v", -80.0)?;
    let (init_fn, _) = build_init_and_step_fn(&cell, VoltageSolver::Hines, Solver::BwdEuler)?;
    let (states, _) = init_fn.init::<f64>(&[], None, None, 0.025)?;
    let v = states.get("v")?;
    // Weights 1/(Ra r_half) ∝ r²: branch 0 and 2 have r = 1, branch 1 has r = 2.
    let expected = (1.0 * -60.0 + 4.0 * -80.0 + 1.0 * -70.0) / 6.0;
    assert!(
        (v[6] - expected).abs() < 1e-12,
        "v_bp = {} vs {expected}",
        v[6]
    );
    Ok(())
}
