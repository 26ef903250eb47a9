//! Broken inputs give typed errors that name the line; format variations that
//! Jaxley / NEURON accept are accepted.

mod swc_common;

use huxley::swc::{
    SwcError, SwcMorphology, SwcOptions, compartmentalize, parse_swc_geometry, read_swc_geometry,
};
use swc_common::*;

fn parse(text: &str) -> Result<SwcMorphology, SwcError> {
    parse_swc_geometry(text.as_bytes(), 1, &SwcOptions::default())
}

fn err(text: &str) -> SwcError {
    parse(text).expect_err("expected an error")
}

const GOOD: &str = "\
# a small cell
1 1 0 0 0 2 -1
2 3 5 0 0 1 1
3 3 10 0 0 1 2
4 3 5 5 0 1 2
";

#[test]
fn missing_file_names_the_path() {
    let path = morph_dir().join("no_such_file.swc");
    let e = read_swc_geometry(&path, 1, &SwcOptions::default()).unwrap_err();
    assert!(matches!(e, SwcError::Io { .. }), "{e:?}");
    assert!(e.to_string().contains("no_such_file.swc"), "{e}");
    // A directory cannot be read as a file either.
    let e = read_swc_geometry(&morph_dir(), 1, &SwcOptions::default()).unwrap_err();
    assert!(matches!(e, SwcError::Io { .. }), "{e:?}");
}

#[test]
fn errors_in_a_file_name_path_and_line() {
    let dir = std::env::temp_dir().join(format!("huxley_swc_test_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("broken.swc");
    std::fs::write(&path, "1 1 0 0 0 1 -1\n2 1 0 0 0 1\n").unwrap();
    let e = read_swc_geometry(&path, 1, &SwcOptions::default()).unwrap_err();
    std::fs::remove_dir_all(&dir).unwrap();
    let msg = e.to_string();
    assert!(
        msg.contains("broken.swc") && msg.contains("line 2"),
        "{msg}"
    );
    assert_eq!(e.line(), Some(2));
    assert!(matches!(
        e.inner(),
        SwcError::FieldCount { line: 2, found: 6 }
    ));
}

#[test]
fn malformed_lines() {
    let e = err("1 1 0 0 0 1 -1\n\n# c\n2 3 1 0 0\n");
    assert!(
        matches!(e, SwcError::FieldCount { line: 4, found: 5 }),
        "{e}"
    );
    assert!(e.to_string().contains("line 4"), "{e}");
    let e = err("1 1 0 0 0 1 -1\n2 3 1 0 0 1 one\n");
    assert!(
        matches!(&e, SwcError::BadNumber { line: 2, field: "parent", text, .. } if text == "one"),
        "{e}"
    );
    let e = err("1 1 0 0 0 1 -1\n2 3 1,5 0 0 1 1\n");
    assert!(
        matches!(
            e,
            SwcError::BadNumber {
                line: 2,
                field: "x",
                ..
            }
        ),
        "{e}"
    );
    let e = err("1 1 0 0 0 1 -1\n2 3.5 1 0 0 1 1\n");
    assert!(
        matches!(
            e,
            SwcError::BadNumber {
                line: 2,
                field: "type",
                ..
            }
        ),
        "{e}"
    );
    let e = err("1 1 0 0 0 1 -1\n2 3 1 0 inf 1 1\n");
    assert!(
        matches!(
            e,
            SwcError::NonFinite {
                line: 2,
                field: "z",
                ..
            }
        ),
        "{e}"
    );
    let e = err("1 1 0 0 0 1 -1\n2 3 1 0 0 1e999 1\n");
    assert!(
        matches!(
            e,
            SwcError::NonFinite {
                line: 2,
                field: "radius",
                ..
            }
        ),
        "{e}"
    );
    let e = err("1 1 0 0 0 1 -1\n2 3 \u{e9} 0 0 1 1\n");
    assert!(
        matches!(
            e,
            SwcError::BadNumber {
                line: 2,
                field: "x",
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn empty_inputs() {
    for text in ["", "\n\n", "# only a comment\n   \n\t\n", "\r\n\r"] {
        assert!(matches!(err(text), SwcError::Empty), "{text:?}");
    }
}

#[test]
fn structural_errors() {
    let e = err("1 1 0 0 0 1 -1\n2 3 1 0 0 1 1\n2 3 2 0 0 1 1\n");
    assert!(
        matches!(
            e,
            SwcError::DuplicateId {
                line: 3,
                id: 2,
                first_line: 2
            }
        ),
        "{e}"
    );
    // Duplicates are found with widely scattered ids too.
    let e = err("1 1 0 0 0 1 -1\n9000000000 3 1 0 0 1 1\n9000000000 3 2 0 0 1 1\n");
    assert!(
        matches!(
            e,
            SwcError::DuplicateId {
                line: 3,
                id: 9000000000,
                first_line: 2
            }
        ),
        "{e}"
    );
    let e = err("1 1 0 0 0 1 -1\n2 3 1 0 0 1 1\n3 3 2 0 0 1 7\n");
    assert!(
        matches!(
            e,
            SwcError::MissingParent {
                line: 3,
                id: 3,
                parent: 7
            }
        ),
        "{e}"
    );
    // Only -1 marks a root.
    let e = err("1 1 0 0 0 1 -2\n2 3 1 0 0 1 1\n");
    assert!(
        matches!(
            e,
            SwcError::MissingParent {
                line: 1,
                parent: -2,
                ..
            }
        ),
        "{e}"
    );
    let e = err("1 1 0 0 0 1 -1\n2 3 1 0 0 1 1\n3 3 2 0 0 1 -1\n");
    assert!(
        matches!(
            e,
            SwcError::MultipleRoots {
                line: 3,
                id: 3,
                first_line: 1
            }
        ),
        "{e}"
    );
    // A sample that is its own parent, and a detached two-cycle.
    let e = err("1 1 0 0 0 1 -1\n2 3 1 0 0 1 2\n");
    assert!(matches!(e, SwcError::Cycle { line: 2, id: 2 }), "{e}");
    let e = err("1 1 0 0 0 1 -1\n2 3 1 0 0 1 1\n3 3 2 0 0 1 4\n4 3 3 0 0 1 3\n");
    assert!(matches!(e, SwcError::Cycle { line: 3, id: 3 }), "{e}");
    // No root at all.
    let e = err("1 1 0 0 0 1 2\n2 3 1 0 0 1 1\n");
    assert!(matches!(e, SwcError::Cycle { line: 1, id: 1 }), "{e}");
}

#[test]
fn non_positive_radius_needs_min_radius() {
    let text = "1 1 0 0 0 1 -1\n2 3 1 0 0 0 1\n3 3 2 0 0 1 2\n";
    let e = err(text);
    assert!(
        matches!(e, SwcError::NonPositiveRadius { line: 2, id: 2, radius } if radius == 0.0),
        "{e}"
    );
    let e = err("1 1 0 0 0 1 -1\n2 3 1 0 0 1 1\n3 3 2 0 0 -0.5 2\n");
    assert!(
        matches!(e, SwcError::NonPositiveRadius { line: 3, .. }),
        "{e}"
    );
    // With min_radius the file is read; Jaxley clips only the mean radius, so the
    // zero radius still enters area and resistive loads (infinite here).
    let opts = SwcOptions {
        min_radius: Some(0.3),
        ..Default::default()
    };
    let cell = parse_swc_geometry(text.as_bytes(), 1, &opts).unwrap();
    let dend = &cell.branches[1].comps[0];
    assert!(dend.radius >= 0.3);
    assert!(dend.resistive_load_in.is_infinite());
}

#[test]
fn degenerate_inputs() {
    // A single non-somatic sample has no branch.
    let e = err("\n5 3 0 0 0 1 -1\n");
    assert!(matches!(e, SwcError::SingleSample { line: 2 }), "{e}");
    // A single soma sample is a sphere: area 4πr², length 2r.
    let cell = parse("1 1 0 0 0 2 -1\n").unwrap();
    let c = cell.branches[0].comps[0];
    assert_eq!(cell.parents, vec![-1]);
    assert!((c.area - 16.0 * std::f64::consts::PI).abs() < 1e-12);
    assert_eq!(c.length, 4.0);
    // All points of a branch coincide: Jaxley asserts on the NaN radius; so do we,
    // unless min_radius is given.
    let text = "1 3 0 0 0 1 -1\n2 3 0 0 0 1 1\n";
    let e = err(text);
    assert!(
        matches!(
            e,
            SwcError::DegenerateCompartment {
                branch: 0,
                comp: 0,
                ..
            }
        ),
        "{e}"
    );
    let opts = SwcOptions {
        min_radius: Some(0.5),
        ..Default::default()
    };
    let cell = parse_swc_geometry(text.as_bytes(), 2, &opts).unwrap();
    assert_eq!(cell.branches[0].comps[1].radius, 0.5);
    // Coincident samples are 1e-5 apart as far as lengths go (Jaxley's minimum
    // edge length).
    assert_eq!(cell.branches[0].comps[1].length, 0.5e-5);
    // A one-point dendrite at a somatic branchpoint has length 0, which Jaxley caps
    // at 0.1; its area is that of a sphere.
    let text = "1 1 0 0 0 1 -1\n2 1 1 0 0 1 1\n3 1 2 0 0 1 2\n4 3 1 3 0 0.5 2\n";
    let cell = parse_swc_geometry(text.as_bytes(), 2, &SwcOptions::default()).unwrap();
    assert_eq!(cell.parents, vec![-1, 0, 0]);
    assert_eq!(cell.branches[2].type_id, 3);
    let c = cell.branches[2].comps[0];
    assert_eq!(c.length, 0.05);
    assert_eq!(c.area, 4.0 * std::f64::consts::PI * 0.25 / 2.0);
}

#[test]
fn bad_options() {
    let e = parse_swc_geometry(GOOD.as_bytes(), 0, &SwcOptions::default()).unwrap_err();
    assert!(matches!(e, SwcError::ZeroNcomp), "{e}");
    let e = parse_swc_geometry(GOOD.as_bytes(), usize::MAX, &SwcOptions::default());
    assert!(matches!(
        e,
        Err(SwcError::InvalidOption { name: "ncomp", .. })
    ));
    assert!(compartmentalize(&[[0.0, 0.0, 0.0, 1.0]], usize::MAX, None).is_err());
    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let opts = SwcOptions {
            max_branch_len: Some(bad),
            ..Default::default()
        };
        let e = parse_swc_geometry(GOOD.as_bytes(), 1, &opts).unwrap_err();
        assert!(
            matches!(
                e,
                SwcError::InvalidOption {
                    name: "max_branch_len",
                    ..
                }
            ),
            "{e}"
        );
    }
    for bad in [-0.1, f64::NAN] {
        let opts = SwcOptions {
            min_radius: Some(bad),
            ..Default::default()
        };
        let e = parse_swc_geometry(GOOD.as_bytes(), 1, &opts).unwrap_err();
        assert!(
            matches!(
                e,
                SwcError::InvalidOption {
                    name: "min_radius",
                    ..
                }
            ),
            "{e}"
        );
    }
    assert!(matches!(
        compartmentalize(&[], 1, None),
        Err(SwcError::EmptyBranch)
    ));
    assert!(matches!(
        compartmentalize(&[[0.0, 0.0, 0.0, 1.0]], 0, None),
        Err(SwcError::ZeroNcomp)
    ));
}

#[test]
fn defaults_are_jaxleys() {
    let d = SwcOptions::default();
    assert_eq!(d.max_branch_len, None);
    assert_eq!(d.min_radius, None);
    assert!(d.assign_groups);
    assert!(d.ignore_swc_tracing_interruptions);
    assert_eq!(d.relevant_type_ids, None);
    // relevant_type_ids None means [1, 2, 3, 4].
    let text = std::fs::read(morph_dir().join("morph_ca1_n120.swc")).unwrap();
    let a = parse_swc_geometry(&text, 1, &d).unwrap();
    let explicit = SwcOptions {
        relevant_type_ids: Some(vec![1, 2, 3, 4]),
        ..Default::default()
    };
    assert_eq!(a, parse_swc_geometry(&text, 1, &explicit).unwrap());
    let other = SwcOptions {
        relevant_type_ids: Some(vec![3]),
        ..Default::default()
    };
    assert_ne!(a, parse_swc_geometry(&text, 1, &other).unwrap());
}

#[test]
fn format_variations_give_identical_results() {
    let base = parse(GOOD).unwrap();
    assert_eq!(base.branches.len(), 3);
    // Windows line endings, old Mac line endings, tabs, trailing comments, extra
    // columns (NEURON ignores them), leading blanks, integral floats as ids.
    let crlf = GOOD.replace('\n', "\r\n");
    let cr = GOOD.replace('\n', "\r");
    let tabs = GOOD.replace(' ', "\t");
    let decorated: String = GOOD
        .lines()
        .map(|l| {
            if l.starts_with('#') {
                format!("   {l}\n")
            } else {
                format!("  {l} 0.25 extra # comment\n")
            }
        })
        .collect();
    let float_ids = GOOD
        .replace("\n2 3 5", "\n2.0 3 5")
        .replace(" 2\n4", " 2e0\n4");
    for (name, text) in [
        ("crlf", crlf),
        ("cr", cr),
        ("tabs", tabs),
        ("decorated", decorated),
        ("float ids", float_ids),
    ] {
        assert_eq!(parse(&text).unwrap(), base, "{name}");
    }
}

/// Line order does not matter (Jaxley works on the graph), and neither does an id
/// offset (Jaxley needs a sample with id 1; we do not).
#[test]
fn shuffled_and_shifted_files_give_identical_results() {
    for stem in [
        "morph_ca1_n120",
        "morph_3_types_single_point_soma",
        "morph_interrupted_soma",
    ] {
        let text = std::fs::read_to_string(morph_dir().join(format!("{stem}.swc"))).unwrap();
        for ignore in [true, false] {
            let opts = SwcOptions {
                ignore_swc_tracing_interruptions: ignore,
                ..Default::default()
            };
            let base = parse_swc_geometry(text.as_bytes(), 2, &opts).unwrap();
            let mut lines: Vec<&str> = text.lines().collect();
            // Deterministic shuffle.
            let mut state = 0x2545_f491_4f6c_dd1du64;
            for k in (1..lines.len()).rev() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                lines.swap(k, (state % (k as u64 + 1)) as usize);
            }
            let shuffled = lines.join("\n");
            assert_eq!(
                parse_swc_geometry(shuffled.as_bytes(), 2, &opts).unwrap(),
                base,
                "{stem} shuffled"
            );
            let shifted: String = text
                .lines()
                .map(|l| {
                    let f: Vec<&str> = l.split_whitespace().collect();
                    if l.trim_start().starts_with('#') || f.len() < 7 {
                        return format!("{l}\n");
                    }
                    let id: i64 = f[0].parse().unwrap();
                    let p: i64 = f[6].parse().unwrap();
                    let p = if p == -1 { -1 } else { p + 100 };
                    format!(
                        "{} {} {} {} {} {} {p}\n",
                        id + 100,
                        f[1],
                        f[2],
                        f[3],
                        f[4],
                        f[5]
                    )
                })
                .collect();
            assert_eq!(
                parse_swc_geometry(shifted.as_bytes(), 2, &opts).unwrap(),
                base,
                "{stem} shifted"
            );
        }
    }
}

#[test]
fn groups_follow_jaxley_names() {
    let text = "1 1 0 0 0 1 -1\n2 0 1 0 0 1 1\n3 7 0 1 0 1 1\n4 2 0 0 1 1 1\n5 1 -1 0 0 1 1\n";
    let cell = parse(text).unwrap();
    let names: Vec<String> = cell.groups().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["axon", "custom7", "soma", "undefined"]);
    // Every branch is in exactly one group.
    let mut all: Vec<usize> = cell.groups().into_iter().flat_map(|(_, b)| b).collect();
    all.sort();
    assert_eq!(all, (0..cell.branches.len()).collect::<Vec<_>>());
    let no_groups = SwcOptions {
        assign_groups: false,
        ..Default::default()
    };
    let cell = parse_swc_geometry(text.as_bytes(), 1, &no_groups).unwrap();
    assert!(cell.groups().is_empty() && cell.comp_groups().is_empty());
}
