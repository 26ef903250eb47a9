//! Bad input gets a typed error naming what was wrong and where — never a panic or NaN traces.

use huxley::*;

fn branch() -> Branch {
    Branch::new(&Compartment::new(), 2).unwrap()
}

#[test]
fn parents_first_not_root() {
    assert!(
        matches!(Cell::new(&branch(), &[0, 0]), Err(Error::InvalidParents(m)) if m.contains("root"))
    );
}

#[test]
fn parents_not_before_child() {
    assert!(
        matches!(Cell::new(&branch(), &[-1, 1, 0]), Err(Error::InvalidParents(m)) if m.contains("branch 1"))
    );
}

#[test]
fn parents_out_of_range() {
    assert!(
        matches!(Cell::new(&branch(), &[-1, 7]), Err(Error::InvalidParents(m)) if m.contains("parent 7"))
    );
}

#[test]
fn parents_second_root_or_empty() {
    assert!(matches!(
        Cell::new(&branch(), &[-1, -1]),
        Err(Error::InvalidParents(_))
    ));
    assert!(matches!(
        Cell::new(&branch(), &[]),
        Err(Error::InvalidParents(_))
    ));
}

#[test]
fn branch_without_compartments() {
    assert!(
        matches!(Branch::new(&Compartment::new(), 0), Err(Error::InvalidValue { name, .. }) if name == "ncomp")
    );
}

#[test]
fn radius_and_length_must_be_positive() {
    let mut cell = Cell::new(&branch(), &[-1, 0]).unwrap();
    for (name, value) in [
        ("radius", 0.0),
        ("radius", -1.0),
        ("radius", f64::NAN),
        ("length", 0.0),
        ("length", f64::NAN),
    ] {
        let err = cell
            .branch(1)
            .unwrap()
            .comp(1)
            .unwrap()
            .set(name, value)
            .expect_err("rejected");
        assert!(
            matches!(&err, Error::InvalidValue { name: n, location, .. } if n == name && location == "compartment 3"),
            "{err}"
        );
    }
    assert_eq!(
        cell.column("radius").unwrap(),
        &[1.0; 4],
        "nothing was changed"
    );
}

#[test]
fn resistivity_and_capacitance_must_be_positive() {
    let mut comp = Compartment::new();
    assert!(matches!(
        comp.set("axial_resistivity", 0.0),
        Err(Error::InvalidValue { .. })
    ));
    assert!(matches!(
        comp.set("capacitance", -1.0),
        Err(Error::InvalidValue { .. })
    ));
}

#[test]
fn radius_from_data_set_is_checked_at_init() {
    let mut comp = Compartment::new();
    comp.record("v").unwrap();
    let ps = comp.data_set("radius", -2.0, None).unwrap();
    let r = integrate_with(&comp, &IntegrateOptions::t_max(1.0), &[], Some(&ps), None);
    assert!(matches!(r, Err(Error::InvalidValue { name, .. }) if name == "radius"));
}

#[test]
fn delta_t_must_be_positive() {
    let mut comp = Compartment::new();
    comp.record("v").unwrap();
    for dt in [0.0, -0.1, f64::NAN] {
        let opts = IntegrateOptions {
            delta_t: dt,
            t_max: Some(1.0),
            ..Default::default()
        };
        assert!(
            matches!(integrate(&comp, &opts), Err(Error::InvalidValue { name, .. }) if name == "delta_t")
        );
    }
    let (init_fn, step_fn) =
        build_init_and_step_fn(&comp, VoltageSolver::Hines, Solver::BwdEuler).unwrap();
    let (mut s, p) = init_fn.init::<f64>(&[], None, None, 0.025).unwrap();
    assert!(matches!(
        step_fn.step(&mut s, &p, Externals::none().at(0), 0.0),
        Err(Error::InvalidValue { .. })
    ));
}

#[test]
fn t_max_must_not_be_negative() {
    let mut comp = Compartment::new();
    comp.record("v").unwrap();
    assert!(
        matches!(integrate(&comp, &IntegrateOptions::t_max(-1.0)), Err(Error::InvalidValue { name, .. }) if name == "t_max")
    );
}

#[test]
fn t_max_needed_without_inputs() {
    let mut comp = Compartment::new();
    comp.record("v").unwrap();
    assert!(matches!(
        integrate(&comp, &IntegrateOptions::default()),
        Err(Error::MissingTmax)
    ));
}

#[test]
fn unknown_name_in_set() {
    let mut comp = Compartment::new();
    let err = comp.set("HH_gNa", 0.1).err().unwrap();
    assert!(matches!(&err, Error::UnknownName { name, .. } if name == "HH_gNa"));
    assert!(
        err.to_string().contains("radius"),
        "the message lists what exists: {err}"
    );
}

#[test]
fn set_where_not_defined() {
    let mut cell = Cell::new(&branch(), &[-1, 0]).unwrap();
    cell.branch(0).unwrap().insert(HH).unwrap();
    assert!(matches!(
        cell.branch(1).unwrap().set("HH_gNa", 0.1),
        Err(Error::EmptyView(_))
    ));
}

#[test]
fn unknown_name_in_record() {
    let mut comp = Compartment::new();
    assert!(matches!(comp.record("HH_m"), Err(Error::UnknownName { name, .. }) if name == "HH_m"));
    let mut cell = Cell::new(&branch(), &[-1, 0]).unwrap();
    cell.branch(0).unwrap().insert(HH).unwrap();
    let err = cell.branch(1).unwrap().record("HH_m").err().unwrap();
    assert!(err.to_string().contains("compartment 2"), "{err}");
}

#[test]
fn nothing_recorded() {
    let comp = Compartment::new();
    assert!(matches!(
        integrate(&comp, &IntegrateOptions::t_max(1.0)),
        Err(Error::NoRecordings)
    ));
}

#[test]
fn clamp_shorter_than_the_run() {
    let mut comp = Compartment::new();
    comp.record("v").unwrap();
    comp.clamp("v", &[-60.0; 10]).unwrap();
    let r = integrate(&comp, &IntegrateOptions::t_max(1.0));
    assert!(matches!(r, Err(Error::ClampTooShort { state, len: 10, needed: 40 }) if state == "v"));
}

#[test]
fn view_indices_out_of_range() {
    let mut cell = Cell::new(&branch(), &[-1, 0]).unwrap();
    assert!(matches!(
        cell.branch(2),
        Err(Error::IndexOutOfRange {
            what: "branch",
            index: 2,
            len: 2
        })
    ));
    assert!(matches!(
        cell.branch(0).unwrap().comp(5),
        Err(Error::IndexOutOfRange {
            what: "compartment",
            ..
        })
    ));
    assert!(matches!(
        cell.cell(1),
        Err(Error::IndexOutOfRange { what: "cell", .. })
    ));
    assert!(matches!(cell.loc(1.5), Err(Error::InvalidValue { .. })));
}

#[test]
fn unstable_forward_euler_reports_the_first_bad_step_and_node() {
    // A long cable of short compartments: forward Euler is unstable at this time step.
    let mut comp = Compartment::new();
    comp.set("length", 0.5).unwrap();
    let mut cell = Cell::new(&Branch::new(&comp, 20).unwrap(), &[-1]).unwrap();
    cell.insert(Leak).unwrap();
    cell.comp(0)
        .unwrap()
        .stimulate(&step_current(0.0, 1.0, 0.1, 0.025, 500.0, 0.0));
    cell.comp(19).unwrap().record("v").unwrap();
    let opts = IntegrateOptions {
        t_max: Some(500.0),
        solver: Solver::FwdEuler,
        ..Default::default()
    };
    match integrate(&cell, &opts) {
        Err(Error::NonFinite {
            state, step, node, ..
        }) => {
            assert_eq!(state, "v");
            assert!(step > 1 && step < 20_000, "step {step}");
            assert!(node < 20);
        }
        other => panic!("expected a non-finite error, got {other:?}"),
    }
}

#[test]
fn mechanism_name_conflict() {
    let mut comp = Compartment::new();
    comp.insert(Leak.rename("HH")).unwrap();
    assert!(matches!(comp.insert(HH), Err(Error::MechanismConflict(n)) if n == "HH"));
}

#[test]
fn states_of_one_model_used_with_another() {
    let a = Compartment::new();
    let mut b = Compartment::new();
    b.insert(HH).unwrap();
    let (init_a, _) = build_init_and_step_fn(&a, VoltageSolver::Hines, Solver::BwdEuler).unwrap();
    let (init_b, step_b) =
        build_init_and_step_fn(&b, VoltageSolver::Hines, Solver::BwdEuler).unwrap();
    let (mut sa, _) = init_a.init::<f64>(&[], None, None, 0.025).unwrap();
    let (_, pb) = init_b.init::<f64>(&[], None, None, 0.025).unwrap();
    assert!(matches!(
        step_b.step(&mut sa, &pb, Externals::none().at(0), 0.025),
        Err(Error::LayoutMismatch(_))
    ));
}

#[test]
fn wrong_number_of_trainable_values() {
    let mut comp = Compartment::new();
    comp.make_trainable("radius", None).unwrap();
    comp.record("v").unwrap();
    let r = integrate_with::<f64>(&comp, &IntegrateOptions::t_max(1.0), &[], None, None);
    assert!(matches!(r, Err(Error::LengthMismatch { .. })));
}

/// SWC input: every broken file is an `Error::Swc` that names the line (and the file).
#[test]
fn swc_errors_name_the_line() {
    use huxley::swc::SwcError;
    let opts = SwcOptions::default();
    let line_of = |text: &str| match parse_swc(text.as_bytes(), 1, &opts) {
        Err(Error::Swc(e)) => (e.line(), e.to_string()),
        other => panic!("expected an SWC error, got {other:?}"),
    };
    let head = "# comment\n1 1 0 0 0 5 -1\n2 3 5 0 0 1 1\n";
    for (tail, line, words) in [
        ("3 3 10 0 0\n", 4, "7 fields"),            // malformed line
        ("3 3 10 0 zero 1 2\n", 4, "field `z`"),    // not a number
        ("3 3 10 0 0 1 9\n", 4, "parent id 9"),     // parent does not exist
        ("2 3 10 0 0 1 1\n", 4, "already defined"), // duplicate sample id
        ("3 3 10 0 0 0 2\n", 4, "not positive"),    // zero radius
        ("3 3 10 0 0 -1 2\n", 4, "not positive"),   // negative radius
        ("3 1 10 0 0 1 -1\n", 4, "second root"),    // two roots
    ] {
        let (l, msg) = line_of(&format!("{head}{tail}"));
        assert_eq!(l, Some(line), "{tail}: {msg}");
        assert!(
            msg.contains(&format!("line {line}")) && msg.contains(words),
            "{msg}"
        );
    }
    // A cycle: 2 -> 3 -> 2 (and no root).
    let (l, msg) = line_of("2 3 5 0 0 1 3\n3 3 10 0 0 1 2\n");
    assert!(l.is_some() && msg.contains("cycle"), "{msg}");
    // With min_radius, zero radii are accepted.
    let zero = format!("{head}3 3 10 0 0 0 2\n");
    let min = SwcOptions {
        min_radius: Some(0.5),
        ..Default::default()
    };
    assert!(parse_swc(zero.as_bytes(), 1, &min).is_ok());
    // A missing file names the path.
    match read_swc("/no/such/dir/cell.swc", 1, &opts) {
        Err(Error::Swc(e @ SwcError::Io { .. })) => {
            assert!(e.to_string().contains("/no/such/dir/cell.swc"), "{e}")
        }
        other => panic!("expected an I/O error, got {other:?}"),
    }
}
