use huxley::*;
fn main() {
    let n_branches: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse().unwrap())
        .unwrap_or(125);
    let parents: Vec<i64> = (0..n_branches)
        .map(|i| if i == 0 { -1 } else { ((i - 1) / 2) as i64 })
        .collect();
    let mut cell = Cell::new(&Branch::new(&Compartment::new(), 8).unwrap(), &parents).unwrap();
    cell.insert(HH).unwrap();
    let (init_fn, step_fn) =
        build_init_and_step_fn(&cell, VoltageSolver::Hines, Solver::BwdEuler).unwrap();
    let step_fn = step_fn.with_parallelism(Parallelism::Serial);
    let (mut s, p) = init_fn.init::<f64>(&[], None, None, 0.025).unwrap();
    s.get_mut("v").unwrap().iter_mut().for_each(|v| *v = -20.0);
    let none = Externals::none();
    let steps: usize = std::env::var("STEPS")
        .ok()
        .map(|s| s.parse().unwrap())
        .unwrap_or(1000);
    let mut best = f64::INFINITY;
    for _ in 0..std::env::var("REPS")
        .ok()
        .map(|s| s.parse().unwrap())
        .unwrap_or(30)
    {
        let t = std::time::Instant::now();
        for _ in 0..steps {
            step_fn.step(&mut s, &p, none.at(0), 0.025).unwrap();
        }
        best = best.min(t.elapsed().as_nanos() as f64 / (steps * cell.n_comps()) as f64);
        if std::env::var_os("RESET").is_some() {
            s.get_mut("v").unwrap().iter_mut().for_each(|v| *v = -20.0);
        }
    }
    println!("{best:.2} ns per compartment-step (best of 30)");
}
