//! The `huxley` binary, run as a user would: outputs, numbers, and one-line errors.

use huxley::swc::{SwcOptions, read_swc_geometry};
use huxley::{HH, IntegrateOptions, integrate, read_swc, step_current};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const MORPH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/morphologies");

fn huxley(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_huxley"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the binary runs")
}

/// A fresh scratch directory per test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("huxley_cli_{}_{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Header and columns of a CSV file written by `simulate`.
fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<f64>>) {
    let content = std::fs::read_to_string(path).unwrap();
    let mut lines = content.lines();
    let header = lines.next().unwrap().split(',').map(String::from).collect();
    let rows: Vec<Vec<f64>> = lines
        .map(|l| l.split(',').map(|x| x.parse().unwrap()).collect())
        .collect();
    let cols = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r[c]).collect())
        .collect();
    (header, cols)
}

#[test]
fn simulate_default_cell_writes_csv_and_png() {
    let dir = scratch("default");
    let out = huxley(&["simulate"], &dir);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("built-in cell: 16 branches, 61 compartments"),
        "{stdout}"
    );
    let (header, cols) = read_csv(&dir.join("traces.csv"));
    assert_eq!(
        header,
        [
            "t_ms",
            "v_mV[soma]",
            "v_mV[apical[-1]:1]",
            "v_mV[axon[-1]:1]",
            "v_mV[basal[-1]:1]"
        ]
    );
    assert_eq!(cols[0].len(), 2001); // t = 0 and 2000 steps of 0.025 ms
    assert_eq!(cols[0][2000], 50.0);
    for (c, name) in header.iter().enumerate().skip(1) {
        let spikes = huxley::spike_count(&cols[c], 0.0);
        assert!(spikes >= 2, "{name}: {spikes} spikes");
        assert!(stdout.contains(&name[5..name.len() - 1]), "{stdout}");
    }
    // Before the stimulus the cell rests at --v-init.
    assert!(cols[1][..200].iter().all(|v| (v + 65.0).abs() < 1.0));
    let png = std::fs::read(dir.join("traces.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(png.len() > 10_000, "a picture with content");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The CLI's numbers are the library's: the same SWC model simulated through the API.
#[test]
fn simulate_swc_equals_the_library() {
    let dir = scratch("swc");
    let file = format!("{MORPH}/morph_ca1_n120.swc");
    let args = [
        "simulate",
        &file,
        "--ncomp",
        "2",
        "--record",
        "0:0",
        "--record",
        "apical[-1]:1",
        "--stim-at",
        "basal[2]:0.5",
        "--stim-amp",
        "0.3",
        "--stim-delay",
        "2",
        "--stim-dur",
        "5",
        "--t-max",
        "10",
        "--solver",
        "crank-nicolson",
        "--voltage-solver",
        "sparse-lu",
        "--axial-resistivity",
        "150",
        "--v-init",
        "-70",
        "-o",
        "ca1.csv",
        "--no-plot",
    ];
    let out = huxley(&args, &dir);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!dir.join("traces.png").exists());
    let (header, cols) = read_csv(&dir.join("ca1.csv"));
    assert_eq!(header, ["t_ms", "v_mV[0:0]", "v_mV[apical[-1]:1]"]);

    let mut cell = read_swc(&file, 2, &SwcOptions::default()).unwrap();
    cell.insert(HH).unwrap();
    cell.set("axial_resistivity", 150.0).unwrap();
    cell.set("v", -70.0).unwrap();
    cell.init_states(0.025).unwrap();
    let basal: Vec<usize> = cell.group_comps("basal").unwrap();
    let third_basal = {
        let mut b: Vec<usize> = basal.iter().map(|&c| c / 2).collect();
        b.dedup();
        b[2]
    };
    let last_apical = *cell.group_comps("apical").unwrap().last().unwrap() / 2;
    cell.branch(0)
        .unwrap()
        .loc(0.0)
        .unwrap()
        .record("v")
        .unwrap();
    cell.branch(last_apical)
        .unwrap()
        .loc(1.0)
        .unwrap()
        .record("v")
        .unwrap();
    let i = step_current(2.0, 5.0, 0.3, 0.025, 10.0, 0.0);
    cell.branch(third_basal)
        .unwrap()
        .loc(0.5)
        .unwrap()
        .stimulate(&i);
    let opts = IntegrateOptions {
        solver: huxley::Solver::CrankNicolson,
        voltage_solver: huxley::VoltageSolver::SparseLu,
        ..IntegrateOptions::t_max(10.0)
    };
    let sim = integrate(&cell, &opts).unwrap();
    for r in 0..2 {
        let want: Vec<f64> = sim.recordings.row(r).iter().copied().collect();
        assert_eq!(cols[r + 1].len(), want.len());
        let d = cols[r + 1]
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(d <= 5e-7, "column {r}: {d}"); // the CSV has 6 decimals
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn passive_cell_does_not_spike() {
    let dir = scratch("passive");
    let out = huxley(
        &[
            "simulate",
            "--channels",
            "all=passive",
            "--stim-amp",
            "0.05",
            "--no-plot",
        ],
        &dir,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (_, cols) = read_csv(&dir.join("traces.csv"));
    assert!(cols[1..].iter().all(|c| huxley::spike_count(c, 0.0) == 0));
    // Depolarised by the current, relaxing towards the leak reversal (-70 mV) otherwise.
    let soma = &cols[1];
    assert!(soma[1000] > soma[100]);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `info` reports what the SWC reader reads.
#[test]
fn info_numbers_match_the_geometry() {
    let dir = scratch("info");
    let file = format!("{MORPH}/morph_l5pc_with_axon.swc");
    let out = huxley(&["info", &file, "--ncomp", "3"], &dir);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let m = read_swc_geometry(Path::new(&file), 3, &SwcOptions::default()).unwrap();
    let first = stdout.lines().next().unwrap();
    assert!(
        first.ends_with(&format!(
            "{} branches, {} compartments (ncomp 3), {} branchpoints",
            m.branches.len(),
            3 * m.branches.len(),
            m.n_branchpoints()
        )),
        "{first}"
    );
    let rows: Vec<Vec<&str>> = stdout
        .lines()
        .skip(2)
        .map(|l| l.split_whitespace().collect())
        .collect();
    let mut groups = m.groups();
    groups.push(("total".into(), (0..m.branches.len()).collect()));
    assert_eq!(rows.len(), groups.len(), "{stdout}");
    for (row, (name, branches)) in rows.iter().zip(&groups) {
        assert_eq!(row[0], name);
        assert_eq!(row[1].parse::<usize>().unwrap(), branches.len());
        assert_eq!(row[2].parse::<usize>().unwrap(), 3 * branches.len());
        let comps = || branches.iter().flat_map(|&b| &m.branches[b].comps);
        let length: f64 = comps().map(|c| c.length).sum();
        let area: f64 = comps().map(|c| c.area).sum();
        assert!(
            (row[3].parse::<f64>().unwrap() - length).abs() <= 5e-4,
            "{name} length"
        );
        assert!(
            (row[4].parse::<f64>().unwrap() - area).abs() <= 5e-4,
            "{name} area"
        );
    }
    assert!(stdout.contains("axon") && stdout.contains("apical"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bench_prints_the_step_and_network_tables() {
    let dir = scratch("bench");
    let out = huxley(
        &[
            "bench",
            "--max-comps",
            "1000",
            "--repeats",
            "1",
            "--work",
            "20000",
        ],
        &dir,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("| compartments | Hines | SparseLu |"),
        "{stdout}"
    );
    for n in ["| 64 |", "| 1000 |"] {
        let row = stdout.lines().find(|l| l.starts_with(n)).expect(n);
        let ns: Vec<f64> = row
            .split('|')
            .skip(2)
            .filter(|s| !s.trim().is_empty())
            .map(|s| s.trim().parse().unwrap())
            .collect();
        assert_eq!(ns.len(), 2);
        assert!(ns.iter().all(|&x| x > 0.0), "{row}");
    }
    assert!(!stdout.contains("| 10000 |"));
    // The network table: 1 and 10 cells of 14 compartments fit under --max-comps 1000.
    assert!(
        stdout.contains("| cells | compartments | synapses |"),
        "{stdout}"
    );
    for (cells, comps) in [("| 1 |", 14.0), ("| 10 |", 140.0)] {
        let row = stdout.lines().find(|l| l.starts_with(cells)).expect(cells);
        let fields: Vec<&str> = row
            .split('|')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        assert_eq!(fields.len(), 8, "{row}");
        assert_eq!(fields[1].parse::<f64>().unwrap(), comps);
        for k in [3, 5, 7] {
            assert!(fields[k].parse::<f64>().unwrap() > 0.0, "{row}");
        }
    }
    assert!(!stdout.lines().any(|l| l.starts_with("| 100 |")));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Every bad argument or file: exit code 2, exactly one line on stderr, nothing on stdout.
#[test]
fn errors_are_one_line_with_exit_code_2() {
    let dir = scratch("errors");
    std::fs::write(
        dir.join("broken.swc"),
        "1 1 0 0 0 5 -1\n2 3 10 0 0 1 1\n3 3 20 0\n",
    )
    .unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&[], "a command is required"),
        (
            &["simulate", "--frobnicate"],
            "unexpected argument '--frobnicate'",
        ),
        (
            &["simulate", "missing.swc"],
            "cannot read SWC file missing.swc",
        ),
        (
            &["simulate", "broken.swc"],
            "broken.swc: line 3: expected 7 fields",
        ),
        (&["info", "broken.swc"], "line 3"),
        (&["info"], "<FILE>"),
        (
            &["simulate", "--channels", "soma=xyz"],
            "unknown channel model `xyz`",
        ),
        (
            &["simulate", "--channels", "tuft=hh"],
            "unknown group `tuft`",
        ),
        (
            &["simulate", "--record", "apical[40]"],
            "group `apical` has 7 branches",
        ),
        (&["simulate", "--record", "99"], "branch 99 does not exist"),
        (&["simulate", "--stim-at", "soma:2"], "not in [0, 1]"),
        (&["simulate", "--dt", "-0.1"], "--dt must be positive"),
        (&["simulate", "--ncomp", "0"], "--ncomp must be at least 1"),
        (&["simulate", "--solver", "rk4"], "invalid value 'rk4'"),
        (
            &["simulate", "-o", "no/such/dir/t.csv"],
            "cannot write no/such/dir/t.csv",
        ),
        (&["bench", "--repeats", "0"], "at least 1"),
    ];
    for (args, words) in cases {
        let out = huxley(args, &dir);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(
            stderr.starts_with("error: ") && stderr.contains(words),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("panicked") && !stderr.contains("backtrace"));
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
