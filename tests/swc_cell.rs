//! SWC files read into simulatable cells (`huxley::read_swc`) against Jaxley 0.14's
//! `jx.read_swc`: node-table geometry, branch structure, groups, `set_ncomp`, and HH traces.
//! Reference data: tools/reference/gen_swc.py and gen_swc_traces.py. Run with `--nocapture`
//! to see the deviations.

mod common;
mod swc_common;

use huxley::{Cell, HH, IntegrateOptions, integrate, read_swc, step_current};
use serde_json::Value;
use swc_common::{data_dir, ints, load_json, morph_dir, nums, options_from, rel_dev};

/// Geometry columns of the node table against Jaxley's `cell.nodes` (relative). The values are
/// computed by the same operations in the same order, so they agree to the last bit; the
/// slack is for libm differences on other platforms.
const GEOMETRY_TOL: f64 = 1e-14;
const COLUMNS: [&str; 6] = [
    "radius",
    "length",
    "area",
    "volume",
    "resistive_load_in",
    "resistive_load_out",
];

/// Compares a cell's node table, branch structure and groups with one Jaxley record; returns
/// the largest relative deviation.
fn compare_cell(cell: &Cell, want: &Value, label: &str) -> f64 {
    assert_eq!(
        cell.parents(0).unwrap(),
        &ints(&want["parents"])[..],
        "{label}: parents"
    );
    let ncomp: Vec<usize> = ints(&want["ncomp_per_branch"])
        .iter()
        .map(|&n| n as usize)
        .collect();
    assert_eq!(
        cell.ncomp_per_branch(),
        &ncomp[..],
        "{label}: ncomp per branch"
    );
    let nbp = want["nbranchpoints"].as_u64().unwrap() as usize;
    assert_eq!(
        cell.n_nodes(),
        cell.n_comps() + nbp,
        "{label}: branchpoints"
    );
    let mut worst = 0.0f64;
    for name in COLUMNS {
        let ours = cell.column(name).unwrap();
        let theirs = nums(&want["comps"][name]);
        assert_eq!(ours.len(), theirs.len(), "{label}: compartments");
        for (k, (&a, &b)) in ours.iter().zip(&theirs).enumerate() {
            let d = rel_dev(a, b, 0.0);
            assert!(
                d <= GEOMETRY_TOL,
                "{label}: comp {k} {name}: {a:e} vs Jaxley {b:e}"
            );
            worst = worst.max(d);
        }
    }
    for (name, fill) in [
        ("axial_resistivity", 5000.0),
        ("capacitance", 1.0),
        ("v", -70.0),
    ] {
        assert!(
            cell.column(name).unwrap().iter().all(|&x| x == fill),
            "{label}: {name}"
        );
    }
    let groups = want["groups"].as_object().unwrap();
    let names: Vec<String> = groups.keys().cloned().collect();
    assert_eq!(cell.group_names(), names, "{label}: group names");
    for (g, comps) in groups {
        let want: Vec<usize> = ints(comps).iter().map(|&c| c as usize).collect();
        assert_eq!(cell.group_comps(g).unwrap(), want, "{label}: group {g}");
    }
    worst
}

/// Every morphology Jaxley reads, every option set of the reference data.
#[test]
fn cells_match_jaxley_geometry() {
    let mut files = 0;
    let mut worst = 0.0f64;
    for entry in std::fs::read_dir(data_dir()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if !name.starts_with("swc_morph_") {
            continue;
        }
        let json = load_json(&name);
        let path = morph_dir().join(json["file"].as_str().unwrap());
        if !json["jaxley_error"].is_null() {
            assert!(read_swc(&path, 1, &Default::default()).is_err(), "{name}");
            continue;
        }
        for v in json["variants"].as_array().unwrap() {
            let label = format!("{name}/{}", v["name"].as_str().unwrap());
            let ncomp = v["ncomp"].as_u64().unwrap() as usize;
            let cell = read_swc(&path, ncomp, &options_from(&v["options"]))
                .unwrap_or_else(|e| panic!("{label}: {e}"));
            worst = worst.max(compare_cell(&cell, v, &label));
        }
        files += 1;
    }
    println!("{files} files: largest relative deviation of the node-table geometry {worst:e}");
    assert_eq!(files, 15);
}

/// `set_ncomp` on SWC branches, call after call as gen_swc.py made them, against Jaxley's
/// resulting compartments.
#[test]
fn set_ncomp_on_swc_branches_matches_jaxley() {
    let mut calls = 0;
    let mut worst = 0.0f64;
    for entry in std::fs::read_dir(data_dir()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if !name.starts_with("swc_morph_") {
            continue;
        }
        let json = load_json(&name);
        let Some(cases) = json.get("set_ncomp") else {
            continue;
        };
        let path = morph_dir().join(json["file"].as_str().unwrap());
        let mut cell = read_swc(&path, 1, &Default::default()).unwrap();
        for case in cases.as_array().unwrap() {
            let b = case["branch"].as_u64().unwrap() as usize;
            let k = case["ncomp"].as_u64().unwrap() as usize;
            let label = format!("{name}: branch {b} -> {k}");
            let stored: Vec<[f64; 4]> = swc_common::xyzr_rows(&case["xyzr"]);
            assert_eq!(cell.xyzr(b).unwrap().unwrap(), &stored[..], "{label}: xyzr");
            cell.branch(b).unwrap().set_ncomp(k, None).unwrap();
            assert_eq!(cell.ncomp_per_branch()[b], k, "{label}");
            for col in COLUMNS {
                let ours = cell.branch(b).unwrap().get(col).unwrap();
                let theirs = nums(&case["comps"][col]);
                assert_eq!(ours.len(), k);
                for (&a, &t) in ours.iter().zip(&theirs) {
                    let d = rel_dev(a, t, 0.0);
                    assert!(d <= GEOMETRY_TOL, "{label}: {col} {a:e} vs Jaxley {t:e}");
                    worst = worst.max(d);
                }
            }
            calls += 1;
        }
    }
    println!("{calls} set_ncomp calls: largest relative deviation {worst:e}");
    assert_eq!(calls, 46);
}

/// HH traces after a somatic current step (tests/data/swc_traces_*.json).
fn check_traces(case: &str) -> f64 {
    let json = common::load(&format!("swc_traces_{case}.json"));
    let path = morph_dir().join(json["file"].as_str().unwrap());
    let ncomp = json["ncomp"].as_u64().unwrap() as usize;
    let mut cell = read_swc(&path, ncomp, &Default::default()).unwrap();
    for bk in json["set_ncomp"].as_array().unwrap() {
        let (b, k) = (
            bk[0].as_u64().unwrap() as usize,
            bk[1].as_u64().unwrap() as usize,
        );
        cell.branch(b).unwrap().set_ncomp(k, None).unwrap();
    }
    assert_eq!(cell.n_comps(), json["n_comps"].as_u64().unwrap() as usize);
    cell.insert(HH).unwrap();
    cell.set(
        "axial_resistivity",
        json["axial_resistivity"].as_f64().unwrap(),
    )
    .unwrap();
    for s in json["settings"].as_array().unwrap() {
        let (group, key) = (s[0].as_str().unwrap(), s[1].as_str().unwrap());
        cell.group(group)
            .unwrap()
            .set(key, s[2].as_f64().unwrap())
            .unwrap();
    }
    for site in json["sites"].as_array().unwrap() {
        let (b, x) = (
            site[0].as_u64().unwrap() as usize,
            site[1].as_f64().unwrap(),
        );
        cell.branch(b).unwrap().loc(x).unwrap().record("v").unwrap();
    }
    common::check_recordings(&cell, &json);
    let stim = &json["stimulus"];
    let (dt, t_max) = (
        json["delta_t"].as_f64().unwrap(),
        json["t_max"].as_f64().unwrap(),
    );
    let f = |k: &str| stim[k].as_f64().unwrap();
    let current = step_current(f("i_delay"), f("i_dur"), f("i_amp"), dt, t_max, 0.0);
    let soma = stim["branch"].as_u64().unwrap() as usize;
    cell.branch(soma)
        .unwrap()
        .loc(f("loc"))
        .unwrap()
        .stimulate(&current);
    let sim = integrate(&cell, &IntegrateOptions::t_max(t_max)).unwrap();
    let spikes: Vec<usize> = (0..sim.recordings.nrows())
        .map(|r| {
            huxley::spike_count(
                &sim.recordings.row(r).iter().copied().collect::<Vec<_>>(),
                0.0,
            )
        })
        .collect();
    let want_spikes: Vec<usize> = ints(&json["spikes"]).iter().map(|&s| s as usize).collect();
    assert_eq!(spikes, want_spikes, "{case}: spikes per site");
    assert!(spikes[0] >= 1, "{case}: the soma spikes");
    let dv = common::assert_traces(&sim.recordings, &json, 1e-6, 0.0);
    println!(
        "{case}: {} compartments, max |ΔV| = {dv:.2e} mV",
        cell.n_comps()
    );
    dv
}

#[test]
fn traces_ca1_n120_match_jaxley() {
    check_traces("ca1_n120");
}

#[test]
fn traces_l5pc_with_axon_match_jaxley() {
    check_traces("l5pc_with_axon");
}

#[test]
fn traces_after_set_ncomp_match_jaxley() {
    check_traces("ca1_n120_set_ncomp");
}

/// A zero-radius tip read with `min_radius`: an infinite resistive load, which Jaxley
/// simulates (no axial current through that end), and so do we.
#[test]
fn traces_with_a_zero_radius_tip_match_jaxley() {
    let json = common::load("swc_traces_zero_radius_tip.json");
    let opts = huxley::SwcOptions {
        min_radius: Some(json["min_radius"].as_f64().unwrap()),
        ..Default::default()
    };
    let swc = json["swc"].as_str().unwrap();
    let mut cell = huxley::parse_swc(swc.as_bytes(), 3, &opts).unwrap();
    let infinite: Vec<(usize, &str)> = (0..cell.n_comps())
        .flat_map(|c| [(c, "resistive_load_in"), (c, "resistive_load_out")])
        .filter(|&(c, col)| cell.column(col).unwrap()[c].is_infinite())
        .collect();
    assert_eq!(infinite, vec![(0, "resistive_load_in")]);
    assert_eq!(json["infinite_loads"], serde_json::json!([[0, 0]]));
    cell.insert(HH).unwrap();
    cell.set(
        "axial_resistivity",
        json["axial_resistivity"].as_f64().unwrap(),
    )
    .unwrap();
    cell.record("v").unwrap();
    common::check_recordings(&cell, &json);
    let current = step_current(1.0, 10.0, 0.5, 0.025, 20.0, 0.0);
    cell.branch(0)
        .unwrap()
        .loc(0.5)
        .unwrap()
        .stimulate(&current);
    let sim = integrate(&cell, &IntegrateOptions::t_max(20.0)).unwrap();
    let dv = common::assert_traces(&sim.recordings, &json, 1e-6, 0.0);
    println!("zero-radius tip: max |ΔV| = {dv:.2e} mV");
}
