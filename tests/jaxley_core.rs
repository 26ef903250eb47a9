//! Same numbers as Jaxley 0.14.0 (x64): traces written by `tools/reference/gen_core.py`.

mod common;

use common::*;
use huxley::*;

const DT: f64 = 0.025;

#[test]
fn compartment_with_hh() -> Result<()> {
    let case = load("core_comp_hh.json");
    let mut comp = Compartment::new();
    comp.insert(HH)?;
    comp.stimulate(&step_current(1.0, 2.0, 0.02, DT, 20.0, 0.0));
    for s in ["v", "HH_m", "HH_h", "HH_n", "i_HH"] {
        comp.record(s)?;
    }
    check_recordings(&comp, &case);
    let d = assert_traces(&sim(&comp, 20.0, Solver::BwdEuler), &case, 1e-6, 1e-8);
    eprintln!("comp_hh: max |ΔV| = {d:e} mV");
    Ok(())
}

#[test]
fn branch_with_radius_per_compartment() -> Result<()> {
    let case = load("core_branch4_radius.json");
    let mut branch = Branch::new(&Compartment::new(), 4)?;
    branch.insert(HH)?;
    for (i, r) in [0.5, 1.0, 1.5, 2.0].into_iter().enumerate() {
        branch.comp(i)?.set("radius", r)?;
    }
    branch
        .comp(0)?
        .stimulate(&step_current(1.0, 2.0, 0.05, DT, 20.0, 0.0));
    for i in 0..4 {
        branch.comp(i)?.record("v")?;
    }
    branch.comp(3)?.record("HH_m")?;
    check_recordings(&branch, &case);
    let d = assert_traces(&sim(&branch, 20.0, Solver::BwdEuler), &case, 1e-6, 1e-8);
    eprintln!("branch4: max |ΔV| = {d:e} mV");
    Ok(())
}

fn mixed_cell() -> Result<Cell> {
    let mut cell = Cell::new(&Branch::new(&Compartment::new(), 2)?, &[-1, 0, 0, 1, 1])?;
    cell.branch(0)?.insert(HH)?;
    for b in [1, 2] {
        cell.branch(b)?.insert(Na)?.insert(K)?.insert(Leak)?;
    }
    cell.branch(3)?.insert(HH)?.insert(Leak)?;
    cell.branch(4)?.insert(Leak)?.set("Leak_gLeak", 2e-4)?;
    cell.branch(1)?.set("axial_resistivity", 1000.0)?;
    cell.branch(2)?.set("length", 20.0)?;
    cell.branch(3)?.set("capacitance", 2.0)?;
    cell.branch(0)?
        .comp(0)?
        .stimulate(&step_current(1.0, 3.0, 0.1, DT, 30.0, 0.0));
    Ok(cell)
}

#[test]
fn cell_with_mixed_mechanisms() -> Result<()> {
    let case = load("core_cell_mixed.json");
    let mut cell = mixed_cell()?;
    for b in 0..5 {
        for c in 0..2 {
            cell.branch(b)?.comp(c)?.record("v")?;
        }
    }
    cell.branch(1)?.comp(1)?.record("Na_m")?.record("i_K")?;
    cell.branch(3)?.comp(0)?.record("i_HH")?;
    cell.branch(4)?.comp(1)?.record("i_Leak")?;
    check_recordings(&cell, &case);

    // Geometry and axial conductances, edge by edge.
    let (init_fn, _) = build_init_and_step_fn(&cell, VoltageSolver::Hines, Solver::BwdEuler)?;
    let (_, params) = init_fn.init::<f64>(&[], None, None, DT)?;
    let edges: Vec<(usize, usize, usize, bool)> = init_fn
        .compiled()
        .graph()
        .edges
        .iter()
        .map(|e| (e.source, e.sink, e.kind as usize, e.ordered))
        .collect();
    let want_edges: Vec<(usize, usize, usize, bool)> = matrix(&case["comp_edges"])
        .iter()
        .map(|r| (r[0] as usize, r[1] as usize, r[2] as usize, r[3] == 1.0))
        .collect();
    assert_eq!(edges, want_edges, "graph edges in Jaxley's order");
    for (ours, theirs) in params
        .axial_conductances()
        .iter()
        .zip(vec_f64(&case["axial_conductances_v"]))
    {
        assert!(
            (ours - theirs).abs() <= 1e-13 * theirs.abs(),
            "axial conductance {ours} vs {theirs}"
        );
    }
    for key in [
        "radius",
        "length",
        "axial_resistivity",
        "capacitance",
        "area",
        "volume",
        "resistive_load_in",
    ] {
        let theirs = vec_f64(&case["all_params"][key]);
        let ours = params.get(key)?;
        for &node in init_fn
            .compiled()
            .graph()
            .is_comp
            .iter()
            .enumerate()
            .filter(|x| *x.1)
            .map(|x| x.0)
            .collect::<Vec<_>>()
            .iter()
        {
            assert!(
                (ours[node] - theirs[node]).abs() <= 1e-14 * theirs[node].abs(),
                "{key} at {node}"
            );
        }
    }
    let d = assert_traces(&sim(&cell, 30.0, Solver::BwdEuler), &case, 1e-6, 1e-8);
    eprintln!("cell_mixed: max |ΔV| = {d:e} mV");
    Ok(())
}

/// True steady states of Km and CaT (Jaxley's `init_state` for these two is wrong).
fn km_p_inf(v: f64) -> f64 {
    1.0 / (1.0 + (-0.1 * (v + 35.0)).exp())
}
fn cat_u_inf(v: f64, vx: f64) -> f64 {
    1.0 / (1.0 + ((v + vx + 81.0) / 4.0).exp())
}

#[test]
fn pospischil_channels_with_calcium() -> Result<()> {
    let case = load("core_pospischil_ca.json");
    let mut cell = Cell::new(&Branch::new(&Compartment::new(), 3)?, &[-1, 0, 0])?;
    cell.insert(Leak)?
        .insert(Na)?
        .insert(K)?
        .insert(Km)?
        .insert(CaL)?
        .insert(CaT)?;
    cell.branch(0)?.insert(CaPump)?;
    cell.branch(1)?.insert(CaPump)?;
    cell.insert(CaNernstReversal)?;
    cell.set("v", -65.0)?;
    cell.init_states(DT)?;
    // huxley's init_states already gives the true steady state of Km and CaT; Jaxley's script sets
    // it explicitly. Check they agree before anything runs.
    for (&p, &u) in cell.column("Km_p")?.iter().zip(cell.column("CaT_u")?) {
        assert!((p - km_p_inf(-65.0)).abs() < 1e-15);
        assert!((u - cat_u_inf(-65.0, 2.0)).abs() < 1e-15);
    }
    cell.branch(2)?.set("CaCon_e", 3.0)?;
    cell.branch(0)?
        .comp(0)?
        .stimulate(&step_current(2.0, 20.0, 0.2, DT, 50.0, 0.0));
    cell.branch(0)?.comp(0)?.record("v")?;
    cell.branch(1)?.comp(2)?.record("v")?;
    cell.branch(2)?.comp(1)?.record("v")?;
    cell.branch(0)?.comp(0)?.record("CaCon_i")?;
    cell.branch(2)?.comp(1)?.record("CaCon_i")?;
    cell.branch(0)?.comp(0)?.record("eCa")?.record("i_Ca")?;
    cell.branch(1)?.comp(0)?.record("CaL_q")?;
    cell.branch(0)?.comp(0)?.record("Km_p")?.record("CaT_u")?;
    cell.branch(1)?.comp(1)?.record("i_CaPump")?;
    cell.branch(2)?.comp(2)?.record("i_K")?;
    check_recordings(&cell, &case);

    // Initial states key by key (Jaxley writes -1 in branchpoint rows and 0 for currents where no
    // mechanism passes them; we write NaN there).
    let (init_fn, _) = build_init_and_step_fn(&cell, VoltageSolver::Hines, Solver::BwdEuler)?;
    let (states, params) = init_fn.init::<f64>(&[], None, None, DT)?;
    let keys: Vec<String> = case["initial_states_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        states.keys(),
        &keys[..],
        "all_states keys in Jaxley's order"
    );
    for key in &keys {
        let theirs = vec_f64(&case["initial_states"][key]);
        let ours = states.get(key)?;
        for &node in &init_fn
            .compiled()
            .state_layout()
            .defined(states.layout().position(key).unwrap())
            .to_vec()
        {
            let (a, b) = (ours[node as usize], theirs[node as usize]);
            if init_fn.compiled().graph().is_comp[node as usize] {
                assert!(
                    (a - b).abs() <= 1e-12 * b.abs().max(1e-300),
                    "{key} at node {node}: {a} vs {b}"
                );
            }
        }
    }
    // eCa is 0 as a parameter (CaNernstReversal's default overwrote CaL's 120 on insert).
    assert!(params.get("eCa")?[..9].iter().all(|&x| x == 0.0));
    let d = assert_traces(&sim(&cell, 50.0, Solver::BwdEuler), &case, 1e-6, 1e-8);
    eprintln!("pospischil: max |ΔV| = {d:e} mV");
    Ok(())
}

fn solver_cell() -> Result<Cell> {
    let mut cell = Cell::new(&Branch::new(&Compartment::new(), 3)?, &[-1, 0, 0])?;
    cell.insert(HH)?;
    cell.branch(1)?.set("radius", 0.5)?;
    cell.branch(2)?.set("radius", 2.0)?;
    cell.set("length", 30.0)?;
    cell.set("axial_resistivity", 500.0)?;
    cell.branch(0)?
        .comp(0)?
        .stimulate(&step_current(1.0, 2.0, 0.2, DT, 10.0, 0.0));
    for b in 0..3 {
        for c in 0..3 {
            cell.branch(b)?.comp(c)?.record("v")?;
        }
    }
    Ok(cell)
}

#[test]
fn each_solver_matches_jaxley() -> Result<()> {
    let cell = solver_cell()?;
    for (name, solver, tol) in [
        ("bwd_euler", Solver::BwdEuler, 1e-6),
        ("crank_nicolson", Solver::CrankNicolson, 1e-6),
        ("fwd_euler", Solver::FwdEuler, 1e-6),
        ("exp_euler", Solver::ExpEuler, 1e-6),
    ] {
        let case = load(&format!("core_solver_{name}.json"));
        check_recordings(&cell, &case);
        let d = assert_traces(&sim(&cell, 10.0, solver), &case, tol, 1e-8);
        eprintln!("{name}: max |ΔV| = {d:e} mV");
    }
    Ok(())
}

#[test]
fn golden_traces_of_jaxleys_test_suite() -> Result<()> {
    let case = load("core_golden.json");
    let stim = step_current(0.5, 1.0, 0.02, DT, 5.0, 0.0);
    let mut comp = Compartment::new();
    let mut branch = Branch::new(&Compartment::new(), 2)?;
    let mut cell = Cell::new(&Branch::new(&Compartment::new(), 2)?, &[-1, 0, 0])?;
    comp.insert(HH)?;
    comp.stimulate(&stim);
    comp.record("v")?;
    branch.insert(HH)?;
    branch.loc(0.0)?.stimulate(&stim);
    branch.loc(0.0)?.record("v")?;
    cell.insert(HH)?;
    cell.branch(1)?.loc(0.0)?.stimulate(&stim);
    cell.branch(1)?.loc(0.0)?.record("v")?;
    for (key, module) in [
        ("comp", &*comp),
        ("branch2", &*branch),
        ("simple_cell", &*cell),
    ] {
        let reference = &case["modules"][key];
        check_recordings(module, reference);
        let out = integrate(module, &IntegrateOptions::default())?.recordings;
        let d = assert_traces(&out, reference, 1e-6, 1e-8);
        // The golden values quoted from Jaxley's tests (8 decimals), every 20th sample.
        let golden = vec_f64(&reference["golden_values"]);
        for (k, g) in golden.iter().enumerate() {
            assert!(
                (out[(0, 20 * k)] - g).abs() < 1e-8,
                "{key}: sample {} = {} vs golden {g}",
                20 * k,
                out[(0, 20 * k)]
            );
        }
        eprintln!("golden {key}: max |ΔV| = {d:e} mV");
    }
    Ok(())
}

#[test]
fn step_function_states_match_jaxley_key_by_key() -> Result<()> {
    let case = load("core_step_loop.json");
    let cell = mixed_cell()?;
    let (init_fn, step_fn) = build_init_and_step_fn(&cell, VoltageSolver::Hines, Solver::BwdEuler)?;
    let (mut states, params) = init_fn.init::<f64>(&cell.get_parameters(), None, None, DT)?;
    let ext = step_fn.externals().clone();
    for k in 0..40 {
        step_fn.step(&mut states, &params, ext.at(k), DT)?;
    }
    let keys: Vec<&str> = case["states_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert_eq!(states.keys(), &keys[..]);
    let layout = states.layout().clone();
    for (k, key) in keys.iter().enumerate() {
        let theirs = vec_f64(&case["states_after_40_steps"][key]);
        let ours = states.get(key)?;
        let defined = layout.defined(k);
        for node in 0..ours.len() {
            let is_bp = !init_fn.compiled().graph().is_comp[node];
            if defined.binary_search(&(node as u32)).is_ok() && !(is_bp && *key != "v") {
                let tol = if *key == "v" {
                    1e-8
                } else {
                    1e-10 * theirs[node].abs().max(1e-12)
                };
                assert!(
                    (ours[node] - theirs[node]).abs() <= tol,
                    "{key}[{node}]: {} vs {}",
                    ours[node],
                    theirs[node]
                );
            } else {
                // Where Jaxley has a placeholder (NaN, −1 or 0), we have NaN.
                assert!(
                    ours[node].is_nan(),
                    "{key}[{node}] should be NaN, is {}",
                    ours[node]
                );
            }
        }
    }
    Ok(())
}

#[test]
fn step_loop_equals_integrate() -> Result<()> {
    let mut cell = mixed_cell()?;
    cell.branch(3)?
        .comp(1)?
        .record("v")?
        .record("HH_n")?
        .record("i_Leak")?;
    let opts = IntegrateOptions {
        t_max: Some(10.0),
        ..Default::default()
    };
    let out = integrate(&cell, &opts)?.recordings;
    let (init_fn, step_fn) = build_init_and_step_fn(&cell, VoltageSolver::Hines, Solver::BwdEuler)?;
    let (mut states, params) = init_fn.init::<f64>(&[], None, None, DT)?;
    let ext = step_fn.externals().with_steps(out.ncols() - 1)?;
    for k in 0..out.ncols() - 1 {
        step_fn.step(&mut states, &params, ext.at(k), DT)?;
        for (r, rec) in cell.recordings().iter().enumerate() {
            assert_eq!(
                states.value(&rec.state, rec.node)?,
                out[(r, k + 1)],
                "step {k}, row {r}"
            );
        }
    }
    Ok(())
}
