//! Times the forward run and the gradient (adjoint, all states and checkpointed) of the
//! benchmark model of `benches/grad.rs`: an HH binary-tree cell of 1000 compartments, 250
//! trainable values, 800 steps. `cargo run --release --example grad_profile [-- --serial]
//! [--channels [--no-pumps]]` (`--channels`: eight Pospischil mechanisms instead of HH;
//! `--no-pumps`: without CaPump and CaNernstReversal). Environment: `REPS` runs of each (best
//! shown), `ONLY=All|Auto` one mode, `T_MAX` the simulated time in ms (default 20), `VERBOSE`
//! every run's time.
#[path = "../benches/common/grad_model.rs"]
mod grad_model;

use grad_model::cell_with;
use huxley::grad::{Checkpointing, GradOptions, value_and_grad};
use huxley::*;
use std::time::Instant;

fn main() -> Result<()> {
    let flag = |f: &str| std::env::args().any(|a| a == f);
    let cell = cell_with(flag("--channels"), !flag("--no-pumps"))?;
    let serial = std::env::args().any(|a| a == "--serial");
    let opts = IntegrateOptions {
        t_max: Some(
            std::env::var("T_MAX")
                .map(|s| s.parse().unwrap())
                .unwrap_or(20.0),
        ),
        parallelism: if serial {
            Parallelism::Serial
        } else {
            Parallelism::Auto
        },
        ..Default::default()
    };
    let params = cell.get_parameters();
    let loss = grad_model::loss(
        integrate_with(&cell, &opts, &params, None, None)?
            .recordings
            .shape(),
    );
    // `--jaxley tools/reference/jaxley_grad_timing.json`: compare with Jaxley's gradient.
    let args: Vec<String> = std::env::args().collect();
    let jaxley: Option<Vec<f64>> = args.iter().position(|a| a == "--jaxley").map(|i| {
        let text = std::fs::read_to_string(&args[i + 1]).expect("readable");
        let v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        let g = &v["results"][0]["grads"];
        ["HH_gNa", "radius"]
            .iter()
            .enumerate()
            .flat_map(|(i, k)| {
                g[i][k]
                    .as_array()
                    .expect("array")
                    .iter()
                    .map(|x| x.as_f64().expect("number"))
            })
            .collect()
    });
    // Best of `REPS` runs (default 3) of each, so that a noisy machine shows the real costs.
    let reps: usize = std::env::var("REPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let (mut fwd, mut all, mut auto) = (f64::INFINITY, f64::INFINITY, f64::INFINITY);
    for _ in 0..reps {
        let t = Instant::now();
        integrate_with(&cell, &opts, &params, None, None)?;
        fwd = fwd.min(t.elapsed().as_secs_f64() * 1e3);
        for cp in [Checkpointing::All, Checkpointing::Auto] {
            // `ONLY=All` or `ONLY=Auto`: time one mode (for profilers).
            if std::env::var("ONLY").is_ok_and(|o| o != format!("{cp:?}")) {
                continue;
            }
            let t = Instant::now();
            let g = value_and_grad(
                &cell,
                &opts,
                &params,
                None,
                &loss,
                &GradOptions { checkpointing: cp },
            )?;
            let ms = t.elapsed().as_secs_f64() * 1e3;
            if std::env::var_os("VERBOSE").is_some() {
                eprintln!("  {cp:?} {ms:.1} ms");
            }
            if cp == Checkpointing::All {
                all = all.min(ms);
            } else {
                auto = auto.min(ms);
            }
            if let Some(want) = &jaxley {
                let got: Vec<f64> = g.params.iter().map(|p| p.values[0]).collect();
                let scale = want.iter().fold(0.0f64, |m, x| m.max(x.abs()));
                let d = got
                    .iter()
                    .zip(want)
                    .map(|(a, b)| (a - b).abs() / b.abs().max(1e-3 * scale))
                    .fold(0.0, f64::max);
                println!("  {cp:?} vs Jaxley's jax.grad: max rel diff {d:.2e}");
            }
        }
    }
    println!("forward {fwd:.1} ms (best of {reps})");
    println!("gradient All: {all:.1} ms = {:.1}x forward", all / fwd);
    println!("gradient Auto: {auto:.1} ms = {:.1}x forward", auto / fwd);
    Ok(())
}
