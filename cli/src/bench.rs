//! `huxley bench`: speed tables measured on this machine.
//!
//! Each table is a [`Table`]; [`tables`] lists them: the single-cell step table and the network
//! scalability table (the README's tables, measured here).

use crate::{CliError, CliResult};
use huxley::{
    Branch, Cell, Compartment, Externals, HH, IntegrateOptions, IonotropicSynapse, Network,
    Parallelism, Solver, VoltageSolver, build_init_and_step_fn, integrate, sparse_connect,
};
use std::sync::Arc;
use std::time::Instant;

/// Options of `huxley bench`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Skip cells with more compartments than this.
    #[arg(long, default_value_t = 100_000)]
    pub max_comps: usize,
    /// Repetitions per measurement (the best is reported).
    #[arg(long, default_value_t = 5)]
    pub repeats: usize,
    /// Compartment-steps per repetition (more: steadier numbers, longer runs).
    #[arg(long, default_value_t = 2_000_000)]
    pub work: usize,
}

/// One benchmark table: a title, column names, and rows measured on demand.
pub trait Table {
    /// Heading printed above the table.
    fn title(&self) -> String;
    /// Column names (the first is the row label).
    fn columns(&self) -> Vec<String>;
    /// Measures and returns the rows (label, then one cell per further column).
    fn rows(&self, args: &Args) -> CliResult<Vec<Vec<String>>>;
}

/// Every table `huxley bench` prints, in order.
pub fn tables() -> Vec<Box<dyn Table>> {
    vec![Box::new(SingleCell), Box::new(NetworkTable)]
}

pub fn run(args: &Args) -> CliResult<()> {
    if args.repeats == 0 || args.work == 0 {
        return Err(CliError("--repeats and --work must be at least 1".into()));
    }
    for table in tables() {
        println!("{}", table.title());
        let columns = table.columns();
        println!("| {} |", columns.join(" | "));
        println!("|{}", "---|".repeat(columns.len()));
        for row in table.rows(args)? {
            println!("| {} |", row.join(" | "));
        }
        println!();
    }
    Ok(())
}

/// HH binary-tree cells (8 compartments per branch) stepped by backward Euler on one thread.
struct SingleCell;

/// Branch counts giving about 64, 1 000, 10 000 and 100 000 compartments.
const BRANCHES: [usize; 4] = [8, 125, 1250, 12500];

fn binary_tree_cell(n_branches: usize) -> huxley::Result<Cell> {
    let parents: Vec<i64> = (0..n_branches)
        .map(|i| if i == 0 { -1 } else { ((i - 1) / 2) as i64 })
        .collect();
    let mut cell = Cell::new(&Branch::new(&Compartment::new(), 8)?, &parents)?;
    cell.insert(HH)?;
    Ok(cell)
}

/// Best-of-`repeats` time per compartment-step (ns).
fn ns_per_comp_step(cell: &Cell, vs: VoltageSolver, args: &Args) -> CliResult<f64> {
    let (init_fn, step_fn) = build_init_and_step_fn(cell, vs, Solver::BwdEuler)?;
    let (mut states, params) = init_fn.init::<f64>(&[], None, None, 0.025)?;
    // Depolarised, so that every compartment fires and the gates move.
    states.get_mut("v")?.iter_mut().for_each(|v| *v = -20.0);
    let none = Externals::none();
    let n = cell.n_comps();
    let steps = (args.work / n).max(10);
    let mut best = f64::INFINITY;
    for _ in 0..args.repeats {
        let t = Instant::now();
        for _ in 0..steps {
            step_fn.step(&mut states, &params, none.at(0), 0.025)?;
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    Ok(best / (steps * n) as f64 * 1e9)
}

impl Table for SingleCell {
    fn title(&self) -> String {
        "Single cell: one backward-Euler step of an HH binary-tree cell (8 compartments per \
         branch), one thread, ns per compartment-step (best of the repeats)"
            .into()
    }

    fn columns(&self) -> Vec<String> {
        ["compartments", "Hines", "SparseLu"]
            .map(String::from)
            .to_vec()
    }

    fn rows(&self, args: &Args) -> CliResult<Vec<Vec<String>>> {
        let mut rows = Vec::new();
        for n_branches in BRANCHES {
            if n_branches * 8 > args.max_comps {
                continue;
            }
            let cell = binary_tree_cell(n_branches)?;
            let mut row = vec![cell.n_comps().to_string()];
            for vs in [VoltageSolver::Hines, VoltageSolver::SparseLu] {
                row.push(format!("{:.0}", ns_per_comp_step(&cell, vs, args)?));
            }
            rows.push(row);
        }
        Ok(rows)
    }
}

/// Networks of Jaxley's regression-benchmark cell (7 branches × 2 compartments, HH, firing
/// tonically with `HH_eLeak = −30 mV`), random `IonotropicSynapse` connections with expected
/// in-degree 10, simulated by `integrate` on 1 and 2 threads.
struct NetworkTable;

/// Cell counts of the network table.
const CELLS: [usize; 5] = [1, 10, 100, 1000, 10_000];

fn network(n_cells: usize) -> huxley::Result<Network> {
    let branch = Branch::new(&Compartment::new(), 2)?;
    let mut cell = Cell::new(&branch, &[-1, 0, 0, 1, 1, 2, 2])?;
    cell.insert(HH)?;
    cell.set("HH_eLeak", -30.0)?;
    let mut net = Network::new(&vec![cell; n_cells])?;
    let all = net.all().selection();
    let p = (10.0 / n_cells as f64).min(1.0);
    sparse_connect(&mut net, &all, &all, IonotropicSynapse, p, 1)?;
    net.set("IonotropicSynapse_gS", 1e-3)?;
    net.cell(0)?.branch(0)?.comp(0)?.record("v")?;
    Ok(net)
}

impl Table for NetworkTable {
    fn title(&self) -> String {
        "Networks: HH cells of 14 compartments, IonotropicSynapse with expected in-degree 10, \
         `integrate` (best of the repeats), ns per compartment-step and per synapse-step"
            .into()
    }

    fn columns(&self) -> Vec<String> {
        [
            "cells",
            "compartments",
            "synapses",
            "1 thread ns/comp",
            "ns/syn",
            "2 threads ns/comp",
            "ns/syn",
            "speed-up",
        ]
        .map(String::from)
        .to_vec()
    }

    fn rows(&self, args: &Args) -> CliResult<Vec<Vec<String>>> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .map_err(|e| CliError(format!("cannot start 2 threads: {e}")))?;
        let configs = [Parallelism::Serial, Parallelism::Pool(Arc::new(pool))];
        let dt = 0.025;
        let mut rows = Vec::new();
        for n_cells in CELLS {
            if n_cells * 14 > args.max_comps {
                continue;
            }
            let net = network(n_cells)?;
            let (comps, syns) = (net.n_comps(), net.n_edges());
            let steps = (args.work / comps).clamp(40, 4000);
            let t_max = (steps - 1) as f64 * dt;
            let mut best = [f64::INFINITY; 2];
            for _ in 0..args.repeats {
                for (k, par) in configs.iter().enumerate() {
                    let opts = IntegrateOptions {
                        t_max: Some(t_max),
                        delta_t: dt,
                        parallelism: par.clone(),
                        ..Default::default()
                    };
                    let t = Instant::now();
                    integrate(&net, &opts)?;
                    best[k] = best[k].min(t.elapsed().as_secs_f64());
                }
            }
            let per = |secs: f64, count: usize| {
                if count == 0 {
                    "–".to_string()
                } else {
                    format!("{:.1}", secs * 1e9 / (count * steps) as f64)
                }
            };
            rows.push(vec![
                n_cells.to_string(),
                comps.to_string(),
                syns.to_string(),
                per(best[0], comps),
                per(best[0], syns),
                per(best[1], comps),
                per(best[1], syns),
                format!("{:.2}", best[0] / best[1]),
            ]);
        }
        Ok(rows)
    }
}
