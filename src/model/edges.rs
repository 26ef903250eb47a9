//! The synapses of a network: one row per edge (Jaxley's `.edges`), parameters and states stored
//! per synapse type in edge order (Jaxley's `jaxedges`).

use crate::error::{Error, Result};
use crate::synapses::SynapseInfo;
use crate::synapses::driver::DynSynapse;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One synapse of a network, as listed by [`crate::Module::connections`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connection {
    /// Global edge index (order of creation).
    pub index: usize,
    /// Synapse type name.
    pub synapse: String,
    /// Index among the edges of its type: the index of its parameters and states in the
    /// type's arrays, and what recordings and clamps of synapse states refer to.
    pub index_within_type: usize,
    /// Pre-synaptic node.
    pub pre_node: usize,
    /// Post-synaptic node.
    pub post_node: usize,
}

/// Edges and synapse types of a module (empty unless it is a network with connections).
#[derive(Clone, Default)]
pub(crate) struct EdgeTable {
    /// Synapse types in order of first appearance (Jaxley's `type_ind`).
    pub types: Vec<Arc<dyn DynSynapse>>,
    /// Per edge: pre-synaptic node.
    pub pre: Vec<usize>,
    /// Per edge: post-synaptic node.
    pub post: Vec<usize>,
    /// Per edge: type index.
    pub ty: Vec<usize>,
    /// Per edge: index within its type.
    pub within: Vec<usize>,
    /// Per type: global indices of its edges, in order.
    pub of_type: Vec<Vec<usize>>,
    /// Per parameter or state name of a synapse type: one value per edge of that type.
    pub cols: BTreeMap<String, Vec<f64>>,
}

impl std::fmt::Debug for EdgeTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdgeTable")
            .field(
                "types",
                &self
                    .types
                    .iter()
                    .map(|t| t.info().name.clone())
                    .collect::<Vec<_>>(),
            )
            .field("edges", &self.pre.len())
            .finish()
    }
}

impl EdgeTable {
    /// Number of edges.
    pub fn len(&self) -> usize {
        self.pre.len()
    }

    /// Type index of a synapse name.
    pub fn type_of(&self, name: &str) -> Option<usize> {
        self.types.iter().position(|t| t.info().name == name)
    }

    /// The synapse type that owns a parameter, state or current name.
    pub fn type_of_key(&self, key: &str) -> Option<usize> {
        self.types.iter().position(|t| t.info().has_key(key))
    }

    /// Registers a synapse type (or checks that an existing one of the same name is the same),
    /// returning its index. `node_cols` are the names of the node table, which synapse keys must
    /// not reuse.
    pub fn register(
        &mut self,
        syn: Arc<dyn DynSynapse>,
        node_cols: &dyn Fn(&str) -> bool,
    ) -> Result<usize> {
        let info: &SynapseInfo = syn.info();
        if let Some(t) = self.type_of(&info.name) {
            if self.types[t].info() != info {
                return Err(Error::MechanismConflict(info.name.clone()));
            }
            return Ok(t);
        }
        let keys = info
            .params
            .iter()
            .chain(&info.states)
            .map(|(k, _)| k.as_str())
            .chain(std::iter::once(info.current_name.as_str()));
        for key in keys {
            if self.type_of_key(key).is_some() || node_cols(key) || key == "v" || key == "i" {
                return Err(Error::MechanismConflict(format!(
                    "{key} (of synapse {})",
                    info.name
                )));
            }
        }
        for (k, _) in info.params.iter().chain(&info.states) {
            self.cols.insert(k.clone(), Vec::new());
        }
        self.types.push(syn);
        self.of_type.push(Vec::new());
        Ok(self.types.len() - 1)
    }

    /// Appends edges of type `t` with default parameters and states.
    pub fn push(&mut self, t: usize, pairs: &[(usize, usize)]) {
        let info = self.types[t].info().clone();
        for &(pre, post) in pairs {
            let e = self.pre.len();
            self.pre.push(pre);
            self.post.push(post);
            self.ty.push(t);
            self.within.push(self.of_type[t].len());
            self.of_type[t].push(e);
        }
        for (k, default) in info.params.iter().chain(&info.states) {
            let col = self.cols.get_mut(k).expect("registered");
            col.extend(std::iter::repeat_n(*default, pairs.len()));
        }
    }

    /// All edges as [`Connection`]s.
    pub fn connections(&self) -> Vec<Connection> {
        (0..self.len())
            .map(|e| Connection {
                index: e,
                synapse: self.types[self.ty[e]].info().name.clone(),
                index_within_type: self.within[e],
                pre_node: self.pre[e],
                post_node: self.post[e],
            })
            .collect()
    }
}
