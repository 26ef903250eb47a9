//! Compile: a [`Module`] turned into flat structure-of-arrays, once, before simulating.
//!
//! Node order and graph edges follow Jaxley (so recordings, flat states and reference data line
//! up), the Hines elimination order interleaves independent branches, every mechanism gets a
//! compact list of the nodes it lives on and the offsets of its parameters and states, and the
//! state and parameter containers get their layouts (which nodes each key is defined on — the
//! masks the dynamic-state utilities need).

mod graph;
mod layout;

pub use graph::{Edge, EdgeKind, Graph, HinesOrder, HinesUnit};
pub use layout::{KeyKind, Layout};

use crate::error::{Error, Result};
use crate::externals::{ExternalSeries, Externals};
use crate::mechanisms::InfoKind;
use crate::mechanisms::driver::DynMechanism;
use crate::model::{Module, Trainable};
use crate::synapses::driver::DynSynapse;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The nodes of a mechanism, stored compactly.
#[derive(Clone, Debug)]
pub(crate) enum NodeSet {
    Range(usize, usize),
    List(Vec<u32>),
}

impl NodeSet {
    fn from_sorted(nodes: Vec<u32>) -> NodeSet {
        match (nodes.first(), nodes.last()) {
            (Some(&a), Some(&b)) if (b - a) as usize + 1 == nodes.len() => {
                NodeSet::Range(a as usize, nodes.len())
            }
            (None, _) => NodeSet::Range(0, 0),
            _ => NodeSet::List(nodes),
        }
    }
    pub(crate) fn iter(&self) -> Box<dyn Iterator<Item = usize> + '_> {
        match self {
            NodeSet::Range(start, len) => Box::new(*start..start + len),
            NodeSet::List(l) => Box::new(l.iter().map(|&x| x as usize)),
        }
    }
}

/// One mechanism, ready to run.
pub(crate) struct CompiledMech {
    pub mech: Arc<dyn DynMechanism>,
    pub nodes: NodeSet,
    pub state_off: Vec<usize>,
    pub param_off: Vec<usize>,
    /// Index into [`Compiled::targets`].
    pub target: usize,
    /// Index into [`Compiled::currents`].
    pub current: usize,
}

/// One synapse type, ready to run.
pub(crate) struct CompiledSyn {
    pub syn: Arc<dyn DynSynapse>,
    /// Per edge of the type: pre- and post-synaptic node.
    pub pre: Vec<u32>,
    pub post: Vec<u32>,
    /// Per edge of the type: position of its pre-synaptic node in [`Compiled::pre_nodes`].
    pub pre_slot: Vec<u32>,
    pub state_off: Vec<usize>,
    pub param_off: Vec<usize>,
    /// Offset of `i_<name>` in the state store.
    pub current_off: usize,
    /// Edges (within the type) sorted by the chunk of their post-synaptic node, then by index;
    /// chunk `c` has `by_chunk[chunk_ptr[c]..chunk_ptr[c + 1]]`.
    pub by_chunk: Vec<u32>,
    pub chunk_ptr: Vec<usize>,
    /// Per chunk: whether its edges are consecutive indices.
    pub chunk_contiguous: Vec<bool>,
    /// For a type whose update is affine per pre-synaptic node ([`crate::Synapse::PRE_AFFINE`])
    /// with at least two edges per pre-synaptic node of the network: where its coefficients
    /// start in the step's workspace (`2 · states · pre_nodes` values).
    pub affine_off: Option<usize>,
}

/// The nodes of a mechanism within one chunk.
#[derive(Clone, Copy, Debug)]
pub(crate) enum SubSet {
    /// Nodes `start..start + len`.
    Range(usize, usize),
    /// Entries `lo..hi` of the mechanism's node list.
    List(usize, usize),
    /// Every compartment of the chunk, run as the whole node range `start..start + len`
    /// (contiguous loads instead of gathers); the results at the chunk's branchpoints are
    /// discarded (states reset to NaN, current terms to zero).
    Padded(usize, usize),
}

/// A block of nodes stepped together by one worker: mechanisms, currents, synapses onto its
/// nodes and, when it holds whole cells, their Hines solve. Chunking depends only on the model,
/// never on the number of threads.
pub(crate) struct Chunk {
    pub nodes: std::ops::Range<usize>,
    /// The solve unit of [`HinesOrder`] this chunk owns (its cells lie entirely inside it).
    pub unit: Option<usize>,
    /// Per compiled mechanism: its nodes in this chunk.
    pub mechs: Vec<SubSet>,
    /// Per membrane current slot: bounds into the current key's defined nodes.
    pub currents: Vec<(usize, usize)>,
    /// Per pumped, non-diffused ion (see [`Compiled::euler_targets`]): bounds into its defined
    /// nodes.
    pub euler: Vec<(usize, usize)>,
    /// Whether any synapse ends in this chunk.
    pub has_syn: bool,
    /// Bounds into [`Compiled::bp_nodes`]: the chunk's branchpoints.
    pub bps: (usize, usize),
    /// Whether some mechanism runs padded over the chunk.
    pub padded: bool,
}

/// A diffused ion state.
pub(crate) struct Diffused {
    /// State key.
    pub key: usize,
    /// Index into [`Compiled::targets`] if a pump acts on it.
    pub target: Option<usize>,
    /// Parameter key of `axial_diffusion_<ion>`.
    pub param: usize,
}

/// Small cells are grouped into chunks of at least this many nodes.
pub(crate) const CHUNK_NODES: usize = 512;
/// ... and, in models large enough for [`CHUNK_GROUPS`] chunks of more, of about this many:
/// longer runs of the same kernel over contiguous arrays (the 10 000-cell benchmark network:
/// about 10 % faster on one thread than with chunks of 512 nodes).
pub(crate) const CHUNK_TARGET: usize = 2048;
/// The number of chunks is a multiple of this (at least this): work in equal shares for 2, 4,
/// 8 or 16 threads, whatever the number of threads the model runs on, and enough chunks for a
/// thread that finishes early to take work from one that is held up (with 8 chunks at 1 000
/// cells two threads ran 1.69–1.74× faster than one, with 16 and 33 about 1.8×).
pub(crate) const CHUNK_GROUPS: usize = 16;

/// The chunk size of small cells in a model of `n` nodes: `n` split into a multiple of
/// [`CHUNK_GROUPS`] chunks of about [`CHUNK_TARGET`] nodes (`n / 16` below 32 768 nodes), but
/// at least [`CHUNK_NODES`]. It depends on the model alone.
fn chunk_nodes(n: usize) -> usize {
    let chunks = (n / CHUNK_TARGET / CHUNK_GROUPS * CHUNK_GROUPS).max(CHUNK_GROUPS);
    n.div_ceil(chunks).max(CHUNK_NODES)
}
/// Cells with more nodes than this are split into several chunks (parallel mechanism updates)
/// and keep one serial Hines solve.
pub(crate) const SPLIT_NODES: usize = 4096;
/// Chunk size for split cells.
pub(crate) const SPLIT_CHUNK: usize = 2048;

/// A module compiled for simulation. Shared (behind an `Arc`) by the init and step functions and
/// by every state container built from it.
pub struct Compiled {
    pub(crate) graph: Graph,
    pub(crate) hines: HinesOrder,
    pub(crate) comp_nodes: Vec<u32>,
    pub(crate) states: Arc<Layout>,
    pub(crate) params: Arc<Layout>,
    pub(crate) mechs: Vec<CompiledMech>,
    pub(crate) syns: Vec<CompiledSyn>,
    /// State keys that currents act on: `v` first, then pumped ions.
    pub(crate) targets: Vec<usize>,
    /// Pumped ions that are not diffused (advanced by implicit Euler per node): indices into
    /// `targets`.
    pub(crate) euler_targets: Vec<usize>,
    /// Diffused ions.
    pub(crate) diffused: Vec<Diffused>,
    /// State keys of the membrane currents.
    pub(crate) currents: Vec<usize>,
    pub(crate) chunks: Vec<Chunk>,
    /// All branchpoint nodes, ascending.
    pub(crate) bp_nodes: Vec<u32>,
    /// The edges into branchpoints (from their parent or a child), in edge order: the
    /// branchpoint voltages are sums over them.
    pub(crate) bp_edges: Vec<u32>,
    /// The branchpoints that have a parent edge, in edge order (each gets its voltage).
    pub(crate) bp_with_parent: Vec<u32>,
    /// Every pre-synaptic node, once, ascending: the step gathers their voltages before the
    /// parallel region.
    pub(crate) pre_nodes: Vec<u32>,
    /// Length of the step's workspace for the coefficients of affine synapse updates (see
    /// [`CompiledSyn::affine_off`]).
    pub(crate) pre_affine_len: usize,
    /// Solve units of cells split over several chunks (solved after the chunks).
    pub(crate) deferred_units: Vec<usize>,
    /// Whether a mechanism writes the voltage (then synapses read the voltage after the
    /// mechanism updates of all chunks).
    pub(crate) sets_voltage: bool,
    pub(crate) init_states: Vec<f64>,
    pub(crate) init_params: Vec<f64>,
    pub(crate) recordings: Vec<(usize, usize)>,
    pub(crate) trainables: Vec<Trainable>,
    pub(crate) externals: Externals<f64>,
    /// Position of `area` in the parameter layout.
    pub(crate) area_key: usize,
    pub(crate) lu: std::sync::OnceLock<Result<crate::solver::sparse_lu::Plan>>,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

type Range<T> = std::ops::Range<T>;

/// Chunks (node range, owned solve unit), solve units, and the units solved after the chunks.
type Partition = (
    Vec<(Range<usize>, Option<usize>)>,
    Vec<Range<usize>>,
    Vec<usize>,
);

/// Splits the nodes into chunks and solve units: small cells are grouped until a chunk has
/// [`chunk_nodes`] nodes; a cell with more than [`SPLIT_NODES`] nodes is its own unit, split
/// into chunks of [`SPLIT_CHUNK`] nodes.
fn partition(cell_nodes: &[Range<usize>]) -> Partition {
    let target = chunk_nodes(cell_nodes.last().map_or(0, |c| c.end));
    let mut chunks = Vec::new();
    let mut units = Vec::new();
    let mut deferred = Vec::new();
    let mut open: Option<std::ops::Range<usize>> = None;
    let close = |open: &mut Option<std::ops::Range<usize>>,
                 chunks: &mut Vec<(std::ops::Range<usize>, Option<usize>)>,
                 units: &mut Vec<std::ops::Range<usize>>| {
        if let Some(r) = open.take() {
            units.push(r.clone());
            chunks.push((r, Some(units.len() - 1)));
        }
    };
    for cell in cell_nodes {
        if cell.len() > SPLIT_NODES {
            close(&mut open, &mut chunks, &mut units);
            units.push(cell.clone());
            deferred.push(units.len() - 1);
            let mut a = cell.start;
            while a < cell.end {
                let b = (a + SPLIT_CHUNK).min(cell.end);
                chunks.push((a..b, None));
                a = b;
            }
            continue;
        }
        let r = match open.take() {
            Some(r) => r.start..cell.end,
            None => cell.clone(),
        };
        if r.len() >= target {
            open = Some(r);
            close(&mut open, &mut chunks, &mut units);
        } else {
            open = Some(r);
        }
    }
    close(&mut open, &mut chunks, &mut units);
    (chunks, units, deferred)
}

/// Sorted, deduplicated.
fn sorted(mut v: Vec<u32>) -> Vec<u32> {
    // Node lists mostly arrive ascending: one pass instead of a sort.
    if v.windows(2).all(|w| w[0] < w[1]) {
        return v;
    }
    v.sort_unstable();
    v.dedup();
    v
}

/// Bounds `(lo, hi)` of the entries of the sorted `list` inside `r`.
fn bounds(list: &[u32], r: &Range<usize>) -> (usize, usize) {
    let lo = list.partition_point(|&x| (x as usize) < r.start);
    let hi = list.partition_point(|&x| (x as usize) < r.end);
    (lo, hi)
}

/// The chunk of nodes `r`, without a solve unit or synapses (the caller sets those).
fn make_chunk(
    r: Range<usize>,
    compiled_mechs: &[CompiledMech],
    bp_nodes: &[u32],
    currents: &[usize],
    euler_targets: &[usize],
    targets: &[usize],
    states: &Layout,
) -> Chunk {
    let bps = bounds(bp_nodes, &r);
    let n_comps = r.len() - (bps.1 - bps.0);
    let mechs: Vec<SubSet> = compiled_mechs
        .iter()
        .map(|m| match &m.nodes {
            NodeSet::Range(start, len) => {
                let a = (*start).max(r.start);
                let b = (start + len).min(r.end);
                SubSet::Range(a, b.saturating_sub(a))
            }
            NodeSet::List(l) => {
                let (lo, hi) = bounds(l, &r);
                if hi - lo == n_comps && n_comps > 0 && !m.mech.info().sets_voltage {
                    SubSet::Padded(r.start, r.len())
                } else {
                    SubSet::List(lo, hi)
                }
            }
        })
        .collect();
    Chunk {
        padded: mechs.iter().any(|m| matches!(m, SubSet::Padded(..))),
        mechs,
        bps,
        currents: currents
            .iter()
            .map(|&k| bounds(states.defined(k), &r))
            .collect(),
        euler: euler_targets
            .iter()
            .map(|&t| bounds(states.defined(targets[t]), &r))
            .collect(),
        nodes: r,
        unit: None,
        has_syn: false,
    }
}

impl Compiled {
    /// A chunk of the nodes `r` outside [`Compiled::chunks`], without a solve unit, for a model
    /// without synapses: what [`crate::step::pre_solve_chunk`] runs.
    pub(crate) fn chunk_of(&self, r: Range<usize>) -> Chunk {
        debug_assert!(self.syns.is_empty(), "a chunk of a model without synapses");
        make_chunk(
            r,
            &self.mechs,
            &self.bp_nodes,
            &self.currents,
            &self.euler_targets,
            &self.targets,
            &self.states,
        )
    }

    /// Compiles a module.
    pub fn new(module: &Module) -> Result<Compiled> {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let ix = &module.ix;
        let n = ix.n_nodes;
        let graph = Graph::build(&module.morph, ix);
        let cell_nodes: Vec<std::ops::Range<usize>> = (0..module.n_cells())
            .map(|c| {
                let a = ix.cell_first_node[c];
                let b = ix.cell_first_node.get(c + 1).copied().unwrap_or(n);
                a..b
            })
            .collect();
        let (chunk_ranges, units, deferred_units) = partition(&cell_nodes);
        let hines = HinesOrder::build(&graph, &units);
        let comp_nodes: Vec<u32> = ix.comp_node.iter().map(|&x| x as u32).collect();
        let all_comps: Vec<u32> = comp_nodes.clone();
        let mechs: Vec<Arc<dyn DynMechanism>> = module.ordered_mechanisms().cloned().collect();
        let mech_nodes: Vec<Vec<u32>> = mechs
            .iter()
            .map(|m| {
                module
                    .mechanism_comps(&m.info().name)
                    .iter()
                    .map(|&c| comp_nodes[c])
                    .collect()
            })
            .collect();

        // State keys: v, mechanism states (channels then pumps, shared names once), synapse
        // states, membrane currents, synapse currents.
        type Entry = (String, KeyKind, Vec<u32>, usize);
        let mut state_entries: Vec<Entry> =
            vec![("v".into(), KeyKind::Voltage, (0..n as u32).collect(), n)];
        let add = |entries: &mut Vec<Entry>, name: &str, kind, nodes: &[u32]| match entries
            .iter_mut()
            .find(|e| e.0 == name)
        {
            Some(e) => e.2.extend(nodes),
            None => entries.push((name.to_string(), kind, nodes.to_vec(), n)),
        };
        for (m, nodes) in mechs.iter().zip(&mech_nodes) {
            for (s, _) in &m.info().states {
                add(&mut state_entries, s, KeyKind::State, nodes);
            }
        }
        for ion in &module.diffusion {
            add(&mut state_entries, ion, KeyKind::State, &all_comps);
        }
        let syn_types = &module.edges.types;
        let n_of_type: Vec<usize> = module.edges.of_type.iter().map(|e| e.len()).collect();
        for (t, y) in syn_types.iter().enumerate() {
            for (s, _) in &y.info().states {
                let len = n_of_type[t];
                state_entries.push((
                    s.clone(),
                    KeyKind::SynapseState,
                    (0..len as u32).collect(),
                    len,
                ));
            }
        }
        for (m, nodes) in module.mechs.iter().map(|m| {
            let k = mechs
                .iter()
                .position(|x| Arc::ptr_eq(x, m))
                .expect("same list");
            (m, &mech_nodes[k])
        }) {
            let name = &m.info().current_name;
            match state_entries.iter_mut().find(|e| &e.0 == name) {
                Some(e) => {
                    if e.1 == KeyKind::State {
                        e.1 = KeyKind::Current { read: true };
                    }
                    e.2.extend(nodes);
                }
                None => state_entries.push((
                    name.clone(),
                    KeyKind::Current { read: false },
                    nodes.to_vec(),
                    n,
                )),
            }
        }
        for (t, y) in syn_types.iter().enumerate() {
            let len = n_of_type[t];
            state_entries.push((
                y.info().current_name.clone(),
                KeyKind::SynapseCurrent,
                (0..len as u32).collect(),
                len,
            ));
        }
        let states = Arc::new(Layout::with_lengths(
            id,
            n,
            state_entries
                .into_iter()
                .map(|(a, b, c, d)| (a, b, sorted(c), d))
                .collect(),
        ));

        // Parameter keys: geometry, diffusion constants, mechanism parameters, synapse
        // parameters.
        let mut param_entries: Vec<Entry> = crate::model::GEOMETRY
            .iter()
            .map(|g| (g.to_string(), KeyKind::Geometry, all_comps.clone(), n))
            .collect();
        for ion in &module.diffusion {
            param_entries.push((
                format!("axial_diffusion_{ion}"),
                KeyKind::Param,
                all_comps.clone(),
                n,
            ));
        }
        for (m, nodes) in mechs.iter().zip(&mech_nodes) {
            for (p, _) in &m.info().params {
                add(&mut param_entries, p, KeyKind::Param, nodes);
            }
        }
        for (t, y) in syn_types.iter().enumerate() {
            for (p, _) in &y.info().params {
                let len = n_of_type[t];
                param_entries.push((
                    p.clone(),
                    KeyKind::SynapseParam,
                    (0..len as u32).collect(),
                    len,
                ));
            }
        }
        let params = Arc::new(Layout::with_lengths(
            id,
            n,
            param_entries
                .into_iter()
                .map(|(a, b, c, d)| (a, b, sorted(c), d))
                .collect(),
        ));

        let fill = |layout: &Layout| -> Vec<f64> {
            let mut data = vec![f64::NAN; layout.total_len()];
            for (k, name) in layout.names.iter().enumerate() {
                let off = layout.offset(k);
                if layout.is_edge_key(k) {
                    if let Some(col) = module.edges.cols.get(name) {
                        data[off..off + col.len()].copy_from_slice(col);
                    }
                } else if let Some(col) = module.table.cols.get(name) {
                    // Both lists ascend: one merge walk (a binary search per compartment and
                    // key was a quarter of compiling a 1 000-cell network).
                    let defined = &layout.defined[k];
                    debug_assert!(comp_nodes.is_sorted() && defined.is_sorted());
                    if defined.len() == layout.n || defined[..] == comp_nodes[..] {
                        // Defined at every compartment (most keys): no walk.
                        for (c, &node) in comp_nodes.iter().enumerate() {
                            data[off + node as usize] = col[c];
                        }
                        continue;
                    }
                    let mut j = 0;
                    for (c, &node) in comp_nodes.iter().enumerate() {
                        while j < defined.len() && defined[j] < node {
                            j += 1;
                        }
                        if defined.get(j) == Some(&node) {
                            data[off + node as usize] = col[c];
                        }
                    }
                }
            }
            data
        };
        let init_states = fill(&states);
        let init_params = fill(&params);

        // Targets: v, then pumped ions in order of first appearance.
        let mut targets = vec![0usize];
        for m in &module.mechs {
            if let InfoKind::Pump(ion) = &m.info().kind {
                let k = states.position(ion).ok_or_else(|| Error::UnknownName {
                    name: ion.clone(),
                    context: format!(
                        "pump `{}` acts on it, but no mechanism declares it as a state",
                        m.info().name
                    ),
                })?;
                if !targets.contains(&k) {
                    targets.push(k);
                }
            }
        }
        let diffused: Vec<Diffused> = module
            .diffusion
            .iter()
            .map(|ion| {
                let key = states
                    .position(ion)
                    .expect("diffused states are state keys");
                Diffused {
                    key,
                    target: targets.iter().position(|&t| t == key),
                    param: params
                        .position(&format!("axial_diffusion_{ion}"))
                        .expect("diffusion parameter"),
                }
            })
            .collect();
        let euler_targets: Vec<usize> = (1..targets.len())
            .filter(|&t| !diffused.iter().any(|d| d.target == Some(t)))
            .collect();
        let currents: Vec<usize> = module
            .membrane_current_names()
            .iter()
            .map(|c| states.position(c).expect("current keys are in the layout"))
            .collect();

        let mut compiled_mechs = Vec::new();
        for (m, nodes) in mechs.iter().zip(mech_nodes) {
            let info = m.info();
            let target_key = states.position(info.target()).expect("checked above");
            compiled_mechs.push(CompiledMech {
                mech: m.clone(),
                nodes: NodeSet::from_sorted(nodes),
                state_off: info
                    .states
                    .iter()
                    .map(|(s, _)| states.offset(states.position(s).unwrap()))
                    .collect(),
                param_off: info
                    .params
                    .iter()
                    .map(|(p, _)| params.offset(params.position(p).unwrap()))
                    .collect(),
                target: targets.iter().position(|&t| t == target_key).unwrap(),
                current: currents
                    .iter()
                    .position(|&c| states.names[c] == info.current_name)
                    .unwrap(),
            });
        }

        // Chunks.
        let chunk_of = |node: usize| chunk_ranges.partition_point(|(r, _)| r.end <= node);
        let pre_nodes: Vec<u32> = sorted(module.edges.pre.iter().map(|&p| p as u32).collect());
        let mut syns = Vec::new();
        let mut pre_affine_len = 0;
        let mut chunk_has_syn = vec![false; chunk_ranges.len()];
        for (t, y) in syn_types.iter().enumerate() {
            let info = y.info();
            let edges = &module.edges.of_type[t];
            let pre: Vec<u32> = edges.iter().map(|&e| module.edges.pre[e] as u32).collect();
            let post: Vec<u32> = edges.iter().map(|&e| module.edges.post[e] as u32).collect();
            let mut by_chunk: Vec<(usize, u32)> = post
                .iter()
                .enumerate()
                .map(|(w, &node)| (chunk_of(node as usize), w as u32))
                .collect();
            by_chunk.sort_unstable();
            let mut chunk_ptr = vec![0usize; chunk_ranges.len() + 1];
            for &(ch, _) in &by_chunk {
                chunk_ptr[ch + 1] += 1;
                chunk_has_syn[ch] = true;
            }
            for ch in 0..chunk_ranges.len() {
                chunk_ptr[ch + 1] += chunk_ptr[ch];
            }
            let key = |name: &str| states.position(name).expect("synapse key");
            let by_chunk: Vec<u32> = by_chunk.into_iter().map(|(_, w)| w).collect();
            let chunk_contiguous = (0..chunk_ranges.len())
                .map(|ch| {
                    let l = &by_chunk[chunk_ptr[ch]..chunk_ptr[ch + 1]];
                    l.windows(2).all(|w| w[1] == w[0] + 1)
                })
                .collect();
            let pre_slot = pre
                .iter()
                .map(|p| pre_nodes.binary_search(p).expect("listed") as u32)
                .collect();
            // Coefficients per pre-synaptic node pay when they are shared by several edges.
            let shared = info.pre_affine.is_some()
                && !edges.is_empty()
                && edges.len() >= 2 * pre_nodes.len();
            let affine_off = shared.then_some(pre_affine_len);
            if shared {
                pre_affine_len += 2 * info.states.len() * pre_nodes.len();
            }
            syns.push(CompiledSyn {
                affine_off,
                syn: y.clone(),
                pre,
                post,
                pre_slot,
                state_off: info
                    .states
                    .iter()
                    .map(|(s, _)| states.offset(key(s)))
                    .collect(),
                param_off: info
                    .params
                    .iter()
                    .map(|(p, _)| params.offset(params.position(p).expect("synapse key")))
                    .collect(),
                current_off: states.offset(key(&info.current_name)),
                by_chunk,
                chunk_ptr,
                chunk_contiguous,
            });
        }
        let bp_nodes: Vec<u32> = (0..n as u32)
            .filter(|&i| !graph.is_comp[i as usize])
            .collect();
        let bp_edges: Vec<u32> = (0..graph.edges.len() as u32)
            .filter(|&e| {
                matches!(
                    graph.edges[e as usize].kind,
                    EdgeKind::ParentToBp | EdgeKind::ChildToBp
                )
            })
            .collect();
        let bp_with_parent: Vec<u32> = graph
            .edges
            .iter()
            .filter(|e| e.kind == EdgeKind::ParentToBp)
            .map(|e| e.sink as u32)
            .collect();
        let chunks: Vec<Chunk> = chunk_ranges
            .iter()
            .enumerate()
            .map(|(ci, (r, unit))| {
                let mut ch = make_chunk(
                    r.clone(),
                    &compiled_mechs,
                    &bp_nodes,
                    &currents,
                    &euler_targets,
                    &targets,
                    &states,
                );
                ch.unit = *unit;
                ch.has_syn = chunk_has_syn[ci];
                ch
            })
            .collect();
        let sets_voltage = mechs.iter().any(|m| m.info().sets_voltage);

        let recordings = module
            .recordings
            .iter()
            .map(|r| {
                let k = states
                    .position(&r.state)
                    .ok_or_else(|| Error::UnknownName {
                        name: r.state.clone(),
                        context: "recorded, but not a state of the module".into(),
                    })?;
                if states.defined(k).binary_search(&(r.node as u32)).is_err() {
                    return Err(Error::UnknownName {
                        name: r.state.clone(),
                        context: format!("recorded at index {}, where it is not defined", r.node),
                    });
                }
                Ok((k, r.node))
            })
            .collect::<Result<Vec<_>>>()?;

        let externals = Self::build_externals(module, &states)?;
        let area_key = params.position("area").expect("geometry");
        Ok(Compiled {
            graph,
            hines,
            comp_nodes,
            states,
            params,
            mechs: compiled_mechs,
            syns,
            targets,
            euler_targets,
            diffused,
            currents,
            chunks,
            bp_nodes,
            bp_edges,
            bp_with_parent,
            pre_nodes,
            pre_affine_len,
            deferred_units,
            sets_voltage,
            init_states,
            init_params,
            recordings,
            trainables: module.trainables.clone(),
            externals,
            area_key,
            lu: std::sync::OnceLock::new(),
        })
    }

    fn build_externals(module: &Module, states: &Arc<Layout>) -> Result<Externals<f64>> {
        let mut series = Vec::new();
        if !module.stimuli.is_empty() {
            let rows: Vec<(usize, &[f64])> = module
                .stimuli
                .iter()
                .map(|s| (s.node, s.current.as_slice()))
                .collect();
            series.push(ExternalSeries::from_rows("i", usize::MAX, &rows)?);
        }
        type Rows<'a> = Vec<(usize, &'a [f64])>;
        let mut by_state: Vec<(String, Rows<'_>)> = Vec::new();
        let mut slot: HashMap<&str, usize> = HashMap::new();
        for cl in &module.clamps {
            let i = *slot.entry(cl.state.as_str()).or_insert_with(|| {
                by_state.push((cl.state.clone(), Vec::new()));
                by_state.len() - 1
            });
            by_state[i].1.push((cl.node, cl.values.as_slice()));
        }
        for (state, rows) in by_state {
            let k = states.position(&state).ok_or_else(|| Error::UnknownName {
                name: state.clone(),
                context: "clamped, but not a state of the module".into(),
            })?;
            series.push(ExternalSeries::from_rows(&state, k, &rows)?);
        }
        Ok(Externals::new(states.fingerprint, series))
    }

    /// Number of nodes.
    pub fn n_nodes(&self) -> usize {
        self.graph.n_nodes()
    }
    /// Number of compartments.
    pub fn n_comps(&self) -> usize {
        self.comp_nodes.len()
    }
    /// Layout of `all_states`.
    pub fn state_layout(&self) -> &Arc<Layout> {
        &self.states
    }
    /// Layout of `all_params`.
    pub fn param_layout(&self) -> &Arc<Layout> {
        &self.params
    }
    /// The compartment graph.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }
    /// The external inputs (stimuli and clamps) of the module, as time series.
    pub fn externals(&self) -> &Externals<f64> {
        &self.externals
    }
    /// The recorded `(state key, node)` pairs.
    pub fn recordings(&self) -> &[(usize, usize)] {
        &self.recordings
    }
    /// Number of synapses.
    pub fn n_edges(&self) -> usize {
        self.syns.iter().map(|y| y.pre.len()).sum()
    }
    /// Number of chunks the step is split into (see [`crate::Parallelism`]).
    pub fn n_chunks(&self) -> usize {
        self.chunks.len()
    }
    /// The Hines elimination order (with its solve units).
    pub fn hines_order(&self) -> &HinesOrder {
        &self.hines
    }

    /// Memory held by a simulation of this model: the compiled model, `states` (with its
    /// workspace) and `params`, counted as the lengths of their arrays times the element sizes
    /// and split into what grows with the nodes and what grows with the synapses.
    pub fn memory<T: crate::Scalar>(
        &self,
        states: &crate::AllStates<T>,
        params: &crate::AllParams<T>,
    ) -> MemoryUsage {
        let sz = std::mem::size_of::<T>();
        let split = |layout: &Layout, elem: usize| {
            let (mut nodes, mut edges) = (0, 0);
            for k in 0..layout.len() {
                if layout.is_edge_key(k) {
                    edges += layout.len_of(k) * elem;
                } else {
                    nodes += layout.len_of(k) * elem;
                }
            }
            let (ni, ei) = layout.index_bytes();
            (nodes + ni, edges + ei)
        };
        let (sn, se) = split(&self.states, sz);
        let (pn, pe) = split(&self.params, sz);
        // The compiled model's own copies of the initial values (f64).
        let (isn, ise) = split(&self.states, 8);
        let (ipn, ipe) = split(&self.params, 8);
        let n = self.n_nodes();
        let edges = self.graph.edges.len();
        let graph = edges * std::mem::size_of::<crate::compile::Edge>()
            + n * (3 * std::mem::size_of::<usize>() + 1);
        let hines = n * (5 * 4 + 1) + self.hines.levels.len() * 8;
        let mech_lists: usize = self
            .mechs
            .iter()
            .map(|m| match &m.nodes {
                NodeSet::List(l) => l.len() * 4,
                NodeSet::Range(..) => 0,
            })
            .sum();
        let derived =
            (edges * (1 + params.ion_axial.len()) + n * (4 + 3 * params.ion_hines.len())) * sz;
        let syn_compiled: usize = self
            .syns
            .iter()
            .map(|y| y.pre.len() * 16 + y.chunk_ptr.len() * 8)
            .sum();
        MemoryUsage {
            node_bytes: sn
                + pn
                + isn
                + ipn
                + graph
                + hines
                + mech_lists
                + derived
                + states.ws.bytes()
                + self.comp_nodes.len() * 4,
            synapse_bytes: se + pe + ise + ipe + syn_compiled + self.pre_nodes.len() * (4 + sz),
        }
    }
}

/// Memory of a simulation, from [`Compiled::memory`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryUsage {
    /// Bytes of arrays over nodes (states, parameters, workspace, graph, solver order, …).
    pub node_bytes: usize,
    /// Bytes of arrays over synapses (their parameters, states, currents, indices).
    pub synapse_bytes: usize,
}

impl std::fmt::Debug for Compiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compiled")
            .field("nodes", &self.n_nodes())
            .field("compartments", &self.n_comps())
            .field("mechanisms", &self.mechs.len())
            .field("synapses", &self.syns.len())
            .field("states", &self.states.names)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` cells of `len` nodes each, one after the other.
    fn cells(n: usize, len: usize) -> Vec<Range<usize>> {
        (0..n).map(|i| i * len..(i + 1) * len).collect()
    }

    #[test]
    fn chunks_grow_with_the_model_between_their_bounds() {
        for (n_cells, min_len, max_len, n_chunks) in [
            // 1 700 nodes: a chunk closes at 512 nodes or more (31 cells), so 3 of them and
            // the remaining 7 cells.
            (100, 7 * 17, 31 * 17, 4),
            // 17 000 nodes: 16 chunks of 1 063 nodes or more (63 cells): 15 of them and the
            // remaining 55 cells.
            (1000, 55 * 17, 63 * 17, 16),
            // 170 000 nodes: 83 chunks of 2 048 rounded down to 80, of 2 125 nodes.
            (10_000, 125 * 17, 125 * 17, 80),
            // 1 020 000 nodes: 498 chunks of 2 048 rounded down to 496, of 2 057 nodes (121
            // cells); the last one has the remaining 105 cells.
            (60_000, 105 * 17, 121 * 17, 496),
        ] {
            let (chunks, units, deferred) = partition(&cells(n_cells, 17));
            assert_eq!(chunks.len(), n_chunks, "{n_cells} cells");
            assert_eq!(units.len(), n_chunks);
            assert!(deferred.is_empty());
            let lens: Vec<usize> = chunks.iter().map(|(r, _)| r.len()).collect();
            assert_eq!(*lens.iter().max().unwrap(), max_len, "{n_cells} cells");
            assert_eq!(*lens.iter().min().unwrap(), min_len, "{n_cells} cells");
            // Consecutive, covering every node, each chunk solving its own unit.
            let mut next = 0;
            for (i, (r, u)) in chunks.iter().enumerate() {
                assert_eq!((r.start, *u), (next, Some(i)));
                assert_eq!(units[i], *r);
                next = r.end;
            }
            assert_eq!(next, n_cells * 17);
        }
    }

    /// In a unit of cells of one shape every level below the roots is made of runs of whole
    /// rows (one node of the cell shape in every cell of the unit) with consecutive parents;
    /// the runs cover their levels in order, and every node comes after its children.
    #[test]
    fn levels_of_cells_of_one_shape_are_runs_over_the_cells() {
        let cell = crate::Cell::new(
            &crate::Branch::new(&crate::Compartment::new(), 2).unwrap(),
            &[-1, 0, 0, 1, 1, 2, 2],
        )
        .unwrap();
        let net = crate::Network::new(&vec![cell; 40]).unwrap();
        let c = Compiled::new(&net).unwrap();
        let o = &c.hines;
        assert_eq!(
            o.units.len(),
            2,
            "40 cells of 17 nodes: two chunks of at least 512 nodes"
        );
        assert_eq!(o.level_runs.len(), o.levels.len());
        let n_of = |u: &HinesUnit| u.nodes.len() / 17;
        for u in &o.units {
            for l in u.levels.clone() {
                let runs = &o.runs[o.level_runs[l]..o.level_runs[l + 1]];
                let mut k = o.levels[l];
                for &(start, len, pp) in runs {
                    if l + 1 == u.levels.end {
                        // The roots: runs of one, without a parent.
                        assert_eq!((start as usize, len, pp), (k, 1, u32::MAX), "roots");
                        assert_eq!(o.parent_pos[k], u32::MAX);
                    } else {
                        // Rows whose parents are consecutive rows too merge into one run.
                        assert_eq!(start as usize, k, "level {l}");
                        assert_eq!(len as usize % n_of(u), 0, "level {l}: whole rows");
                        for q in 0..len {
                            let p = o.parent_pos[k + q as usize];
                            assert_eq!(p, pp + q, "consecutive parents");
                            assert!(p as usize >= o.levels[l + 1], "parents come later");
                        }
                    }
                    k += len as usize;
                }
                assert_eq!(k, o.levels[l + 1], "the runs cover level {l}");
            }
        }
    }
}
