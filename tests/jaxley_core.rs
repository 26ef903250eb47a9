//! Same numbers as Jaxley 0.14.0 (x64): traces written by `tools/reference/gen_core.py`.

mod common;

use common::*;
use huxley::*;

const DT: f64 = 0.025;

fn sim(module: &Module, t_max: f64, solver: Solver) -> nalgebra::DMatrix<f64> {
    let opts = IntegrateOptions {
        t_max: Some(t_max),
        solver,
        ..Default::default()
    };
    integrate(module, &opts)
        .expect("simulation runs")
        .recordings
}

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
