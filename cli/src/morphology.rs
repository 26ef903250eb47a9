//! The built-in morphology of `huxley simulate`: a small pyramidal-like cell made by code.

use huxley::{Branch, Cell, Compartment};

/// One branch of the built-in cell.
struct Spec {
    parent: i64,
    length: f64,
    radius: f64,
    group: &'static str,
}

const fn spec(parent: i64, length: f64, radius: f64, group: &'static str) -> Spec {
    Spec {
        parent,
        length,
        radius,
        group,
    }
}

/// Soma, an apical trunk with two obliques and a two-branch tuft, two basal trees of three
/// branches, and an axon (initial segment and shaft). Lengths and radii in µm.
const CELL: [Spec; 16] = [
    spec(-1, 20.0, 10.0, "soma"),
    spec(0, 120.0, 2.0, "apical"), // trunk
    spec(1, 120.0, 1.5, "apical"), // trunk
    spec(1, 100.0, 0.6, "apical"), // oblique
    spec(2, 120.0, 1.2, "apical"), // trunk
    spec(2, 100.0, 0.6, "apical"), // oblique
    spec(4, 150.0, 0.8, "apical"), // tuft
    spec(4, 150.0, 0.8, "apical"), // tuft
    spec(0, 60.0, 1.0, "basal"),
    spec(8, 100.0, 0.6, "basal"),
    spec(8, 100.0, 0.6, "basal"),
    spec(0, 60.0, 1.0, "basal"),
    spec(11, 100.0, 0.6, "basal"),
    spec(11, 100.0, 0.6, "basal"),
    spec(0, 30.0, 0.8, "axon"), // initial segment
    spec(14, 400.0, 0.5, "axon"),
];

/// The built-in cell with `ncomp` compartments per branch (the soma has one), groups `soma`,
/// `apical`, `basal` and `axon`, and huxley's default membrane and cable properties.
pub fn default_cell(ncomp: usize) -> huxley::Result<Cell> {
    let mut branches = Vec::with_capacity(CELL.len());
    for s in &CELL {
        let n = if s.group == "soma" { 1 } else { ncomp };
        let mut branch = Branch::new(&Compartment::new(), n)?;
        branch.set("radius", s.radius)?;
        branch.set("length", s.length / n as f64)?;
        branch.add_to_group(s.group)?;
        branches.push(branch);
    }
    let parents: Vec<i64> = CELL.iter().map(|s| s.parent).collect();
    Cell::from_branches(&branches, &parents)
}

#[cfg(test)]
mod tests {
    #[test]
    fn built_in_cell() {
        let cell = super::default_cell(4).unwrap();
        assert_eq!(cell.n_branches(), 16);
        assert_eq!(cell.n_comps(), 1 + 15 * 4);
        assert_eq!(cell.group_names(), ["apical", "axon", "basal", "soma"]);
        assert_eq!(cell.group_comps("soma").unwrap(), vec![0]);
    }
}
