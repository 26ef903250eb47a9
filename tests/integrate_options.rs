//! `integrate`'s options: continuing from states, returning them, keeping every k-th step;
//! clamps; spike detection; trainable parameters.

use huxley::*;

fn cell() -> Result<Cell> {
    let mut cell = Cell::new(&Branch::new(&Compartment::new(), 3)?, &[-1, 0, 0])?;
    cell.insert(HH)?;
    cell.set("v", -40.0)?; // fires without a stimulus
    cell.branch(2)?.loc(1.0)?.record("v")?;
    cell.branch(0)?.comp(1)?.record("HH_n")?;
    Ok(cell)
}

#[test]
fn continuing_from_returned_states_equals_one_long_run() -> Result<()> {
    let cell = cell()?;
    let long = integrate(&cell, &IntegrateOptions::t_max(20.0))?.recordings;
    let opts = IntegrateOptions {
        t_max: Some(10.0),
        return_states: true,
        ..Default::default()
    };
    let first = integrate(&cell, &opts)?;
    let states = first.final_states.expect("asked for");
    let params = cell.get_parameters();
    let second = integrate_with(
        &cell,
        &IntegrateOptions::t_max(10.0),
        &params,
        None,
        Some(states),
    )?;
    // 20 // 0.025 + 1 = 800 steps; 10 // 0.025 + 1 = 400 steps, twice.
    assert_eq!(long.ncols(), 801);
    assert_eq!(
        first.recordings.ncols() + second.recordings.ncols() - 1,
        801
    );
    for r in 0..2 {
        for k in 0..=400 {
            assert_eq!(first.recordings[(r, k)], long[(r, k)]);
            assert_eq!(
                second.recordings[(r, k)],
                long[(r, 400 + k)],
                "row {r}, column {k} of the continuation"
            );
        }
    }
    assert!(
        long.row(0).max() > 20.0,
        "the cell spikes, so equality is not trivial"
    );
    Ok(())
}

#[test]
fn record_every_kth_step() -> Result<()> {
    let cell = cell()?;
    let all = integrate(&cell, &IntegrateOptions::t_max(5.0))?;
    let every = integrate(
        &cell,
        &IntegrateOptions {
            t_max: Some(5.0),
            record_every: 4,
            ..Default::default()
        },
    )?;
    assert_eq!(all.recordings.ncols(), 201); // 5 // 0.025 == 199, plus one step, plus t = 0
    assert_eq!(every.recordings.ncols(), 200 / 4 + 1);
    for (j, t) in every.times.iter().enumerate() {
        assert_eq!(*t, all.times[4 * j]);
        assert_eq!(every.recordings[(0, j)], all.recordings[(0, 4 * j)]);
    }
    Ok(())
}

#[test]
fn voltage_clamp_holds_and_other_clamps_act_before_the_solve() -> Result<()> {
    let mut cell = cell()?;
    cell.branch(1)?.comp(0)?.clamp("v", &[-20.0; 400])?;
    cell.branch(1)?.comp(0)?.record("v")?;
    cell.branch(0)?.comp(1)?.clamp("HH_n", &[0.5; 400])?;
    let out = integrate(&cell, &IntegrateOptions::t_max(5.0))?.recordings;
    assert!(
        out.row(2).iter().skip(1).all(|&v| v == -20.0),
        "v clamp after the solve"
    );
    assert!(out.row(1).iter().skip(1).all(|&n| n == 0.5), "state clamp");
    assert_eq!(out[(2, 0)], -40.0, "column 0 is the initial state");
    Ok(())
}

#[test]
fn spikes_of_a_recorded_trace() -> Result<()> {
    let mut comp = Compartment::new();
    comp.insert(HH)?;
    comp.record("v")?;
    comp.stimulate(&step_current(5.0, 40.0, 0.01, 0.025, 50.0, 0.0));
    let sim = integrate(&comp, &IntegrateOptions::default())?;
    let v: Vec<f64> = sim.recordings.row(0).iter().copied().collect();
    let times = spike_times(&v, 0.0, 0.025);
    assert_eq!(times.len(), spike_count(&v, 0.0));
    assert!(times.len() >= 3, "repetitive firing during the step");
    assert!(times[0] > 5.0 && times.iter().all(|&t| t < 46.0));
    for t in &times {
        // The interpolated crossing lies between the samples around it.
        let k = (t / 0.025).floor() as usize;
        assert!(v[k] < 0.0 && v[k + 1] >= 0.0);
    }
    Ok(())
}

#[test]
fn trainable_radius_changes_the_run_like_set_does() -> Result<()> {
    let mut a = Compartment::new();
    a.insert(Leak)?;
    a.record("v")?;
    a.stimulate(&step_current(0.0, 1.0, 0.05, 0.025, 2.0, 0.0));
    assert!(a.get_parameters().is_empty());
    let mut b = a.clone();
    b.set("radius", 2.0)?;
    a.make_trainable("radius", None)?;
    assert_eq!(
        a.get_parameters(),
        vec![ParamGroup {
            key: "radius".into(),
            values: vec![1.0]
        }]
    );
    let with_param = integrate_with(
        &a,
        &IntegrateOptions::default(),
        &[ParamGroup {
            key: "radius".into(),
            values: vec![2.0],
        }],
        None,
        None,
    )?;
    let with_set = integrate(&b, &IntegrateOptions::default())?;
    assert_eq!(with_param.recordings, with_set.recordings);
    Ok(())
}

#[test]
fn setting_all_params_recomputes_what_is_derived() -> Result<()> {
    let mut a = cell()?;
    a.branch(0)?
        .comp(0)?
        .stimulate(&step_current(0.0, 2.0, 0.2, 0.025, 3.0, 0.0));
    let mut b = a.clone();
    b.branch(1)?
        .set("axial_resistivity", 300.0)?
        .set("HH_gNa", 0.2)?;
    let run = |m: &Module, edit: bool| -> Result<Vec<f64>> {
        let (init_fn, step_fn) = build_init_and_step_fn(m, VoltageSolver::Hines, Solver::BwdEuler)?;
        let (mut s, mut p) = init_fn.init::<f64>(&[], None, None, 0.025)?;
        if edit {
            let mut ra = p.get("axial_resistivity")?.to_vec();
            let mut gna = p.get("HH_gNa")?.to_vec();
            for node in 3..6 {
                ra[node] = 300.0;
                gna[node] = 0.2;
            }
            p.set("axial_resistivity", &ra)?;
            p.set("HH_gNa", &gna)?;
            ra[4] = -1.0;
            assert!(matches!(
                p.set("axial_resistivity", &ra),
                Err(Error::InvalidValue { .. })
            ));
            assert!(matches!(
                p.set("HH_gNa", &gna[..3]),
                Err(Error::LengthMismatch { .. })
            ));
        }
        let ext = step_fn.externals().clone();
        for k in 0..100 {
            step_fn.step(&mut s, &p, ext.at(k), 0.025)?;
        }
        Ok(s.get("v")?.to_vec())
    };
    assert_eq!(run(&a, true)?, run(&b, false)?);
    assert_ne!(run(&a, false)?, run(&b, false)?);
    Ok(())
}
