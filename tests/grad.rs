//! Gradients of whole simulations: the adjoint (`value_and_grad`) against Jaxley's `jax.grad`
//! (`tools/reference/gen_gradients.py`), central finite differences and forward mode;
//! checkpointing; bad input.

mod common;

use common::*;
use huxley::grad::{Checkpointing, GradOptions, Gradient, Loss};
use huxley::*;
use nalgebra::DMatrix;

const DT: f64 = 0.025;

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

/// The gradients of `MeanSq` by the adjoint (default checkpointing) and by forward mode, and
/// their largest relative difference.
fn adjoint_and_forward(
    module: &Module,
    o: &IntegrateOptions,
    ps: Option<&[ParamState<f64>]>,
) -> Result<(Gradient, Gradient, f64)> {
    let params = module.get_parameters();
    let adj = value_and_grad(module, o, &params, ps, &MeanSq, &GradOptions::default())?;
    let fwd = value_and_grad_forward(module, o, &params, ps, &MeanSq)?;
    let d = max_rel(&flat(&adj), &flat(&fwd));
    Ok((adj, fwd, d))
}

/// The model of `grad_hh_cell.json`, with per-branch trainables `HH_gNa` then `radius`.
fn hh_cell(trainable: bool) -> Result<Cell> {
    hh_cell_for(trainable, 5.0)
}

/// [`hh_cell`] with a stimulus of `t_max` ms (the current step stays at 0.5–2.5 ms).
fn hh_cell_for(trainable: bool, t_max: f64) -> Result<Cell> {
    let mut cell = Cell::new(&Branch::new(&Compartment::new(), 2)?, &[-1, 0, 0, 1, 1])?;
    cell.insert(HH)?;
    for b in 0..5 {
        cell.branch(b)?.set("length", 10.0 + 5.0 * b as f64)?;
        cell.branch(b)?.set("radius", 1.0 - 0.1 * b as f64)?;
    }
    cell.branch(0)?
        .comp(0)?
        .stimulate(&step_current(0.5, 2.0, 0.2, DT, t_max, 0.0));
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

/// The adjoint gradient of `MeanSq` with every state stored, checked against Jaxley's loss
/// (1e-10 relative) and `jax.grad` (1e-8 relative) in reference file `file`.
fn matches_jaxley(module: &Module, o: &IntegrateOptions, file: &str) -> Result<Gradient> {
    let case = load(file);
    let g = value_and_grad(
        module,
        o,
        &module.get_parameters(),
        None,
        &MeanSq,
        &all_states(),
    )?;
    let loss = case["loss"].as_f64().unwrap();
    let want = reference_grads(&case);
    let d = max_rel(&flat(&g), &want);
    eprintln!(
        "{file}: loss {:e} rel, gradient max rel diff {d:e}",
        (g.value - loss).abs() / loss
    );
    assert!((g.value - loss).abs() < 1e-10 * loss);
    assert!(d < 1e-8, "{file}: {:?} vs {want:?}", flat(&g));
    Ok(g)
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
        let cell = hh_cell(true)?;
        matches_jaxley(&cell, &opts(solver, VoltageSolver::Hines, 5.0), file)?;
    }
    Ok(())
}

#[test]
fn data_set_matches_jax_grad() -> Result<()> {
    let case = load("grad_data_set.json");
    let cell = hh_cell(false)?;
    let ps = cell.data_set("HH_gK", 0.036, None)?;
    let ps = cell.data_set("radius", 0.8, Some(ps))?;
    let o = opts(Solver::BwdEuler, VoltageSolver::Hines, 5.0);
    let g = value_and_grad(&cell, &o, &[], Some(&ps), &MeanSq, &GradOptions::default())?;
    // Jaxley differentiates with respect to the shared scalar: the sum over its copies.
    let got: Vec<f64> = g
        .param_state
        .iter()
        .map(|p| p.values.iter().sum())
        .collect();
    let want = [
        case["grads"]["HH_gK"].as_f64().unwrap(),
        case["grads"]["radius"].as_f64().unwrap(),
    ];
    let loss = case["loss"].as_f64().unwrap();
    let d = max_rel(&got, &want);
    eprintln!(
        "grad_data_set: loss {:e} rel, gradient max rel diff {d:e}",
        (g.value - loss).abs() / loss
    );
    assert!((g.value - loss).abs() < 1e-10 * loss);
    assert!(d < 1e-8, "{got:?} vs {want:?}");
    Ok(())
}

/// `grad_net3.json`: three HH cells in a chain of IonotropicSynapses.
fn net3() -> Result<Network> {
    let mut net = chain3_network()?;
    net.cell(0)?
        .branch(0)?
        .comp(0)?
        .stimulate(&step_current(0.5, 2.5, 0.5, DT, 5.0, 0.0));
    for c in 0..3 {
        net.cell(c)?.branch(0)?.comp(0)?.record("v")?;
    }
    for e in 0..2 {
        net.synapse("IonotropicSynapse")?
            .edge(e)?
            .make_trainable("IonotropicSynapse_gS", None)?;
    }
    for c in 0..3 {
        net.cell(c)?.branch(0)?.make_trainable("HH_gNa", None)?;
    }
    Ok(net)
}

#[test]
fn network_matches_jax_grad() -> Result<()> {
    let net = net3()?;
    let o = opts(Solver::BwdEuler, VoltageSolver::Hines, 5.0);
    let g = matches_jaxley(&net, &o, "grad_net3.json")?;
    // Checkpointed, and single-threaded: bit for bit the same.
    let auto = value_and_grad(
        &net,
        &o,
        &net.get_parameters(),
        None,
        &MeanSq,
        &GradOptions::default(),
    )?;
    let serial = IntegrateOptions {
        parallelism: Parallelism::Serial,
        ..o.clone()
    };
    let one = value_and_grad(
        &net,
        &serial,
        &net.get_parameters(),
        None,
        &MeanSq,
        &all_states(),
    )?;
    assert_eq!(flat(&auto), flat(&g));
    assert_eq!(flat(&one), flat(&g));
    assert!(auto.stored_states < g.stored_states);
    Ok(())
}

/// A small HH cell with every kind of parameter trainable: channel conductances per branch,
/// geometry (radius and length per branch, axial resistivity and capacitance per cell), plus a
/// `data_set` value.
fn hh_all_params() -> Result<(Cell, Vec<ParamState<f64>>)> {
    let mut cell = Cell::new(&Branch::new(&Compartment::new(), 2)?, &[-1, 0, 0])?;
    cell.insert(HH)?;
    for b in 0..3 {
        cell.branch(b)?.set("length", 10.0 + 5.0 * b as f64)?;
        cell.branch(b)?.set("radius", 1.0 - 0.1 * b as f64)?;
    }
    cell.branch(0)?
        .comp(0)?
        .stimulate(&step_current(0.2, 1.5, 0.2, DT, 3.0, 0.0));
    cell.branch(0)?.comp(0)?.record("v")?;
    cell.branch(2)?.comp(1)?.record("v")?;
    cell.branch(1)?.comp(1)?.record("HH_m")?;
    for key in ["HH_gNa", "HH_gK", "radius", "length"] {
        for b in 0..3 {
            cell.branch(b)?.make_trainable(key, None)?;
        }
    }
    cell.make_trainable("HH_gLeak", None)?;
    cell.make_trainable("axial_resistivity", None)?;
    cell.make_trainable("capacitance", None)?;
    let ps = cell.data_set("HH_eLeak", -54.3, None)?;
    Ok((cell, ps))
}

/// Leak, Na, K, Km, CaL, CaT, CaPump (on one branch) and CaNernstReversal, as in
/// `tests/dynamics.rs`, with every conductance (and the pump's parameters) trainable.
fn pospischil() -> Result<(Cell, Vec<ParamState<f64>>)> {
    pospischil_with(true)
}

/// [`pospischil`], with or without the calcium pump group (without it, every mechanism is a
/// channel with independent states: the adjoint's local reverse mode; `vt`, which Na's and K's
/// updates read, is trained too).
fn pospischil_with(pumps: bool) -> Result<(Cell, Vec<ParamState<f64>>)> {
    let mut pos = Cell::new(&Branch::new(&Compartment::new(), 2)?, &[-1, 0, 0])?;
    pos.insert(Leak)?
        .insert(Na)?
        .insert(K)?
        .insert(Km)?
        .insert(CaL)?
        .insert(CaT)?;
    if pumps {
        pos.branch(0)?.insert(CaPump)?;
        pos.insert(CaNernstReversal)?;
    }
    pos.set("v", -55.0)?;
    pos.init_states(DT)?;
    pos.branch(1)?.comp(0)?.set("v", -30.0)?;
    pos.branch(0)?
        .comp(0)?
        .stimulate(&step_current(0.0, 2.0, 0.1, DT, 3.0, 0.0));
    pos.branch(0)?.comp(0)?.record("v")?;
    pos.branch(2)?.comp(1)?.record("v")?;
    for key in ["Na_gNa", "K_gK", "Km_gKm", "CaL_gCaL", "CaT_gCaT"] {
        pos.make_trainable(key, None)?;
    }
    if pumps {
        pos.branch(0)?.comp(1)?.record("CaCon_i")?;
        pos.branch(0)?.make_trainable("CaPump_gamma", None)?;
        pos.branch(0)?.make_trainable("CaPump_decay", None)?;
    } else {
        pos.branch(1)?.make_trainable("vt", None)?;
    }
    let ps = pos.data_set("Leak_gLeak", 1e-4, None)?;
    Ok((pos, ps))
}

/// Central finite differences of the loss, one value at a time (relative step `rel`), with one
/// Richardson extrapolation (steps h and h/2: error O(h⁴)).
fn finite_differences(
    module: &Module,
    o: &IntegrateOptions,
    ps: &[ParamState<f64>],
    rel: f64,
) -> Result<Vec<f64>> {
    let loss = |params: &[ParamGroup<f64>], ps: &[ParamState<f64>]| -> Result<f64> {
        let sim = integrate_with(module, o, params, Some(ps), None)?;
        Ok(MeanSq.value(&sim.recordings))
    };
    let base = module.get_parameters();
    let mut out = Vec::new();
    for g in 0..base.len() {
        for i in 0..base[g].values.len() {
            let x = base[g].values[i];
            let d = |h: f64| -> Result<f64> {
                let (mut plus, mut minus) = (base.clone(), base.clone());
                plus[g].values[i] = x + h;
                minus[g].values[i] = x - h;
                Ok((loss(&plus, ps)? - loss(&minus, ps)?) / (2.0 * h))
            };
            let h = rel * x.abs();
            out.push((4.0 * d(h / 2.0)? - d(h)?) / 3.0);
        }
    }
    for g in 0..ps.len() {
        // The whole data_set entry at once would be the shared scalar; here value by value.
        for i in 0..ps[g].values.len() {
            let x = ps[g].values[i];
            let d = |h: f64| -> Result<f64> {
                let (mut plus, mut minus) = (ps.to_vec(), ps.to_vec());
                plus[g].values[i] = x + h;
                minus[g].values[i] = x - h;
                Ok((loss(&base, &plus)? - loss(&base, &minus)?) / (2.0 * h))
            };
            let h = rel * x.abs();
            out.push((4.0 * d(h / 2.0)? - d(h)?) / 3.0);
        }
    }
    Ok(out)
}

fn solvers() -> [(Solver, VoltageSolver); 6] {
    [
        (Solver::BwdEuler, VoltageSolver::Hines),
        (Solver::CrankNicolson, VoltageSolver::Hines),
        (Solver::FwdEuler, VoltageSolver::Hines),
        (Solver::BwdEuler, VoltageSolver::SparseLu),
        (Solver::CrankNicolson, VoltageSolver::SparseLu),
        (Solver::FwdEuler, VoltageSolver::SparseLu),
    ]
}

/// Adjoint vs central differences (1e-5) and vs forward mode (1e-10) for one model.
fn check_model(name: &str, module: &Module, ps: &[ParamState<f64>], t_max: f64) -> Result<()> {
    for (solver, vsolver) in solvers() {
        let o = opts(solver, vsolver, t_max);
        let params = module.get_parameters();
        let adj = value_and_grad(module, &o, &params, Some(ps), &MeanSq, &all_states())?;
        let fwd = value_and_grad_forward(module, &o, &params, Some(ps), &MeanSq)?;
        let fd = finite_differences(module, &o, ps, 1e-3)?;
        let (a, f) = (flat(&adj), flat(&fwd));
        let d_fwd = max_rel(&a, &f);
        let d_fd = max_rel(&a, &fd);
        eprintln!(
            "{name} {solver:?}/{vsolver:?}: {} values; adjoint vs forward {d_fwd:.1e}, vs FD {d_fd:.1e}",
            a.len()
        );
        assert!((adj.value - fwd.value).abs() <= 1e-12 * fwd.value.abs());
        assert!(
            d_fwd < 1e-10,
            "{name} {solver:?}/{vsolver:?}: {a:?} vs forward {f:?}"
        );
        assert!(
            d_fd < 1e-5,
            "{name} {solver:?}/{vsolver:?}: {a:?} vs FD {fd:?}"
        );
    }
    Ok(())
}

#[test]
fn hh_geometry_and_data_set_match_finite_differences_and_forward_mode() -> Result<()> {
    let (cell, ps) = hh_all_params()?;
    check_model("hh", &cell, &ps, 3.0)
}

#[test]
fn pospischil_channels_match_finite_differences_and_forward_mode() -> Result<()> {
    let (cell, ps) = pospischil()?;
    check_model("pospischil", &cell, &ps, 3.0)
}

/// Without the pump group, the local reverse mode differentiates every channel, including
/// the parameter `vt` that Na's and K's updates read.
#[test]
fn pospischil_channels_without_pumps_match_finite_differences_and_forward_mode() -> Result<()> {
    let (cell, ps) = pospischil_with(false)?;
    check_model("pospischil without pumps", &cell, &ps, 3.0)
}

/// A clamped gate: its channel's passes are not compressed (the clamp rewrites the state after
/// the currents have read it), and the adjoint still equals forward mode.
#[test]
fn clamped_gate_state_matches_forward_mode() -> Result<()> {
    let (mut cell, ps) = pospischil()?;
    cell.branch(1)?.comp(0)?.clamp("K_n", &[0.3; 120])?;
    cell.branch(2)?.comp(0)?.clamp("CaL_q", &[0.05; 120])?;
    let o = opts(Solver::BwdEuler, VoltageSolver::Hines, 3.0);
    let (_, _, d) = adjoint_and_forward(&cell, &o, Some(&ps))?;
    assert!(d < 1e-10, "adjoint vs forward mode: {d:.1e}");
    Ok(())
}

#[test]
fn checkpointing_keeps_sqrt_states_and_the_same_gradient() -> Result<()> {
    let cell = hh_cell_for(true, 20.0)?;
    let o = opts(Solver::BwdEuler, VoltageSolver::Hines, 20.0);
    let params = cell.get_parameters();
    let run = |checkpointing| {
        value_and_grad(
            &cell,
            &o,
            &params,
            None,
            &MeanSq,
            &GradOptions { checkpointing },
        )
    };
    let all = run(Checkpointing::All)?;
    let steps = 800;
    assert_eq!(all.stored_states, steps);
    let dim = 4 * 10; // v, HH_m, HH_h, HH_n on 10 compartments
    for cp in [
        Checkpointing::Auto,
        Checkpointing::Every(7),
        Checkpointing::Every(100),
        Checkpointing::Every(1000),
        Checkpointing::MemoryBudget {
            bytes: 100 * dim * 8,
        },
    ] {
        let g = run(cp)?;
        let d = max_rel(&flat(&g), &flat(&all));
        eprintln!(
            "{cp:?}: {} states, max rel diff to All {d:e}",
            g.stored_states
        );
        assert_eq!(g.value, all.value);
        assert!(d <= 1e-12, "{cp:?}: {d:e}");
        match cp {
            Checkpointing::Auto => {
                let bound = 2.0 * (steps as f64).sqrt() + 2.0;
                assert!(
                    g.stored_states as f64 <= bound,
                    "{} states",
                    g.stored_states
                );
            }
            Checkpointing::MemoryBudget { .. } => assert!(g.stored_states <= 100),
            _ => {}
        }
    }
    Ok(())
}

/// A rayon pool of `n` threads.
fn pool(n: usize) -> std::sync::Arc<rayon::ThreadPool> {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(n).build();
    std::sync::Arc::new(pool.expect("a pool"))
}

/// The gradient of `pospischil_with(pumps)` over `t_max` ms (backward Euler, Hines) with the
/// given threads and checkpointing.
fn pospischil_grad(
    parallelism: Parallelism,
    checkpointing: Checkpointing,
    t_max: f64,
    pumps: bool,
) -> Result<Gradient> {
    let (cell, ps) = pospischil_with(pumps)?;
    let o = IntegrateOptions {
        parallelism,
        ..opts(Solver::BwdEuler, VoltageSolver::Hines, t_max)
    };
    let go = GradOptions { checkpointing };
    value_and_grad(&cell, &o, &cell.get_parameters(), Some(&ps), &MeanSq, &go)
}

/// Two threads (passes in parallel, the next step's passes while this one's cotangent is
/// applied) give the serial gradient exactly, for every checkpointing (segments recomputed as
/// the sweep enters them), with the dual-number passes (pumps) and with the local reverse mode
/// (no pumps).
#[test]
fn parallel_sweep_equals_serial_exactly() -> Result<()> {
    // Two threads, and three (one helper beyond the finishing and the preparing thread, more
    // threads than this machine's cores).
    let pools = [pool(2), pool(3)];
    for pumps in [true, false] {
        for checkpointing in [
            Checkpointing::All,
            Checkpointing::Every(7),
            Checkpointing::Auto,
        ] {
            let serial = pospischil_grad(Parallelism::Serial, checkpointing, 3.0, pumps)?;
            assert!(flat(&serial).iter().any(|&g| g != 0.0));
            for pool in &pools {
                let parallel =
                    pospischil_grad(Parallelism::Pool(pool.clone()), checkpointing, 3.0, pumps)?;
                assert_eq!(serial.value, parallel.value);
                assert_eq!(flat(&serial), flat(&parallel), "{checkpointing:?}, {pumps}");
            }
        }
    }
    Ok(())
}

/// The sweep split by nodes over threads (the models the local reverse mode covers, with an
/// implicit solver) gives the serial gradient exactly: backward Euler and Crank–Nicolson, every
/// state stored or checkpointed, with the geometry (through the axial terms and the stimulus's
/// area), the capacitance, channel parameters and a `data_set` value trained, on two threads
/// and on three (still two parts); on a small cell and on a 31-branch tree, where each part
/// computes the voltages of its nodes, their parents and the branchpoints among them only.
#[test]
fn split_sweep_equals_serial_exactly() -> Result<()> {
    let pools = [pool(2), pool(3)];
    for ((cell, ps), t_max) in [(hh_all_params()?, 3.0), (tree31()?, 1.5)] {
        split_equals_serial(&cell, &ps, t_max, &pools)?;
    }
    Ok(())
}

fn split_equals_serial(
    cell: &Cell,
    ps: &[ParamState<f64>],
    t_max: f64,
    pools: &[std::sync::Arc<rayon::ThreadPool>],
) -> Result<()> {
    for solver in [Solver::BwdEuler, Solver::CrankNicolson] {
        for checkpointing in [Checkpointing::All, Checkpointing::Every(4)] {
            let grad = |parallelism| {
                let o = IntegrateOptions {
                    parallelism,
                    ..opts(solver, VoltageSolver::Hines, t_max)
                };
                let go = GradOptions { checkpointing };
                value_and_grad(cell, &o, &cell.get_parameters(), Some(ps), &MeanSq, &go)
            };
            let serial = grad(Parallelism::Serial)?;
            assert!(flat(&serial).iter().all(|&g| g != 0.0));
            for pool in pools {
                let split = grad(Parallelism::Pool(pool.clone()))?;
                assert_eq!(serial.value, split.value);
                assert_eq!(flat(&serial), flat(&split), "{solver:?}, {checkpointing:?}");
            }
        }
    }
    Ok(())
}

/// Two gradients at once on the same 2-thread pool (as when a user fits several models in a
/// `par_iter`): each pipelined sweep (and each forward run's helper thread) brings its own
/// threads, so neither waits for a thread the other holds, and each equals the serial gradient.
#[test]
fn concurrent_gradients_in_one_pool_do_not_block_each_other() -> Result<()> {
    use rayon::prelude::*;
    let pool = pool(2);
    for pumps in [true, false] {
        let serial = pospischil_grad(Parallelism::Serial, Checkpointing::All, 10.0, pumps)?;
        let all: Vec<Result<Gradient>> = pool.install(|| {
            (0..4)
                .into_par_iter()
                .map(|_| {
                    let par = Parallelism::Pool(pool.clone());
                    pospischil_grad(par, Checkpointing::All, 10.0, pumps)
                })
                .collect()
        });
        for g in all {
            assert_eq!(flat(&g?), flat(&serial), "{pumps}");
        }
    }
    Ok(())
}

#[test]
fn record_every_and_recorded_states_are_differentiated() -> Result<()> {
    let (cell, ps) = hh_all_params()?;
    let o = IntegrateOptions {
        record_every: 3,
        ..opts(Solver::BwdEuler, VoltageSolver::Hines, 3.0)
    };
    let (_, _, d) = adjoint_and_forward(&cell, &o, Some(&ps))?;
    eprintln!("record_every 3: adjoint vs forward {d:e}");
    assert!(d < 1e-10);
    Ok(())
}

#[test]
fn loss_given_with_its_gradient() -> Result<()> {
    let cell = hh_cell(true)?;
    let o = opts(Solver::BwdEuler, VoltageSolver::Hines, 5.0);
    let params = cell.get_parameters();
    let with = huxley::value_and_grad_with(
        &cell,
        &o,
        &params,
        None,
        |rec: &DMatrix<f64>| {
            let n = rec.len() as f64;
            let value = rec.iter().map(|v| (v + 65.0).powi(2)).sum::<f64>() / n;
            (value, rec.map(|v| 2.0 * (v + 65.0) / n))
        },
        &GradOptions::default(),
    )?;
    let plain = value_and_grad(&cell, &o, &params, None, &MeanSq, &GradOptions::default())?;
    assert!(max_rel(&flat(&with), &flat(&plain)) < 1e-13);
    assert!((with.value - plain.value).abs() < 1e-12 * plain.value);
    Ok(())
}

/// The squared difference to a target, through dual numbers only (no `Loss::gradient`), and
/// counting its evaluations.
struct DualMse {
    target: DMatrix<f64>,
    calls: std::sync::atomic::AtomicUsize,
}
impl Loss for DualMse {
    fn value<T: Scalar>(&self, rec: &DMatrix<T>) -> T {
        self.calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let sum = rec
            .iter()
            .zip(self.target.iter())
            .fold(T::zero(), |a, (&r, &y)| {
                let d = r - T::from(y);
                a + d * d
            });
        sum / T::from(rec.len() as f64)
    }
}

/// `MeanSquaredError` gives its gradient by hand: the same gradient as dual numbers through the
/// same loss, with one evaluation of the loss instead of one per recorded value.
#[test]
fn mean_squared_error_gradient_is_written_out() -> Result<()> {
    let cell = hh_cell(true)?;
    let o = opts(Solver::BwdEuler, VoltageSolver::Hines, 5.0);
    let params = cell.get_parameters();
    let shifted = |p: &[ParamGroup<f64>]| -> Vec<ParamGroup<f64>> {
        p.iter()
            .map(|g| ParamGroup {
                key: g.key.clone(),
                values: g.values.iter().map(|v| v * 1.1).collect(),
            })
            .collect()
    };
    let target = integrate_with(&cell, &o, &shifted(&params), None, None)?.recordings;
    let dual = DualMse {
        target: target.clone(),
        calls: Default::default(),
    };
    let by_dual = value_and_grad(&cell, &o, &params, None, &dual, &GradOptions::default())?;
    let n_rec = target.len();
    assert!(
        dual.calls.into_inner() > n_rec,
        "one evaluation per recorded value"
    );
    let mse = MeanSquaredError::new(target.clone());
    let by_hand = value_and_grad(&cell, &o, &params, None, &mse, &GradOptions::default())?;
    assert!(by_hand.value > 0.0);
    assert!((by_hand.value - by_dual.value).abs() <= 1e-14 * by_dual.value);
    let d = max_rel(&flat(&by_hand), &flat(&by_dual));
    assert!(d < 1e-12, "max rel diff {d:e}");
    // Forward mode uses the same loss.
    let fwd = value_and_grad_forward(&cell, &o, &params, None, &mse)?;
    let d = max_rel(&flat(&fwd), &flat(&by_hand));
    assert!(d < 1e-10, "forward vs adjoint {d:e}");
    // A target of the wrong shape is a typed error, before anything is differentiated.
    let bad = MeanSquaredError::new(target.columns(0, 3).into_owned());
    for e in [
        value_and_grad(&cell, &o, &params, None, &bad, &GradOptions::default()).unwrap_err(),
        value_and_grad_forward(&cell, &o, &params, None, &bad).unwrap_err(),
    ] {
        assert!(
            matches!(e, Error::ShapeMismatch { expected, got, .. }
                if expected == target.shape() && got == (target.nrows(), 3)),
            "{e}"
        );
    }
    // A hand-written gradient of the wrong shape too.
    struct BadGradient;
    impl Loss for BadGradient {
        fn value<T: Scalar>(&self, rec: &DMatrix<T>) -> T {
            rec[0]
        }
        fn gradient(&self, _rec: &DMatrix<f64>) -> Option<DMatrix<f64>> {
            Some(DMatrix::zeros(1, 1))
        }
    }
    let e = value_and_grad(
        &cell,
        &o,
        &params,
        None,
        &BadGradient,
        &GradOptions::default(),
    )
    .unwrap_err();
    assert!(
        matches!(e, Error::ShapeMismatch { ref what, .. } if what.contains("Loss::gradient")),
        "{e}"
    );
    Ok(())
}

#[test]
fn bad_input_is_a_typed_error() -> Result<()> {
    let cell = hh_cell(true)?;
    let o = opts(Solver::BwdEuler, VoltageSolver::Hines, 1.0);
    let g = GradOptions::default();
    let mut params = cell.get_parameters();
    // Unknown name.
    params[0].key = "HH_gNaa".into();
    let e = value_and_grad(&cell, &o, &params, None, &MeanSq, &g).unwrap_err();
    assert!(
        matches!(e, Error::UnknownName { ref name, .. } if name == "HH_gNaa"),
        "{e}"
    );
    let e = value_and_grad_forward(&cell, &o, &params, None, &MeanSq).unwrap_err();
    assert!(matches!(e, Error::UnknownName { .. }), "{e}");
    // Wrong number of values in a group, wrong number of groups.
    let mut params = cell.get_parameters();
    params[3].values.push(1.0);
    let e = value_and_grad(&cell, &o, &params, None, &MeanSq, &g).unwrap_err();
    assert!(
        matches!(
            e,
            Error::LengthMismatch {
                expected: 1,
                got: 2,
                ..
            }
        ),
        "{e}"
    );
    let params = cell.get_parameters();
    let e = value_and_grad(&cell, &o, &params[1..], None, &MeanSq, &g).unwrap_err();
    assert!(matches!(e, Error::LengthMismatch { .. }), "{e}");
    // Unknown data_set key.
    let ps = vec![ParamState {
        key: "HH_gXX".into(),
        nodes: vec![vec![0]],
        values: vec![1.0],
    }];
    let e = value_and_grad(&cell, &o, &params, Some(&ps), &MeanSq, &g).unwrap_err();
    assert!(matches!(e, Error::UnknownName { .. }), "{e}");
    // Non-finite loss, non-finite gradient of the loss.
    struct Nan;
    impl Loss for Nan {
        fn value<T: Scalar>(&self, rec: &DMatrix<T>) -> T {
            rec[0] * T::from(f64::NAN)
        }
    }
    for e in [
        value_and_grad(&cell, &o, &params, None, &Nan, &g).unwrap_err(),
        value_and_grad_forward(&cell, &o, &params, None, &Nan).unwrap_err(),
    ] {
        assert!(
            matches!(e, Error::NonFiniteGradient { ref what, .. } if what == "loss"),
            "{e}"
        );
    }
    struct Sqrt;
    impl Loss for Sqrt {
        fn value<T: Scalar>(&self, rec: &DMatrix<T>) -> T {
            // d sqrt(x)/dx at 0 is infinite.
            (rec[0] - rec[0]).sqrt()
        }
    }
    let e = value_and_grad(&cell, &o, &params, None, &Sqrt, &g).unwrap_err();
    assert!(matches!(e, Error::NonFiniteGradient { .. }), "{e}");
    let e = huxley::value_and_grad_with(
        &cell,
        &o,
        &params,
        None,
        |rec: &DMatrix<f64>| (0.0, rec.map(|_| f64::INFINITY)),
        &g,
    )
    .unwrap_err();
    assert!(matches!(e, Error::NonFiniteGradient { .. }), "{e}");
    let e = huxley::value_and_grad_with(
        &cell,
        &o,
        &params,
        None,
        |_: &DMatrix<f64>| (0.0, DMatrix::zeros(1, 1)),
        &g,
    )
    .unwrap_err();
    assert!(matches!(e, Error::ShapeMismatch { .. }), "{e}");
    // Checkpoints every 0 steps.
    let every0 = GradOptions {
        checkpointing: Checkpointing::Every(0),
    };
    let e = value_and_grad(&cell, &o, &params, None, &MeanSq, &every0).unwrap_err();
    assert!(matches!(e, Error::InvalidValue { .. }), "{e}");
    // What the adjoint does not cover: exponential Euler, recorded currents.
    let exp = opts(Solver::ExpEuler, VoltageSolver::Hines, 1.0);
    let e = value_and_grad(&cell, &exp, &params, None, &MeanSq, &g).unwrap_err();
    assert!(matches!(e, Error::Unsupported(_)), "{e}");
    let mut cur = hh_cell(true)?;
    cur.branch(0)?.comp(0)?.record("i_HH")?;
    let e = value_and_grad(&cur, &o, &params, None, &MeanSq, &g).unwrap_err();
    assert!(matches!(e, Error::Unsupported(_)), "{e}");
    // ... forward mode does.
    let fwd = value_and_grad_forward(&cur, &o, &params, None, &MeanSq)?;
    assert!(flat(&fwd).iter().all(|x| x.is_finite()));
    Ok(())
}

/// A binary tree of 31 branches of two compartments, HH, with `HH_gNa`, `radius`, `length` and
/// `axial_resistivity` trainable per branch and the capacitance by `data_set`.
fn tree31() -> Result<(Cell, Vec<ParamState<f64>>)> {
    let parents: Vec<i64> = (0..31)
        .map(|i| if i == 0 { -1 } else { (i - 1) / 2 })
        .collect();
    let mut cell = Cell::new(&Branch::new(&Compartment::new(), 2)?, &parents)?;
    cell.insert(HH)?;
    cell.set("axial_resistivity", 1000.0)?;
    cell.branch(0)?
        .comp(0)?
        .stimulate(&step_current(0.1, 1.0, 0.3, DT, 1.5, 0.0));
    cell.branch(0)?.comp(0)?.record("v")?;
    cell.branch(30)?.comp(1)?.record("v")?;
    cell.branch(17)?.comp(0)?.record("HH_n")?;
    for key in ["HH_gNa", "radius", "length", "axial_resistivity"] {
        for b in 0..31 {
            cell.branch(b)?.make_trainable(key, None)?;
        }
    }
    let ps = cell.data_set("capacitance", 1.1, None)?;
    Ok((cell, ps))
}

#[test]
fn many_per_branch_values_share_init_passes_exactly() -> Result<()> {
    // 31 branches: the chain rule seeds values with disjoint footprints together.
    let (cell, ps) = tree31()?;
    let o = opts(Solver::BwdEuler, VoltageSolver::Hines, 1.5);
    let (adj, _, d) = adjoint_and_forward(&cell, &o, Some(&ps))?;
    eprintln!(
        "31 branches, {} values: adjoint vs forward {d:e}",
        flat(&adj).len()
    );
    assert!(d < 1e-10);
    Ok(())
}

/// Five cells, TestSynapse (cells 0–1 → 0–2) and IonotropicSynapse (3–4 → 2–4) as in
/// `tests/network.rs`: several synapses (of both types, from different cells) end on one node,
/// and cells connect to themselves. Synapse parameters per edge and per type, a synapse state
/// recorded, a synapse parameter set by `data_set`.
fn mixed5() -> Result<(Network, Vec<ParamState<f64>>)> {
    let cell = Cell::new(&Branch::new(&Compartment::new(), 3)?, &[-1, 0])?;
    let mut net = Network::new(&vec![cell; 5])?;
    net.insert(HH)?;
    net.cells_at(&[1, 3])?.insert(Leak)?;
    // Long compartments: forward Euler is stable at dt = 0.025 ms.
    net.set("length", 40.0)?;
    let pre = net.cells_at(&[0, 1])?.selection();
    let post = net.cells_at(&[0, 1, 2])?.selection();
    fully_connect(&mut net, &pre, &post, TestSynapse)?;
    let pre = net.cells_at(&[3, 4])?.selection();
    let post = net.cells_at(&[2, 3, 4])?.selection();
    fully_connect(&mut net, &pre, &post, IonotropicSynapse)?;
    net.set("TestSynapse_gC", 0.02)?;
    net.set("IonotropicSynapse_gS", 0.015)?;
    net.synapse("IonotropicSynapse")?
        .edge(0)?
        .set("IonotropicSynapse_s", 0.5)?;
    net.cell(0)?
        .branch(0)?
        .comp(0)?
        .stimulate(&step_current(0.2, 1.5, 0.3, DT, 3.0, 0.0));
    net.cell(4)?
        .branch(1)?
        .comp(2)?
        .stimulate(&step_current(0.5, 1.5, 0.3, DT, 3.0, 0.0));
    for c in 0..5 {
        net.cell(c)?.branch(0)?.comp(0)?.record("v")?;
    }
    net.synapse("IonotropicSynapse")?
        .edge(1)?
        .record("IonotropicSynapse_s")?;
    for e in 0..6 {
        net.synapse("TestSynapse")?
            .edge(e)?
            .make_trainable("TestSynapse_gC", None)?;
    }
    net.synapse("IonotropicSynapse")?
        .make_trainable("IonotropicSynapse_gS", None)?;
    for c in 0..5 {
        net.cell(c)?.make_trainable("HH_gNa", None)?;
    }
    net.cell(2)?.make_trainable("radius", None)?;
    let ps = net.data_set("IonotropicSynapse_e_syn", -10.0, None)?;
    Ok((net, ps))
}

#[test]
fn synapse_parameters_match_finite_differences_and_forward_mode() -> Result<()> {
    let (net, ps) = mixed5()?;
    check_model("mixed5", &net, &ps, 3.0)
}

#[test]
fn point_neurons_with_synapses_match_forward_mode() -> Result<()> {
    // Izhikevich writes the voltage: synapses read the pre-synaptic voltage after the
    // mechanism update (a step of two parallel regions).
    let mut net = Network::new(&vec![Cell::default(); 3])?;
    net.insert(Izhikevich)?;
    net.cell(1)?.set("Izhikevich_a", 0.1)?;
    net.init_states(DT)?;
    let pre = net.cells_at(&[0])?.selection();
    let post = net.cells_at(&[1, 2])?.selection();
    fully_connect(&mut net, &pre, &post, IonotropicSynapse)?;
    net.set("IonotropicSynapse_gS", 0.01)?;
    net.cell(0)?
        .stimulate(&step_current(1.0, 8.0, 0.01, DT, 10.0, 0.0));
    for c in 0..3 {
        net.cell(c)?.record("v")?.record("Izhikevich_u")?;
    }
    net.make_trainable("IonotropicSynapse_gS", None)?;
    for c in 0..3 {
        net.cell(c)?.make_trainable("Izhikevich_b", None)?;
    }
    for solver in [Solver::BwdEuler, Solver::CrankNicolson] {
        let o = opts(solver, VoltageSolver::Hines, 10.0);
        let (adj, fwd, d) = adjoint_and_forward(&net, &o, None)?;
        eprintln!("izhikevich network {solver:?}: adjoint vs forward {d:e}");
        assert!(d < 1e-10, "{:?} vs {:?}", flat(&adj), flat(&fwd));
    }
    Ok(())
}

#[test]
fn ion_diffusion_is_differentiated_by_forward_mode() -> Result<()> {
    let mut cell = Cell::new(&Branch::new(&Compartment::new(), 3)?, &[-1, 0, 0])?;
    cell.insert(HH)?;
    cell.branch(0)?
        .insert(CaL)?
        .insert(CaPump)?
        .insert(CaNernstReversal)?;
    cell.set("CaL_gCaL", 2e-3)?;
    cell.diffuse("CaCon_i")?;
    cell.set("axial_diffusion_CaCon_i", 2e-3)?;
    cell.branch(0)?
        .comp(0)?
        .stimulate(&step_current(0.2, 1.0, 0.05, DT, 2.0, 0.0));
    cell.branch(0)?.comp(0)?.record("v")?;
    cell.branch(1)?.comp(2)?.record("v")?;
    cell.make_trainable("axial_diffusion_CaCon_i", None)?;
    cell.make_trainable("CaL_gCaL", None)?;
    let o = opts(Solver::BwdEuler, VoltageSolver::Hines, 2.0);
    let (g, fwd, _) = adjoint_and_forward(&cell, &o, None)?;
    assert_eq!(g, fwd);
    assert_eq!(g.stored_states, 0);
    assert!(flat(&g).iter().all(|x| x.is_finite()) && flat(&g).iter().any(|x| *x != 0.0));
    Ok(())
}

#[test]
fn clamped_states_have_no_adjoint() -> Result<()> {
    let mut cell = Cell::new(&Branch::new(&Compartment::new(), 3)?, &[-1, 0])?;
    cell.insert(HH)?;
    cell.set("v", -50.0)?;
    cell.branch(1)?.comp(2)?.clamp("v", &[-20.0; 81])?;
    cell.branch(0)?.comp(1)?.clamp("HH_n", &[0.4; 81])?;
    cell.branch(0)?.comp(0)?.record("v")?;
    cell.branch(1)?.comp(2)?.record("v")?;
    cell.branch(0)?.comp(1)?.record("HH_n")?;
    cell.branch(1)?.comp(0)?.record("HH_m")?;
    for b in 0..2 {
        cell.branch(b)?.make_trainable("HH_gK", None)?;
        cell.branch(b)?.make_trainable("length", None)?;
    }
    for solver in [Solver::BwdEuler, Solver::CrankNicolson, Solver::FwdEuler] {
        let o = opts(solver, VoltageSolver::Hines, 2.0);
        let (adj, fwd, d) = adjoint_and_forward(&cell, &o, None)?;
        eprintln!("clamped {solver:?}: adjoint vs forward {d:e}");
        assert!(d < 1e-10, "{:?} vs {:?}", flat(&adj), flat(&fwd));
    }
    Ok(())
}

/// A forward run that fails (forward Euler, unstable on short compartments) ends the gradient
/// with its error: serially, and on two threads, where a second thread differentiates `init`
/// meanwhile.
#[test]
fn failing_forward_run_ends_the_gradient_with_its_error() -> Result<()> {
    let mut comp = Compartment::new();
    comp.set("length", 0.5)?;
    let mut cell = Cell::new(&Branch::new(&comp, 20)?, &[-1])?;
    cell.insert(HH)?;
    cell.comp(0)?
        .stimulate(&step_current(0.0, 1.0, 0.1, DT, 50.0, 0.0));
    cell.comp(19)?.record("v")?;
    cell.make_trainable("HH_gNa", None)?;
    let go = GradOptions {
        checkpointing: Checkpointing::All,
    };
    for parallelism in [Parallelism::Serial, Parallelism::Pool(pool(2))] {
        let o = IntegrateOptions {
            parallelism,
            ..opts(Solver::FwdEuler, VoltageSolver::Hines, 50.0)
        };
        let e = value_and_grad(&cell, &o, &cell.get_parameters(), None, &MeanSq, &go).unwrap_err();
        match e {
            Error::NonFinite { step, .. } => assert!(step > 1 && step < 2000, "step {step}"),
            other => panic!("expected a non-finite state, got {other:?}"),
        }
    }
    Ok(())
}
