//! `set_ncomp`: re-discretising one branch (Jaxley's `View.set_ncomp`).

use super::table::{NodeTable, cylinder_area, cylinder_resistive_load, cylinder_volume};
use super::view::View;
use crate::error::{Error, Result, SetNcompError};

/// Equal as table values: the same number, or both NaN (a mechanism absent everywhere).
fn same(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

fn homogeneous(values: &[f64]) -> bool {
    values.iter().all(|&v| same(v, values[0]))
}

impl View<'_> {
    /// Splits the branch of this view into `ncomp` compartments (Jaxley's `set_ncomp`).
    ///
    /// The branch keeps its total length (each compartment gets `total / ncomp`) and everything
    /// else its compartments share. A branch read from SWC is re-cut from its traced points
    /// ([`crate::swc::compartmentalize`], with `min_radius` as in [`crate::swc::SwcOptions`]):
    /// radii, areas, volumes and resistive loads follow the traced shape. Any other branch stays
    /// a cylinder of its radius (`min_radius` is then ignored). The membrane voltage of the new
    /// compartments is the mean of the old ones.
    ///
    /// Jaxley's restrictions apply, each a [`SetNcompError`]: the view must be exactly one whole
    /// branch of a single-cell module; the module must have no stimuli, clamps, recordings or
    /// trainable parameters (their node indices would move); the branch's compartments must
    /// agree in `length`, `capacitance`, `axial_resistivity`, `radius` (unless read from SWC),
    /// inserted mechanisms and their parameters and states, and group membership.
    ///
    /// ```
    /// use huxley::{Branch, Cell, Compartment, HH};
    /// # fn main() -> huxley::Result<()> {
    /// let mut cell = Cell::new(&Branch::new(&Compartment::new(), 4)?, &[-1, 0, 0])?;
    /// cell.insert(HH)?;
    /// cell.branch(1)?.set_ncomp(2, None)?;
    /// assert_eq!(cell.ncomp_per_branch(), &[4, 2, 4]);
    /// assert_eq!(cell.column("length")?[4], 20.0); // 40 µm in 2 compartments
    /// cell.branch(0)?.comp(0)?.set("length", 5.0)?;
    /// assert!(cell.branch(0)?.set_ncomp(3, None).is_err()); // lengths now differ
    /// # Ok(()) }
    /// ```
    pub fn set_ncomp(self, ncomp: usize, min_radius: Option<f64>) -> Result<()> {
        let View { m, comps, .. } = self;
        let mut branches: Vec<usize> = comps.iter().map(|&c| m.ix.comp_branch[c]).collect();
        branches.dedup();
        let b = branches.first().copied().unwrap_or(0);
        let fail = |reason| Err(Error::SetNcomp { branch: b, reason });
        if ncomp == 0 || ncomp > crate::swc::MAX_NCOMP {
            return Err(Error::InvalidValue {
                name: "ncomp".into(),
                value: ncomp as f64,
                requirement: "between 1 and 2^20",
                location: "set_ncomp".into(),
            });
        }
        if !m.stimuli.is_empty() {
            return fail(SetNcompError::Stimuli);
        }
        if !m.clamps.is_empty() {
            return fail(SetNcompError::Clamps);
        }
        if !m.recordings.is_empty() {
            return fail(SetNcompError::Recordings);
        }
        if !m.trainables.is_empty() {
            return fail(SetNcompError::Trainables);
        }
        if m.n_cells() > 1 {
            return fail(SetNcompError::Network(m.n_cells()));
        }
        branches.sort_unstable();
        branches.dedup();
        if branches.len() != 1 {
            return fail(SetNcompError::NotOneBranch(branches.len()));
        }
        let first = m.ix.branch_first_comp[b];
        let old = m.ix.branch_ncomp[b];
        let mut in_view = comps.clone();
        in_view.sort_unstable();
        in_view.dedup();
        if in_view.len() != old {
            return fail(SetNcompError::PartialBranch {
                in_view: in_view.len(),
                ncomp: old,
            });
        }
        let rows = first..first + old;
        let xyzr = m.xyzr[b].clone();
        let t = &m.table;

        // Restrictions.
        let mut properties = vec!["length", "capacitance", "axial_resistivity"];
        if xyzr.is_none() {
            properties.insert(0, "radius");
        }
        for p in properties {
            if !homogeneous(&t.cols[p][rows.clone()]) {
                return fail(SetNcompError::Inhomogeneous(p.to_string()));
            }
        }
        for mech in &m.mechs {
            let info = mech.info();
            let Some(flags) = t.members.get(&info.name) else {
                continue;
            };
            let flags = &flags[rows.clone()];
            if flags.iter().any(|&f| f != flags[0]) {
                return fail(SetNcompError::MechanismInSomeComps(info.name.clone()));
            }
            for (name, _) in info.params.iter().chain(&info.states) {
                if let Some(col) = t.cols.get(name)
                    && flags[0]
                    && !homogeneous(&col[rows.clone()])
                    && !super::table::GEOMETRY.contains(&name.as_str())
                {
                    return fail(SetNcompError::MechanismValuesDiffer(name.clone()));
                }
            }
        }
        for (name, flags) in &t.groups {
            let flags = &flags[rows.clone()];
            if flags.iter().any(|&f| f != flags[0]) {
                return fail(SetNcompError::GroupInSomeComps(name.clone()));
            }
        }

        // The new rows: shared values repeated, anything else (the voltage) averaged.
        let mut new = NodeTable {
            n: ncomp,
            ..Default::default()
        };
        for (name, col) in &t.cols {
            let old_vals = &col[rows.clone()];
            let v = if homogeneous(old_vals) {
                old_vals[0]
            } else {
                old_vals.iter().sum::<f64>() / old as f64
            };
            new.cols.insert(name.clone(), vec![v; ncomp]);
        }
        for (name, flags) in &t.members {
            new.members.insert(name.clone(), vec![flags[first]; ncomp]);
        }
        for (name, flags) in &t.groups {
            new.groups.insert(name.clone(), vec![flags[first]; ncomp]);
        }
        let total: f64 = t.cols["length"][rows.clone()].iter().sum();
        let length = total / ncomp as f64;
        new.cols.insert("length".into(), vec![length; ncomp]);
        match &xyzr {
            Some(points) => {
                let geometry = crate::swc::compartmentalize(points, ncomp, min_radius)?;
                let mut set = |name: &str, f: fn(&crate::swc::CompGeometry) -> f64| {
                    new.cols
                        .insert(name.into(), geometry.iter().map(f).collect());
                };
                set("radius", |g| g.radius);
                set("area", |g| g.area);
                set("volume", |g| g.volume);
                set("resistive_load_in", |g| g.resistive_load_in);
                set("resistive_load_out", |g| g.resistive_load_out);
            }
            None => {
                let r = t.cols["radius"][first];
                let load = cylinder_resistive_load(length / 2.0, r);
                new.cols
                    .insert("area".into(), vec![cylinder_area(length, r); ncomp]);
                new.cols
                    .insert("volume".into(), vec![cylinder_volume(length, r); ncomp]);
                new.cols
                    .insert("resistive_load_in".into(), vec![load; ncomp]);
                new.cols
                    .insert("resistive_load_out".into(), vec![load; ncomp]);
            }
        }

        m.table.splice_rows(first, old, &new);
        let local = m.ix.branch_local[b];
        m.morph.cells[m.ix.branch_cell[b]].ncomp[local] = ncomp;
        m.ix = m.morph.index();
        Ok(())
    }
}

impl super::Module {
    /// [`View::set_ncomp`] on the whole module: for a [`crate::Branch`] or a single-branch cell.
    pub fn set_ncomp(&mut self, ncomp: usize, min_radius: Option<f64>) -> Result<()> {
        self.all().set_ncomp(ncomp, min_radius)
    }
}
