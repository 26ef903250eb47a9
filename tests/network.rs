//! Networks, synapses, point neurons and ion diffusion: the same numbers as Jaxley 0.14.0 (x64),
//! traces written by `tools/reference/gen_network.py`; then what the reference traces do not
//! cover: threads do not change a bit, connection functions, synapse parameters as trainables
//! and run-time values, clamps of synapse states, derivatives through synapses, split cells.

mod common;

use common::*;
use huxley::*;
use serde_json::Value;
use std::sync::Arc;

const DT: f64 = 0.025;

/// Edges, keys and recordings as in the reference.
fn check_structure(net: &Module, case: &Value) -> Result<()> {
    let edges: Vec<(String, usize, usize, usize)> = net
        .connections()
        .into_iter()
        .map(|c| (c.synapse, c.index_within_type, c.pre_node, c.post_node))
        .collect();
    let want: Vec<(String, usize, usize, usize)> = case["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_string(),
                e["index_within_type"].as_u64().unwrap() as usize,
                e["pre_index"].as_u64().unwrap() as usize,
                e["post_index"].as_u64().unwrap() as usize,
            )
        })
        .collect();
    assert_eq!(edges, want, "edges in Jaxley's order");
    check_recordings(net, case);
    let (init_fn, _) = build_init_and_step_fn(net, VoltageSolver::Hines, Solver::BwdEuler)?;
    let (states, params) = init_fn.init::<f64>(&net.get_parameters(), None, None, DT)?;
    let keys: Vec<&str> = case["state_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert_eq!(states.keys(), &keys[..], "all_states keys");
    let pkeys: Vec<&str> = case["param_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    // The geometry keys come first in both (Jaxley lists resistive_load_out before _in).
    let mut ours: Vec<&str> = params.keys().iter().map(|s| s.as_str()).collect();
    let mut theirs = pkeys.clone();
    ours[..8].sort_unstable();
    theirs[..8].sort_unstable();
    assert_eq!(ours, theirs, "all_params keys");
    Ok(())
}

/// Initial `all_states` (with the synapse currents of the initial state) key by key.
fn check_initial_states(net: &Module, case: &Value) -> Result<()> {
    let (init_fn, _) = build_init_and_step_fn(net, VoltageSolver::Hines, Solver::BwdEuler)?;
    let (states, _) = init_fn.init::<f64>(&net.get_parameters(), None, None, DT)?;
    let graph = init_fn.compiled().graph();
    for (k, key) in states.keys().iter().enumerate() {
        let theirs = vec_f64(&case["initial_states"][key.as_str()]);
        let ours = states.get(key)?;
        assert_eq!(ours.len(), theirs.len(), "{key}");
        let edge_key = states.layout().is_edge_key(k);
        for i in 0..ours.len() {
            let placeholder = !edge_key && !graph.is_comp[i];
            if placeholder || ours[i].is_nan() {
                continue;
            }
            assert!(
                (ours[i] - theirs[i]).abs() <= 1e-12 * theirs[i].abs().max(1e-3),
                "{key}[{i}]: {} vs {}",
                ours[i],
                theirs[i]
            );
        }
    }
    Ok(())
}

fn chain3() -> Result<Network> {
    let mut net = chain3_network()?;
    net.cell(0)?
        .branch(0)?
        .comp(0)?
        .stimulate(&step_current(1.0, 4.0, 0.4, DT, 40.0, 0.0));
    for c in 0..3 {
        net.cell(c)?.branch(0)?.comp(0)?.record("v")?;
        net.cell(c)?.branch(2)?.comp(0)?.record("v")?;
    }
    net.synapse("IonotropicSynapse")?
        .record("IonotropicSynapse_s")?
        .record("i_IonotropicSynapse")?;
    net.cell(2)?.branch(0)?.comp(0)?.record("HH_m")?;
    Ok(net)
}

#[test]
fn chain_of_three_cells_with_ionotropic_synapses() -> Result<()> {
    let case = load("net_chain3.json");
    let net = chain3()?;
    check_structure(&net, &case)?;
    check_initial_states(&net, &case)?;
    let d = assert_traces(&sim(&net, 40.0, Solver::BwdEuler), &case, 1e-6, 1e-8);
    eprintln!("chain3: max |ΔV| = {d:e} mV");
    Ok(())
}

fn mixed5() -> Result<Network> {
    let cell = Cell::new(&Branch::new(&Compartment::new(), 3)?, &[-1, 0])?;
    let mut net = Network::new(&vec![cell; 5])?;
    net.insert(HH)?;
    net.cells_at(&[1, 3])?.insert(Leak)?;
    let pre = net.cells_at(&[0, 1])?.selection();
    let post = net.cells_at(&[0, 1, 2])?.selection();
    fully_connect(&mut net, &pre, &post, TestSynapse)?;
    let pre = net.cells_at(&[3, 4])?.selection();
    let post = net.cells_at(&[2, 3, 4])?.selection();
    fully_connect(&mut net, &pre, &post, IonotropicSynapse)?;
    net.set("TestSynapse_gC", 0.02)?;
    net.set("IonotropicSynapse_gS", 0.015)?;
    net.synapse("TestSynapse")?
        .edge(2)?
        .set("TestSynapse_gC", 0.04)?;
    net.synapse("IonotropicSynapse")?
        .edge(4)?
        .set("IonotropicSynapse_gS", 0.03)?;
    net.synapse("IonotropicSynapse")?
        .edge(0)?
        .set("IonotropicSynapse_s", 0.5)?;
    net.cell(0)?
        .branch(0)?
        .comp(0)?
        .stimulate(&step_current(1.0, 3.0, 0.3, DT, 40.0, 0.0));
    net.cell(4)?
        .branch(1)?
        .comp(2)?
        .stimulate(&step_current(10.0, 3.0, 0.3, DT, 40.0, 0.0));
    Ok(net)
}

#[test]
fn five_cells_mixing_test_and_ionotropic_synapses() -> Result<()> {
    let case = load("net_mixed5.json");
    let mut net = mixed5()?;
    for c in 0..5 {
        net.cell(c)?.branch(0)?.comp(0)?.record("v")?;
    }
    net.cell(2)?.branch(1)?.comp(2)?.record("v")?;
    for e in [0, 2, 4] {
        net.synapse("TestSynapse")?
            .edge(e)?
            .record("TestSynapse_c")?;
    }
    for e in [0, 3, 5] {
        net.synapse("IonotropicSynapse")?
            .edge(e)?
            .record("IonotropicSynapse_s")?;
    }
    net.synapse("TestSynapse")?
        .edge(3)?
        .record("i_TestSynapse")?;
    check_structure(&net, &case)?;
    check_initial_states(&net, &case)?;
    let d = assert_traces(&sim(&net, 25.0, Solver::BwdEuler), &case, 1e-6, 1e-8);
    eprintln!("mixed5: max |ΔV| = {d:e} mV");
    Ok(())
}

#[test]
fn five_cells_with_crank_nicolson() -> Result<()> {
    let case = load("net_mixed5_cn.json");
    let mut net = mixed5()?;
    for c in 0..5 {
        net.cell(c)?.branch(0)?.comp(0)?.record("v")?;
    }
    check_recordings(&net, &case);
    let d = assert_traces(&sim(&net, 20.0, Solver::CrankNicolson), &case, 1e-6, 1e-8);
    eprintln!("mixed5 (Crank–Nicolson): max |ΔV| = {d:e} mV");
    Ok(())
}

#[test]
fn rate_neurons_with_tanh_synapses() -> Result<()> {
    let case = load("net_tanh.json");
    let mut net = Network::new(&vec![Cell::default(); 4])?;
    net.insert(Rate)?;
    net.cell(2)?.set("Rate_tau", 3.0)?;
    let matrix = vec![
        vec![false, true, true, false],
        vec![true, false, false, true],
        vec![false, true, false, true],
        vec![true, false, true, false],
    ];
    let all = net.all().selection();
    connectivity_matrix_connect(&mut net, &all, &all, TanhRateSynapse, &matrix)?;
    let pre = net.cells_at(&[0])?.selection();
    let post = net.cells_at(&[1, 3])?.selection();
    fully_connect(&mut net, &pre, &post, TanhConductanceSynapse)?;
    net.synapse("TanhRateSynapse")?.set_values(
        "TanhRateSynapse_gS",
        &[0.002, -0.003, 0.004, 0.001, -0.002, 0.003, 0.0015, -0.001],
    )?;
    net.set("TanhRateSynapse_x_offset", 0.0)?;
    net.set("TanhRateSynapse_slope", 0.5)?;
    net.set("TanhConductanceSynapse_gS", 0.0005)?;
    net.set("TanhConductanceSynapse_x_offset", 0.0)?;
    net.set("TanhConductanceSynapse_e_syn", 2.0)?;
    for (c, v) in [1.0, -0.5, 0.3, 0.0].into_iter().enumerate() {
        net.cell(c)?.set("v", v)?;
    }
    net.cell(0)?
        .stimulate(&step_current(1.0, 3.0, 0.002, DT, 20.0, 0.0));
    for c in 0..4 {
        net.cell(c)?.record("v")?;
    }
    net.record("i_TanhRateSynapse")?;
    net.record("i_TanhConductanceSynapse")?;
    check_structure(&net, &case)?;
    let d = assert_traces(&sim(&net, 20.0, Solver::BwdEuler), &case, 1e-6, 1e-8);
    eprintln!("tanh: max |Δv| = {d:e}");
    Ok(())
}

#[test]
fn izhikevich_neurons() -> Result<()> {
    let case = load("net_izhikevich.json");
    let mut net = Network::new(&vec![Cell::default(); 3])?;
    net.insert(Izhikevich)?;
    net.cell(1)?.set("Izhikevich_a", 0.1)?;
    net.cell(2)?.set("Izhikevich_d", 2.0)?;
    net.init_states(DT)?;
    let pre = net.cells_at(&[0])?.selection();
    let post = net.cells_at(&[1, 2])?.selection();
    fully_connect(&mut net, &pre, &post, IonotropicSynapse)?;
    net.set("IonotropicSynapse_gS", 0.01)?;
    net.cell(0)?
        .stimulate(&step_current(2.0, 40.0, 0.01, DT, 60.0, 0.0));
    for c in 0..3 {
        net.cell(c)?.record("v")?.record("Izhikevich_u")?;
    }
    check_structure(&net, &case)?;
    let d = assert_traces(&sim(&net, 60.0, Solver::BwdEuler), &case, 1e-6, 1e-8);
    eprintln!("izhikevich: max |ΔV| = {d:e} mV");
    Ok(())
}

#[test]
fn adex_neurons() -> Result<()> {
    let case = load("net_adex.json");
    let mut net = Network::new(&vec![Cell::default(); 2])?;
    net.insert(AdEx)?;
    net.set("AdEx_b", 5.0)?;
    net.cell(1)?.set("capacitance", 2.0)?;
    let pre = net.cell(0)?.selection();
    let post = net.cell(1)?.selection();
    connect(&mut net, &pre, &post, IonotropicSynapse)?;
    net.set("IonotropicSynapse_gS", 0.05)?;
    net.cell(0)?
        .stimulate(&step_current(1.0, 30.0, 0.3, DT, 40.0, 0.0));
    for c in 0..2 {
        net.cell(c)?
            .record("v")?
            .record("AdEx_w")?
            .record("AdEx_spikes")?;
    }
    check_structure(&net, &case)?;
    let d = assert_traces(&sim(&net, 40.0, Solver::BwdEuler), &case, 1e-6, 1e-8);
    eprintln!("adex: max |ΔV| = {d:e} mV");
    Ok(())
}

#[test]
fn leaky_integrate_and_fire_neurons() -> Result<()> {
    let case = load("net_fire.json");
    let mut net = Network::new(&vec![Cell::default(); 3])?;
    net.insert(Leak)?.insert(Fire)?;
    net.set("Leak_gLeak", 1e-3)?.set("Leak_eLeak", -70.0)?;
    let pre = net.cells_at(&[0, 1])?.selection();
    let post = net.cells_at(&[1, 2])?.selection();
    fully_connect(&mut net, &pre, &post, TestSynapse)?;
    net.set("TestSynapse_gC", 0.005)?;
    net.cell(0)?
        .stimulate(&step_current(1.0, 30.0, 0.02, DT, 40.0, 0.0));
    for c in 0..3 {
        net.cell(c)?.record("v")?.record("Fire_spikes")?;
    }
    net.record("TestSynapse_c")?;
    check_structure(&net, &case)?;
    let d = assert_traces(&sim(&net, 40.0, Solver::BwdEuler), &case, 1e-6, 1e-8);
    eprintln!("fire: max |ΔV| = {d:e} mV");
    Ok(())
}

fn diffusion_cell() -> Result<Cell> {
    let mut cell = Cell::new(&Branch::new(&Compartment::new(), 3)?, &[-1, 0, 0])?;
    cell.insert(HH)?;
    cell.branch(0)?
        .insert(CaL)?
        .insert(CaPump)?
        .insert(CaNernstReversal)?;
    cell.branch(1)?.insert(CaNernstReversal)?;
    cell.set("CaL_gCaL", 2e-3)?;
    cell.diffuse("CaCon_i")?;
    cell.set("axial_diffusion_CaCon_i", 2e-3)?;
    cell.branch(1)?.set("axial_diffusion_CaCon_i", 5e-3)?;
    cell.branch(2)?.set("radius", 0.6)?;
    cell.branch(0)?
        .comp(0)?
        .stimulate(&step_current(1.0, 20.0, 0.05, DT, 30.0, 0.0));
    for b in 0..3 {
        cell.branch(b)?.comp(0)?.record("v")?;
        cell.branch(b)?.comp(2)?.record("CaCon_i")?;
    }
    cell.branch(0)?.comp(1)?.record("CaCon_i")?;
    cell.branch(1)?.comp(0)?.record("eCa")?;
    Ok(cell)
}

#[test]
fn calcium_diffusion() -> Result<()> {
    let case = load("net_diffusion.json");
    let cell = diffusion_cell()?;
    check_structure(&cell, &case)?;
    let (init_fn, _) = build_init_and_step_fn(&cell, VoltageSolver::Hines, Solver::BwdEuler)?;
    let (_, params) = init_fn.init::<f64>(&[], None, None, DT)?;
    let ours = params.ion_axial_conductances("CaCon_i").expect("diffused");
    for (a, b) in ours.iter().zip(vec_f64(&case["axial_conductances_ca"])) {
        assert!((a - b).abs() <= 1e-13 * b.abs(), "{a} vs {b}");
    }
    let out = sim(&cell, 30.0, Solver::BwdEuler);
    let d = assert_traces(&out, &case, 1e-6, 1e-8);
    // Calcium reaches the branch without calcium mechanisms only by diffusion.
    assert!(out.row(3).max() > 1e-6);
    eprintln!("diffusion: max |ΔV| = {d:e} mV");
    Ok(())
}

#[test]
fn calcium_diffusion_with_crank_nicolson() -> Result<()> {
    let case = load("net_diffusion_cn.json");
    let cell = diffusion_cell()?;
    check_recordings(&cell, &case);
    let d = assert_traces(&sim(&cell, 15.0, Solver::CrankNicolson), &case, 1e-6, 1e-8);
    eprintln!("diffusion (Crank–Nicolson): max |ΔV| = {d:e} mV");
    Ok(())
}

// ---- Beyond the reference traces ----

fn pool(threads: usize) -> Parallelism {
    Parallelism::Pool(Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap(),
    ))
}

/// Many small HH cells (several chunks), random synapses of two types, every cell driven.
fn big_net(n_cells: usize) -> Result<Network> {
    let branch = Branch::new(&Compartment::new(), 2)?;
    let mut cell = Cell::new(&branch, &[-1, 0, 0, 1, 1, 2, 2])?;
    cell.insert(HH)?;
    cell.set("HH_eLeak", -30.0)?;
    let mut net = Network::new(&vec![cell; n_cells])?;
    let all = net.all().selection();
    sparse_connect(
        &mut net,
        &all,
        &all,
        IonotropicSynapse,
        8.0 / n_cells as f64,
        3,
    )?;
    sparse_connect(&mut net, &all, &all, TestSynapse, 3.0 / n_cells as f64, 4)?;
    net.set("IonotropicSynapse_gS", 2e-3)?;
    net.set("TestSynapse_gC", 1e-3)?;
    for c in [0, n_cells / 2, n_cells - 1] {
        net.cell(c)?.branch(6)?.comp(1)?.record("v")?;
    }
    net.synapse("IonotropicSynapse")?
        .edge(5)?
        .record("IonotropicSynapse_s")?;
    Ok(net)
}

fn final_states(net: &Module, par: Parallelism, steps: usize) -> Result<Vec<f64>> {
    let (init_fn, step_fn) = build_init_and_step_fn(net, VoltageSolver::Hines, Solver::BwdEuler)?;
    let step_fn = step_fn.with_parallelism(par);
    let (mut s, p) = init_fn.init::<f64>(&[], None, None, DT)?;
    let none = Externals::none();
    step_fn.in_pool(|| {
        for _ in 0..steps {
            step_fn.step(&mut s, &p, none.at(0), DT)?;
        }
        Ok::<_, Error>(())
    })?;
    Ok(s.as_slice().to_vec())
}

#[test]
fn results_do_not_depend_on_the_number_of_threads() -> Result<()> {
    let net = big_net(400)?;
    let (init_fn, _) = build_init_and_step_fn(&net, VoltageSolver::Hines, Solver::BwdEuler)?;
    assert!(init_fn.compiled().n_chunks() > 4);
    let one = final_states(&net, Parallelism::Serial, 200)?;
    for par in [Parallelism::Auto, pool(2), pool(3), pool(1)] {
        let other = final_states(&net, par, 200)?;
        assert_eq!(one.len(), other.len());
        assert!(
            one.iter()
                .zip(&other)
                .all(|(a, b)| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())),
            "states differ between thread counts"
        );
    }
    // integrate agrees with itself too, and the cells fire (the comparison is not between
    // resting states).
    let a = integrate(
        &net,
        &IntegrateOptions {
            parallelism: Parallelism::Serial,
            ..IntegrateOptions::t_max(5.0)
        },
    )?;
    let b = integrate(
        &net,
        &IntegrateOptions {
            parallelism: pool(2),
            ..IntegrateOptions::t_max(5.0)
        },
    )?;
    assert_eq!(a.recordings, b.recordings);
    assert!(a.recordings.max() > 0.0);
    Ok(())
}

#[test]
fn a_large_cell_is_split_for_mechanisms_and_solved_whole() -> Result<()> {
    // 700 branches of 8 compartments: one cell of ~5900 nodes, split into chunks.
    let parents: Vec<i64> = (0..700)
        .map(|i| if i == 0 { -1 } else { ((i - 1) / 2) as i64 })
        .collect();
    let mut cell = Cell::new(&Branch::new(&Compartment::new(), 8)?, &parents)?;
    cell.insert(HH)?;
    cell.branch(0)?
        .comp(0)?
        .stimulate(&step_current(0.5, 2.0, 2.0, DT, 4.0, 0.0));
    cell.branch(0)?.comp(0)?.record("v")?;
    cell.branch(699)?.loc(1.0)?.record("v")?;
    let (init_fn, _) = build_init_and_step_fn(&cell, VoltageSolver::Hines, Solver::BwdEuler)?;
    assert!(init_fn.compiled().n_chunks() > 1);
    assert_eq!(init_fn.compiled().hines_order().units.len(), 1);
    // The split cell's rows are assembled chunk by chunk and solved whole (backward Euler with
    // step dt, Crank–Nicolson with dt/2): the same numbers as the sparse LU of the whole system.
    for solver in [Solver::BwdEuler, Solver::CrankNicolson] {
        let run = |vs, par| {
            integrate(
                &cell,
                &IntegrateOptions {
                    voltage_solver: vs,
                    solver,
                    parallelism: par,
                    ..Default::default()
                },
            )
            .unwrap()
            .recordings
        };
        let serial = run(VoltageSolver::Hines, Parallelism::Serial);
        assert_eq!(serial, run(VoltageSolver::Hines, pool(2)));
        let lu = run(VoltageSolver::SparseLu, Parallelism::Serial);
        let worst = (&serial - &lu).abs().max();
        assert!(worst < 1e-8, "{solver:?}, Hines vs sparse LU: {worst:e} mV");
        assert!(serial.row(0).max() > 0.0);
    }
    Ok(())
}

#[test]
fn sparse_connect_is_reproducible_and_ordered_by_target() -> Result<()> {
    let build = |seed| -> Result<Vec<Connection>> {
        let mut net = Network::new(&vec![Cell::default(); 50])?;
        let all = net.all().selection();
        let first = net.cells_at(&[0, 1, 2, 3, 4])?.selection();
        sparse_connect(&mut net, &first, &all, IonotropicSynapse, 0.2, seed)?;
        Ok(net.connections())
    };
    let a = build(11)?;
    assert_eq!(a, build(11)?);
    assert_ne!(a, build(12)?);
    assert!(!a.is_empty());
    assert!(
        a.windows(2)
            .all(|w| (w[0].post_node, w[0].pre_node) <= (w[1].post_node, w[1].pre_node))
    );
    assert!(a.iter().all(|c| c.pre_node < 5));
    Ok(())
}

#[test]
fn fully_connect_and_matrix_connect_follow_jaxley() -> Result<()> {
    let cell = Cell::new(&Branch::new(&Compartment::new(), 2)?, &[-1, 0])?;
    let mut net = Network::new(&vec![cell; 4])?;
    let pre = net.cells_at(&[2, 0])?.selection();
    let post = net.cells_at(&[1, 3])?.branch(1)?.selection();
    fully_connect(&mut net, &pre, &post, TestSynapse)?;
    let pairs: Vec<(usize, usize)> = net
        .connections()
        .iter()
        .map(|c| (c.pre_node, c.post_node))
        .collect();
    // Cells have 4 compartments and one branchpoint: cell k starts at node 5k. Pre-major; the
    // post-synaptic site is the first selected compartment of each cell (branch 1).
    assert_eq!(pairs, vec![(0, 7), (0, 17), (10, 7), (10, 17)]);
    let all = net.all().selection();
    let matrix = vec![
        vec![false, true, false, false],
        vec![false, false, false, false],
        vec![true, false, false, true],
        vec![false, false, false, false],
    ];
    connectivity_matrix_connect(&mut net, &all, &all, IonotropicSynapse, &matrix)?;
    let ion: Vec<(usize, usize, usize)> = net
        .connections()
        .iter()
        .filter(|c| c.synapse == "IonotropicSynapse")
        .map(|c| (c.index_within_type, c.pre_node, c.post_node))
        .collect();
    assert_eq!(ion, vec![(0, 0, 5), (1, 10, 0), (2, 10, 15)]);
    assert_eq!(
        net.synapse_names(),
        vec!["TestSynapse", "IonotropicSynapse"]
    );
    Ok(())
}

fn two_cells() -> Result<Network> {
    let mut net = Network::new(&vec![Cell::default(); 2])?;
    net.insert(HH)?;
    let (a, b) = (net.cell(0)?.selection(), net.cell(1)?.selection());
    connect(&mut net, &a, &b, IonotropicSynapse)?;
    connect(&mut net, &b, &a, IonotropicSynapse)?;
    net.set("IonotropicSynapse_gS", 0.01)?;
    net.cell(0)?
        .stimulate(&step_current(1.0, 2.0, 0.1, DT, 10.0, 0.0));
    net.cell(1)?.record("v")?;
    Ok(net)
}

#[test]
fn synapse_parameters_are_trainable_per_type_and_per_edge() -> Result<()> {
    let mut net = two_cells()?;
    net.make_trainable("IonotropicSynapse_gS", None)?;
    net.edge(1)?
        .make_trainable("IonotropicSynapse_gS", Some(0.02))?;
    let params = net.get_parameters();
    assert_eq!(params.len(), 2);
    assert_eq!(params[0].values, vec![0.01]);
    assert_eq!(params[1].values, vec![0.02]);
    let (init_fn, _) = build_init_and_step_fn(&net, VoltageSolver::Hines, Solver::BwdEuler)?;
    let (_, p) = init_fn.init::<f64>(&params, None, None, DT)?;
    assert_eq!(p.get("IonotropicSynapse_gS")?, &[0.01, 0.02]);

    // data_set on an edge, and a forward-mode derivative of the recording with respect to it.
    let mut plain = two_cells()?;
    let ps = plain
        .edge(0)?
        .data_set("IonotropicSynapse_gS", Dual64::new(0.01, 1.0), None)?;
    let sim = integrate_with(&plain, &IntegrateOptions::default(), &[], Some(&ps), None)?;
    let last = sim.recordings[(0, sim.recordings.ncols() - 1)];
    let h = 1e-6;
    let v_at = |g: f64| -> Result<f64> {
        let mut m = two_cells()?;
        m.edge(0)?.set("IonotropicSynapse_gS", g)?;
        let r = integrate(&m, &IntegrateOptions::default())?.recordings;
        Ok(r[(0, r.ncols() - 1)])
    };
    let fd = (v_at(0.01 + h)? - v_at(0.01 - h)?) / (2.0 * h);
    assert!(
        (last.eps - fd).abs() <= 1e-4 * fd.abs().max(1.0),
        "dV/dgS: dual {} vs finite difference {fd}",
        last.eps
    );
    assert!(fd.abs() > 1.0, "the synapse matters: {fd}");
    Ok(())
}

#[test]
fn synapse_states_can_be_clamped_and_recorded() -> Result<()> {
    let mut net = two_cells()?;
    net.synapse("IonotropicSynapse")?
        .edge(0)?
        .clamp("IonotropicSynapse_s", &[0.7; 401])?
        .record("IonotropicSynapse_s")?
        .record("i_IonotropicSynapse")?;
    let r = integrate(&net, &IntegrateOptions::default())?.recordings;
    assert!(r.row(1).columns(1, 400).iter().all(|&s| s == 0.7));
    // i = gS·s·(v_post − e_syn) with the state before the clamp was applied to it... after the
    // first step the clamped state is the one used.
    let v1 = r[(0, 200)];
    let i = r[(2, 201)];
    assert!(i.is_finite() && v1.is_finite());
    Ok(())
}

#[test]
fn dual_numbers_follow_the_f64_trajectory_through_a_network() -> Result<()> {
    let net = big_net(60)?;
    let (init_fn, step_fn) = build_init_and_step_fn(&net, VoltageSolver::Hines, Solver::BwdEuler)?;
    let (mut s, p) = init_fn.init::<Dual64>(&[], None, None, DT)?;
    let (mut sf, pf) = init_fn.init::<f64>(&[], None, None, DT)?;
    let none = Externals::none();
    for _ in 0..50 {
        step_fn.step(&mut s, &p, none.at(0), DT)?;
        step_fn.step(&mut sf, &pf, none.cast::<f64>().at(0), DT)?;
    }
    // Not bit for bit: num-dual divides by multiplying with the reciprocal.
    for (k, key) in sf.keys().iter().enumerate() {
        let r = sf.layout().range(k);
        let worst = s.as_slice()[r.clone()]
            .iter()
            .zip(&sf.as_slice()[r])
            .filter(|(_, b)| !b.is_nan())
            .map(|(a, b)| (a.re - b).abs() / b.abs().max(1e-3))
            .fold(0.0, f64::max);
        assert!(worst < 1e-8, "{key}: relative difference {worst:e}");
    }
    Ok(())
}

#[test]
fn networks_run_with_every_solver() -> Result<()> {
    let net = big_net(40)?;
    let run = |solver, vs| {
        integrate(
            &net,
            &IntegrateOptions {
                solver,
                voltage_solver: vs,
                ..IntegrateOptions::t_max(10.0)
            },
        )
        .map(|s| s.recordings)
    };
    let hines = run(Solver::BwdEuler, VoltageSolver::Hines)?;
    let lu = run(Solver::BwdEuler, VoltageSolver::SparseLu)?;
    assert!((&hines - &lu).abs().max() < 1e-8);
    let cn = run(Solver::CrankNicolson, VoltageSolver::Hines)?;
    let cn_lu = run(Solver::CrankNicolson, VoltageSolver::SparseLu)?;
    assert!((&cn - &cn_lu).abs().max() < 1e-8);
    assert!(hines.max() > 0.0 && cn.max() > 0.0);
    let fwd = run(Solver::FwdEuler, VoltageSolver::Hines)?;
    assert!(fwd.iter().all(|x| x.is_finite()));
    Ok(())
}
