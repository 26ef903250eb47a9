//! Layouts of the named state and parameter containers.

use std::collections::HashMap;

/// What a key of a state or parameter container holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// The membrane voltage (defined at every node, branchpoints included).
    Voltage,
    /// A mechanism state.
    State,
    /// A membrane current. `read` is true when some mechanism reads it as a state (such a current
    /// is a true dynamic state, e.g. `i_Ca` read by `CaPump`).
    Current {
        /// Read by a mechanism as a state.
        read: bool,
    },
    /// A compartment property (radius, length, ...).
    Geometry,
    /// A mechanism parameter.
    Param,
}

/// Names, order and defined nodes of a container whose every key is an array over nodes.
#[derive(Debug)]
pub struct Layout {
    pub(crate) id: u64,
    pub(crate) names: Vec<String>,
    pub(crate) index: HashMap<String, usize>,
    pub(crate) kinds: Vec<KeyKind>,
    /// Nodes where each key is defined (ascending).
    pub(crate) defined: Vec<Vec<u32>>,
    /// Length of every array (number of nodes).
    pub(crate) n: usize,
}

impl Layout {
    pub(crate) fn new(id: u64, n: usize, entries: Vec<(String, KeyKind, Vec<u32>)>) -> Layout {
        let mut names = Vec::new();
        let mut kinds = Vec::new();
        let mut defined = Vec::new();
        let mut index = HashMap::new();
        for (name, kind, nodes) in entries {
            index.insert(name.clone(), names.len());
            names.push(name);
            kinds.push(kind);
            defined.push(nodes);
        }
        Layout {
            id,
            names,
            index,
            kinds,
            defined,
            n,
        }
    }

    /// Key names in order.
    pub fn names(&self) -> &[String] {
        &self.names
    }
    /// Position of a key.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }
    /// What key `k` holds.
    pub fn kind(&self, k: usize) -> KeyKind {
        self.kinds[k]
    }
    /// Nodes where key `k` is defined.
    pub fn defined(&self, k: usize) -> &[u32] {
        &self.defined[k]
    }
    /// Length of every array.
    pub fn len(&self) -> usize {
        self.n
    }
    /// Whether there are no nodes.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }
    /// Offset of key `k` in the flat storage.
    #[inline]
    pub(crate) fn offset(&self, k: usize) -> usize {
        k * self.n
    }
}
