//! The step loop allocates nothing: a counting global allocator watches 100 steps.

use huxley::*;

#[path = "common/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::allocations;

fn model() -> Cell {
    let mut cell = Cell::new(
        &Branch::new(&Compartment::new(), 4).unwrap(),
        &[-1, 0, 0, 1, 1],
    )
    .unwrap();
    cell.insert(HH).unwrap();
    cell.branch(2)
        .unwrap()
        .insert(CaL)
        .unwrap()
        .insert(CaPump)
        .unwrap()
        .insert(CaNernstReversal)
        .unwrap();
    cell.branch(4).unwrap().comp(1).unwrap().insert(Km).unwrap();
    cell.branch(0)
        .unwrap()
        .comp(0)
        .unwrap()
        .stimulate(&step_current(0.5, 3.0, 0.3, 0.025, 10.0, 0.0));
    cell.branch(3)
        .unwrap()
        .comp(0)
        .unwrap()
        .clamp("HH_m", &[0.1; 500])
        .unwrap();
    cell
}

fn check<T: Scalar>(solver: Solver, vsolver: VoltageSolver) {
    let cell = model();
    let (init_fn, step_fn) = build_init_and_step_fn(&cell, vsolver, solver).unwrap();
    let (mut s, p) = init_fn.init::<T>(&[], None, None, 0.025).unwrap();
    let ext = step_fn.externals().cast::<T>();
    for k in 0..50 {
        step_fn.step(&mut s, &p, ext.at(k), 0.025).unwrap();
    }
    let n = allocations(|| {
        for k in 50..150 {
            step_fn.step(&mut s, &p, ext.at(k), 0.025).unwrap();
        }
    });
    assert_eq!(
        n, 0,
        "{solver:?}/{vsolver:?} allocated {n} times in 100 steps"
    );
    assert!(s.get("v").unwrap().iter().all(|x| x.re().is_finite()));
}

fn network() -> Network {
    let branch = Branch::new(&Compartment::new(), 2).unwrap();
    let mut cell = Cell::new(&branch, &[-1, 0, 0]).unwrap();
    cell.insert(HH).unwrap();
    let mut net = Network::new(&vec![cell; 120]).unwrap();
    net.cells_at(&[3, 4]).unwrap().insert(Fire).unwrap();
    let all = net.all().selection();
    sparse_connect(&mut net, &all, &all, IonotropicSynapse, 0.05, 1).unwrap();
    sparse_connect(&mut net, &all, &all, TanhConductanceSynapse, 0.02, 2).unwrap();
    net.cell(0)
        .unwrap()
        .branch(0)
        .unwrap()
        .comp(0)
        .unwrap()
        .stimulate(&step_current(0.5, 3.0, 0.3, 0.025, 10.0, 0.0));
    net.synapse("IonotropicSynapse")
        .unwrap()
        .edge(3)
        .unwrap()
        .clamp("IonotropicSynapse_s", &[0.5; 500])
        .unwrap();
    net
}

fn diffusion_cell() -> Cell {
    let mut cell = model();
    cell.diffuse("CaCon_i").unwrap();
    cell
}

fn check_module<T: Scalar>(module: &Module, solver: Solver, par: Parallelism) {
    let (init_fn, step_fn) = build_init_and_step_fn(module, VoltageSolver::Hines, solver).unwrap();
    let step_fn = step_fn.with_parallelism(par);
    let (mut s, p) = init_fn.init::<T>(&[], None, None, 0.025).unwrap();
    let ext = step_fn.externals().cast::<T>();
    for k in 0..50 {
        step_fn.step(&mut s, &p, ext.at(k), 0.025).unwrap();
    }
    let n = allocations(|| {
        for k in 50..150 {
            step_fn.step(&mut s, &p, ext.at(k), 0.025).unwrap();
        }
    });
    assert_eq!(n, 0, "{solver:?} allocated {n} times in 100 steps");
    assert!(s.get("v").unwrap().iter().all(|x| x.re().is_finite()));
}

#[test]
fn network_steps_do_not_allocate() {
    let net = network();
    for solver in [Solver::BwdEuler, Solver::CrankNicolson, Solver::FwdEuler] {
        check_module::<f64>(&net, solver, Parallelism::Serial);
    }
    check_module::<Dual64>(&net, Solver::BwdEuler, Parallelism::Serial);
    let cell = diffusion_cell();
    check_module::<f64>(&cell, Solver::BwdEuler, Parallelism::Serial);
    check_module::<Dual64>(&cell, Solver::CrankNicolson, Parallelism::Serial);
}

#[test]
fn counter_sees_allocations() {
    assert!(allocations(|| drop(std::hint::black_box(vec![1u8; 100]))) >= 1);
}

#[test]
fn f64_steps_do_not_allocate() {
    for solver in [
        Solver::BwdEuler,
        Solver::CrankNicolson,
        Solver::FwdEuler,
        Solver::ExpEuler,
    ] {
        check::<f64>(solver, VoltageSolver::Hines);
    }
    check::<f64>(Solver::BwdEuler, VoltageSolver::SparseLu);
}

#[test]
fn dual_steps_do_not_allocate() {
    check::<Dual64>(Solver::BwdEuler, VoltageSolver::Hines);
    check::<Dual64>(Solver::CrankNicolson, VoltageSolver::SparseLu);
}
