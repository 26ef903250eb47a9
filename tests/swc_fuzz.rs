//! The reader never panics: random bytes, random mutations of real files and random
//! (often broken) trees with random options all give `Ok` or `Err`. Seeded, so
//! every run checks the same cases; a failure prints the input.

mod swc_common;

use std::panic::{AssertUnwindSafe, catch_unwind};

use huxley::swc::{SwcMorphology, SwcOptions, compartmentalize, parse_swc_geometry};
use swc_common::morph_dir;

/// SplitMix64: small, seedable, good enough for test inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 * 1.0 < p
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
}

fn random_options(rng: &mut Rng) -> (usize, SwcOptions) {
    let ncomp = *rng.pick(&[0, 1, 1, 2, 3, 4]);
    let opts = SwcOptions {
        max_branch_len: *rng.pick(&[None, None, Some(0.5), Some(5.0), Some(100.0), Some(-1.0)]),
        min_radius: *rng.pick(&[None, None, Some(0.0), Some(0.3), Some(2.0)]),
        assign_groups: rng.chance(0.8),
        ignore_swc_tracing_interruptions: rng.chance(0.6),
        relevant_type_ids: rng
            .pick(&[
                None,
                None,
                Some(vec![]),
                Some(vec![1]),
                Some(vec![1, 3, 0, 7]),
            ])
            .clone(),
    };
    (ncomp, opts)
}

/// Checks the invariants of a successful read.
fn check_ok(m: &SwcMorphology, ncomp: usize, opts: &SwcOptions) {
    assert!(!m.branches.is_empty());
    assert_eq!(m.parents.len(), m.branches.len());
    assert_eq!(m.parents[0], -1);
    for (b, &p) in m.parents.iter().enumerate().skip(1) {
        assert!(p >= 0 && (p as usize) < b, "parent {p} of branch {b}");
    }
    for br in &m.branches {
        assert_eq!(br.comps.len(), ncomp);
        assert!(!br.xyzr.is_empty());
        for c in &br.comps {
            assert!(c.length > 0.0, "length {}", c.length);
            if opts.min_radius.is_none() {
                // All sample radii are positive then.
                assert!(c.radius > 0.0 && c.area >= 0.0 && c.volume >= 0.0, "{c:?}");
            }
        }
        // Re-splitting the stored points works (as set_ncomp would).
        let _ = compartmentalize(&br.xyzr, ncomp.max(1), Some(0.1));
    }
    let n_grouped: usize = m.groups().iter().map(|(_, b)| b.len()).sum();
    assert!(n_grouped == m.branches.len() || !m.assign_groups);
    let _ = m.n_branchpoints();
}

/// Reads `input`; panics (with the input) if the reader panicked. Returns whether
/// the read succeeded.
fn run(case: &str, input: &[u8], ncomp: usize, opts: &SwcOptions) -> bool {
    let result = catch_unwind(AssertUnwindSafe(|| {
        match parse_swc_geometry(input, ncomp, opts) {
            Ok(m) => {
                check_ok(&m, ncomp, opts);
                true
            }
            Err(e) => {
                let _ = e.to_string();
                false
            }
        }
    }));
    match result {
        Ok(ok) => ok,
        Err(_) => panic!(
            "{case}: panicked with ncomp {ncomp}, {opts:?}, input:\n{}",
            String::from_utf8_lossy(input)
        ),
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(0x5eed_0001);
    let alphabet = b"0123456789012345678901234567890123456789    \t\n\n\n\r-.-.#eE+xn";
    for case in 0..2000 {
        let len = rng.below(160);
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                if rng.chance(0.05) {
                    rng.next() as u8
                } else {
                    *rng.pick(alphabet)
                }
            })
            .collect();
        let (ncomp, opts) = random_options(&mut rng);
        run(&format!("random bytes #{case}"), &bytes, ncomp, &opts);
    }
}

fn mutate(rng: &mut Rng, text: &[u8]) -> Vec<u8> {
    let mut lines: Vec<Vec<u8>> = text.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
    for _ in 0..1 + rng.below(4) {
        if lines.is_empty() {
            break;
        }
        let k = rng.below(lines.len());
        match rng.below(9) {
            0 => {
                lines.remove(k);
            }
            1 => {
                let l = lines[k].clone();
                lines.insert(rng.below(lines.len() + 1), l);
            }
            2 => {
                let j = rng.below(lines.len());
                lines.swap(k, j);
            }
            3 if !lines[k].is_empty() => {
                // Flip a byte.
                let p = rng.below(lines[k].len());
                lines[k][p] = rng.next() as u8;
            }
            4 if !lines[k].is_empty() => {
                // Truncate the line.
                let p = rng.below(lines[k].len());
                lines[k].truncate(p);
            }
            _ => {
                // Replace one field by another number: ids, types, parents, radii.
                let line = String::from_utf8_lossy(&lines[k]).into_owned();
                let mut fields: Vec<String> = line.split_whitespace().map(str::to_string).collect();
                if !fields.is_empty() {
                    let f = rng.below(fields.len());
                    let choices = [
                        "-1", "0", "1", "2", "3", "-2", "7", "0.0", "-0.5", "1e-9", "99",
                    ];
                    fields[f] = if rng.chance(0.5) {
                        rng.pick(&choices).to_string()
                    } else {
                        (rng.below(40) as i64 - 2).to_string()
                    };
                    lines[k] = fields.join(" ").into_bytes();
                }
            }
        }
    }
    lines.join(&b'\n')
}

#[test]
fn mutated_files_never_panic() {
    let mut rng = Rng(0x5eed_0002);
    let mut sources = Vec::new();
    for stem in [
        "morph_3_types",
        "morph_3_types_single_point_soma",
        "morph_interrupted_soma",
        "morph_minimal",
        "morph_multiple_roots",
        "morph_non_somatic_branchpoint",
        "morph_soma_both_ends",
        "morph_somatic_branchpoint",
        "morph_variable_radiuses_multi_branch",
    ] {
        sources.push(std::fs::read(morph_dir().join(format!("{stem}.swc"))).unwrap());
    }
    // The first 120 lines of a real cell (its soma and a few dendrites).
    let ca1 = std::fs::read(morph_dir().join("morph_ca1_n120_250.swc")).unwrap();
    let head: Vec<&[u8]> = ca1.split(|&b| b == b'\n').take(120).collect();
    sources.push(head.join(&b'\n'));
    let mut ok = 0;
    for case in 0..3000 {
        let src = rng.pick(&sources).clone();
        let input = mutate(&mut rng, &src);
        let (ncomp, opts) = random_options(&mut rng);
        ok += usize::from(run(&format!("mutation #{case}"), &input, ncomp, &opts));
    }
    println!("mutated files: {ok} of 3000 read");
    assert!(ok > 300, "too few mutated files were read ({ok})");
}

#[test]
fn random_trees_never_panic() {
    let mut rng = Rng(0x5eed_0003);
    let mut ok = 0;
    for case in 0..1500 {
        let n = 1 + rng.below(30);
        let mut text = String::new();
        for k in 1..=n {
            // Mostly valid parents; sometimes forward, self, missing or extra roots.
            let parent: i64 = if k == 1 {
                -1
            } else if rng.chance(0.9) {
                1 + rng.below(k - 1) as i64
            } else {
                rng.below(n + 3) as i64 - 1
            };
            let id = if rng.chance(0.97) {
                k as i64
            } else {
                rng.below(n + 2) as i64
            };
            let t = *rng.pick(&[1, 1, 2, 3, 3, 4, 0, 5]);
            let c = |rng: &mut Rng| {
                if rng.chance(0.1) {
                    0.0
                } else {
                    (rng.below(2000) as f64 - 1000.0) / 100.0
                }
            };
            let (x, y, z) = (c(&mut rng), c(&mut rng), c(&mut rng));
            let r = if rng.chance(0.05) {
                0.0
            } else {
                0.1 + rng.below(300) as f64 / 100.0
            };
            text.push_str(&format!("{id} {t} {x} {y} {z} {r} {parent}\n"));
        }
        let (ncomp, opts) = random_options(&mut rng);
        ok += usize::from(run(
            &format!("random tree #{case}"),
            text.as_bytes(),
            ncomp,
            &opts,
        ));
    }
    println!("random trees: {ok} of 1500 read");
    assert!(ok > 150, "too few random trees were read ({ok})");
}

#[test]
fn compartmentalize_never_panics() {
    let mut rng = Rng(0x5eed_0004);
    for case in 0..2000 {
        let n = rng.below(12);
        let pts: Vec<[f64; 4]> = (0..n)
            .map(|_| {
                let mut v = [0.0; 4];
                for x in &mut v {
                    *x = match rng.below(10) {
                        0 => 0.0,
                        1 => f64::NAN,
                        2 => 1e300,
                        _ => rng.below(100) as f64 / 10.0 - 3.0,
                    };
                }
                v
            })
            .collect();
        let ncomp = rng.below(6);
        let min_radius = *rng.pick(&[None, Some(0.0), Some(0.5)]);
        let r = catch_unwind(|| compartmentalize(&pts, ncomp, min_radius));
        assert!(
            r.is_ok(),
            "case {case}: {pts:?} ncomp {ncomp} {min_radius:?}"
        );
    }
}

/// The fuzz inputs are not all rejected: a good share reads successfully.
#[test]
fn fuzz_cases_reach_the_geometry_code() {
    let mut rng = Rng(0x5eed_0003);
    let mut ok = 0;
    for _ in 0..300 {
        let n = 2 + rng.below(20);
        let text: String = (1..=n)
            .map(|k| {
                let p = if k == 1 {
                    -1
                } else {
                    1 + rng.below(k - 1) as i64
                };
                format!(
                    "{k} {} {} {} 0 1 {p}\n",
                    1 + rng.below(4),
                    rng.below(50),
                    rng.below(50)
                )
            })
            .collect();
        if parse_swc_geometry(text.as_bytes(), 2, &SwcOptions::default()).is_ok() {
            ok += 1;
        }
    }
    assert!(ok > 250, "only {ok} of 300 valid trees were read");
}
