//! The dynamic-state utilities: masks, flat order, round trips, exact trajectories and the
//! derivatives of one step.

mod common;

use common::*;
use huxley::*;
use nalgebra::{DMatrix, DVector};

const DT: f64 = 0.025;

fn setup(module: &Module, solver: Solver) -> (InitFn, StepFn, DynamicStateUtils) {
    let (init_fn, step_fn) = build_init_and_step_fn(module, VoltageSolver::Hines, solver).unwrap();
    let utils = build_dynamic_state_utils(module).unwrap();
    (init_fn, step_fn, utils)
}

/// |a − b| ≤ rtol·|b| + atol·max|B| for every entry.
fn assert_matrix_close(a: &DMatrix<f64>, b: &DMatrix<f64>, rtol: f64, atol: f64, what: &str) {
    assert_eq!(a.shape(), b.shape(), "{what}: shape");
    let scale = b.amax();
    for (i, (x, y)) in a.iter().zip(b.iter()).enumerate() {
        assert!(
            (x - y).abs() <= rtol * y.abs() + atol * scale,
            "{what}: entry {i}: {x} vs {y} (max |B| {scale})"
        );
    }
}

#[test]
fn cycle_consistency() -> Result<()> {
    // Jaxley's test_cycle_consistency.
    let mut cell = Cell::new(&Branch::new(&Compartment::new(), 3)?, &[-1, 0, 0])?;
    cell.insert(HH)?
        .insert(Leak)?
        .insert(CaNernstReversal)?
        .insert(CaPump)?;
    let (init_fn, _, utils) = setup(&cell, Solver::BwdEuler);
    let (states, params) = init_fn.init::<f64>(&[], None, None, DT)?;
    let x = utils.flatten(&utils.remove_observables(&states)?)?;
    let y = utils.flatten(&utils.remove_observables(&utils.add_observables(
        &utils.unflatten(x.as_slice())?,
        &params,
        DT,
    )?)?)?;
    assert_eq!(x, y);
    assert_eq!(
        utils.keys(),
        &[
            "CaCon_e", "CaCon_i", "HH_h", "HH_m", "HH_n", "eCa", "i_Ca", "v"
        ]
    );
    Ok(())
}

#[test]
fn masks_with_and_without_branchpoints() -> Result<()> {
    // Jaxley's test_build_step_dynamics_fn_branchpoints.
    for (parents, n_full) in [(vec![-1, 0, 0], 25usize), (vec![-1], 8)] {
        let mut cell = Cell::new(&Branch::new(&Compartment::new(), 8)?, &parents)?;
        cell.branch(0)?.insert(HH)?;
        cell.insert(Leak)?;
        let (init_fn, _, utils) = setup(&cell, Solver::BwdEuler);
        let (states, params) = init_fn.init::<f64>(&[], None, None, DT)?;
        let d = utils.remove_observables(&states)?;
        assert_eq!(d.get("v")?.len(), 8 * parents.len());
        assert_eq!(d.get("HH_m")?.len(), 8);
        let full = utils.add_observables(&d, &params, DT)?;
        assert_eq!(full.get("v")?.len(), n_full);
        assert_eq!(full.get("i_HH")?.len(), n_full);
        assert_eq!(full.get("HH_m")?.iter().filter(|x| !x.is_nan()).count(), 8);
        assert!(
            !full.get("v")?.iter().any(|x| x.is_nan()),
            "branchpoint voltage restored"
        );
    }
    Ok(())
}

fn hh_one_branch() -> Result<Cell> {
    let mut cell = Cell::new(&Branch::new(&Compartment::new(), 3)?, &[-1, 0, 0])?;
    cell.insert(Leak)?;
    cell.branch(1)?.insert(HH)?;
    cell.set("v", -60.0)?;
    cell.init_states(DT)?;
    cell.branch(0)?.comp(0)?.set("v", -50.0)?;
    cell.branch(1)?.comp(2)?.set("HH_m", 0.3)?;
    Ok(cell)
}

#[test]
fn flat_state_and_trajectory_match_jaxley() -> Result<()> {
    let case = load("dynamics_hh_one_branch.json");
    let cell = hh_one_branch()?;
    let (init_fn, step_fn, utils) = setup(&cell, Solver::BwdEuler);
    let keys: Vec<&str> = case["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert_eq!(utils.keys(), &keys[..]);
    let (states, params) = init_fn.init::<f64>(&[], None, None, DT)?;
    let mut x = utils.flatten(&utils.remove_observables(&states)?)?;
    // Element by element (the gates come from init_states: equal up to the last bit of exp).
    for (a, b) in x.iter().zip(vec_f64(&case["x0"])) {
        assert!((a - b).abs() <= 4e-16 * b.abs(), "x0: {a} vs {b}");
    }
    for (k, want) in matrix(&case["trajectory"]).iter().enumerate().skip(1) {
        x = utils.step_dynamics(&step_fn, x.as_slice(), &params, Externals::none().at(0), DT)?;
        for (a, b) in x.iter().zip(want) {
            assert!(
                (a - b).abs() <= 1e-10 * b.abs().max(1.0),
                "step {k}: {a} vs {b}"
            );
        }
    }
    Ok(())
}

#[test]
fn jacobians_match_jaxley_jacfwd() -> Result<()> {
    let mut ex2 = Cell::new(&Branch::new(&Compartment::new(), 2)?, &[-1, 0, 0])?;
    ex2.insert(Leak)?;
    for (case, cell) in [
        ("dynamics_example2.json", ex2),
        ("dynamics_hh_one_branch.json", hh_one_branch()?),
    ] {
        let data = load(case);
        let (init_fn, step_fn, utils) = setup(&cell, Solver::BwdEuler);
        let (states, params) = init_fn.init::<f64>(&[], None, None, DT)?;
        let x = utils.flatten(&utils.remove_observables(&states)?)?;
        let mut lin =
            utils.linearize(&step_fn, x.as_slice(), &params, Externals::none().at(0), DT)?;
        let j = lin.jacobian()?;
        let rows = matrix(&data["jacobian"]);
        let jaxley = DMatrix::from_fn(rows.len(), rows.len(), |i, k| rows[i][k]);
        assert_matrix_close(&j, &jaxley, 1e-8, 1e-12, case);
        for (a, b) in lin.x_next().iter().zip(vec_f64(&data["x1"])) {
            assert!((a - b).abs() <= 1e-10 * b.abs().max(1.0));
        }
    }
    Ok(())
}

fn central_differences(
    utils: &DynamicStateUtils,
    step_fn: &StepFn,
    x: &[f64],
    params: &AllParams<f64>,
    ext: &Externals<f64>,
) -> DMatrix<f64> {
    let n = x.len();
    DMatrix::from_fn(n, n, |_, _| 0.0).map_with_location(|i, k, _| {
        // Richardson-extrapolated central differences (error O(h⁴)).
        let d = |h: f64| {
            let mut xp = x.to_vec();
            let mut xm = x.to_vec();
            xp[k] += h;
            xm[k] -= h;
            let fp = utils
                .step_dynamics(step_fn, &xp, params, ext.at(0), DT)
                .unwrap();
            let fm = utils
                .step_dynamics(step_fn, &xm, params, ext.at(0), DT)
                .unwrap();
            (fp[i] - fm[i]) / (2.0 * h)
        };
        let h = 1e-4 * x[k].abs().max(1e-2);
        (4.0 * d(h / 2.0) - d(h)) / 3.0
    })
}

/// Models covering every built-in mechanism, stimuli and clamps.
fn models() -> Result<Vec<(String, Cell)>> {
    let mut out = vec![("hh_one_branch".to_string(), hh_one_branch()?)];
    let mut pos = Cell::new(&Branch::new(&Compartment::new(), 2)?, &[-1, 0, 0])?;
    pos.insert(Leak)?
        .insert(Na)?
        .insert(K)?
        .insert(Km)?
        .insert(CaL)?
        .insert(CaT)?;
    pos.branch(0)?.insert(CaPump)?;
    pos.insert(CaNernstReversal)?;
    pos.set("v", -55.0)?;
    pos.init_states(DT)?;
    pos.branch(1)?.comp(0)?.set("v", -30.0)?;
    pos.branch(0)?
        .comp(0)?
        .stimulate(&step_current(0.0, 5.0, 0.1, DT, 5.0, 0.0));
    out.push(("pospischil_ca".into(), pos));
    let mut cl = Cell::new(&Branch::new(&Compartment::new(), 3)?, &[-1, 0])?;
    cl.insert(HH)?;
    cl.set("v", -50.0)?;
    cl.branch(1)?.comp(2)?.clamp("v", &[-20.0; 300])?;
    cl.branch(0)?.comp(1)?.clamp("HH_n", &[0.4; 300])?;
    out.push(("clamped".into(), cl));
    Ok(out)
}

#[test]
fn jacobian_matches_central_differences_and_vjp_its_transpose() -> Result<()> {
    for solver in [
        Solver::BwdEuler,
        Solver::CrankNicolson,
        Solver::FwdEuler,
        Solver::ExpEuler,
    ] {
        for (name, cell) in models()? {
            let (init_fn, step_fn, utils) = setup(&cell, solver);
            let (states, params) = init_fn.init::<f64>(&[], None, None, DT)?;
            let x = utils.flatten(&utils.remove_observables(&states)?)?;
            let ext = step_fn.externals().at(0).to_owned();
            let mut lin = utils.linearize(&step_fn, x.as_slice(), &params, ext.at(0), DT)?;
            let j = lin.jacobian()?;
            let fd = central_differences(&utils, &step_fn, x.as_slice(), &params, &ext);
            assert_matrix_close(
                &j,
                &fd,
                1e-6,
                1e-8,
                &format!("{name} {solver:?}: J vs central differences"),
            );
            // VJP against the transposed dense Jacobian, for a few cotangents.
            for seed in 0..3 {
                let w = DVector::from_fn(x.len(), |i, _| ((i * 7 + seed * 13) % 11) as f64 - 5.0);
                let vjp = lin.vjp(&w)?;
                let dense = j.transpose() * &w;
                let scale = dense.amax().max(1.0);
                for (a, b) in vjp.iter().zip(dense.iter()) {
                    assert!(
                        (a - b).abs() <= 1e-10 * scale,
                        "{name} {solver:?}: VJP {a} vs Jᵀw {b}"
                    );
                }
            }
        }
    }
    Ok(())
}

#[test]
fn utils_loop_is_bit_identical_to_the_plain_loop() -> Result<()> {
    let mut drift = Cell::new(&Branch::new(&Compartment::new(), 2)?, &[-1, 0, 0])?;
    drift.insert(Leak)?.insert(CaL)?.insert(CaPump)?;
    drift.set("v", -40.0)?;
    drift
        .branch(0)?
        .comp(0)?
        .stimulate(&step_current(0.0, 5.0, 0.1, DT, 5.0, 0.0));
    let mut all = models()?;
    all.push(("ca_drift".into(), drift));
    for solver in [
        Solver::BwdEuler,
        Solver::CrankNicolson,
        Solver::FwdEuler,
        Solver::ExpEuler,
    ] {
        for (name, cell) in &all {
            let (init_fn, step_fn, utils) = setup(cell, solver);
            let (mut plain, params) = init_fn.init::<f64>(&[], None, None, DT)?;
            let mut x = utils.flatten(&utils.remove_observables(&plain)?)?;
            let ext = step_fn.externals().with_steps(100)?;
            for k in 0..100 {
                step_fn.step(&mut plain, &params, ext.at(k), DT)?;
                x = utils.step_dynamics(&step_fn, x.as_slice(), &params, ext.at(k), DT)?;
                let want = utils.flatten(&utils.remove_observables(&plain)?)?;
                assert!(
                    x == want,
                    "{name} {solver:?}: flat states differ after step {}",
                    k + 1
                );
            }
        }
    }
    Ok(())
}

#[test]
fn ca_drift_case_follows_jaxleys_plain_loop() -> Result<()> {
    // Jaxley's own utils loop drifts from its plain loop here (i_Ca recomputed at the new v);
    // ours reproduces the plain loop.
    let case = load("dynamics_ca_drift.json");
    let mut cell = Cell::new(&Branch::new(&Compartment::new(), 2)?, &[-1, 0, 0])?;
    cell.insert(Leak)?.insert(CaL)?.insert(CaPump)?;
    cell.set("v", -40.0)?;
    cell.branch(0)?
        .comp(0)?
        .stimulate(&step_current(0.0, 5.0, 0.1, DT, 5.0, 0.0));
    let (init_fn, step_fn, utils) = setup(&cell, Solver::BwdEuler);
    let (states, params) = init_fn.init::<f64>(&[], None, None, DT)?;
    let mut x = utils.flatten(&utils.remove_observables(&states)?)?;
    assert_eq!(x.as_slice(), &vec_f64(&case["x0"])[..]);
    let ext = step_fn.externals().clone();
    for k in 0..100 {
        x = utils.step_dynamics(&step_fn, x.as_slice(), &params, ext.at(k), DT)?;
    }
    let plain = vec_f64(&case["x100_plain"]);
    let jaxley_utils = vec_f64(&case["x100_utils"]);
    let r = utils.key_range("CaCon_i")?;
    for i in r {
        assert!(
            (x[i] - plain[i]).abs() <= 1e-10 * plain[i].abs(),
            "CaCon_i[{i}]: {} vs plain {}",
            x[i],
            plain[i]
        );
        assert!(
            (x[i] - jaxley_utils[i]).abs() > 1e-4 * plain[i].abs(),
            "Jaxley's utils loop differs visibly"
        );
    }
    Ok(())
}

#[test]
fn dual_real_parts_equal_the_f64_run() -> Result<()> {
    let (_, cell) = models()?.remove(1);
    let (init_fn, step_fn) = build_init_and_step_fn(&cell, VoltageSolver::Hines, Solver::BwdEuler)?;
    let (mut a, pa) = init_fn.init::<f64>(&[], None, None, DT)?;
    let (mut b, pb) = init_fn.init::<Dual64>(&[], None, None, DT)?;
    let ext = step_fn.externals().clone();
    for k in 0..150 {
        step_fn.step(&mut a, &pa, ext.at(k), DT)?;
        step_fn.step(&mut b, &pb, ext.at(k), DT)?;
    }
    // Same exp, same operations; num-dual divides by multiplying with the reciprocal, so real
    // parts may differ from the f64 run in the last bits (and HH amplifies them a little).
    for ((key, x), (_, y)) in a.iter().zip(b.iter()) {
        for (p, q) in x.iter().zip(y) {
            assert!(
                (p - q.re).abs() <= 1e-11 * p.abs().max(1e-3) || (p.is_nan() && q.re.is_nan()),
                "{key}: {p} vs {}",
                q.re
            );
        }
    }
    Ok(())
}

#[test]
fn bad_input_is_a_typed_error() -> Result<()> {
    let cell = hh_one_branch()?;
    let (init_fn, step_fn, utils) = setup(&cell, Solver::BwdEuler);
    let (states, params) = init_fn.init::<f64>(&[], None, None, DT)?;
    // Flat vector of the wrong length.
    assert!(matches!(
        utils.unflatten(&[0.0; 5]),
        Err(Error::LengthMismatch {
            expected: 18,
            got: 5,
            ..
        })
    ));
    let x = utils.flatten(&utils.remove_observables(&states)?)?;
    let mut lin = utils.linearize(&step_fn, x.as_slice(), &params, Externals::none().at(0), DT)?;
    assert!(matches!(
        lin.jvp(&DVector::zeros(3)),
        Err(Error::LengthMismatch { .. })
    ));
    assert!(matches!(
        lin.vjp(&DVector::zeros(30)),
        Err(Error::LengthMismatch { .. })
    ));
    // A states map missing a key, with a wrong-length array, or with an unknown key.
    let d = utils.remove_observables(&states)?;
    let mut entries: Vec<(String, Vec<f64>)> =
        d.iter().map(|(k, v)| (k.to_string(), v.to_vec())).collect();
    assert!(utils.dynamic_states_from(entries.clone()).is_ok());
    let missing = entries[1..].to_vec();
    assert!(
        matches!(utils.dynamic_states_from(missing), Err(Error::UnknownName { name, .. }) if name == "HH_h")
    );
    entries[0].1.pop();
    assert!(matches!(
        utils.dynamic_states_from(entries.clone()),
        Err(Error::LengthMismatch { .. })
    ));
    entries[0] = ("HH_x".into(), vec![0.0; 3]);
    assert!(
        matches!(utils.dynamic_states_from(entries), Err(Error::UnknownName { name, .. }) if name == "HH_x")
    );
    // Utilities of one module used with another.
    let mut other = Cell::new(&Branch::new(&Compartment::new(), 2)?, &[-1])?;
    other.insert(HH)?;
    let (other_init, other_step, other_utils) = setup(&other, Solver::BwdEuler);
    let (other_states, other_params) = other_init.init::<f64>(&[], None, None, DT)?;
    assert!(matches!(
        utils.remove_observables(&other_states),
        Err(Error::LayoutMismatch(_))
    ));
    assert!(matches!(
        other_utils.add_observables(&d, &other_params, DT),
        Err(Error::LayoutMismatch(_))
    ));
    assert!(matches!(
        utils.add_observables(&d, &other_params, DT),
        Err(Error::LayoutMismatch(_))
    ));
    assert!(matches!(
        utils.flatten(&other_utils.remove_observables(&other_states)?),
        Err(Error::LayoutMismatch(_))
    ));
    assert!(matches!(
        utils.linearize(
            &other_step,
            x.as_slice(),
            &params,
            Externals::none().at(0),
            DT
        ),
        Err(Error::LayoutMismatch(_))
    ));
    Ok(())
}

/// The seed page's example 3 (examples/dynamics_loss_gradient.rs): loss and forward-mode
/// gradients against Jaxley's `jax.grad`.
#[test]
fn example3_loss_and_gradients_match_jaxley() -> Result<()> {
    let case = load("dynamics_example3.json");
    let (t_max, dt) = (3.0, 0.025);
    let mut cell = Cell::default();
    cell.insert(Leak)?;
    cell.record("v")?;
    cell.stimulate(&step_current(0.0, 1.0, 2.0, dt, t_max, 0.0));
    cell.make_trainable("radius", None)?;
    let params = cell.get_parameters();
    let (init_fn, step_fn, utils) = setup(&cell, Solver::BwdEuler);
    let ext = step_fn.externals().clone();
    let loss = |params: &[ParamGroup<Dual64>], g: Dual64| -> Result<Dual64> {
        let ps = cell.data_set("Leak_gLeak", g, None)?;
        let (s, p) = init_fn.init::<Dual64>(params, None, Some(&ps), dt)?;
        let mut recs = vec![s.value("v", 0)?];
        let mut x = utils.flatten(&utils.remove_observables(&s)?)?;
        for step in 0..(t_max / dt) as usize {
            let mut s = utils.add_observables(&utils.unflatten(x.as_slice())?, &p, dt)?;
            step_fn.step(&mut s, &p, ext.at(step), dt)?;
            recs.push(s.value("v", 0)?);
            x = utils.flatten(&utils.remove_observables(&s)?)?;
        }
        Ok(recs.iter().fold(Dual64::from(0.0), |a, &b| a + b) / Dual64::from(recs.len() as f64))
    };
    let mut seeded = params[0].cast::<Dual64>();
    seeded.values[0].eps = 1.0;
    let by_radius = loss(&[seeded], Dual64::from(1e-4))?;
    let by_gleak = loss(&[params[0].cast()], Dual64::new(1e-4, 1.0))?;
    let rel = |a: f64, b: f64| (a - b).abs() / b.abs();
    let want = |k: &str| case[k].as_f64().unwrap();
    assert!(
        rel(by_radius.re, want("loss")) < 1e-8,
        "loss {} vs {}",
        by_radius.re,
        want("loss")
    );
    assert!(
        rel(by_radius.eps, want("grad_radius")) < 1e-8,
        "d/dradius {} vs {}",
        by_radius.eps,
        want("grad_radius")
    );
    assert!(
        rel(by_gleak.eps, want("grad_gLeak")) < 1e-8,
        "d/dgLeak {} vs {}",
        by_gleak.eps,
        want("grad_gLeak")
    );
    eprintln!(
        "example 3: loss rel. diff {:.1e}, d/dradius {:.1e}, d/dLeak_gLeak {:.1e}",
        rel(by_radius.re, want("loss")),
        rel(by_radius.eps, want("grad_radius")),
        rel(by_gleak.eps, want("grad_gLeak"))
    );
    Ok(())
}

/// A small network: HH cells, ionotropic and test synapses, the first cell driven.
fn small_network() -> Result<Network> {
    let mut cell = Cell::new(&Branch::new(&Compartment::new(), 2)?, &[-1, 0, 0])?;
    cell.insert(HH)?;
    let mut net = Network::new(&[cell.clone(), cell.clone(), cell])?;
    let (c0, c1, c2) = (
        net.cell(0)?.branch(1)?.comp(1)?.selection(),
        net.cell(1)?.branch(2)?.comp(0)?.selection(),
        net.cell(2)?.branch(0)?.comp(1)?.selection(),
    );
    connect(&mut net, &c0, &c1, IonotropicSynapse)?;
    connect(&mut net, &c1, &c2, IonotropicSynapse)?;
    connect(&mut net, &c0, &c2, TestSynapse)?;
    net.set("IonotropicSynapse_gS", 0.05)?;
    net.set("TestSynapse_gC", 0.01)?;
    net.synapse("IonotropicSynapse")?
        .edge(1)?
        .set("IonotropicSynapse_s", 0.3)?;
    net.cell(0)?
        .branch(0)?
        .comp(0)?
        .stimulate(&step_current(0.0, 3.0, 0.5, DT, 3.0, 0.0));
    Ok(net)
}

/// Networks: synapse states are dynamic states kept whole (one entry per synapse of the type),
/// synapse currents are observables; the utilities loop equals the plain loop bit for bit; the
/// Jacobian through the synapses matches central differences and the VJP its transpose.
#[test]
fn synapse_states_pass_through_the_utilities() -> Result<()> {
    let net = small_network()?;
    let utils = build_dynamic_state_utils(&net)?;
    assert_eq!(utils.key_nodes("IonotropicSynapse_s")?, &[0, 1]);
    assert_eq!(utils.key_nodes("TestSynapse_c")?, &[0]);
    assert!(utils.key_range("i_IonotropicSynapse").is_err());
    assert!(utils.key_range("i_TestSynapse").is_err());
    // 18 compartment voltages, 3 HH gates on each, 2 + 1 synapse states.
    assert_eq!(utils.len(), 18 * 4 + 3);
    for solver in [
        Solver::BwdEuler,
        Solver::CrankNicolson,
        Solver::FwdEuler,
        Solver::ExpEuler,
    ] {
        let (init_fn, step_fn, utils) = setup(&net, solver);
        let (mut plain, params) = init_fn.init::<f64>(&[], None, None, DT)?;
        let mut x = utils.flatten(&utils.remove_observables(&plain)?)?;
        assert_eq!(x[utils.key_range("IonotropicSynapse_s")?.start + 1], 0.3);
        let ext = step_fn.externals().with_steps(120)?;
        for k in 0..120 {
            step_fn.step(&mut plain, &params, ext.at(k), DT)?;
            x = utils.step_dynamics(&step_fn, x.as_slice(), &params, ext.at(k), DT)?;
            let want = utils.flatten(&utils.remove_observables(&plain)?)?;
            assert!(
                x == want,
                "{solver:?}: flat states differ after step {}",
                k + 1
            );
        }
        // The synapses did something: the first synapse opened.
        let s = &x.as_slice()[utils.key_range("IonotropicSynapse_s")?];
        assert!(s[0] > 1e-3, "{solver:?}: synapse state {}", s[0]);
        let e = ext.at(119).to_owned();
        let mut lin = utils.linearize(&step_fn, x.as_slice(), &params, e.at(0), DT)?;
        let j = lin.jacobian()?;
        let w = DVector::from_fn(x.len(), |i, _| ((i * 7) % 11) as f64 - 5.0);
        let dense = j.transpose() * &w;
        let vjp = lin.vjp(&w)?;
        assert!(
            (vjp - &dense).amax() <= 1e-10 * dense.amax().max(1.0),
            "{solver:?}: VJP vs Jᵀw"
        );
        if solver == Solver::BwdEuler {
            let fd = central_differences(&utils, &step_fn, x.as_slice(), &params, &e);
            assert_matrix_close(&j, &fd, 1e-6, 1e-8, "network: J vs central differences");
            let ks = utils.key_range("IonotropicSynapse_s")?;
            let kv = utils.key_range("v")?;
            let pre = utils.key_nodes("v")?.iter().position(|&n| n == 3).unwrap();
            assert!(
                j[(ks.start, kv.start + pre)] != 0.0,
                "the synapse state depends on the pre-synaptic voltage"
            );
        }
    }
    Ok(())
}

/// Point neurons (mechanisms that write the voltage): the VJP is the transposed Jacobian.
#[test]
fn point_neuron_vjp_is_the_transposed_jacobian() -> Result<()> {
    let mut izh = Cell::default();
    izh.insert(Izhikevich)?;
    izh.set("v", -60.0)?;
    izh.stimulate(&step_current(0.0, 5.0, 0.01, DT, 5.0, 0.0));
    let mut adex = Cell::default();
    adex.insert(AdEx)?;
    adex.set("v", -55.0)?;
    let mut rate = Cell::default();
    rate.insert(Rate)?;
    rate.set("v", 0.3)?;
    let models = [("Izhikevich", izh), ("AdEx", adex), ("Rate", rate)];
    for ((name, cell), solver) in models.iter().flat_map(|m| {
        [
            Solver::BwdEuler,
            Solver::CrankNicolson,
            Solver::FwdEuler,
            Solver::ExpEuler,
        ]
        .map(|s| (m, s))
    }) {
        let (init_fn, step_fn, utils) = setup(cell, solver);
        let (states, params) = init_fn.init::<f64>(&[], None, None, DT)?;
        let x = utils.flatten(&utils.remove_observables(&states)?)?;
        let ext = step_fn.externals().at(0).to_owned();
        let mut lin = utils.linearize(&step_fn, x.as_slice(), &params, ext.at(0), DT)?;
        let j = lin.jacobian()?;
        let fd = central_differences(&utils, &step_fn, x.as_slice(), &params, &ext);
        assert_matrix_close(
            &j,
            &fd,
            1e-6,
            1e-8,
            &format!("{name}: J vs central differences"),
        );
        let w = DVector::from_fn(x.len(), |i, _| 1.0 + i as f64);
        let dense = j.transpose() * &w;
        let vjp = lin.vjp(&w)?;
        assert!(
            (&vjp - &dense).amax() <= 1e-10 * dense.amax().max(1.0),
            "{name} {solver:?}: VJP {vjp} vs Jᵀw {dense}"
        );
    }
    Ok(())
}
