//! `huxley info FILE.swc`: what an SWC file holds, as huxley (and Jaxley) reads it.

use crate::CliResult;
use huxley::swc::{SwcMorphology, SwcOptions, read_swc_geometry};
use std::path::PathBuf;

/// Options of `huxley info`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The SWC file.
    pub file: PathBuf,
    /// Compartments per branch (changes the compartment count only).
    #[arg(long, default_value_t = 1)]
    pub ncomp: usize,
}

/// Per-group totals.
#[derive(Default)]
struct Totals {
    branches: usize,
    comps: usize,
    length: f64,
    area: f64,
}

impl Totals {
    fn add(&mut self, m: &SwcMorphology, b: usize) {
        let branch = &m.branches[b];
        self.branches += 1;
        self.comps += branch.comps.len();
        self.length += branch.comps.iter().map(|c| c.length).sum::<f64>();
        self.area += branch.comps.iter().map(|c| c.area).sum::<f64>();
    }

    fn row(&self, name: &str) -> String {
        format!(
            "{name:<12} {:>9} {:>13} {:>14.3} {:>14.3}",
            self.branches, self.comps, self.length, self.area
        )
    }
}

pub fn run(args: &Args) -> CliResult<()> {
    if args.ncomp == 0 {
        return Err(crate::CliError("--ncomp must be at least 1".into()));
    }
    let m = read_swc_geometry(&args.file, args.ncomp, &SwcOptions::default())?;
    let n_comps: usize = m.branches.iter().map(|b| b.comps.len()).sum();
    println!(
        "{}: {} branches, {} compartments (ncomp {}), {} branchpoints",
        args.file.display(),
        m.branches.len(),
        n_comps,
        args.ncomp,
        m.n_branchpoints()
    );
    println!(
        "{:<12} {:>9} {:>13} {:>14} {:>14}",
        "group", "branches", "compartments", "length (µm)", "area (µm²)"
    );
    let mut total = Totals::default();
    for (name, branches) in m.groups() {
        let mut t = Totals::default();
        for &b in &branches {
            t.add(&m, b);
            total.add(&m, b);
        }
        println!("{}", t.row(&name));
    }
    println!("{}", total.row("total"));
    Ok(())
}
