//! Shared helpers of the integration tests: reference data written by `tools/reference/`.
#![allow(dead_code)]

use huxley::{Module, Recording};
use nalgebra::DMatrix;
use serde_json::Value;

/// Reads `tests/data/<name>`.
pub fn load(name: &str) -> Value {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    serde_json::from_str(&text).expect("valid JSON")
}

/// A JSON array of numbers (null → NaN).
pub fn vec_f64(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().unwrap_or(f64::NAN))
        .collect()
}

/// A JSON array of arrays of numbers.
pub fn matrix(v: &Value) -> Vec<Vec<f64>> {
    v.as_array().expect("array").iter().map(vec_f64).collect()
}

/// Checks that the module records exactly what the reference recorded.
pub fn check_recordings(module: &Module, case: &Value) {
    let want: Vec<Recording> = case["recordings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| Recording {
            state: r["state"].as_str().unwrap().to_string(),
            node: r["rec_index"].as_u64().unwrap() as usize,
        })
        .collect();
    assert_eq!(
        module.recordings(),
        &want[..],
        "recordings differ from the reference"
    );
}

/// Largest |a − b| of one row against the reference.
pub fn max_abs_diff(ours: &DMatrix<f64>, row: usize, reference: &[f64]) -> f64 {
    assert_eq!(ours.ncols(), reference.len(), "number of time points");
    ours.row(row)
        .iter()
        .zip(reference)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max)
}

/// Asserts every trace matches: voltages to `v_tol` mV, other states to `rel_tol` relative to
/// the trace's largest magnitude. Returns the largest voltage difference.
pub fn assert_traces(ours: &DMatrix<f64>, case: &Value, v_tol: f64, rel_tol: f64) -> f64 {
    let traces = matrix(&case["traces"]);
    let recs = case["recordings"].as_array().unwrap();
    assert_eq!(ours.nrows(), traces.len());
    let mut worst_v = 0.0f64;
    for (r, (trace, rec)) in traces.iter().zip(recs).enumerate() {
        let state = rec["state"].as_str().unwrap();
        let d = max_abs_diff(ours, r, trace);
        if state == "v" {
            worst_v = worst_v.max(d);
            assert!(
                d < v_tol,
                "{state} (row {r}): max |ΔV| = {d:e} mV ≥ {v_tol:e}"
            );
        } else {
            let scale = trace.iter().fold(0.0f64, |m, x| m.max(x.abs()));
            assert!(
                d <= rel_tol * scale,
                "{state} (row {r}): max diff {d:e} > {rel_tol:e} × {scale:e}"
            );
        }
    }
    worst_v
}
