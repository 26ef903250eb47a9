//! Views: parts of a module selected by cell, branch, compartment or location.

use super::module::{Clamp, Module, Recording, Stimulus};
use super::trainable::Trainable;
use crate::error::{Error, Result};
use crate::mechanisms::Mechanism;

/// What a view was last narrowed to. It decides how `make_trainable` shares parameters:
/// one per module, per cell, per branch or per compartment (as Jaxley's `controlled_by_param`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// The whole module (or a view of it as a whole).
    Module,
    /// Selected by cell.
    Cell,
    /// Selected by branch.
    Branch,
    /// Selected by compartment or location.
    Comp,
    /// Selected by group ([`View::group`]): `make_trainable` shares one value across the group.
    Group,
}

/// A selection of compartments of a module, borrowing the module mutably.
///
/// Narrow it with [`View::cell`], [`View::branch`], [`View::comp`] and [`View::loc`]; change the
/// selected compartments with [`View::set`], [`View::insert`], [`View::record`],
/// [`View::stimulate`], [`View::clamp`] and [`View::make_trainable`]. Indices are local to the
/// view, as in Jaxley: on a cell, `branch(2)` is the cell's third branch and `comp(0)` the first
/// compartment of every branch in the view.
///
/// ```
/// use huxley::{Branch, Cell, Compartment, HH, Leak};
/// # fn main() -> huxley::Result<()> {
/// let comp = Compartment::new();
/// let branch = Branch::new(&comp, 4)?;
/// let mut cell = Cell::new(&branch, &[-1, 0, 0])?;
/// cell.insert(Leak)?;
/// cell.branch(1)?.insert(HH)?;
/// cell.branch(2)?.loc(1.0)?.set("radius", 0.5)?;
/// cell.branch(0)?.comp(0)?.record("v")?;
/// assert_eq!(cell.column("radius")?[11], 0.5);
/// # Ok(()) }
/// ```
pub struct View<'a> {
    pub(super) m: &'a mut Module,
    pub(super) comps: Vec<usize>,
    pub(super) level: Level,
}

impl std::fmt::Debug for View<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("View")
            .field("level", &self.level)
            .field("comps", &self.comps)
            .finish()
    }
}

impl<'a> View<'a> {
    pub(crate) fn new(m: &'a mut Module, comps: Vec<usize>, level: Level) -> Self {
        View { m, comps, level }
    }

    /// Global compartment indices in the view.
    pub fn comp_indices(&self) -> &[usize] {
        &self.comps
    }

    /// Node indices of the compartments in the view.
    pub fn nodes(&self) -> Vec<usize> {
        self.comps.iter().map(|&c| self.m.ix.comp_node[c]).collect()
    }

    /// What the view was last narrowed to.
    pub fn level(&self) -> Level {
        self.level
    }

    /// An owned copy of the selection, which outlives the view: what [`crate::connect`] and
    /// the other connection functions take as pre- and post-synaptic sides.
    pub fn selection(&self) -> Selection {
        Selection {
            comps: self.comps.clone(),
            level: self.level,
        }
    }

    /// Values of a parameter or state in the view's compartments.
    pub fn get(&self, name: &str) -> Result<Vec<f64>> {
        let col = self.m.column(name)?;
        Ok(self.comps.iter().map(|&c| col[c]).collect())
    }

    /// Groups of the view's compartments by a key, in order of first appearance.
    fn groups(&self, key: impl Fn(usize) -> usize) -> Vec<(usize, Vec<usize>)> {
        group_by(&self.comps, key)
    }

    /// Every cell of the view, as one view at the level of cells (Jaxley's `cell("all")`):
    /// `make_trainable` on it makes one value per cell.
    pub fn all_cells(self) -> View<'a> {
        View {
            level: Level::Cell,
            ..self
        }
    }

    /// Every branch of the view, as one view at the level of branches (Jaxley's
    /// `branch("all")`): `make_trainable` on it makes one value per branch.
    ///
    /// ```
    /// use huxley::{Branch, Cell, Compartment, HH};
    /// # fn main() -> huxley::Result<()> {
    /// let mut cell = Cell::new(&Branch::new(&Compartment::new(), 2)?, &[-1, 0, 0])?;
    /// cell.insert(HH)?;
    /// cell.all().all_branches().make_trainable("HH_gNa", None)?;
    /// assert_eq!(cell.get_parameters()[0].values, vec![0.12; 3]);
    /// # Ok(()) }
    /// ```
    pub fn all_branches(self) -> View<'a> {
        View {
            level: Level::Branch,
            ..self
        }
    }

    /// Every compartment of the view, as one view at the level of compartments (Jaxley's
    /// `comp("all")`): `make_trainable` on it makes one value per compartment.
    pub fn all_comps(self) -> View<'a> {
        View {
            level: Level::Comp,
            ..self
        }
    }

    /// The `i`-th cell of the view.
    pub fn cell(self, i: usize) -> Result<View<'a>> {
        let ix = &self.m.ix;
        let groups = self.groups(|c| ix.comp_cell[c]);
        let len = groups.len();
        let (_, comps) = groups.into_iter().nth(i).ok_or(Error::IndexOutOfRange {
            what: "cell",
            index: i,
            len,
        })?;
        Ok(View {
            m: self.m,
            comps,
            level: Level::Cell,
        })
    }

    /// The `i`-th branch of every cell in the view.
    pub fn branch(self, i: usize) -> Result<View<'a>> {
        let ix = &self.m.ix;
        let mut comps = Vec::new();
        let mut max_len = 0;
        for (_, cell_comps) in self.groups(|c| ix.comp_cell[c]) {
            let branches = group_by(&cell_comps, |c| ix.comp_branch[c]);
            max_len = max_len.max(branches.len());
            if let Some((_, b)) = branches.into_iter().nth(i) {
                comps.extend(b);
            }
        }
        if comps.is_empty() {
            return Err(Error::IndexOutOfRange {
                what: "branch",
                index: i,
                len: max_len,
            });
        }
        Ok(View {
            m: self.m,
            comps,
            level: Level::Branch,
        })
    }

    /// The `i`-th compartment of every branch in the view.
    pub fn comp(self, i: usize) -> Result<View<'a>> {
        let ix = &self.m.ix;
        let mut comps = Vec::new();
        let mut max_len = 0;
        for (_, b) in self.groups(|c| ix.comp_branch[c]) {
            max_len = max_len.max(b.len());
            if let Some(&c) = b.get(i) {
                comps.push(c);
            }
        }
        if comps.is_empty() {
            return Err(Error::IndexOutOfRange {
                what: "compartment",
                index: i,
                len: max_len,
            });
        }
        Ok(View {
            m: self.m,
            comps,
            level: Level::Comp,
        })
    }

    /// The compartment at relative position `x ∈ [0, 1]` of every branch in the view, with
    /// Jaxley's rounding (`digitize(x, linspace(0, 1 + 1e-10, ncomp + 1)) - 1`).
    pub fn loc(self, x: f64) -> Result<View<'a>> {
        if !(0.0..=1.0).contains(&x) {
            return Err(Error::InvalidValue {
                name: "loc".into(),
                value: x,
                requirement: "in [0, 1]",
                location: "View::loc".into(),
            });
        }
        let ix = &self.m.ix;
        let comps = self
            .groups(|c| ix.comp_branch[c])
            .into_iter()
            .map(|(b, _)| ix.branch_first_comp[b] + loc_index(x, ix.branch_ncomp[b]))
            .collect();
        Ok(View {
            m: self.m,
            comps,
            level: Level::Comp,
        })
    }

    /// Iterates over the cells of the view.
    pub fn cells(self) -> Views<'a> {
        let ix = &self.m.ix;
        let groups = self
            .groups(|c| ix.comp_cell[c])
            .into_iter()
            .map(|g| g.1)
            .collect();
        Views {
            m: self.m,
            groups,
            level: Level::Cell,
            pos: 0,
        }
    }

    /// Iterates over the branches of the view.
    pub fn branches(self) -> Views<'a> {
        let ix = &self.m.ix;
        let groups = self
            .groups(|c| ix.comp_branch[c])
            .into_iter()
            .map(|g| g.1)
            .collect();
        Views {
            m: self.m,
            groups,
            level: Level::Branch,
            pos: 0,
        }
    }

    /// Iterates over the compartments of the view.
    pub fn comps(self) -> Views<'a> {
        let groups = self.comps.iter().map(|&c| vec![c]).collect();
        Views {
            m: self.m,
            groups,
            level: Level::Comp,
            pos: 0,
        }
    }

    pub(crate) fn check_value(name: &str, value: f64, comp: usize) -> Result<()> {
        let location = || format!("compartment {comp}");
        match name {
            "radius" | "length" | "axial_resistivity" | "capacitance" | "area" | "volume" => {
                crate::error::check_positive(name, value, location)
            }
            _ if name.starts_with("axial_diffusion_") => {
                crate::error::check_positive(name, value, location)
            }
            _ if !value.is_finite() => Err(Error::InvalidValue {
                name: name.to_string(),
                value,
                requirement: "finite",
                location: location(),
            }),
            _ => Ok(()),
        }
    }

    /// Sets a parameter or state to `value` in every compartment of the view where it is defined
    /// (Jaxley's `set`). Setting `radius` or `length` recomputes area, volume and resistive loads
    /// as a cylinder.
    pub fn set(&mut self, name: &str, value: f64) -> Result<&mut Self> {
        let values = vec![value; self.comps.len()];
        self.set_values(name, &values)
    }

    /// Sets a parameter or state per compartment of the view (`values[k]` for the k-th
    /// compartment); compartments where it is not defined are skipped.
    pub fn set_values(&mut self, name: &str, values: &[f64]) -> Result<&mut Self> {
        if values.len() != self.comps.len() {
            return Err(Error::LengthMismatch {
                what: format!("values of `{name}` (one per compartment in the view)"),
                expected: self.comps.len(),
                got: values.len(),
            });
        }
        let col = self
            .m
            .table
            .cols
            .get(name)
            .ok_or_else(|| self.m.unknown(name, "cannot set it"))?;
        let rows: Vec<(usize, f64)> = self
            .comps
            .iter()
            .zip(values)
            .filter(|(c, _)| !col[**c].is_nan())
            .map(|(&c, &v)| (c, v))
            .collect();
        if rows.is_empty() {
            return Err(Error::EmptyView(format!(
                "`{name}` is not defined in any compartment of this view"
            )));
        }
        for &(c, v) in &rows {
            Self::check_value(name, v, c)?;
        }
        let geometric = name == "radius" || name == "length";
        for (c, v) in rows {
            self.m.table.col_mut(name)[c] = v;
            if geometric {
                self.m.table.update_cylinder(c);
            }
        }
        Ok(self)
    }

    /// Inserts a mechanism into every compartment of the view and writes its default parameters
    /// and states there (Jaxley's `insert`).
    pub fn insert<M: Mechanism<P, S>, const P: usize, const S: usize>(
        &mut self,
        mech: M,
    ) -> Result<&mut Self> {
        self.m.insert_dyn(mech, &self.comps)?;
        Ok(self)
    }

    fn check_state(&self, state: &str) -> Result<()> {
        if self.m.is_synapse_key(state) {
            return Err(Error::UnknownName {
                name: state.to_string(),
                context: "a synapse state: record or clamp it on edges, e.g. \
                          `net.synapse(name)?.record(state)`"
                    .into(),
            });
        }
        if !self.m.is_state_name(state) {
            return Err(Error::UnknownName {
                name: state.to_string(),
                context: format!(
                    "not a state of this module; states are {}",
                    self.m.state_names().join(", ")
                ),
            });
        }
        let defined = self.m.state_comps(state);
        if let Some(c) = self.comps.iter().find(|c| !defined.contains(c)) {
            return Err(Error::UnknownName {
                name: state.to_string(),
                context: format!(
                    "not defined at compartment {c} (node {})",
                    self.m.ix.comp_node[*c]
                ),
            });
        }
        Ok(())
    }

    /// Records a state (`"v"`, a mechanism state, or a membrane current such as `"i_HH"`) in
    /// every compartment of the view: one row of `integrate`'s output each.
    pub fn record(&mut self, state: &str) -> Result<&mut Self> {
        self.check_state(state)?;
        for &c in &self.comps {
            self.m.recordings.push(Recording {
                state: state.to_string(),
                node: self.m.ix.comp_node[c],
            });
        }
        Ok(self)
    }

    /// Injects `current` (nA; element k acts during step k+1) into every compartment of the view.
    pub fn stimulate(&mut self, current: &[f64]) -> &mut Self {
        for &c in &self.comps {
            self.m.stimuli.push(Stimulus {
                node: self.m.ix.comp_node[c],
                current: current.to_vec(),
            });
        }
        self
    }

    /// Jaxley's `data_stimulate`: `current` (nA; element k acts during step k+1) for every
    /// compartment of the view, given at run time instead of stored in the module. Returns
    /// `data_stimuli` with the currents added; pass it to [`crate::integrate_batch_stimuli`].
    pub fn data_stimulate(
        &self,
        current: &[f64],
        data_stimuli: Option<crate::DataStimuli>,
    ) -> crate::DataStimuli {
        let mut ds = data_stimuli.unwrap_or_default();
        for &c in &self.comps {
            ds.stimuli.push(Stimulus {
                node: self.m.ix.comp_node[c],
                current: current.to_vec(),
            });
        }
        ds
    }

    /// Injects a different current into each compartment of the view.
    pub fn stimulate_each(&mut self, currents: &[Vec<f64>]) -> Result<&mut Self> {
        if currents.len() != self.comps.len() {
            return Err(Error::LengthMismatch {
                what: "stimuli (one per compartment in the view)".into(),
                expected: self.comps.len(),
                got: currents.len(),
            });
        }
        for (&c, i) in self.comps.iter().zip(currents) {
            self.m.stimuli.push(Stimulus {
                node: self.m.ix.comp_node[c],
                current: i.clone(),
            });
        }
        Ok(self)
    }

    /// Holds a state at `values` (one per time step) in every compartment of the view. A `v`
    /// clamp is applied after the voltage solve; any other clamp before it.
    pub fn clamp(&mut self, state: &str, values: &[f64]) -> Result<&mut Self> {
        self.check_state(state)?;
        for &c in &self.comps {
            self.m.clamps.push(Clamp {
                state: state.to_string(),
                node: self.m.ix.comp_node[c],
                values: values.to_vec(),
            });
        }
        Ok(self)
    }

    /// Makes a parameter (or initial state) trainable. Sharing follows how the view was last
    /// narrowed: one value for a whole module, one per cell, per branch or per compartment. The
    /// initial value is `init`, or the mean of the current values of each group.
    pub fn make_trainable(&mut self, key: &str, init: Option<f64>) -> Result<&mut Self> {
        let col = self
            .m
            .table
            .cols
            .get(key)
            .ok_or_else(|| self.m.unknown(key, "cannot make it trainable"))?;
        let defined: Vec<usize> = self
            .comps
            .iter()
            .copied()
            .filter(|&c| !col[c].is_nan())
            .collect();
        if defined.is_empty() {
            return Err(Error::EmptyView(format!(
                "`{key}` is not defined in any compartment of this view"
            )));
        }
        let ix = &self.m.ix;
        let group_of = |c: usize| match self.level {
            Level::Module | Level::Group => 0,
            Level::Cell => ix.comp_cell[c],
            Level::Branch => ix.comp_branch[c],
            Level::Comp => c,
        };
        let groups = group_by(&defined, group_of);
        let values = groups
            .iter()
            .map(|(_, cs)| {
                init.unwrap_or_else(|| cs.iter().map(|&c| col[c]).sum::<f64>() / cs.len() as f64)
            })
            .collect();
        let nodes = groups
            .iter()
            .map(|(_, cs)| cs.iter().map(|&c| ix.comp_node[c]).collect())
            .collect();
        self.m.trainables.push(Trainable {
            key: key.to_string(),
            nodes,
            values,
        });
        Ok(self)
    }

    /// Jaxley's `data_set`: a parameter (or initial state) value given at run time, for every
    /// compartment of the view where `key` is defined. Returns `param_state` with the entry added.
    pub fn data_set<T: crate::Scalar>(
        &self,
        key: &str,
        value: T,
        param_state: Option<Vec<super::ParamState<T>>>,
    ) -> Result<Vec<super::ParamState<T>>> {
        let col = self
            .m
            .table
            .cols
            .get(key)
            .ok_or_else(|| self.m.unknown(key, "cannot data_set it"))?;
        let nodes: Vec<usize> = self
            .comps
            .iter()
            .filter(|&&c| !col[c].is_nan())
            .map(|&c| self.m.ix.comp_node[c])
            .collect();
        if nodes.is_empty() {
            return Err(Error::EmptyView(format!(
                "`{key}` is not defined in any compartment of this view"
            )));
        }
        let mut ps = param_state.unwrap_or_default();
        ps.push(super::ParamState {
            key: key.to_string(),
            nodes: nodes.iter().map(|&n| vec![n]).collect(),
            values: vec![value; nodes.len()],
        });
        Ok(ps)
    }
}

/// An owned selection of compartments (made by [`View::selection`]), e.g. the pre- or
/// post-synaptic side of [`crate::connect`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selection {
    pub(crate) comps: Vec<usize>,
    pub(crate) level: Level,
}

impl Selection {
    /// Global compartment indices, in view order.
    pub fn comp_indices(&self) -> &[usize] {
        &self.comps
    }
    /// Number of compartments.
    pub fn len(&self) -> usize {
        self.comps.len()
    }
    /// Whether it selects nothing.
    pub fn is_empty(&self) -> bool {
        self.comps.is_empty()
    }
}

/// Groups `comps` by a key, groups and their members in order of first appearance.
fn group_by(comps: &[usize], key: impl Fn(usize) -> usize) -> Vec<(usize, Vec<usize>)> {
    let mut out: Vec<(usize, Vec<usize>)> = Vec::new();
    let mut slot: std::collections::HashMap<usize, usize> = std::collections::HashMap::new();
    for &c in comps {
        let k = key(c);
        let i = *slot.entry(k).or_insert_with(|| {
            out.push((k, Vec::new()));
            out.len() - 1
        });
        out[i].1.push(c);
    }
    out
}

/// Jaxley's `loc` rounding: `np.digitize(x, np.linspace(0, 1 + 1e-10, ncomp + 1)) - 1`.
pub(crate) fn loc_index(x: f64, ncomp: usize) -> usize {
    let stop = 1.0 + 1e-10;
    let step = stop / ncomp as f64;
    let edges = (0..=ncomp).map(|k| if k == ncomp { stop } else { k as f64 * step });
    edges
        .filter(|&e| e <= x)
        .count()
        .saturating_sub(1)
        .min(ncomp - 1)
}

/// A lending iterator over views (cells, branches or compartments of a view): each view borrows
/// the module until the next call.
///
/// ```
/// # use huxley::{Branch, Cell, Compartment};
/// # fn main() -> huxley::Result<()> {
/// let mut cell = Cell::new(&Branch::new(&Compartment::new(), 2)?, &[-1, 0, 0])?;
/// let mut branches = cell.branches();
/// let mut radius = 1.0;
/// while let Some(mut b) = branches.next() {
///     b.set("radius", radius)?;
///     radius += 1.0;
/// }
/// assert_eq!(cell.column("radius")?, &[1.0, 1.0, 2.0, 2.0, 3.0, 3.0]);
/// # Ok(()) }
/// ```
pub struct Views<'a> {
    m: &'a mut Module,
    groups: Vec<Vec<usize>>,
    level: Level,
    pos: usize,
}

impl Views<'_> {
    /// The next view, or `None` at the end.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<View<'_>> {
        let comps = self.groups.get(self.pos)?.clone();
        self.pos += 1;
        Some(View {
            m: self.m,
            comps,
            level: self.level,
        })
    }

    /// Number of views in total.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Runs `f` on every remaining view, stopping at the first error.
    pub fn try_for_each(mut self, mut f: impl FnMut(usize, View<'_>) -> Result<()>) -> Result<()> {
        while self.pos < self.groups.len() {
            let i = self.pos;
            let v = self.next().expect("in range");
            f(i, v)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::loc_index;

    #[test]
    fn loc_rounding_matches_jaxley() {
        assert_eq!(loc_index(0.0, 4), 0);
        assert_eq!(loc_index(0.2499, 4), 0);
        assert_eq!(loc_index(0.25, 4), 0); // 0.25 < 0.25000000002500
        assert_eq!(loc_index(0.26, 4), 1);
        assert_eq!(loc_index(0.5, 1), 0);
        assert_eq!(loc_index(1.0, 4), 3);
        assert_eq!(loc_index(1.0, 1), 0);
        assert_eq!(loc_index(0.51, 3), 1);
    }
}
