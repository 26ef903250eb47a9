//! Compile: a [`Module`] turned into flat structure-of-arrays, once, before simulating.
//!
//! Node order and graph edges follow Jaxley (so recordings, flat states and reference data line
//! up), the Hines elimination order interleaves independent branches, every mechanism gets a
//! compact list of the nodes it lives on and the offsets of its parameters and states, and the
//! state and parameter containers get their layouts (which nodes each key is defined on — the
//! masks the dynamic-state utilities need).

mod graph;
mod layout;

pub use graph::{Edge, EdgeKind, Graph, HinesOrder};
pub use layout::{KeyKind, Layout};

use crate::error::{Error, Result};
use crate::externals::{ExternalSeries, Externals};
use crate::mechanisms::InfoKind;
use crate::mechanisms::driver::{DynMechanism, Nodes};
use crate::model::{Module, Trainable};
use std::collections::{BTreeSet, HashMap};
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
    pub(crate) fn nodes(&self) -> Nodes<'_> {
        match self {
            NodeSet::Range(start, len) => Nodes::Range {
                start: *start,
                len: *len,
            },
            NodeSet::List(l) => Nodes::List(l),
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

/// A module compiled for simulation. Shared (behind an `Arc`) by the init and step functions and
/// by every state container built from it.
pub struct Compiled {
    pub(crate) graph: Graph,
    pub(crate) hines: HinesOrder,
    pub(crate) comp_nodes: Vec<u32>,
    pub(crate) states: Arc<Layout>,
    pub(crate) params: Arc<Layout>,
    pub(crate) mechs: Vec<CompiledMech>,
    /// State keys that currents act on: `v` first, then pumped ions.
    pub(crate) targets: Vec<usize>,
    /// State keys of the membrane currents.
    pub(crate) currents: Vec<usize>,
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

impl Compiled {
    /// Compiles a module.
    pub fn new(module: &Module) -> Result<Compiled> {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let ix = &module.ix;
        let n = ix.n_nodes;
        let graph = Graph::build(&module.morph, ix);
        let hines = HinesOrder::build(&graph);
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

        // State keys: v, mechanism states (channels then pumps, shared names once), currents.
        let mut state_entries: Vec<(String, KeyKind, BTreeSet<u32>)> =
            vec![("v".into(), KeyKind::Voltage, (0..n as u32).collect())];
        let add = |entries: &mut Vec<(String, KeyKind, BTreeSet<u32>)>,
                   name: &str,
                   kind,
                   nodes: &[u32]| match entries.iter_mut().find(|e| e.0 == name) {
            Some(e) => e.2.extend(nodes),
            None => entries.push((name.to_string(), kind, nodes.iter().copied().collect())),
        };
        for (m, nodes) in mechs.iter().zip(&mech_nodes) {
            for (s, _) in &m.info().states {
                add(&mut state_entries, s, KeyKind::State, nodes);
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
                    nodes.iter().copied().collect(),
                )),
            }
        }
        let states = Arc::new(Layout::new(
            id,
            n,
            state_entries
                .into_iter()
                .map(|(a, b, c)| (a, b, c.into_iter().collect()))
                .collect(),
        ));

        // Parameter keys: geometry, then mechanism parameters.
        let mut param_entries: Vec<(String, KeyKind, BTreeSet<u32>)> = crate::model::GEOMETRY
            .iter()
            .map(|g| {
                (
                    g.to_string(),
                    KeyKind::Geometry,
                    all_comps.iter().copied().collect(),
                )
            })
            .collect();
        for (m, nodes) in mechs.iter().zip(&mech_nodes) {
            for (p, _) in &m.info().params {
                add(&mut param_entries, p, KeyKind::Param, nodes);
            }
        }
        let params = Arc::new(Layout::new(
            id,
            n,
            param_entries
                .into_iter()
                .map(|(a, b, c)| (a, b, c.into_iter().collect()))
                .collect(),
        ));

        let fill = |layout: &Layout| -> Vec<f64> {
            let mut data = vec![f64::NAN; layout.total_len()];
            for (k, name) in layout.names.iter().enumerate() {
                if let Some(col) = module.table.cols.get(name) {
                    for (c, &node) in comp_nodes.iter().enumerate() {
                        if layout.defined[k].binary_search(&node).is_ok() {
                            data[layout.offset(k) + node as usize] = col[c];
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
                if states.defined[k].binary_search(&(r.node as u32)).is_err() {
                    return Err(Error::UnknownName {
                        name: r.state.clone(),
                        context: format!("recorded at node {}, where it is not defined", r.node),
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
            targets,
            currents,
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
}

impl std::fmt::Debug for Compiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compiled")
            .field("nodes", &self.n_nodes())
            .field("compartments", &self.n_comps())
            .field("mechanisms", &self.mechs.len())
            .field("states", &self.states.names)
            .finish()
    }
}
