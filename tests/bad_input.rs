//! Bad input gets a typed error naming what was wrong and where — never a panic or NaN traces.

use huxley::mechanisms::{Var, own};
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

fn three_cells() -> Network {
    let cell = Cell::new(&branch(), &[-1, 0]).unwrap();
    Network::new(&[cell.clone(), cell.clone(), cell]).unwrap()
}

#[test]
fn connecting_to_cells_branches_or_compartments_that_do_not_exist() {
    let mut net = three_cells();
    assert!(matches!(
        net.cell(3),
        Err(Error::IndexOutOfRange {
            what: "cell",
            index: 3,
            len: 3
        })
    ));
    assert!(matches!(
        net.cell(0).unwrap().branch(2),
        Err(Error::IndexOutOfRange { what: "branch", .. })
    ));
    assert!(matches!(
        net.cell(0).unwrap().branch(1).unwrap().comp(2),
        Err(Error::IndexOutOfRange {
            what: "compartment",
            ..
        })
    ));
    assert!(matches!(
        net.cells_at(&[0, 7]),
        Err(Error::IndexOutOfRange { what: "cell", .. })
    ));
    // A selection made on a bigger network does not fit this one.
    let mut bigger = Network::new(&vec![Cell::new(&branch(), &[-1, 0]).unwrap(); 5]).unwrap();
    let far = bigger.cell(4).unwrap().selection();
    let here = net.cell(0).unwrap().selection();
    assert!(matches!(
        connect(&mut net, &here, &far, IonotropicSynapse),
        Err(Error::IndexOutOfRange {
            what: "compartment",
            ..
        })
    ));
    assert_eq!(net.n_edges(), 0);
}

#[test]
fn empty_or_mismatched_selections() {
    let mut net = three_cells();
    assert!(matches!(net.cells_at(&[]), Err(Error::EmptyView(_))));
    assert!(matches!(Network::new(&[]), Err(Error::EmptyView(_))));
    let two = net.cell(0).unwrap().branch(0).unwrap().selection();
    let one = net
        .cell(1)
        .unwrap()
        .branch(0)
        .unwrap()
        .comp(0)
        .unwrap()
        .selection();
    assert!(matches!(
        connect(&mut net, &two, &one, IonotropicSynapse),
        Err(Error::LengthMismatch {
            expected: 2,
            got: 1,
            ..
        })
    ));
}

#[test]
fn connection_probability_outside_zero_one() {
    let mut net = three_cells();
    let all = net.all().selection();
    for p in [-0.1, 1.5, f64::NAN, f64::INFINITY] {
        let r = sparse_connect(&mut net, &all, &all, IonotropicSynapse, p, 0);
        assert!(
            matches!(&r, Err(Error::InvalidValue { name, .. }) if name == "p"),
            "p = {p}: {r:?}"
        );
    }
    assert_eq!(
        sparse_connect(&mut net, &all, &all, IonotropicSynapse, 0.0, 0),
        Ok(0)
    );
    assert_eq!(
        sparse_connect(&mut net, &all, &all, IonotropicSynapse, 1.0, 0),
        Ok(9)
    );
}

#[test]
fn connectivity_matrix_of_the_wrong_shape() {
    let mut net = three_cells();
    let all = net.all().selection();
    let two = net.cells_at(&[0, 1]).unwrap().selection();
    let square = vec![vec![true; 3]; 3];
    assert!(matches!(
        connectivity_matrix_connect(&mut net, &two, &all, TestSynapse, &square),
        Err(Error::ShapeMismatch {
            expected: (2, 3),
            got: (3, 3),
            ..
        })
    ));
    let ragged = vec![vec![true; 3], vec![true; 2], vec![true; 3]];
    assert!(matches!(
        connectivity_matrix_connect(&mut net, &all, &all, TestSynapse, &ragged),
        Err(Error::ShapeMismatch { got: (3, 2), .. })
    ));
    assert_eq!(net.n_edges(), 0);
}

#[test]
fn synapse_names_params_and_edges_are_checked() {
    let mut net = three_cells();
    let (a, b) = (
        net.cell(0).unwrap().selection(),
        net.cell(1).unwrap().selection(),
    );
    connect(&mut net, &a, &b, TestSynapse).unwrap(); // compartment by compartment: 4 edges
    assert_eq!(net.n_edges(), 4);
    // Another synapse under a name that is taken.
    assert!(matches!(
        connect(&mut net, &a, &b, IonotropicSynapse.rename("TestSynapse")),
        Err(Error::MechanismConflict(_))
    ));
    assert!(matches!(
        net.synapse("Nope"),
        Err(Error::UnknownName { .. })
    ));
    assert!(matches!(
        net.edge(4),
        Err(Error::IndexOutOfRange {
            what: "edge",
            index: 4,
            len: 4
        })
    ));
    assert!(matches!(
        net.set("TestSynapse_gC", f64::NAN),
        Err(Error::InvalidValue { .. })
    ));
    assert!(matches!(
        net.set("i_TestSynapse", 1.0),
        Err(Error::UnknownName { .. })
    ));
    // Synapse states are recorded on edges, not on compartments.
    assert!(matches!(
        net.cell(1).unwrap().record("TestSynapse_c"),
        Err(Error::UnknownName { .. })
    ));
    assert!(matches!(
        net.synapse("TestSynapse").unwrap().record("TestSynapse_gC"),
        Err(Error::UnknownName { .. })
    ));
    assert!(matches!(
        net.synapse("TestSynapse")
            .unwrap()
            .set_values("TestSynapse_gC", &[1.0, 2.0]),
        Err(Error::LengthMismatch { .. })
    ));
}

#[test]
fn diffusion_needs_a_known_state_a_positive_constant_and_an_implicit_tree_solver() {
    let mut cell = Cell::new(&branch(), &[-1, 0]).unwrap();
    assert!(matches!(
        cell.diffuse("CaCon_i"),
        Err(Error::UnknownName { .. })
    ));
    cell.insert(CaPump).unwrap();
    cell.diffuse("CaCon_i").unwrap();
    for d in [0.0, -1.0, f64::NAN] {
        assert!(matches!(
            cell.set("axial_diffusion_CaCon_i", d),
            Err(Error::InvalidValue { .. })
        ));
    }
    for (vs, s) in [
        (VoltageSolver::Hines, Solver::FwdEuler),
        (VoltageSolver::Hines, Solver::ExpEuler),
        (VoltageSolver::SparseLu, Solver::BwdEuler),
    ] {
        assert!(matches!(
            build_init_and_step_fn(&cell, vs, s),
            Err(Error::Unsupported(_))
        ));
    }
    // Cells with diffusion cannot be combined into a network.
    assert!(matches!(
        Network::new(&[cell.clone(), cell]),
        Err(Error::Unsupported(_))
    ));
}

/// A channel that declares its states independent while one gate's update reads the other.
#[derive(Clone)]
struct CoupledGates;

impl Mechanism<1, 2> for CoupledGates {
    const INDEPENDENT_STATES: bool = true;
    fn name(&self) -> &str {
        "CoupledGates"
    }
    fn params(&self) -> [Var; 1] {
        [own("g", 1e-3)]
    }
    fn states(&self) -> [Var; 2] {
        [own("a", 0.1), own("b", 0.5)]
    }
    fn update_states<T: Scalar>(&self, s: &mut [T; 2], _p: &[T; 1], v: T, dt: T) {
        let b = s[1];
        s[0] += dt * (b - s[0]) * (v + T::from(100.0)) * T::from(0.01);
        s[1] = b * (T::from(1.0) - dt * T::from(0.1));
    }
    fn compute_current<T: Scalar>(&self, s: &[T; 2], p: &[T; 1], v: T) -> T {
        p[0] * s[0] * s[1] * (v + T::from(80.0))
    }
}

#[test]
fn wrong_mechanism_declarations_are_reported() {
    let err = huxley::mechanisms::check_declarations(&CoupledGates).unwrap_err();
    assert!(
        matches!(&err, Error::WrongDeclaration { mechanism, what }
            if mechanism == "CoupledGates" && what.contains("state 0 depends on state 1")),
        "{err}"
    );
    assert!(huxley::mechanisms::check_declarations(&HH).is_ok());
}

/// A synapse with a `PRE_AFFINE` declaration, wrong in one of three ways or right (`BROKEN`):
/// 0, its coefficients are off by 1e-9 (for a synapse whose update does not use them); 1, they
/// read a parameter not listed; 2, the list names a parameter that does not exist; 3, right.
#[derive(Clone)]
struct Relax<const BROKEN: u8>;

impl<const BROKEN: u8> huxley::synapses::Synapse<2, 1> for Relax<BROKEN> {
    fn name(&self) -> &str {
        "Relax"
    }
    fn params(&self) -> [Var; 2] {
        [own("g", 1e-3), own("tau", 5.0)]
    }
    fn states(&self) -> [Var; 1] {
        [own("x", 0.0)]
    }
    fn update_states<T: Scalar>(&self, s: &mut [T; 1], p: &[T; 2], v_pre: T, _v_post: T, dt: T) {
        let [(a, b)] = self.pre_affine(p, v_pre, dt);
        s[0] = s[0] * a + b;
    }
    const PRE_AFFINE: bool = true;
    const PRE_AFFINE_PARAMS: &'static [usize] = if BROKEN == 2 { &[1, 2] } else { &[1] };
    fn pre_affine<T: Scalar>(&self, p: &[T; 2], v_pre: T, dt: T) -> [(T, T); 1] {
        let e = math::exp(-dt / p[1]);
        let target = T::from(1.0) / (T::from(1.0) + math::save_exp(-v_pre));
        match BROKEN {
            0 => [(e + T::from(1e-9), target * (T::from(1.0) - e))],
            1 => [(e, p[0] * target * (T::from(1.0) - e))],
            _ => [(e, target * (T::from(1.0) - e))],
        }
    }
    fn compute_current<T: Scalar>(&self, s: &[T; 1], p: &[T; 2], _v_pre: T, v_post: T) -> T {
        p[0] * s[0] * v_post
    }
}

#[test]
fn wrong_synapse_declarations_are_reported_when_connecting() {
    let net = || Network::new(&[Cell::default(), Cell::default()]).unwrap();
    let connect_with = |what: &dyn Fn(&mut Network) -> Result<()>| {
        let mut n = net();
        let err = what(&mut n).unwrap_err();
        assert_eq!(n.n_edges(), 0, "no edge is added");
        err
    };
    let pre_post = |n: &mut Network| {
        (
            n.cell(0).unwrap().selection(),
            n.cell(1).unwrap().selection(),
        )
    };
    let err = connect_with(&|n| {
        let (a, b) = pre_post(n);
        // The update computes with its own coefficients, the declaration differs by 1e-9.
        #[derive(Clone)]
        struct Off;
        impl huxley::synapses::Synapse<2, 1> for Off {
            fn name(&self) -> &str {
                "Off"
            }
            fn params(&self) -> [Var; 2] {
                Relax::<2>.params()
            }
            fn states(&self) -> [Var; 1] {
                Relax::<2>.states()
            }
            fn update_states<T: Scalar>(&self, s: &mut [T; 1], p: &[T; 2], v: T, w: T, dt: T) {
                Relax::<2>.update_states(s, p, v, w, dt)
            }
            const PRE_AFFINE: bool = true;
            const PRE_AFFINE_PARAMS: &'static [usize] = &[1];
            fn pre_affine<T: Scalar>(&self, p: &[T; 2], v_pre: T, dt: T) -> [(T, T); 1] {
                Relax::<0>.pre_affine(p, v_pre, dt)
            }
            fn compute_current<T: Scalar>(&self, s: &[T; 1], p: &[T; 2], v: T, w: T) -> T {
                Relax::<2>.compute_current(s, p, v, w)
            }
        }
        connect(n, &a, &b, Off)
    });
    assert!(
        matches!(&err, Error::WrongDeclaration { mechanism, what }
            if mechanism == "Off" && what.contains("s·a + b")),
        "{err}"
    );
    let err = connect_with(&|n| {
        let all = n.all().selection();
        fully_connect(n, &all, &all, Relax::<1>)
    });
    assert!(
        matches!(&err, Error::WrongDeclaration { what, .. } if what.contains("parameter `g`")),
        "{err}"
    );
    let err = connect_with(&|n| {
        let all = n.all().selection();
        sparse_connect(n, &all, &all, Relax::<2>, 1.0, 1).map(|_| ())
    });
    assert!(
        matches!(&err, Error::WrongDeclaration { what, .. } if what.contains("parameter 2")),
        "{err}"
    );
    // Correct declarations pass, the built-ins' included.
    assert!(huxley::synapses::check_pre_affine(&IonotropicSynapse).is_ok());
    assert!(huxley::synapses::check_pre_affine(&TestSynapse).is_ok());
    let mut n = net();
    let (a, b) = pre_post(&mut n);
    connect(&mut n, &a, &b, Relax::<3>).unwrap();
    connect(&mut n, &a, &b, IonotropicSynapse).unwrap();
    assert_eq!(n.n_edges(), 2);
}
