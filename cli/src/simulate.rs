//! `huxley simulate`: a current step into a cell, voltage traces to CSV and PNG.

use crate::location::{Location, group_branches};
use crate::{CliError, CliResult, morphology, plot};
use huxley::{
    Cell, HH, K, Km, Leak, Na, Solver, SwcOptions, VoltageSolver, build_init_and_step_fn,
    step_current,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::{Duration, Instant};

/// Options of `huxley simulate`.
#[derive(clap::Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct Args {
    /// SWC file to simulate. Without it, a built-in pyramidal-like cell (soma, apical trunk
    /// with obliques and tuft, basal dendrites, axon) is used.
    pub file: Option<PathBuf>,
    /// Compartments per branch.
    #[arg(long, default_value_t = 4)]
    pub ncomp: usize,
    /// Ion channels of a group: GROUP=MODEL with MODEL one of hh, pospischil (Na, K, Km,
    /// Leak), passive (Leak); GROUP `all` is the whole cell. Repeat for several groups; later
    /// ones win where groups overlap.
    #[arg(long = "channels", value_name = "GROUP=MODEL", default_values_t = [ChannelSpec::all_hh()])]
    pub channels: Vec<ChannelSpec>,
    /// Axial resistivity (Ω·cm) everywhere. (The library's default is Jaxley's 5000.)
    #[arg(long, default_value_t = 100.0)]
    pub axial_resistivity: f64,
    /// Initial membrane potential (mV); channel gates start at their steady state there.
    /// (HH rests near −65 mV.)
    #[arg(long, default_value_t = -65.0)]
    pub v_init: f64,
    /// Where the current is injected: `BRANCH[:X]`, `GROUP[:X]` (its first branch) or
    /// `GROUP[K][:X]` (its K-th branch; -1 is the last). X ∈ [0, 1], default 0.5.
    #[arg(long, value_name = "LOCATION", default_value = "soma")]
    pub stim_at: Location,
    /// Stimulus onset (ms).
    #[arg(long, default_value_t = 5.0)]
    pub stim_delay: f64,
    /// Stimulus duration (ms).
    #[arg(long, default_value_t = 30.0)]
    pub stim_dur: f64,
    /// Stimulus amplitude (nA).
    #[arg(long, default_value_t = 1.0)]
    pub stim_amp: f64,
    /// Where the voltage is recorded (LOCATION as for --stim-at); repeat for several.
    /// Default: the stimulus site and the far end of the last branch of every other group.
    #[arg(long = "record", value_name = "LOCATION")]
    pub record: Vec<Location>,
    /// Duration (ms).
    #[arg(long, default_value_t = 50.0)]
    pub t_max: f64,
    /// Time step (ms).
    #[arg(long, default_value_t = 0.025)]
    pub dt: f64,
    /// Time-stepping scheme.
    #[arg(long, value_enum, default_value_t = SolverArg::BwdEuler)]
    pub solver: SolverArg,
    /// Linear solver of the implicit schemes.
    #[arg(long, value_enum, default_value_t = VoltageSolverArg::Hines)]
    pub voltage_solver: VoltageSolverArg,
    /// CSV file of the traces (time in ms, one column of mV per location).
    #[arg(long, short, default_value = "traces.csv")]
    pub output: PathBuf,
    /// PNG picture of the traces.
    #[arg(long, default_value = "traces.png")]
    pub plot: PathBuf,
    /// Do not draw the picture.
    #[arg(long)]
    pub no_plot: bool,
}

/// Time-stepping schemes.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum SolverArg {
    /// Backward Euler (Jaxley's default).
    BwdEuler,
    /// Crank–Nicolson.
    CrankNicolson,
    /// Forward Euler.
    FwdEuler,
    /// Exponential Euler (dense matrix exponential: small cells only).
    ExpEuler,
}

/// Linear solvers.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum VoltageSolverArg {
    /// Hines elimination on the tree, O(N).
    Hines,
    /// Sparse LU (faer).
    SparseLu,
}

/// Channel models a group can get.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Model {
    /// Hodgkin–Huxley.
    Hh,
    /// Pospischil et al.: Na, K, Km, Leak.
    Pospischil,
    /// Leak only.
    Passive,
}

/// `GROUP=MODEL`.
#[derive(Clone, Debug, PartialEq)]
pub struct ChannelSpec {
    group: String,
    model: Model,
}

impl ChannelSpec {
    fn all_hh() -> ChannelSpec {
        ChannelSpec {
            group: "all".into(),
            model: Model::Hh,
        }
    }
}

impl FromStr for ChannelSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (group, model) = s
            .split_once('=')
            .ok_or_else(|| format!("`{s}` is not GROUP=MODEL"))?;
        let model = match model.to_ascii_lowercase().as_str() {
            "hh" => Model::Hh,
            "pospischil" => Model::Pospischil,
            "passive" | "leak" => Model::Passive,
            other => {
                return Err(format!(
                    "unknown channel model `{other}` (use hh, pospischil or passive)"
                ));
            }
        };
        if group.is_empty() {
            return Err(format!("`{s}` names no group"));
        }
        Ok(ChannelSpec {
            group: group.to_string(),
            model,
        })
    }
}

impl std::fmt::Display for ChannelSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let m = match self.model {
            Model::Hh => "hh",
            Model::Pospischil => "pospischil",
            Model::Passive => "passive",
        };
        write!(f, "{}={m}", self.group)
    }
}

fn check_number(name: &str, value: f64, positive: bool) -> CliResult<()> {
    let ok = value.is_finite() && (!positive || value > 0.0);
    if ok {
        Ok(())
    } else {
        let req = if positive { "positive" } else { "finite" };
        Err(CliError(format!("--{name} must be {req}, got {value}")))
    }
}

/// Builds the cell: morphology, channels, cable properties, resting gates.
pub fn build_cell(args: &Args) -> CliResult<(Cell, String)> {
    if args.ncomp == 0 {
        return Err(CliError("--ncomp must be at least 1".into()));
    }
    check_number("axial-resistivity", args.axial_resistivity, true)?;
    let (mut cell, name) = match &args.file {
        Some(path) => (
            huxley::read_swc(path, args.ncomp, &SwcOptions::default())?,
            path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into(),
            ),
        ),
        None => (
            morphology::default_cell(args.ncomp)?,
            "built-in cell".into(),
        ),
    };
    let mut model = vec![None; cell.n_comps()];
    for spec in &args.channels {
        let comps = if spec.group == "all" {
            (0..cell.n_comps()).collect()
        } else {
            cell.group_comps(&spec.group)?
        };
        for c in comps {
            model[c] = Some(spec.model);
        }
    }
    for m in [Model::Hh, Model::Pospischil, Model::Passive] {
        let comps: Vec<usize> = (0..cell.n_comps())
            .filter(|&c| model[c] == Some(m))
            .collect();
        if comps.is_empty() {
            continue;
        }
        let mut view = cell.select(&comps)?;
        match m {
            Model::Hh => view.insert(HH)?,
            Model::Pospischil => view.insert(Na)?.insert(K)?.insert(Km)?.insert(Leak)?,
            Model::Passive => view.insert(Leak)?,
        };
    }
    cell.set("axial_resistivity", args.axial_resistivity)?;
    check_number("v-init", args.v_init, false)?;
    cell.set("v", args.v_init)?;
    cell.init_states(args.dt)?;
    Ok((cell, name))
}

/// Default recordings: the stimulus site and the far end of the last branch of every group.
fn default_recordings(cell: &Cell, stim: &Location) -> Vec<Location> {
    let mut out = vec![stim.clone()];
    for g in cell.group_names() {
        if matches!(group_branches(cell, &g), Ok(b) if !b.is_empty()) && g != "soma" {
            out.push(Location::group(&g, -1, 1.0));
        }
    }
    out
}

/// Recorded voltages: one row per kept time point.
pub struct Traces {
    /// Column labels (locations).
    pub labels: Vec<String>,
    /// Times (ms).
    pub t: Vec<f64>,
    /// `v[k][r]`: voltage (mV) of recording `r` at time `t[k]`.
    pub v: Vec<Vec<f64>>,
}

pub fn run(args: &Args) -> CliResult<()> {
    check_number("t-max", args.t_max, true)?;
    check_number("dt", args.dt, true)?;
    for (name, v) in [("stim-delay", args.stim_delay), ("stim-dur", args.stim_dur)] {
        check_number(name, v, false)?;
    }
    check_number("stim-amp", args.stim_amp, false)?;
    let (mut cell, name) = build_cell(args)?;
    let records = if args.record.is_empty() {
        default_recordings(&cell, &args.stim_at)
    } else {
        args.record.clone()
    };
    let stim_branch = args.stim_at.branch(&cell)?;
    let mut nodes = Vec::new();
    for loc in &records {
        let b = loc.branch(&cell)?;
        nodes.push(cell.branch(b)?.loc(loc.x)?.nodes()[0]);
    }
    let current = step_current(
        args.stim_delay,
        args.stim_dur,
        args.stim_amp,
        args.dt,
        args.t_max,
        0.0,
    );
    cell.branch(stim_branch)?
        .loc(args.stim_at.x)?
        .stimulate(&current);

    let started = Instant::now();
    let traces = integrate(&cell, args, &records, &nodes)?;
    let elapsed = started.elapsed();

    write_csv(&args.output, &traces)?;
    let mut wrote = vec![args.output.display().to_string()];
    if !args.no_plot {
        let title = format!(
            "{name}: {} nA at {} from {} to {} ms",
            args.stim_amp,
            args.stim_at,
            args.stim_delay,
            args.stim_delay + args.stim_dur
        );
        plot::draw(&args.plot, &title, &traces)?;
        wrote.push(args.plot.display().to_string());
    }
    print_summary(&cell, &name, args, &traces, elapsed, &wrote);
    Ok(())
}

/// Steps the cell, recording `v` at `nodes`, with a progress bar once a run takes over 1 s.
fn integrate(cell: &Cell, args: &Args, records: &[Location], nodes: &[usize]) -> CliResult<Traces> {
    let solver = match args.solver {
        SolverArg::BwdEuler => Solver::BwdEuler,
        SolverArg::CrankNicolson => Solver::CrankNicolson,
        SolverArg::FwdEuler => Solver::FwdEuler,
        SolverArg::ExpEuler => Solver::ExpEuler,
    };
    let vs = match args.voltage_solver {
        VoltageSolverArg::Hines => VoltageSolver::Hines,
        VoltageSolverArg::SparseLu => VoltageSolver::SparseLu,
    };
    let dt = args.dt;
    let steps = (huxley::externals::py_floordiv(args.t_max, dt) + 1.0) as usize;
    let (init_fn, step_fn) = build_init_and_step_fn(cell, vs, solver)?;
    let (mut states, params) = init_fn.init::<f64>(&cell.get_parameters(), None, None, dt)?;
    let ext = step_fn.externals().with_steps(steps)?;
    let mut traces = Traces {
        labels: records.iter().map(|r| r.to_string()).collect(),
        t: Vec::with_capacity(steps + 1),
        v: Vec::with_capacity(steps + 1),
    };
    let sample = |v: &[f64]| nodes.iter().map(|&n| v[n]).collect::<Vec<f64>>();
    traces.t.push(0.0);
    traces.v.push(sample(states.get("v")?));
    let bar = ProgressBar::with_draw_target(Some(steps as u64), ProgressDrawTarget::hidden());
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} steps, {elapsed} (eta {eta})")
            .expect("valid template"),
    );
    let started = Instant::now();
    let mut shown = false;
    for k in 0..steps {
        step_fn.step(&mut states, &params, ext.at(k), dt)?;
        let v = sample(states.get("v")?);
        if let Some(r) = v.iter().position(|x| !x.is_finite()) {
            return Err(CliError(format!(
                "the simulation diverged at t = {} ms ({}); try a smaller --dt",
                (k + 1) as f64 * dt,
                traces.labels[r]
            )));
        }
        traces.t.push((k + 1) as f64 * dt);
        traces.v.push(v);
        if k % 64 == 0 {
            if !shown && started.elapsed() > Duration::from_secs(1) {
                bar.set_draw_target(ProgressDrawTarget::stderr());
                shown = true;
            }
            bar.set_position(k as u64);
        }
    }
    bar.finish_and_clear();
    Ok(traces)
}

fn write_csv(path: &std::path::Path, traces: &Traces) -> CliResult<()> {
    let err = |e: csv::Error| CliError(format!("cannot write {}: {e}", path.display()));
    let mut w = csv::Writer::from_path(path).map_err(err)?;
    let mut header = vec!["t_ms".to_string()];
    header.extend(traces.labels.iter().map(|l| format!("v_mV[{l}]")));
    w.write_record(&header).map_err(err)?;
    for (t, v) in traces.t.iter().zip(&traces.v) {
        let mut row = vec![format!("{t:.6}")];
        row.extend(v.iter().map(|x| format!("{x:.6}")));
        w.write_record(&row).map_err(err)?;
    }
    w.flush()
        .map_err(|e| CliError(format!("cannot write {}: {e}", path.display())))
}

fn print_summary(
    cell: &Cell,
    name: &str,
    args: &Args,
    traces: &Traces,
    elapsed: Duration,
    wrote: &[String],
) {
    let channels: Vec<String> = args.channels.iter().map(|c| c.to_string()).collect();
    println!(
        "{name}: {} branches, {} compartments; channels {}",
        cell.n_branches(),
        cell.n_comps(),
        channels.join(", ")
    );
    println!(
        "{} steps of {} ms simulated in {:.3} s",
        traces.t.len() - 1,
        args.dt,
        elapsed.as_secs_f64()
    );
    println!("{:<24} {:>7} {:>10}", "location", "spikes", "peak (mV)");
    for (r, label) in traces.labels.iter().enumerate() {
        let v: Vec<f64> = traces.v.iter().map(|row| row[r]).collect();
        let peak = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        println!(
            "{label:<24} {:>7} {peak:>10.2}",
            huxley::spike_count(&v, 0.0)
        );
    }
    println!("wrote {}", wrote.join(", "));
}
