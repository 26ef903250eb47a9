//! Shared helpers of the integration tests: reference data written by `tools/reference/`.
#![allow(dead_code)]

use huxley::grad::Loss;
use huxley::{Module, Recording, Scalar};
use nalgebra::DMatrix;
use serde_json::Value;

/// `mean((recordings + 65)^2)`, as the reference scripts.
pub struct MeanSq;
impl Loss for MeanSq {
    fn value<T: Scalar>(&self, rec: &DMatrix<T>) -> T {
        let n = T::from(rec.len() as f64);
        rec.iter().fold(T::zero(), |acc, &v| {
            acc + (v + T::from(65.0)) * (v + T::from(65.0))
        }) / n
    }
}

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

/// The network of `net_chain3.json` and `grad_net3.json` (`tools/reference/gen_network.py`,
/// `case_chain3`): three HH cells of 3 branches × 2 compartments, IonotropicSynapse from the end
/// of branch 1 of cell a to the start of branch 2 of cell b for (0, 1) and (1, 2); `gS` 0.03,
/// edge 1 with `gS` 0.05 and `e_syn` −5 mV; cell 1 with radius 0.8. No stimuli or recordings.
pub fn chain3_network() -> huxley::Result<huxley::Network> {
    use huxley::*;
    let cell = Cell::new(&Branch::new(&Compartment::new(), 2)?, &[-1, 0, 0])?;
    let mut net = Network::new(&[cell.clone(), cell.clone(), cell])?;
    net.insert(HH)?;
    for (a, b) in [(0, 1), (1, 2)] {
        let pre = net.cell(a)?.branch(1)?.loc(1.0)?.selection();
        let post = net.cell(b)?.branch(2)?.loc(0.0)?.selection();
        connect(&mut net, &pre, &post, IonotropicSynapse)?;
    }
    net.set("IonotropicSynapse_gS", 0.03)?;
    net.synapse("IonotropicSynapse")?
        .edge(1)?
        .set("IonotropicSynapse_gS", 0.05)?
        .set("IonotropicSynapse_e_syn", -5.0)?;
    net.cell(1)?.set("radius", 0.8)?;
    Ok(net)
}

/// The recordings of `integrate` with `t_max`, the solver given and default options otherwise.
pub fn sim(module: &huxley::Module, t_max: f64, solver: huxley::Solver) -> nalgebra::DMatrix<f64> {
    let opts = huxley::IntegrateOptions {
        t_max: Some(t_max),
        solver,
        ..Default::default()
    };
    huxley::integrate(module, &opts)
        .expect("simulation runs")
        .recordings
}
