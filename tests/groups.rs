//! Groups: SWC types as views, `add_to_group`, group views and their restrictions.

mod swc_common;

use huxley::*;

fn swc_cell() -> Cell {
    let path = swc_common::morph_dir().join("morph_l5pc_with_axon.swc");
    read_swc(path, 2, &SwcOptions::default()).unwrap()
}

#[test]
fn swc_types_are_groups() {
    let mut cell = swc_cell();
    assert_eq!(cell.group_names(), ["apical", "axon", "basal", "soma"]);
    let apical = cell.group_comps("apical").unwrap();
    cell.group("apical").unwrap().insert(HH).unwrap();
    assert_eq!(cell.mechanism_comps_of("HH"), apical);
    // Every compartment is in exactly one SWC-type group.
    let mut all: Vec<usize> = cell
        .group_names()
        .iter()
        .flat_map(|g| cell.group_comps(g).unwrap())
        .collect();
    all.sort_unstable();
    assert_eq!(all, (0..cell.n_comps()).collect::<Vec<_>>());
    // Without assign_groups there are none.
    let path = swc_common::morph_dir().join("morph_minimal.swc");
    let opts = SwcOptions {
        assign_groups: false,
        ..Default::default()
    };
    assert!(read_swc(path, 1, &opts).unwrap().group_names().is_empty());
}

#[test]
fn group_views_share_trainables_and_narrow_views() {
    let mut cell = swc_cell();
    cell.insert(Leak).unwrap();
    cell.group("basal")
        .unwrap()
        .make_trainable("Leak_gLeak", None)
        .unwrap();
    let t = &cell.trainables()[0];
    assert_eq!(t.nodes.len(), 1, "one value for the whole group");
    assert_eq!(t.nodes[0].len(), cell.group_comps("basal").unwrap().len());
    // A group within a view: the view's compartments that are in the group.
    let soma_branch = cell.group_comps("soma").unwrap()[0] / 2;
    let v = cell.branch(soma_branch).unwrap().group("soma").unwrap();
    assert_eq!(v.comp_indices().len(), 2);
    assert_eq!(v.level(), Level::Group);
    let err = cell
        .branch(soma_branch)
        .unwrap()
        .group("apical")
        .unwrap_err();
    assert!(matches!(err, Error::EmptyView(_)), "{err}");
}

#[test]
fn add_to_group_and_combining_modules() {
    let mut branch = Branch::new(&Compartment::new(), 2).unwrap();
    branch.add_to_group("dend").unwrap();
    let soma = Branch::new(&Compartment::new(), 1).unwrap();
    let mut cell = Cell::from_branches(&[soma, branch.clone(), branch], &[-1, 0, 0]).unwrap();
    assert_eq!(cell.group_comps("dend").unwrap(), vec![1, 2, 3, 4]);
    cell.branch(0).unwrap().add_to_group("soma").unwrap();
    cell.branch(1)
        .unwrap()
        .comp(0)
        .unwrap()
        .add_to_group("soma")
        .unwrap();
    assert_eq!(cell.group_comps("soma").unwrap(), vec![0, 1]);
    assert_eq!(cell.group_names(), ["dend", "soma"]);
}

#[test]
fn unknown_and_invalid_group_names() {
    let mut cell = swc_cell();
    let err = cell.group("tuft").unwrap_err();
    assert_eq!(
        err,
        Error::UnknownGroup {
            name: "tuft".into(),
            known: "apical, axon, basal, soma".into()
        }
    );
    assert!(
        matches!(Cell::default().group("soma"), Err(Error::UnknownGroup { known, .. }) if known == "none")
    );
    assert_eq!(
        cell.branch(0).unwrap().add_to_group("").unwrap_err(),
        Error::InvalidGroupName(String::new())
    );
}

#[test]
fn group_and_mechanism_names_must_differ() {
    // A mechanism named like a group.
    let mut cell = swc_cell();
    let err = cell.insert(Leak.rename("soma")).unwrap_err();
    assert_eq!(err, Error::GroupMechanismClash("soma".into()));
    // A group named like a mechanism.
    cell.insert(HH).unwrap();
    let err = cell.branch(0).unwrap().add_to_group("HH").unwrap_err();
    assert_eq!(err, Error::GroupMechanismClash("HH".into()));
    // Combining modules where one has the group and another the mechanism.
    let mut a = Branch::new(&Compartment::new(), 1).unwrap();
    a.add_to_group("Leak").unwrap();
    let mut b = Branch::new(&Compartment::new(), 1).unwrap();
    b.insert(Leak).unwrap();
    let err = Cell::from_branches(&[a, b], &[-1, 0]).unwrap_err();
    assert_eq!(err, Error::GroupMechanismClash("Leak".into()));
}

/// Jaxley's `branch("all")`, `cell("all")`, `comp("all")`: one trainable value per branch, cell
/// or compartment, each controlling exactly that part's compartments.
#[test]
fn all_branches_cells_and_comps_share_per_part() -> Result<()> {
    let mut cell = Cell::new(&Branch::new(&Compartment::new(), 2)?, &[-1, 0, 0, 1])?;
    cell.insert(HH)?;
    cell.branch(2)?.set("HH_gNa", 0.3)?;
    cell.all_branches().make_trainable("HH_gNa", None)?;
    cell.all_comps().make_trainable("radius", Some(0.7))?;
    let p = cell.get_parameters();
    assert_eq!(p[0].values, vec![0.12, 0.12, 0.3, 0.12]);
    assert_eq!(p[1].values, vec![0.7; 8]);
    let t = &cell.trainables()[0];
    assert_eq!(
        t.nodes,
        vec![vec![0, 1], vec![2, 3], vec![4, 5], vec![6, 7]]
    );
    let cellb = cell.clone();
    let mut net = Network::new(&[cellb.clone(), cellb.clone(), cellb])?;
    net.delete_trainables();
    net.all_cells().branch(1)?.make_trainable("HH_gK", None)?;
    net.all_cells().make_trainable("HH_gLeak", None)?;
    let t = net.trainables();
    assert_eq!(t[0].nodes.len(), 3);
    assert_eq!(t[0].nodes[1], vec![12, 13]); // cell 1 starts at node 10 (8 comps, 2 bps)
    assert_eq!(t[1].nodes.len(), 3);
    assert_eq!(t[1].nodes[2].len(), 8);
    Ok(())
}
