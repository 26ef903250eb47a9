//! `set_ncomp` on cells built from compartments, against Jaxley
//! (tests/data/swc_traces_cell_set_ncomp.json, tools/reference/gen_swc_traces.py), and every
//! restriction as a typed error.

mod common;

use huxley::*;

fn cell() -> Cell {
    Cell::new(
        &Branch::new(&Compartment::new(), 4).unwrap(),
        &[-1, 0, 0, 1],
    )
    .unwrap()
}

/// The steps of gen_swc_traces.py's `cell_set_ncomp`.
#[test]
fn cell_set_ncomp_matches_jaxley() {
    let json = common::load("swc_traces_cell_set_ncomp.json");
    let mut cell = cell();
    cell.insert(HH).unwrap();
    cell.branch(1).unwrap().set("radius", 0.5).unwrap();
    cell.branch(2).unwrap().set("length", 20.0).unwrap();
    cell.branch(3).unwrap().set("capacitance", 2.0).unwrap();
    cell.branch(2)
        .unwrap()
        .comp(0)
        .unwrap()
        .set("v", -60.0)
        .unwrap();
    cell.branch(1).unwrap().add_to_group("oblique").unwrap();
    cell.branch(0).unwrap().set_ncomp(2, None).unwrap();
    cell.branch(1).unwrap().set_ncomp(6, None).unwrap();
    cell.branch(2).unwrap().set_ncomp(3, None).unwrap();
    cell.group("oblique").unwrap().set("HH_gNa", 0.2).unwrap();
    cell.set("axial_resistivity", 500.0).unwrap();

    let ncomp: Vec<usize> = common::vec_f64(&json["ncomp_per_branch"])
        .iter()
        .map(|&n| n as usize)
        .collect();
    assert_eq!(cell.ncomp_per_branch(), &ncomp[..]);
    let mut worst = 0.0f64;
    for (name, want) in json["columns"].as_object().unwrap() {
        let want = common::vec_f64(want);
        for (k, (&a, &b)) in cell.column(name).unwrap().iter().zip(&want).enumerate() {
            let d = (a - b).abs() / b.abs();
            assert!(d <= 1e-15, "{name} comp {k}: {a} vs Jaxley {b}");
            worst = worst.max(d);
        }
    }
    let oblique: Vec<usize> = common::vec_f64(&json["oblique"])
        .iter()
        .map(|&c| c as usize)
        .collect();
    assert_eq!(cell.group_comps("oblique").unwrap(), oblique);

    cell.record("v").unwrap();
    common::check_recordings(&cell, &json);
    let t_max = json["t_max"].as_f64().unwrap();
    let current = step_current(1.0, 3.0, 0.2, 0.025, t_max, 0.0);
    cell.branch(0)
        .unwrap()
        .loc(0.0)
        .unwrap()
        .stimulate(&current);
    let sim = integrate(&cell, &IntegrateOptions::t_max(t_max)).unwrap();
    let dv = common::assert_traces(&sim.recordings, &json, 1e-9, 0.0);
    println!("columns: max rel. deviation {worst:e}; traces: max |ΔV| = {dv:.2e} mV");
}

fn reason(result: Result<()>) -> SetNcompError {
    match result {
        Err(Error::SetNcomp { reason, .. }) => reason,
        other => panic!("expected a SetNcomp error, got {other:?}"),
    }
}

#[test]
fn not_with_stimuli_clamps_recordings_or_trainables() {
    let mut c = cell();
    c.branch(0).unwrap().comp(0).unwrap().stimulate(&[0.1; 10]);
    assert_eq!(
        reason(c.branch(1).unwrap().set_ncomp(2, None)),
        SetNcompError::Stimuli
    );
    c.delete_stimuli();
    c.branch(0)
        .unwrap()
        .comp(0)
        .unwrap()
        .clamp("v", &[-70.0; 10])
        .unwrap();
    assert_eq!(
        reason(c.branch(1).unwrap().set_ncomp(2, None)),
        SetNcompError::Clamps
    );
    c.delete_clamps();
    c.branch(3).unwrap().loc(1.0).unwrap().record("v").unwrap();
    assert_eq!(
        reason(c.branch(1).unwrap().set_ncomp(2, None)),
        SetNcompError::Recordings
    );
    c.delete_recordings();
    c.branch(2).unwrap().make_trainable("radius", None).unwrap();
    assert_eq!(
        reason(c.branch(1).unwrap().set_ncomp(2, None)),
        SetNcompError::Trainables
    );
    c.delete_trainables();
    c.branch(1).unwrap().set_ncomp(2, None).unwrap();
    assert_eq!(c.ncomp_per_branch(), &[4, 2, 4, 4]);
}

#[test]
fn only_on_one_whole_branch() {
    let mut c = cell();
    assert_eq!(reason(c.set_ncomp(2, None)), SetNcompError::NotOneBranch(4));
    assert_eq!(
        reason(c.branch(1).unwrap().comp(2).unwrap().set_ncomp(2, None)),
        SetNcompError::PartialBranch {
            in_view: 1,
            ncomp: 4
        }
    );
    // A branch module or a one-branch cell as a whole is fine.
    let mut b = Branch::new(&Compartment::new(), 3).unwrap();
    b.set_ncomp(5, None).unwrap();
    assert_eq!(b.n_comps(), 5);
    assert!((b.column("length").unwrap()[0] - 6.0).abs() < 1e-15);
    let err = b.set_ncomp(0, None).unwrap_err();
    assert!(
        matches!(err, Error::InvalidValue { ref name, .. } if name == "ncomp"),
        "{err}"
    );
}

#[test]
fn branch_must_be_homogeneous() {
    for (prop, value) in [
        ("radius", 2.0),
        ("length", 3.0),
        ("capacitance", 2.0),
        ("axial_resistivity", 100.0),
    ] {
        let mut c = cell();
        c.branch(2)
            .unwrap()
            .comp(1)
            .unwrap()
            .set(prop, value)
            .unwrap();
        let err = c.branch(2).unwrap().set_ncomp(2, None).unwrap_err();
        assert_eq!(
            err,
            Error::SetNcomp {
                branch: 2,
                reason: SetNcompError::Inhomogeneous(prop.into())
            }
        );
        assert!(err.to_string().contains(prop), "{err}");
        // Other branches are not affected.
        c.branch(1).unwrap().set_ncomp(2, None).unwrap();
    }
}

#[test]
fn mechanisms_and_groups_must_cover_the_branch() {
    let mut c = cell();
    c.branch(1).unwrap().comp(0).unwrap().insert(HH).unwrap();
    assert_eq!(
        reason(c.branch(1).unwrap().set_ncomp(2, None)),
        SetNcompError::MechanismInSomeComps("HH".into())
    );
    // A mechanism absent from the whole branch is fine (Jaxley refuses this too; see
    // docs/differences-from-jaxley.md).
    c.branch(2).unwrap().set_ncomp(2, None).unwrap();

    let mut c = cell();
    c.insert(Leak).unwrap();
    c.branch(1)
        .unwrap()
        .comp(3)
        .unwrap()
        .set("Leak_gLeak", 2e-4)
        .unwrap();
    assert_eq!(
        reason(c.branch(1).unwrap().set_ncomp(2, None)),
        SetNcompError::MechanismValuesDiffer("Leak_gLeak".into())
    );

    let mut c = cell();
    c.branch(3)
        .unwrap()
        .comp(0)
        .unwrap()
        .add_to_group("tuft")
        .unwrap();
    assert_eq!(
        reason(c.branch(3).unwrap().set_ncomp(2, None)),
        SetNcompError::GroupInSomeComps("tuft".into())
    );
}

#[test]
fn voltage_is_averaged_and_states_kept() {
    let mut c = cell();
    c.insert(HH).unwrap();
    c.branch(1)
        .unwrap()
        .comp(0)
        .unwrap()
        .set("v", -60.0)
        .unwrap();
    c.branch(1).unwrap().set_ncomp(3, None).unwrap();
    let v = c.branch(1).unwrap().get("v").unwrap();
    assert_eq!(v, vec![-67.5; 3]);
    assert_eq!(c.branch(1).unwrap().get("HH_m").unwrap(), vec![0.2; 3]);
    assert_eq!(c.n_nodes(), 4 + 3 + 4 + 4 + 2);
}
