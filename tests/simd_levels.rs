//! The kernels are compiled for AVX-512, AVX2+FMA and the baseline and chosen at run time; a
//! machine runs only one of them unless told otherwise (`HUXLEY_NO_AVX512`, `HUXLEY_NO_SIMD`,
//! read once per process). This test runs the same simulation in child processes of itself
//! under each setting and checks that every instruction set gives the same traces: the same
//! operations in the same order (explicit fused multiply-adds, no reassociation), so bit for bit.

use huxley::mechanisms::driver::{SimdLevel, simd_level};
use huxley::*;
use std::process::{Command, Stdio};

const DT: f64 = 0.025;
/// Set in a child process: where it writes its traces.
const CHILD_OUT: &str = "HUXLEY_SIMD_TEST_OUT";

/// A small network that runs every kind of kernel loop: HH over whole cells (contiguous and
/// padded ranges), Pospischil channels and a leak on some branches (node lists), ionotropic
/// synapses (with coefficients per pre-synaptic node) and test synapses (edge by edge), and
/// tiles cut short at the ends of ranges.
fn model() -> Result<Network> {
    let mut cell = Cell::new(&Branch::new(&Compartment::new(), 3)?, &[-1, 0, 0, 1, 1])?;
    cell.branch(0)?.insert(HH)?;
    cell.branch(1)?.insert(Na)?.insert(K)?.insert(Leak)?;
    cell.branch(2)?.insert(HH)?.insert(Leak)?;
    cell.branch(3)?.insert(HH)?;
    cell.branch(4)?.insert(Leak)?;
    let mut hh = Cell::new(&Branch::new(&Compartment::new(), 5)?, &[-1, 0, 0])?;
    hh.insert(HH)?;
    let mut net = Network::new(&[cell.clone(), hh.clone(), cell, hh])?;
    // Every cell to every other: three edges per pre-synaptic node, so the ionotropic
    // synapses' update coefficients are computed per node (`Synapse::PRE_AFFINE`); the two test
    // synapses are updated edge by edge.
    let all = net.all().selection();
    fully_connect(&mut net, &all, &all, IonotropicSynapse)?;
    let pre = net.cells_at(&[2, 3])?.selection();
    let post = net.cells_at(&[0])?.selection();
    fully_connect(&mut net, &pre, &post, TestSynapse)?;
    net.set("IonotropicSynapse_gS", 0.02)?;
    net.set("TestSynapse_gC", 0.01)?;
    net.cell(0)?
        .branch(0)?
        .comp(0)?
        .stimulate(&step_current(0.5, 3.0, 0.3, DT, 15.0, 0.0));
    for c in 0..4 {
        net.cell(c)?.branch(0)?.comp(0)?.record("v")?;
    }
    net.cell(2)?.branch(1)?.comp(1)?.record("Na_m")?;
    net.cell(3)?.branch(2)?.loc(1.0)?.record("HH_n")?;
    Ok(net)
}

fn traces() -> Vec<f64> {
    let net = model().unwrap();
    let rec = integrate(
        &net,
        &IntegrateOptions {
            t_max: Some(15.0),
            delta_t: DT,
            parallelism: Parallelism::Serial,
            ..Default::default()
        },
    )
    .unwrap()
    .recordings;
    assert!(rec.row(1).max() > 0.0, "the synapses make cell 1 spike");
    rec.iter().copied().collect()
}

/// Runs this test in a child process with `var` set and returns its traces.
fn child_traces(var: &str, out: &std::path::Path) -> Vec<f64> {
    let status = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "every_instruction_set_gives_the_same_traces"])
        .env(var, "1")
        .env(CHILD_OUT, out)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "the child run with {var} failed");
    let bytes = std::fs::read(out).unwrap();
    bytes
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
        .collect()
}

#[test]
fn every_instruction_set_gives_the_same_traces() {
    let own = traces();
    if let Some(out) = std::env::var_os(CHILD_OUT) {
        // The child runs the kernels it was told to.
        let level = simd_level();
        if std::env::var_os("HUXLEY_NO_SIMD").is_some() {
            assert_eq!(level, SimdLevel::Baseline);
        }
        if std::env::var_os("HUXLEY_NO_AVX512").is_some() {
            assert_ne!(level, SimdLevel::Avx512);
        }
        let bytes: Vec<u8> = own.iter().flat_map(|x| x.to_le_bytes()).collect();
        std::fs::write(out, bytes).unwrap();
        return;
    }
    let dir = std::env::temp_dir().join(format!("huxley-simd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for var in ["HUXLEY_NO_AVX512", "HUXLEY_NO_SIMD"] {
        let other = child_traces(var, &dir.join(var));
        assert_eq!(other.len(), own.len());
        let worst = own
            .iter()
            .zip(&other)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(
            own.iter()
                .zip(&other)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "{var}: traces differ from this machine's default kernels by up to {worst:e}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}
