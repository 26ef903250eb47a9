//! [`Module`]: compartments, branches, cells and what is inserted, recorded and stimulated.

use super::edges::{Connection, EdgeTable};
use super::table::{GEOMETRY, NodeTable};
use super::trainable::Trainable;
use super::view::{Level, View, Views};
use super::{MorphIndex, Morphology};
use crate::error::{Error, Result};
use crate::mechanisms::driver::{DynMechanism, Nodes, SharedSlice, UpdateArgs, Wrapped};
use crate::mechanisms::{InfoKind, Mechanism, MechanismInfo};
use std::collections::BTreeSet;
use std::sync::Arc;

/// A recorded quantity: a state name at a node (or, for a synapse state, at an edge).
#[derive(Clone, Debug, PartialEq)]
pub struct Recording {
    /// State name (`"v"`, `"HH_m"`, `"i_HH"`, `"IonotropicSynapse_s"`, ...).
    pub state: String,
    /// Node index, or for synapse states and currents the edge's index within its synapse type
    /// (Jaxley's `rec_index`).
    pub node: usize,
}

/// An injected current (nA per time step) at a node.
#[derive(Clone, Debug, PartialEq)]
pub struct Stimulus {
    /// Node index.
    pub node: usize,
    /// Current in nA, one value per time step (element k drives step k+1).
    pub current: Vec<f64>,
}

/// A state held at prescribed values at a node.
#[derive(Clone, Debug, PartialEq)]
pub struct Clamp {
    /// State name.
    pub state: String,
    /// Node index.
    pub node: usize,
    /// Values, one per time step.
    pub values: Vec<f64>,
}

/// A neuron model: one or more cells made of branches of compartments, with mechanisms,
/// recordings, stimuli, clamps and trainable parameters.
///
/// [`crate::Compartment`], [`crate::Branch`] and [`crate::Cell`] dereference to `Module`, so
/// everything here is available on them.
#[derive(Clone)]
pub struct Module {
    pub(crate) morph: Morphology,
    pub(crate) ix: MorphIndex,
    pub(crate) table: NodeTable,
    pub(crate) mechs: Vec<Arc<dyn DynMechanism>>,
    pub(crate) recordings: Vec<Recording>,
    pub(crate) stimuli: Vec<Stimulus>,
    pub(crate) clamps: Vec<Clamp>,
    pub(crate) trainables: Vec<Trainable>,
    /// Per global branch: the traced points `[x, y, z, r]` (µm) it was cut from, if it was read
    /// from SWC (Jaxley's `xyzr`; used by `set_ncomp`).
    pub(crate) xyzr: Vec<Option<Arc<[[f64; 4]]>>>,
    pub(crate) edges: EdgeTable,
    /// Ion states diffused along the cable (`diffuse`), in order.
    pub(crate) diffusion: Vec<String>,
}

impl std::fmt::Debug for Module {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Module")
            .field("cells", &self.n_cells())
            .field("branches", &self.n_branches())
            .field("compartments", &self.n_comps())
            .field("nodes", &self.n_nodes())
            .field("mechanisms", &self.mechanism_names())
            .field("groups", &self.group_names())
            .field("synapses", &self.synapse_names())
            .field("edges", &self.edges.len())
            .field("recordings", &self.recordings.len())
            .finish()
    }
}

impl Module {
    pub(crate) fn from_parts(
        morph: Morphology,
        table: NodeTable,
        mechs: Vec<Arc<dyn DynMechanism>>,
    ) -> Module {
        let ix = morph.index();
        debug_assert_eq!(table.n, ix.comp_cell.len());
        let xyzr = vec![None; ix.branch_cell.len()];
        Module {
            xyzr,
            morph,
            ix,
            table,
            mechs,
            recordings: vec![],
            stimuli: vec![],
            clamps: vec![],
            trainables: vec![],
            edges: EdgeTable::default(),
            diffusion: vec![],
        }
    }

    /// Merges the mechanism lists of several modules (by name; the same name must mean the same
    /// mechanism).
    pub(crate) fn merge_mechanisms<'a>(
        parts: impl IntoIterator<Item = &'a Module>,
    ) -> Result<Vec<Arc<dyn DynMechanism>>> {
        let mut out: Vec<Arc<dyn DynMechanism>> = Vec::new();
        for m in parts {
            for mech in &m.mechs {
                match out.iter().find(|o| o.info().name == mech.info().name) {
                    Some(o) if o.info() != mech.info() => {
                        return Err(Error::MechanismConflict(mech.info().name.clone()));
                    }
                    Some(_) => {}
                    None => out.push(mech.clone()),
                }
            }
        }
        Ok(out)
    }

    /// Errors if a group shares its name with a mechanism (possible when modules are combined).
    pub(crate) fn check_group_names(
        table: &NodeTable,
        mechs: &[Arc<dyn DynMechanism>],
    ) -> Result<()> {
        match mechs
            .iter()
            .find(|m| table.groups.contains_key(&m.info().name))
        {
            Some(m) => Err(Error::GroupMechanismClash(m.info().name.clone())),
            None => Ok(()),
        }
    }

    /// Number of cells.
    pub fn n_cells(&self) -> usize {
        self.morph.cells.len()
    }
    /// Number of branches (all cells).
    pub fn n_branches(&self) -> usize {
        self.ix.branch_cell.len()
    }
    /// Number of compartments.
    pub fn n_comps(&self) -> usize {
        self.table.n
    }
    /// Number of nodes: compartments plus branchpoints (the length of every `all_states` array).
    pub fn n_nodes(&self) -> usize {
        self.ix.n_nodes
    }
    /// Number of compartments of each branch.
    pub fn ncomp_per_branch(&self) -> &[usize] {
        &self.ix.branch_ncomp
    }
    /// Node index of each compartment (compartments are numbered cell by cell, branch by branch,
    /// proximal first; each cell's branchpoints follow its compartments).
    pub fn comp_nodes(&self) -> &[usize] {
        &self.ix.comp_node
    }
    /// Parent branch of each branch of cell `cell` (`-1` for the root).
    pub fn parents(&self, cell: usize) -> Result<&[i64]> {
        self.morph
            .cells
            .get(cell)
            .map(|c| c.parents.as_slice())
            .ok_or(Error::IndexOutOfRange {
                what: "cell",
                index: cell,
                len: self.n_cells(),
            })
    }

    /// Names of the inserted mechanisms, channels first, then pumps, each in insertion order (the
    /// order in which they are updated).
    pub fn mechanism_names(&self) -> Vec<String> {
        self.ordered_mechanisms()
            .map(|m| m.info().name.clone())
            .collect()
    }

    /// Whether a mechanism of this name is inserted anywhere.
    pub fn has_mechanism(&self, name: &str) -> bool {
        self.mechs.iter().any(|m| m.info().name == name)
    }

    /// Description (names, defaults, current) of an inserted mechanism.
    pub fn mechanism_info(&self, name: &str) -> Option<&MechanismInfo> {
        self.mechs.iter().map(|m| m.info()).find(|i| i.name == name)
    }

    pub(crate) fn ordered_mechanisms(&self) -> impl Iterator<Item = &Arc<dyn DynMechanism>> {
        let channels = self
            .mechs
            .iter()
            .filter(|m| m.info().kind == InfoKind::Channel);
        let pumps = self
            .mechs
            .iter()
            .filter(|m| m.info().kind != InfoKind::Channel);
        channels.chain(pumps)
    }

    /// Compartments (row indices) where mechanism `name` is inserted.
    pub(crate) fn mechanism_comps(&self, name: &str) -> Vec<usize> {
        match self.table.members.get(name) {
            Some(col) => col
                .iter()
                .enumerate()
                .filter(|(_, b)| **b)
                .map(|(i, _)| i)
                .collect(),
            None => vec![],
        }
    }

    /// Membrane current names in first-insertion order (Jaxley's `membrane_current_names`).
    pub fn membrane_current_names(&self) -> Vec<String> {
        let mut out: Vec<String> = vec![];
        for m in &self.mechs {
            let c = &m.info().current_name;
            if !out.contains(c) {
                out.push(c.clone());
            }
        }
        out
    }

    /// Names of all states a simulation carries (the keys of `all_states`, see
    /// [`crate::AllStates`]): `v`, the mechanism states and the membrane currents.
    pub fn state_names(&self) -> Vec<String> {
        let mut out = vec!["v".to_string()];
        for m in self.ordered_mechanisms() {
            for (s, _) in &m.info().states {
                if !out.contains(s) {
                    out.push(s.clone());
                }
            }
        }
        for t in &self.edges.types {
            out.extend(t.info().states.iter().map(|(s, _)| s.clone()));
        }
        for c in self.membrane_current_names() {
            if !out.contains(&c) {
                out.push(c);
            }
        }
        for t in &self.edges.types {
            out.push(t.info().current_name.clone());
        }
        out
    }

    /// Names of all parameters (the keys of `all_params`): the compartment geometry, the
    /// diffusion constants of diffused ions (`axial_diffusion_<ion>`), the mechanism parameters
    /// and the synapse parameters.
    pub fn param_names(&self) -> Vec<String> {
        let mut out: Vec<String> = GEOMETRY.iter().map(|s| s.to_string()).collect();
        for ion in &self.diffusion {
            out.push(format!("axial_diffusion_{ion}"));
        }
        for m in self.ordered_mechanisms() {
            for (p, _) in &m.info().params {
                if !out.contains(p) {
                    out.push(p.clone());
                }
            }
        }
        for t in &self.edges.types {
            out.extend(t.info().params.iter().map(|(p, _)| p.clone()));
        }
        out
    }

    /// Synapse type names in order of first connection (Jaxley's `synapse_names`).
    pub fn synapse_names(&self) -> Vec<String> {
        self.edges
            .types
            .iter()
            .map(|t| t.info().name.clone())
            .collect()
    }

    /// Names, defaults and current of a synapse type of this network.
    pub fn synapse_info(&self, name: &str) -> Option<&crate::synapses::SynapseInfo> {
        self.edges
            .types
            .iter()
            .map(|t| t.info())
            .find(|i| i.name == name)
    }

    /// Number of synapses (edges).
    pub fn n_edges(&self) -> usize {
        self.edges.len()
    }

    /// Every synapse: type, index within the type, pre- and post-synaptic node (Jaxley's
    /// `.edges`).
    pub fn connections(&self) -> Vec<Connection> {
        self.edges.connections()
    }

    /// Values of a synapse parameter or state, one per edge of its type (in edge order).
    pub fn edge_column(&self, name: &str) -> Result<&[f64]> {
        self.edges
            .cols
            .get(name)
            .map(|c| c.as_slice())
            .ok_or_else(|| Error::UnknownName {
                name: name.to_string(),
                context: format!(
                    "not a synapse parameter or state; synapse types: {}",
                    self.synapse_names().join(", ")
                ),
            })
    }

    /// Whether `name` is a parameter, state or current of a synapse type.
    pub(crate) fn is_synapse_key(&self, name: &str) -> bool {
        self.edges.type_of_key(name).is_some()
    }

    /// Diffuses an ion along the cable (Jaxley's `diffuse`): the state `state` (e.g. `"CaCon_i"`)
    /// is then solved on the same tree as the voltage, with its own axial terms
    /// `D/((r_a + r_b)·volume)` where `D` is the parameter `axial_diffusion_<state>` (default 1,
    /// must be positive). Compartments without a mechanism that declares the state get the
    /// value 0.
    ///
    /// ```
    /// use huxley::{Branch, Cell, Compartment, CaNernstReversal, CaPump};
    /// # fn main() -> huxley::Result<()> {
    /// let mut cell = Cell::new(&Branch::new(&Compartment::new(), 2)?, &[-1, 0])?;
    /// cell.branch(0)?.insert(CaPump)?.insert(CaNernstReversal)?;
    /// cell.diffuse("CaCon_i")?;
    /// assert_eq!(cell.column("CaCon_i")?, &[5e-5, 5e-5, 0.0, 0.0]);
    /// assert_eq!(cell.column("axial_diffusion_CaCon_i")?, &[1.0; 4]);
    /// # Ok(()) }
    /// ```
    pub fn diffuse(&mut self, state: &str) -> Result<&mut Self> {
        let is_mech_state = self
            .mechs
            .iter()
            .any(|m| m.info().states.iter().any(|(s, _)| s == state));
        if !is_mech_state {
            return Err(Error::UnknownName {
                name: state.to_string(),
                context: "only a state of an inserted mechanism (e.g. CaCon_i) can be diffused"
                    .into(),
            });
        }
        if !self.diffusion.iter().any(|d| d == state) {
            self.diffusion.push(state.to_string());
        }
        let n = self.table.n;
        self.table
            .cols
            .insert(format!("axial_diffusion_{state}"), vec![1.0; n]);
        for x in self.table.col_mut(state) {
            if x.is_nan() {
                *x = 0.0;
            }
        }
        Ok(self)
    }

    /// The diffused ion states, in the order of `diffuse` calls.
    pub fn diffusion_states(&self) -> &[String] {
        &self.diffusion
    }

    /// Values of column `name` for every compartment (NaN where it is not defined).
    pub fn column(&self, name: &str) -> Result<&[f64]> {
        self.table
            .cols
            .get(name)
            .map(|c| c.as_slice())
            .ok_or_else(|| self.unknown(name, "no such parameter or state"))
    }

    pub(crate) fn unknown(&self, name: &str, why: &str) -> Error {
        let mut known: Vec<&str> = self.table.cols.keys().map(|s| s.as_str()).collect();
        known.sort_unstable();
        Error::UnknownName {
            name: name.to_string(),
            context: format!("{why}; known: {}", known.join(", ")),
        }
    }

    /// Every cell, as one view at the level of cells (Jaxley's `cell("all")`); see
    /// [`View::all_cells`].
    pub fn all_cells(&mut self) -> View<'_> {
        self.all().all_cells()
    }

    /// Every branch, as one view at the level of branches (Jaxley's `branch("all")`); see
    /// [`View::all_branches`].
    pub fn all_branches(&mut self) -> View<'_> {
        self.all().all_branches()
    }

    /// Every compartment, as one view at the level of compartments (Jaxley's `comp("all")`).
    pub fn all_comps(&mut self) -> View<'_> {
        self.all().all_comps()
    }

    /// A view of the whole module.
    pub fn all(&mut self) -> View<'_> {
        let comps = (0..self.n_comps()).collect();
        View::new(self, comps, Level::Module)
    }

    /// The given compartments (global indices, as in [`Module::group_comps`]) as a view
    /// (Jaxley's `select(nodes=...)`); `make_trainable` on it makes one value per compartment.
    ///
    /// ```
    /// use huxley::{Branch, Compartment, Leak};
    /// # fn main() -> huxley::Result<()> {
    /// let mut branch = Branch::new(&Compartment::new(), 4)?;
    /// branch.select(&[0, 3])?.insert(Leak)?;
    /// assert_eq!(branch.mechanism_comps_of("Leak"), vec![0, 3]);
    /// assert!(branch.select(&[4]).is_err());
    /// # Ok(()) }
    /// ```
    pub fn select(&mut self, comps: &[usize]) -> Result<View<'_>> {
        if comps.is_empty() {
            return Err(Error::EmptyView("select: no compartments given".into()));
        }
        if let Some(&c) = comps.iter().find(|&&c| c >= self.n_comps()) {
            return Err(Error::IndexOutOfRange {
                what: "compartment",
                index: c,
                len: self.n_comps(),
            });
        }
        Ok(View::new(self, comps.to_vec(), Level::Comp))
    }

    /// Cell `i` (a view).
    pub fn cell(&mut self, i: usize) -> Result<View<'_>> {
        let comps = self.cell_comps(i)?.collect();
        Ok(View::new(self, comps, Level::Cell))
    }

    /// Several cells (a view at the level of cells, in ascending order, as Jaxley's
    /// `net.cell([..])`); e.g. the pre- or post-synaptic population of
    /// [`crate::fully_connect`].
    pub fn cells_at(&mut self, cells: &[usize]) -> Result<View<'_>> {
        let mut sorted = cells.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.is_empty() {
            return Err(Error::EmptyView("no cells selected".into()));
        }
        let mut comps = Vec::new();
        for &c in &sorted {
            comps.extend(self.cell_comps(c)?);
        }
        Ok(View::new(self, comps, Level::Cell))
    }

    /// Global compartment indices of cell `i`.
    pub(crate) fn cell_comps(&self, i: usize) -> Result<std::ops::Range<usize>> {
        let n = self.n_cells();
        if i >= n {
            return Err(Error::IndexOutOfRange {
                what: "cell",
                index: i,
                len: n,
            });
        }
        let ix = &self.ix;
        let first = ix.branch_first_comp[ix.cell_first_branch[i]];
        let end = if i + 1 < n {
            ix.branch_first_comp[ix.cell_first_branch[i + 1]]
        } else {
            self.n_comps()
        };
        Ok(first..end)
    }
    /// Branch `i` (a view); in a network, branch `i` of every cell.
    pub fn branch(&mut self, i: usize) -> Result<View<'_>> {
        self.all().branch(i)
    }
    /// Compartment `i` of every branch (a view). On a [`crate::Branch`] this is compartment `i`.
    pub fn comp(&mut self, i: usize) -> Result<View<'_>> {
        self.all().comp(i)
    }
    /// The compartment at relative position `x ∈ [0, 1]` along every branch (Jaxley's rounding:
    /// `x = 1` is the last compartment).
    pub fn loc(&mut self, x: f64) -> Result<View<'_>> {
        self.all().loc(x)
    }
    /// Iterates over cells as views.
    pub fn cells(&mut self) -> Views<'_> {
        self.all().cells()
    }
    /// Iterates over branches as views.
    pub fn branches(&mut self) -> Views<'_> {
        self.all().branches()
    }
    /// Iterates over compartments as views.
    pub fn comps(&mut self) -> Views<'_> {
        self.all().comps()
    }

    /// Sets a parameter or state everywhere it is defined; see [`View::set`]. A synapse
    /// parameter or state (e.g. `IonotropicSynapse_gS`) is set on every edge of its type.
    pub fn set(&mut self, name: &str, value: f64) -> Result<&mut Self> {
        if self.is_synapse_key(name) {
            self.all_edges().set(name, value)?;
        } else {
            self.all().set(name, value)?;
        }
        Ok(self)
    }
    /// Sets a parameter or state per compartment; see [`View::set_values`].
    pub fn set_values(&mut self, name: &str, values: &[f64]) -> Result<&mut Self> {
        self.all().set_values(name, values)?;
        Ok(self)
    }
    /// Inserts a mechanism in every compartment; see [`View::insert`].
    pub fn insert<M: Mechanism<P, S>, const P: usize, const S: usize>(
        &mut self,
        mech: M,
    ) -> Result<&mut Self> {
        self.all().insert(mech)?;
        Ok(self)
    }
    /// Records a state in every compartment; see [`View::record`]. A synapse state or current
    /// (e.g. `IonotropicSynapse_s`, `i_IonotropicSynapse`) is recorded at every edge of its type.
    pub fn record(&mut self, state: &str) -> Result<&mut Self> {
        if self.is_synapse_key(state) {
            self.all_edges().record(state)?;
        } else {
            self.all().record(state)?;
        }
        Ok(self)
    }
    /// Stimulates every compartment; see [`View::stimulate`].
    pub fn stimulate(&mut self, current: &[f64]) -> &mut Self {
        self.all().stimulate(current);
        self
    }
    /// Jaxley's `data_stimulate` on every compartment; see [`View::data_stimulate`].
    pub fn data_stimulate(
        &self,
        current: &[f64],
        data_stimuli: Option<crate::DataStimuli>,
    ) -> crate::DataStimuli {
        let mut ds = data_stimuli.unwrap_or_default();
        for &node in &self.ix.comp_node {
            ds.stimuli.push(Stimulus {
                node,
                current: current.to_vec(),
            });
        }
        ds
    }
    /// Clamps a state in every compartment (a synapse state: at every edge of its type); see
    /// [`View::clamp`].
    pub fn clamp(&mut self, state: &str, values: &[f64]) -> Result<&mut Self> {
        if self.is_synapse_key(state) {
            self.all_edges().clamp(state, values)?;
        } else {
            self.all().clamp(state, values)?;
        }
        Ok(self)
    }
    /// Makes a parameter trainable, shared by the whole module (a synapse parameter: shared by
    /// every edge of its type); see [`View::make_trainable`].
    pub fn make_trainable(&mut self, key: &str, init: Option<f64>) -> Result<&mut Self> {
        if self.is_synapse_key(key) {
            self.all_edges().make_trainable(key, init)?;
        } else {
            self.all().make_trainable(key, init)?;
        }
        Ok(self)
    }

    /// The recordings, in the order they were added (rows of the output of `integrate`).
    pub fn recordings(&self) -> &[Recording] {
        &self.recordings
    }
    /// The stimuli, in the order they were added.
    pub fn stimuli(&self) -> &[Stimulus] {
        &self.stimuli
    }
    /// The clamps, in the order they were added.
    pub fn clamps(&self) -> &[Clamp] {
        &self.clamps
    }
    /// Removes all recordings.
    pub fn delete_recordings(&mut self) {
        self.recordings.clear();
    }
    /// Removes all stimuli.
    pub fn delete_stimuli(&mut self) {
        self.stimuli.clear();
    }
    /// Removes all clamps (of every state).
    pub fn delete_clamps(&mut self) {
        self.clamps.clear();
    }

    /// Sets every mechanism's states to its steady state at the current voltage of each
    /// compartment (Jaxley's `init_states`). Inputs are read before any mechanism is
    /// initialised, as in Jaxley.
    pub fn init_states(&mut self, delta_t: f64) -> Result<()> {
        crate::error::check_positive("delta_t", delta_t, || "init_states".into())?;
        let snapshot = self.table.clone();
        let n = self.table.n;
        let v = snapshot.cols["v"].clone();
        let order: Vec<Arc<dyn DynMechanism>> = self.ordered_mechanisms().cloned().collect();
        for mech in order {
            let info = mech.info();
            let comps: Vec<u32> = self
                .mechanism_comps(&info.name)
                .iter()
                .map(|&c| c as u32)
                .collect();
            let col = |name: &str| {
                snapshot
                    .cols
                    .get(name)
                    .cloned()
                    .unwrap_or_else(|| vec![f64::NAN; n])
            };
            let mut store: Vec<f64> = Vec::with_capacity((info.states.len() + 1) * n);
            for (s, _) in &info.states {
                store.extend(col(s));
            }
            store.extend_from_slice(&v);
            let params: Vec<f64> = info.params.iter().flat_map(|(p, _)| col(p)).collect();
            let state_off: Vec<usize> = (0..info.states.len()).map(|k| k * n).collect();
            let param_off: Vec<usize> = (0..info.params.len()).map(|k| k * n).collect();
            let mut args = UpdateArgs {
                nodes: Nodes::List(&comps),
                store: SharedSlice::new(&mut store),
                state_off: &state_off,
                params: &params,
                param_off: &param_off,
                param_uniform: &[],
                param_node: 0,
                v: SharedSlice::read_only(&v),
                v_off: info.states.len() * n,
                dt: delta_t,
            };
            mech.update_f64(&mut args, true);
            for (k, (s, _)) in info.states.iter().enumerate() {
                let dst = self.table.col_mut(s);
                for &c in &comps {
                    dst[c as usize] = store[k * n + c as usize];
                }
            }
        }
        Ok(())
    }

    pub(crate) fn insert_dyn<M: Mechanism<P, S>, const P: usize, const S: usize>(
        &mut self,
        mech: M,
        comps: &[usize],
    ) -> Result<()> {
        let info = MechanismInfo::from_mechanism(&mech);
        if self.table.groups.contains_key(&info.name) {
            return Err(Error::GroupMechanismClash(info.name));
        }
        match self.mechs.iter().find(|m| m.info().name == info.name) {
            Some(existing) if existing.info() != &info => {
                return Err(Error::MechanismConflict(info.name));
            }
            Some(_) => {}
            None => self.mechs.push(Arc::new(Wrapped::<M, P, S> {
                mech,
                info: info.clone(),
            })),
        }
        let members = self.table.members_mut(&info.name);
        for &c in comps {
            members[c] = true;
        }
        for (name, default) in info.params.iter().chain(info.states.iter()) {
            if GEOMETRY.contains(&name.as_str()) || name == "v" {
                continue;
            }
            let col = self.table.col_mut(name);
            for &c in comps {
                col[c] = *default;
            }
        }
        Ok(())
    }

    /// Names defined as states (for `record`/`clamp`): `v`, mechanism states, currents.
    pub(crate) fn is_state_name(&self, name: &str) -> bool {
        name == "v"
            || self.mechs.iter().any(|m| {
                m.info().states.iter().any(|(s, _)| s == name) || m.info().current_name == name
            })
    }

    /// Compartments where state `name` is defined.
    pub(crate) fn state_comps(&self, name: &str) -> BTreeSet<usize> {
        if name == "v" || self.diffusion.iter().any(|d| d == name) {
            return (0..self.n_comps()).collect();
        }
        let mut out = BTreeSet::new();
        for m in &self.mechs {
            let info = m.info();
            if info.states.iter().any(|(s, _)| s == name) || info.current_name == name {
                out.extend(self.mechanism_comps(&info.name));
            }
        }
        out
    }
}
