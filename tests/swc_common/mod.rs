//! Helpers shared by the SWC tests: where the data lives, JSON access and
//! comparisons.
#![allow(dead_code)]

use std::path::PathBuf;

use huxley::swc::{CompGeometry, SwcMorphology, SwcOptions};
use serde_json::Value;

/// Directory of the Jaxley reference JSON files. In huxley this is
/// `concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data")`.
pub fn data_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data"))
}

/// Directory of the shared test morphologies (beside the checkout in huxley too).
pub fn morph_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/morphologies"
    ))
}

pub fn load_json(name: &str) -> Value {
    let path = data_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A float written by gen_swc.py (numbers, or "nan" / "inf" / "-inf").
pub fn num(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().expect("float"),
        Value::String(s) if s == "nan" => f64::NAN,
        Value::String(s) if s == "inf" => f64::INFINITY,
        Value::String(s) if s == "-inf" => f64::NEG_INFINITY,
        other => panic!("not a float: {other}"),
    }
}

pub fn nums(v: &Value) -> Vec<f64> {
    v.as_array().expect("array").iter().map(num).collect()
}

pub fn ints(v: &Value) -> Vec<i64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_i64().expect("int"))
        .collect()
}

pub fn xyzr_rows(v: &Value) -> Vec<[f64; 4]> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|row| {
            let r = nums(row);
            [r[0], r[1], r[2], r[3]]
        })
        .collect()
}

pub fn options_from(v: &Value) -> SwcOptions {
    let opt_f = |k: &str| v.get(k).and_then(|x| (!x.is_null()).then(|| num(x)));
    SwcOptions {
        max_branch_len: opt_f("max_branch_len"),
        min_radius: opt_f("min_radius"),
        assign_groups: v["assign_groups"].as_bool().expect("bool"),
        ignore_swc_tracing_interruptions: v["ignore_swc_tracing_interruptions"]
            .as_bool()
            .expect("bool"),
        relevant_type_ids: v
            .get("relevant_type_ids")
            .filter(|x| !x.is_null())
            .map(|x| ints(x).into_iter().map(|t| t as i32).collect()),
    }
}

/// Relative deviation |a-b| / max(|a|, |b|, floor); 0 when both are equal (also for
/// equal infinities and two NaNs).
pub fn rel_dev(a: f64, b: f64, floor: f64) -> f64 {
    if a == b || (a.is_nan() && b.is_nan()) {
        return 0.0;
    }
    let d = (a - b).abs() / a.abs().max(b.abs()).max(floor);
    if d.is_nan() { f64::INFINITY } else { d }
}

/// The geometry columns that gen_swc.py writes, with our value for one compartment.
pub const COLUMNS: [&str; 9] = [
    "radius",
    "length",
    "area",
    "volume",
    "resistive_load_in",
    "resistive_load_out",
    "x",
    "y",
    "z",
];

pub fn column(c: &CompGeometry, name: &str) -> f64 {
    match name {
        "radius" => c.radius,
        "length" => c.length,
        "area" => c.area,
        "volume" => c.volume,
        "resistive_load_in" => c.resistive_load_in,
        "resistive_load_out" => c.resistive_load_out,
        "x" => c.center[0],
        "y" => c.center[1],
        "z" => c.center[2],
        _ => panic!("unknown column {name}"),
    }
}

/// Largest relative deviation per column, and overall.
#[derive(Debug, Default, Clone)]
pub struct Deviation {
    pub max: f64,
    pub worst: String,
}

impl Deviation {
    pub fn add(&mut self, d: f64, what: impl FnOnce() -> String) {
        if d > self.max || (self.worst.is_empty() && d >= self.max) {
            self.max = d;
            self.worst = what();
        }
    }
}

/// Compares our morphology with one Jaxley record (`parents`, `ncomp_per_branch`,
/// `nbranchpoints`, `comps`, `groups`, optional `branch_xyzr`). Geometry must agree
/// to `tol` relative; coordinates (x, y, z, xyzr) relative to the cell's extent.
/// Returns the largest deviation seen.
pub fn compare_with_jaxley(ours: &SwcMorphology, want: &Value, tol: f64, label: &str) -> Deviation {
    let parents = ints(&want["parents"]);
    assert_eq!(ours.parents, parents, "{label}: parents");
    let ncomp: Vec<usize> = ints(&want["ncomp_per_branch"])
        .into_iter()
        .map(|n| n as usize)
        .collect();
    let our_ncomp: Vec<usize> = ours.branches.iter().map(|b| b.comps.len()).collect();
    assert_eq!(our_ncomp, ncomp, "{label}: ncomp per branch");
    assert_eq!(
        ours.n_branchpoints() as i64,
        want["nbranchpoints"].as_i64().unwrap(),
        "{label}: number of branchpoints"
    );

    let comps: Vec<&CompGeometry> = ours.comps().collect();
    // Coordinates are compared relative to the cell's extent (they can be ~0).
    let extent = ours
        .branches
        .iter()
        .flat_map(|b| b.xyzr.iter())
        .flat_map(|p| p[..3].iter().map(|v| v.abs()))
        .fold(1.0f64, f64::max);
    let mut dev = Deviation::default();
    for name in COLUMNS {
        let w = nums(&want["comps"][name]);
        assert_eq!(w.len(), comps.len(), "{label}: number of compartments");
        let floor = if matches!(name, "x" | "y" | "z") {
            extent
        } else {
            0.0
        };
        for (k, (c, &wv)) in comps.iter().zip(&w).enumerate() {
            let ov = column(c, name);
            let d = rel_dev(ov, wv, floor);
            assert!(
                d <= tol,
                "{label}: comp {k} {name}: ours {ov:e}, Jaxley {wv:e} (rel. dev. {d:e})"
            );
            dev.add(d, || format!("{label} comp {k} {name}"));
        }
    }

    // Groups per compartment, in Jaxley's (sorted) order.
    let want_groups: Vec<(String, Vec<i64>)> = want["groups"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), ints(v)))
        .collect();
    let our_groups: Vec<(String, Vec<i64>)> = ours
        .comp_groups()
        .into_iter()
        .map(|(k, v)| (k, v.into_iter().map(|i| i as i64).collect()))
        .collect();
    let mut want_sorted = want_groups.clone();
    want_sorted.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        want_sorted, want_groups,
        "{label}: Jaxley's groups are sorted"
    );
    assert_eq!(our_groups, want_groups, "{label}: groups");

    if let Some(bx) = want.get("branch_xyzr").or_else(|| want.get("xyzr")) {
        let bx = bx.as_array().unwrap();
        assert_eq!(bx.len(), ours.branches.len(), "{label}: xyzr branches");
        for (b, (br, wx)) in ours.branches.iter().zip(bx).enumerate() {
            let wx = xyzr_rows(wx);
            assert_eq!(br.xyzr.len(), wx.len(), "{label}: branch {b} xyzr length");
            for (k, (p, q)) in br.xyzr.iter().zip(&wx).enumerate() {
                for c in 0..4 {
                    let floor = if c < 3 { extent } else { 0.0 };
                    let d = rel_dev(p[c], q[c], floor);
                    assert!(
                        d <= tol,
                        "{label}: branch {b} xyzr[{k}][{c}]: ours {} Jaxley {} ({d:e})",
                        p[c],
                        q[c]
                    );
                    dev.add(d, || format!("{label} branch {b} xyzr[{k}][{c}]"));
                }
            }
        }
    }
    dev
}
