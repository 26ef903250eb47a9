//! Networks: cells connected by synapses (Jaxley's `Network`, `connect`, `fully_connect`,
//! `sparse_connect`, `connectivity_matrix_connect`), and views of their edges.

use super::module::{Clamp, Module, Recording};
use super::table::NodeTable;
use super::trainable::{ParamState, Trainable};
use super::view::Selection;
use super::{Cell, Morphology};
use crate::error::{Error, Result};
use crate::rng::Rng;
use crate::synapses::driver::WrappedSynapse;
use crate::synapses::{Synapse, SynapseInfo};
use std::sync::Arc;

/// Cells connected by synapses (Jaxley's `Network`).
///
/// Nodes are numbered cell by cell, each cell's branchpoints after its compartments, as in
/// Jaxley; views work as on cells, with the cell level on top: `net.cell(2)?.branch(0)?.comp(1)?`.
/// Connect cells with [`connect`], [`fully_connect`], [`sparse_connect`] or
/// [`connectivity_matrix_connect`]; reach the synapses with [`Module::synapse`],
/// [`Module::edge`] or [`Module::all_edges`].
///
/// ```
/// use huxley::{Branch, Cell, Compartment, HH, IntegrateOptions, IonotropicSynapse, Network,
///              connect, integrate, step_current};
/// # fn main() -> huxley::Result<()> {
/// let cell = Cell::new(&Branch::new(&Compartment::new(), 2)?, &[-1, 0, 0])?;
/// let mut net = Network::new(&[cell.clone(), cell.clone(), cell])?;
/// net.insert(HH)?;
/// for (a, b) in [(0, 1), (1, 2)] {
///     let pre = net.cell(a)?.branch(0)?.loc(0.0)?.selection();
///     let post = net.cell(b)?.branch(0)?.loc(0.0)?.selection();
///     connect(&mut net, &pre, &post, IonotropicSynapse)?;
/// }
/// net.set("IonotropicSynapse_gS", 0.05)?;                 // every IonotropicSynapse
/// net.edge(1)?.set("IonotropicSynapse_gS", 0.08)?;        // just the second one
/// net.cell(0)?.branch(0)?.loc(0.0)?.stimulate(&step_current(1.0, 3.0, 0.5, 0.025, 20.0, 0.0));
/// for c in 0..3 {
///     net.cell(c)?.branch(0)?.loc(0.0)?.record("v")?;
/// }
/// net.synapse("IonotropicSynapse")?.record("IonotropicSynapse_s")?;
/// let sim = integrate(&net, &IntegrateOptions::default())?;
/// assert_eq!(sim.recordings.nrows(), 5);
/// assert!(sim.recordings.row(2).max() > 0.0); // the spike reached the third cell
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Network(Module);

impl std::ops::Deref for Network {
    type Target = Module;
    fn deref(&self) -> &Module {
        &self.0
    }
}
impl std::ops::DerefMut for Network {
    fn deref_mut(&mut self) -> &mut Module {
        &mut self.0
    }
}
impl AsRef<Module> for Network {
    fn as_ref(&self) -> &Module {
        &self.0
    }
}
impl From<Network> for Module {
    fn from(x: Network) -> Module {
        x.0
    }
}

impl Network {
    /// A network of the given cells, unconnected. Mechanisms inserted into the cells are kept;
    /// their recordings, stimuli, clamps and trainables are not (as in Jaxley).
    pub fn new(cells: &[Cell]) -> Result<Network> {
        if cells.is_empty() {
            return Err(Error::EmptyView("a network needs at least one cell".into()));
        }
        for c in cells {
            if !c.diffusion.is_empty() {
                return Err(Error::Unsupported(
                    "cells with ion diffusion cannot be combined into a network; call \
                     `diffuse` on the network instead"
                        .into(),
                ));
            }
        }
        let morph = Morphology {
            cells: cells
                .iter()
                .flat_map(|c| c.morph.cells.iter().cloned())
                .collect(),
        };
        let table = NodeTable::concat(cells.iter().map(|c| &c.table));
        let mechs = Module::merge_mechanisms(cells.iter().map(|c| &**c))?;
        Ok(Network(Module::from_parts(morph, table, mechs)))
    }
}

/// Which edges a [`EdgeView`] was last narrowed to; decides how `make_trainable` shares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EdgeLevel {
    /// All edges of the view share one value (per synapse type).
    All,
    /// One value per edge.
    Edge,
}

/// A selection of synapses (edges) of a network, borrowing it mutably: set, record, clamp,
/// make trainable their parameters and states.
///
/// Made by [`Module::all_edges`], [`Module::synapse`] (all edges of one type) and
/// [`Module::edge`] (one edge by global index); narrowed by [`EdgeView::edge`]. Operations with a
/// key act on the edges of the view whose type has that key.
///
/// ```
/// use huxley::{Cell, IonotropicSynapse, Network, TestSynapse, fully_connect};
/// # fn main() -> huxley::Result<()> {
/// let mut net = Network::new(&vec![Cell::default(); 3])?;
/// let all = net.all().selection();
/// fully_connect(&mut net, &all, &all, IonotropicSynapse)?; // 9 edges, 0..9
/// let first = net.cell(0)?.selection();
/// fully_connect(&mut net, &first, &all, TestSynapse)?;     // 3 edges, 9..12
/// net.synapse("IonotropicSynapse")?.set("IonotropicSynapse_gS", 1e-3)?;
/// net.synapse("IonotropicSynapse")?.edge(4)?.set("IonotropicSynapse_gS", 5e-3)?;
/// net.edge(10)?.set("TestSynapse_gC", 2e-3)?;           // global edge 10 = TestSynapse 1
/// assert_eq!(net.edge_column("TestSynapse_gC")?, &[1e-4, 2e-3, 1e-4]);
/// net.all_edges().record("IonotropicSynapse_s")?;        // the 9 IonotropicSynapse edges
/// net.synapse("IonotropicSynapse")?.edge(0)?.make_trainable("IonotropicSynapse_gS", None)?;
/// assert_eq!(net.recordings().len(), 9);
/// assert_eq!(net.get_parameters()[0].values, vec![1e-3]);
/// # Ok(()) }
/// ```
pub struct EdgeView<'a> {
    m: &'a mut Module,
    edges: Vec<usize>,
    level: EdgeLevel,
}

impl Module {
    /// Every synapse of the network (a view).
    pub fn all_edges(&mut self) -> EdgeView<'_> {
        let edges = (0..self.edges.len()).collect();
        EdgeView {
            m: self,
            edges,
            level: EdgeLevel::All,
        }
    }

    /// Every synapse of type `name` (Jaxley's `net.IonotropicSynapse`).
    pub fn synapse(&mut self, name: &str) -> Result<EdgeView<'_>> {
        let t = self.edges.type_of(name).ok_or_else(|| Error::UnknownName {
            name: name.to_string(),
            context: format!(
                "no synapse of this type; types: {}",
                self.synapse_names().join(", ")
            ),
        })?;
        let edges = self.edges.of_type[t].clone();
        Ok(EdgeView {
            m: self,
            edges,
            level: EdgeLevel::All,
        })
    }

    /// Synapse `i` by global edge index (Jaxley's `net.edge(i)`).
    pub fn edge(&mut self, i: usize) -> Result<EdgeView<'_>> {
        self.all_edges().edge(i)
    }
}

impl<'a> EdgeView<'a> {
    /// The `i`-th edge of the view.
    pub fn edge(self, i: usize) -> Result<EdgeView<'a>> {
        let e = *self.edges.get(i).ok_or(Error::IndexOutOfRange {
            what: "edge",
            index: i,
            len: self.edges.len(),
        })?;
        Ok(EdgeView {
            m: self.m,
            edges: vec![e],
            level: EdgeLevel::Edge,
        })
    }

    /// Global edge indices in the view.
    pub fn indices(&self) -> &[usize] {
        &self.edges
    }

    /// Number of edges in the view.
    pub fn len(&self) -> usize {
        self.edges.len()
    }

    /// Whether the view has no edges.
    pub fn is_empty(&self) -> bool {
        self.edges.is_empty()
    }

    /// What the view was last narrowed to.
    pub fn level(&self) -> EdgeLevel {
        self.level
    }

    /// The type index owning `key`, and the view's edges of that type (as within-type indices).
    fn rows(&self, key: &str) -> Result<(usize, Vec<usize>)> {
        let t = self
            .m
            .edges
            .type_of_key(key)
            .ok_or_else(|| Error::UnknownName {
                name: key.to_string(),
                context: format!(
                    "not a parameter, state or current of a synapse type ({})",
                    self.m.synapse_names().join(", ")
                ),
            })?;
        let rows: Vec<usize> = self
            .edges
            .iter()
            .filter(|&&e| self.m.edges.ty[e] == t)
            .map(|&e| self.m.edges.within[e])
            .collect();
        if rows.is_empty() {
            return Err(Error::EmptyView(format!(
                "no edge of this view is a {} (which has `{key}`)",
                self.m.edges.types[t].info().name
            )));
        }
        Ok((t, rows))
    }

    fn param_or_state(&self, key: &str) -> Result<(usize, Vec<usize>)> {
        let (t, rows) = self.rows(key)?;
        if !self.m.edges.cols.contains_key(key) {
            return Err(Error::UnknownName {
                name: key.to_string(),
                context: "a synapse current is computed, not set".into(),
            });
        }
        Ok((t, rows))
    }

    /// Values of a synapse parameter or state at the view's edges of its type.
    pub fn get(&self, key: &str) -> Result<Vec<f64>> {
        let (_, rows) = self.param_or_state(key)?;
        let col = &self.m.edges.cols[key];
        Ok(rows.iter().map(|&r| col[r]).collect())
    }

    /// Sets a synapse parameter or (initial) state at every edge of the view of its type.
    pub fn set(&mut self, key: &str, value: f64) -> Result<&mut Self> {
        let (_, rows) = self.param_or_state(key)?;
        self.write(key, &rows, &vec![value; rows.len()])
    }

    /// Sets a synapse parameter or state per edge: `values[k]` for the k-th edge of the view of
    /// its type.
    pub fn set_values(&mut self, key: &str, values: &[f64]) -> Result<&mut Self> {
        let (_, rows) = self.param_or_state(key)?;
        if values.len() != rows.len() {
            return Err(Error::LengthMismatch {
                what: format!("values of `{key}` (one per edge of its type in the view)"),
                expected: rows.len(),
                got: values.len(),
            });
        }
        self.write(key, &rows, values)
    }

    fn write(&mut self, key: &str, rows: &[usize], values: &[f64]) -> Result<&mut Self> {
        if let Some((r, &v)) = rows.iter().zip(values).find(|(_, v)| !v.is_finite()) {
            return Err(Error::InvalidValue {
                name: key.to_string(),
                value: v,
                requirement: "finite",
                location: format!("edge {r} of its type"),
            });
        }
        let col = self.m.edges.cols.get_mut(key).expect("checked");
        for (&r, &v) in rows.iter().zip(values) {
            col[r] = v;
        }
        Ok(self)
    }

    /// Records a synapse state or current (`IonotropicSynapse_s`, `i_IonotropicSynapse`) at
    /// every edge of the view of its type; the recording's index is the edge's index within
    /// its type (Jaxley's `rec_index`).
    pub fn record(&mut self, state: &str) -> Result<&mut Self> {
        let (t, rows) = self.rows(state)?;
        self.check_state(t, state)?;
        for r in rows {
            self.m.recordings.push(Recording {
                state: state.to_string(),
                node: r,
            });
        }
        Ok(self)
    }

    fn check_state(&self, t: usize, state: &str) -> Result<()> {
        let info: &SynapseInfo = self.m.edges.types[t].info();
        if info.current_name == state || info.states.iter().any(|(s, _)| s == state) {
            Ok(())
        } else {
            Err(Error::UnknownName {
                name: state.to_string(),
                context: format!(
                    "a parameter of {}, not a state; its states are {}",
                    info.name,
                    info.states
                        .iter()
                        .map(|(s, _)| s.as_str())
                        .chain(std::iter::once(info.current_name.as_str()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })
        }
    }

    /// Holds a synapse state at `values` (one per time step) at every edge of the view of its
    /// type (applied before the voltage solve, as Jaxley's clamps of states other than `v`).
    pub fn clamp(&mut self, state: &str, values: &[f64]) -> Result<&mut Self> {
        let (t, rows) = self.rows(state)?;
        self.check_state(t, state)?;
        for r in rows {
            self.m.clamps.push(Clamp {
                state: state.to_string(),
                node: r,
                values: values.to_vec(),
            });
        }
        Ok(self)
    }

    /// Makes a synapse parameter (or initial state) trainable: one value shared by all edges
    /// of the view of its type, or one per edge after [`EdgeView::edge`]. The initial value is
    /// `init`, or the mean of the current values.
    pub fn make_trainable(&mut self, key: &str, init: Option<f64>) -> Result<&mut Self> {
        let (_, rows) = self.param_or_state(key)?;
        let col = &self.m.edges.cols[key];
        let groups: Vec<Vec<usize>> = match self.level {
            EdgeLevel::All => vec![rows],
            EdgeLevel::Edge => rows.into_iter().map(|r| vec![r]).collect(),
        };
        let values = groups
            .iter()
            .map(|g| {
                init.unwrap_or_else(|| g.iter().map(|&r| col[r]).sum::<f64>() / g.len() as f64)
            })
            .collect();
        self.m.trainables.push(Trainable {
            key: key.to_string(),
            nodes: groups,
            values,
        });
        Ok(self)
    }

    /// Jaxley's `data_set` for a synapse parameter or state: the value at every edge of the view
    /// of its type, given at run time. Returns `param_state` with the entry added.
    pub fn data_set<T: crate::Scalar>(
        &self,
        key: &str,
        value: T,
        param_state: Option<Vec<ParamState<T>>>,
    ) -> Result<Vec<ParamState<T>>> {
        let (_, rows) = self.param_or_state(key)?;
        let mut ps = param_state.unwrap_or_default();
        ps.push(ParamState {
            key: key.to_string(),
            values: vec![value; rows.len()],
            nodes: rows.into_iter().map(|r| vec![r]).collect(),
        });
        Ok(ps)
    }
}

/// Checks a selection against the network and returns its compartments' nodes.
fn nodes_of(net: &Module, sel: &Selection, side: &str) -> Result<Vec<usize>> {
    if sel.comps.is_empty() {
        return Err(Error::EmptyView(format!("the {side} selection is empty")));
    }
    let n = net.n_comps();
    if let Some(&bad) = sel.comps.iter().find(|&&c| c >= n) {
        return Err(Error::IndexOutOfRange {
            what: "compartment",
            index: bad,
            len: n,
        });
    }
    Ok(sel.comps.iter().map(|&c| net.ix.comp_node[c]).collect())
}

/// Cells of a selection (ascending) with the node of each cell's first selected compartment.
fn cell_heads(net: &Module, sel: &Selection, side: &str) -> Result<Vec<(usize, usize)>> {
    nodes_of(net, sel, side)?;
    let mut first: Vec<Option<usize>> = vec![None; net.n_cells()];
    for &c in &sel.comps {
        let cell = net.ix.comp_cell[c];
        first[cell] = Some(first[cell].map_or(c, |f: usize| f.min(c)));
    }
    Ok(first
        .iter()
        .enumerate()
        .filter_map(|(cell, f)| f.map(|c| (cell, net.ix.comp_node[c])))
        .collect())
}

fn add_edges<Y: Synapse<P, S>, const P: usize, const S: usize>(
    net: &mut Module,
    syn: Y,
    pairs: &[(usize, usize)],
) -> Result<()> {
    crate::synapses::check_pre_affine(&syn)?;
    let info = SynapseInfo::from_synapse(&syn);
    let wrapped = Arc::new(WrappedSynapse::<Y, P, S> { syn, info });
    let table = &net.table;
    let node_col = |k: &str| table.cols.contains_key(k) || table.members.contains_key(k);
    let current_names = net.membrane_current_names();
    let node_key = |k: &str| node_col(k) || current_names.iter().any(|c| c == k);
    let t = net.edges.register(wrapped, &node_key)?;
    net.edges.push(t, pairs);
    Ok(())
}

/// Connects the i-th compartment of `pre` to the i-th compartment of `post` with one synapse
/// each (Jaxley's `connect`). Both selections must have the same, nonzero length.
///
/// ```
/// use huxley::{Cell, IonotropicSynapse, Network, connect};
/// # fn main() -> huxley::Result<()> {
/// let mut net = Network::new(&[Cell::default(), Cell::default()])?;
/// let pre = net.cell(0)?.branch(0)?.comp(0)?.selection();
/// let post = net.cell(1)?.branch(0)?.comp(0)?.selection();
/// connect(&mut net, &pre, &post, IonotropicSynapse)?;
/// assert_eq!(net.connections()[0].post_node, 1);
/// # Ok(()) }
/// ```
pub fn connect<Y: Synapse<P, S>, const P: usize, const S: usize>(
    net: &mut Network,
    pre: &Selection,
    post: &Selection,
    syn: Y,
) -> Result<()> {
    let a = nodes_of(net, pre, "pre-synaptic")?;
    let b = nodes_of(net, post, "post-synaptic")?;
    if a.len() != b.len() {
        return Err(Error::LengthMismatch {
            what: "post-synaptic compartments (one per pre-synaptic compartment)".into(),
            expected: a.len(),
            got: b.len(),
        });
    }
    let pairs: Vec<(usize, usize)> = a.into_iter().zip(b).collect();
    add_edges(net, syn, &pairs)
}

/// Connects every cell of `pre` to every cell of `post` (Jaxley's `fully_connect`): from the
/// first selected compartment of each pre-synaptic cell (branch 0, compartment 0 for whole cells)
/// to the first selected compartment of each post-synaptic cell, pre-major (all targets of the
/// first pre-synaptic cell, then of the second, …). Self-connections are included.
///
/// ```
/// use huxley::{Cell, Network, TestSynapse, fully_connect};
/// # fn main() -> huxley::Result<()> {
/// let mut net = Network::new(&vec![Cell::default(); 4])?;
/// let pre = net.cells_at(&[0, 1])?.selection();
/// let post = net.cells_at(&[1, 2, 3])?.selection();
/// fully_connect(&mut net, &pre, &post, TestSynapse)?;
/// let pairs: Vec<_> = net.connections().iter().map(|c| (c.pre_node, c.post_node)).collect();
/// assert_eq!(pairs, [(0, 1), (0, 2), (0, 3), (1, 1), (1, 2), (1, 3)]);
/// # Ok(()) }
/// ```
pub fn fully_connect<Y: Synapse<P, S>, const P: usize, const S: usize>(
    net: &mut Network,
    pre: &Selection,
    post: &Selection,
    syn: Y,
) -> Result<()> {
    let a = cell_heads(net, pre, "pre-synaptic")?;
    let b = cell_heads(net, post, "post-synaptic")?;
    let pairs: Vec<(usize, usize)> = a
        .iter()
        .flat_map(|&(_, x)| b.iter().map(move |&(_, y)| (x, y)))
        .collect();
    add_edges(net, syn, &pairs)
}

/// Random connections (Jaxley's `sparse_connect`): the number of synapses is drawn from
/// Binomial(n_pre · n_post, `p`), each synapse then gets a uniformly drawn pre- and
/// post-synaptic cell (with replacement, so pairs may repeat). The draws come from a generator
/// seeded by `seed` (not numpy's, so the connections differ from Jaxley's for the same seed, but
/// are the same on every machine). Returns the number of synapses added.
///
/// The new synapses are ordered by post-synaptic cell, then pre-synaptic cell. (Jaxley orders
/// them by pre-synaptic cell "for convenience of inspecting `.edges`"; ordering by target lets
/// every worker of a parallel step read the synapses of its cells as one contiguous block.)
///
/// ```
/// use huxley::{Cell, IonotropicSynapse, Network, sparse_connect};
/// # fn main() -> huxley::Result<()> {
/// let mut net = Network::new(&vec![Cell::default(); 100])?;
/// let all = net.all().selection();
/// let n = sparse_connect(&mut net, &all, &all, IonotropicSynapse, 0.1, 42)?;
/// assert!(n > 800 && n < 1200);
/// assert!(sparse_connect(&mut net, &all, &all, IonotropicSynapse, 1.5, 42).is_err());
/// # Ok(()) }
/// ```
pub fn sparse_connect<Y: Synapse<P, S>, const P: usize, const S: usize>(
    net: &mut Network,
    pre: &Selection,
    post: &Selection,
    syn: Y,
    p: f64,
    seed: u64,
) -> Result<usize> {
    if !(0.0..=1.0).contains(&p) {
        return Err(Error::InvalidValue {
            name: "p".into(),
            value: p,
            requirement: "a probability in [0, 1]",
            location: "sparse_connect".into(),
        });
    }
    let a = cell_heads(net, pre, "pre-synaptic")?;
    let b = cell_heads(net, post, "post-synaptic")?;
    let mut rng = Rng::new(seed);
    let n = rng.binomial((a.len() * b.len()) as u64, p) as usize;
    let mut draws: Vec<(usize, usize)> = (0..n)
        .map(|_| (rng.below(a.len() as u64) as usize, 0))
        .collect();
    for d in &mut draws {
        d.1 = rng.below(b.len() as u64) as usize;
    }
    draws.sort_by_key(|d| (d.1, d.0));
    let pairs: Vec<(usize, usize)> = draws.iter().map(|&(i, j)| (a[i].1, b[j].1)).collect();
    if !pairs.is_empty() {
        add_edges(net, syn, &pairs)?;
    }
    Ok(n)
}

/// Connects cells by a boolean matrix (Jaxley's `connectivity_matrix_connect`): one synapse
/// from pre-synaptic cell `i` to post-synaptic cell `j` (counted within the selections, in
/// ascending cell order) wherever `matrix[i][j]`, row by row. The matrix must be
/// `n_pre × n_post`.
///
/// ```
/// use huxley::{Cell, Network, TanhRateSynapse, connectivity_matrix_connect, Rate};
/// # fn main() -> huxley::Result<()> {
/// let mut net = Network::new(&vec![Cell::default(); 3])?;
/// net.insert(Rate)?;
/// let all = net.all().selection();
/// let m = vec![vec![false, true, false], vec![false, false, true], vec![true, false, false]];
/// connectivity_matrix_connect(&mut net, &all, &all, TanhRateSynapse, &m)?;
/// assert_eq!(net.n_edges(), 3);
/// assert!(connectivity_matrix_connect(&mut net, &all, &all, TanhRateSynapse, &m[..2]).is_err());
/// # Ok(()) }
/// ```
pub fn connectivity_matrix_connect<Y: Synapse<P, S>, const P: usize, const S: usize>(
    net: &mut Network,
    pre: &Selection,
    post: &Selection,
    syn: Y,
    matrix: &[Vec<bool>],
) -> Result<()> {
    let a = cell_heads(net, pre, "pre-synaptic")?;
    let b = cell_heads(net, post, "post-synaptic")?;
    let bad_row = matrix.iter().find(|r| r.len() != b.len());
    if matrix.len() != a.len() || bad_row.is_some() {
        return Err(Error::ShapeMismatch {
            what: "connectivity matrix (pre-synaptic cells × post-synaptic cells)".into(),
            expected: (a.len(), b.len()),
            got: (matrix.len(), bad_row.map_or(b.len(), |r| r.len())),
        });
    }
    let mut pairs = Vec::new();
    for (i, row) in matrix.iter().enumerate() {
        for (j, &x) in row.iter().enumerate() {
            if x {
                pairs.push((a[i].1, b[j].1));
            }
        }
    }
    if !pairs.is_empty() {
        add_edges(net, syn, &pairs)?;
    }
    Ok(())
}
