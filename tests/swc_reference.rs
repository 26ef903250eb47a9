//! The SWC reader against Jaxley 0.14's `read_swc` (reference JSON written by
//! tools/reference/gen_swc.py). Run with `--nocapture` to see the largest deviation
//! per file.

mod swc_common;

use huxley::swc::{SwcError, compartmentalize, parse_swc_geometry, read_swc_geometry};
use swc_common::*;

/// Geometry must match Jaxley to this relative tolerance (coordinates: relative to
/// the cell's extent). Measured: radius, length, area, volume and resistive loads are
/// bit-identical; centres differ by at most one ulp (XLA evaluates `jnp.interp`).
/// The slack over 1e-16 is for libm differences (`pow`, `sqrt`) on other platforms.
const TOL: f64 = 1e-14;

fn check_file(stem: &str) -> Deviation {
    let json = load_json(&format!("swc_{stem}.json"));
    let path = morph_dir().join(json["file"].as_str().unwrap());
    assert!(
        json["jaxley_error"].is_null(),
        "{stem}: Jaxley mishandles this file"
    );
    let variants = json["variants"].as_array().unwrap();
    assert!(
        variants.len() >= 2,
        "{stem}: expected at least ncomp 1 and 3"
    );
    let mut worst = Deviation::default();
    for v in variants {
        let label = format!("{stem}/{}", v["name"].as_str().unwrap());
        assert!(v.get("jaxley_error").is_none(), "{label}: Jaxley raised");
        let ncomp = v["ncomp"].as_u64().unwrap() as usize;
        let options = options_from(&v["options"]);
        let ours =
            read_swc_geometry(&path, ncomp, &options).unwrap_or_else(|e| panic!("{label}: {e}"));
        let d = compare_with_jaxley(&ours, v, TOL, &label);
        println!("{label}: max rel. deviation {:.3e} ({})", d.max, d.worst);
        if d.max >= worst.max {
            worst = d;
        }
    }
    if let Some(cases) = json.get("set_ncomp") {
        let d = check_set_ncomp(stem, cases);
        if d.max >= worst.max {
            worst = d;
        }
    }
    println!(
        "{stem}: largest deviation {:.3e} ({})",
        worst.max, worst.worst
    );
    worst
}

/// `compartmentalize` on Jaxley's stored branch xyzr reproduces `set_ncomp`, and our
/// own stored xyzr equals Jaxley's.
fn check_set_ncomp(stem: &str, cases: &serde_json::Value) -> Deviation {
    let path = morph_dir().join(format!("{stem}.swc"));
    let cell = read_swc_geometry(&path, 1, &Default::default()).unwrap();
    let mut dev = Deviation::default();
    let cases = cases.as_array().unwrap();
    assert!(!cases.is_empty());
    for case in cases {
        let b = case["branch"].as_u64().unwrap() as usize;
        let k = case["ncomp"].as_u64().unwrap() as usize;
        let label = format!("{stem}/set_ncomp branch {b} -> {k}");
        let xyzr = xyzr_rows(&case["xyzr"]);
        // Only the first set_ncomp of a branch starts from the ncomp=1 read.
        if case
            == cases
                .iter()
                .find(|c| c["branch"] == case["branch"])
                .unwrap()
        {
            assert_eq!(cell.branches[b].xyzr, xyzr, "{label}: stored xyzr");
        }
        let comps = compartmentalize(&xyzr, k, None).unwrap();
        assert_eq!(comps.len(), k);
        let total = num(&case["total_length"]);
        for name in [
            "radius",
            "area",
            "volume",
            "resistive_load_in",
            "resistive_load_out",
        ] {
            let want = nums(&case["comps"][name]);
            for (c, (g, &w)) in comps.iter().zip(&want).enumerate() {
                let d = rel_dev(column(g, name), w, 0.0);
                assert!(
                    d <= TOL,
                    "{label}: comp {c} {name}: {} vs {w}",
                    column(g, name)
                );
                dev.add(d, || format!("{label} comp {c} {name}"));
            }
        }
        // Jaxley's set_ncomp keeps the branch length: old total / ncomp.
        for &w in &nums(&case["comps"]["length"]) {
            let d = rel_dev(total / k as f64, w, 0.0);
            assert!(d <= TOL, "{label}: length");
        }
    }
    println!(
        "{stem}/set_ncomp: max rel. deviation {:.3e} ({})",
        dev.max, dev.worst
    );
    dev
}

macro_rules! reference_tests {
    ($($name:ident => $stem:literal,)*) => {
        $(
            #[test]
            fn $name() {
                check_file($stem);
            }
        )*
    };
}

reference_tests! {
    three_types => "morph_3_types",
    three_types_single_point_soma => "morph_3_types_single_point_soma",
    allen_485574832 => "morph_allen_485574832",
    ca1_n120 => "morph_ca1_n120",
    ca1_n120_250 => "morph_ca1_n120_250",
    ca1_n120_single_point_soma => "morph_ca1_n120_single_point_soma",
    interrupted_soma => "morph_interrupted_soma",
    l5pc_with_axon => "morph_l5pc_with_axon",
    minimal => "morph_minimal",
    non_somatic_branchpoint => "morph_non_somatic_branchpoint",
    single_branch => "morph_single_branch",
    soma_both_ends => "morph_soma_both_ends",
    somatic_branchpoint => "morph_somatic_branchpoint",
    variable_radiuses_multi_branch => "morph_variable_radiuses_multi_branch",
    variable_radiuses_within_branch => "morph_variable_radiuses_within_branch",
}

/// Every morphology in the shared folder has a reference file, and every reference
/// file is checked by a test above (so a new morphology cannot be forgotten).
#[test]
fn every_morphology_has_reference_data() {
    let mut stems: Vec<String> = std::fs::read_dir(morph_dir())
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".swc").map(str::to_string)
        })
        .collect();
    stems.sort();
    assert_eq!(stems.len(), 16);
    for stem in &stems {
        let json = data_dir().join(format!("swc_{stem}.json"));
        assert!(json.exists(), "missing {}", json.display());
    }
}

/// morph_multiple_roots.swc defines sample 3 twice (first as a second root, then with
/// parent 2). Jaxley silently keeps the last definition; we reject the file.
#[test]
fn multiple_roots_file_is_rejected() {
    let json = load_json("swc_morph_multiple_roots.json");
    let note = json["jaxley_error"].as_str().expect("a jaxley_error note");
    assert!(note.contains("appears twice"), "{note}");
    let path = morph_dir().join("morph_multiple_roots.swc");
    let err = read_swc_geometry(&path, 1, &Default::default()).unwrap_err();
    assert!(
        err.to_string().contains("morph_multiple_roots.swc"),
        "{err}"
    );
    match err.inner() {
        SwcError::DuplicateId {
            line,
            id,
            first_line,
        } => {
            assert_eq!((*line, *id, *first_line), (9, 3, 7));
        }
        other => panic!("expected DuplicateId, got {other}"),
    }
    // Without the duplicate, the second root is reported.
    let text = std::fs::read_to_string(&path).unwrap();
    let fixed: String = text
        .lines()
        .filter(|l| l.trim() != "3 1 2 0 0 1 2")
        .map(|l| format!("{l}\n"))
        .collect();
    let err = parse_swc_geometry(fixed.as_bytes(), 1, &Default::default()).unwrap_err();
    assert!(
        matches!(
            err,
            SwcError::MultipleRoots {
                line: 7,
                id: 3,
                first_line: 5
            }
        ),
        "{err}"
    );
}

/// The comparison is sharp: a deviation of 1e-12 in any geometry column, a changed
/// parent, group or xyzr point makes it fail.
#[test]
fn comparison_detects_small_deviations() {
    use std::panic::{AssertUnwindSafe, catch_unwind};
    let json = load_json("swc_morph_minimal.json");
    let want = &json["variants"][1]; // ncomp3, with branch_xyzr
    assert_eq!(want["name"], "ncomp3");
    let path = morph_dir().join("morph_minimal.swc");
    let good = read_swc_geometry(&path, 3, &Default::default()).unwrap();
    compare_with_jaxley(&good, want, TOL, "unchanged");
    type Edit = fn(&mut huxley::swc::SwcMorphology);
    let edits: [(&str, Edit); 8] = [
        ("radius", |m| m.branches[1].comps[2].radius *= 1.0 + 1e-12),
        ("length", |m| m.branches[0].comps[0].length *= 1.0 + 1e-12),
        ("area", |m| m.branches[3].comps[1].area *= 1.0 - 1e-12),
        ("load", |m| {
            m.branches[2].comps[0].resistive_load_out *= 1.0 + 1e-12
        }),
        ("center", |m| m.branches[2].comps[0].center[1] += 1e-11),
        ("parent", |m| m.parents[3] = 1),
        ("group", |m| m.branches[2].type_id = 2),
        ("xyzr", |m| m.branches[1].xyzr[1][3] *= 1.0 + 1e-12),
    ];
    for (name, edit) in edits {
        let mut bad = good.clone();
        edit(&mut bad);
        let failed = catch_unwind(AssertUnwindSafe(|| {
            compare_with_jaxley(&bad, want, TOL, name);
        }))
        .is_err();
        assert!(failed, "a changed {name} was not detected");
    }
}
