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
    /// A mechanism parameter (or a diffusion constant `axial_diffusion_<ion>`).
    Param,
    /// A synapse parameter: one value per edge of its synapse type (edge order).
    SynapseParam,
    /// A synapse state: one value per edge of its synapse type. A true dynamic state (the
    /// dynamic-state utilities keep it as it is: no branchpoint or NaN masks apply).
    SynapseState,
    /// The current through each synapse of a type (`i_<name>`, nA): an observable, recomputed
    /// every step (the dynamic-state utilities drop it).
    SynapseCurrent,
}

impl KeyKind {
    /// Whether arrays of this kind have one value per synapse (edge) rather than per node.
    pub fn is_edge_kind(self) -> bool {
        matches!(
            self,
            KeyKind::SynapseParam | KeyKind::SynapseState | KeyKind::SynapseCurrent
        )
    }
}

/// Names, order and defined nodes of a container: node arrays (length `n`, NaN where a key is not
/// defined) and synapse arrays (one value per edge of a synapse type).
#[derive(Debug)]
pub struct Layout {
    pub(crate) id: u64,
    pub(crate) names: Vec<String>,
    pub(crate) index: HashMap<String, usize>,
    pub(crate) kinds: Vec<KeyKind>,
    /// Nodes where each key is defined (ascending).
    pub(crate) defined: Vec<Vec<u32>>,
    /// Number of nodes (the length of every node array).
    pub(crate) n: usize,
    /// Offset of each key's array in the flat storage.
    pub(crate) offsets: Vec<usize>,
    /// Length of each key's array (`n` for node arrays, the number of synapses of a type for
    /// synapse arrays).
    pub(crate) lens: Vec<usize>,
    /// Hash of names, kinds, lengths and defined nodes: two layouts with the same fingerprint
    /// describe the same model structure.
    pub(crate) fingerprint: u64,
    /// `0, 1, 2, …` up to the longest synapse array: the defined indices of every synapse key.
    pub(crate) iota: Vec<u32>,
}

impl Layout {
    /// A layout of node arrays (every key has length `n`).
    #[allow(dead_code)]
    pub(crate) fn new(id: u64, n: usize, entries: Vec<(String, KeyKind, Vec<u32>)>) -> Layout {
        Layout::with_lengths(
            id,
            n,
            entries.into_iter().map(|(a, b, c)| (a, b, c, n)).collect(),
        )
    }

    /// A layout whose keys have the given lengths.
    pub(crate) fn with_lengths(
        id: u64,
        n: usize,
        entries: Vec<(String, KeyKind, Vec<u32>, usize)>,
    ) -> Layout {
        let mut names = Vec::new();
        let mut kinds = Vec::new();
        let mut defined = Vec::new();
        let mut index = HashMap::new();
        let mut offsets = Vec::new();
        let mut lens = Vec::new();
        let mut off = 0;
        let mut max_edges = 0;
        for (name, kind, nodes, len) in entries {
            index.insert(name.clone(), names.len());
            names.push(name);
            if kind.is_edge_kind() {
                max_edges = max_edges.max(len);
                defined.push(Vec::new());
            } else {
                defined.push(nodes);
            }
            kinds.push(kind);
            offsets.push(off);
            lens.push(len);
            off += len;
        }
        let fingerprint = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            (&names, &lens, &defined, n).hash(&mut h);
            for k in &kinds {
                format!("{k:?}").hash(&mut h);
            }
            h.finish()
        };
        Layout {
            id,
            names,
            index,
            kinds,
            defined,
            n,
            offsets,
            lens,
            fingerprint,
            iota: (0..max_edges as u32).collect(),
        }
    }

    /// Total length of the flat storage.
    pub fn total_len(&self) -> usize {
        self.offsets
            .last()
            .map_or(0, |o| o + self.lens.last().expect("same length"))
    }

    /// Length of key `k`'s array.
    pub fn len_of(&self, k: usize) -> usize {
        self.lens[k]
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
    /// Whether key `k` is an array over synapses (edges of one type) rather than over nodes.
    pub fn is_edge_key(&self, k: usize) -> bool {
        self.kinds[k].is_edge_kind()
    }
    /// Nodes where key `k` is defined (for synapse keys: every edge index `0..len`).
    pub fn defined(&self, k: usize) -> &[u32] {
        if self.kinds[k].is_edge_kind() {
            &self.iota[..self.lens[k]]
        } else {
            &self.defined[k]
        }
    }

    /// Bytes held by the layout's index lists, split into (node keys, synapse keys).
    pub(crate) fn index_bytes(&self) -> (usize, usize) {
        let nodes: usize = self.defined.iter().map(|d| d.len()).sum();
        (nodes * 4, self.iota.len() * 4)
    }
    /// Number of nodes.
    pub fn n_nodes(&self) -> usize {
        self.n
    }
    /// Number of keys.
    pub fn len(&self) -> usize {
        self.names.len()
    }
    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
    /// Offset of key `k` in the flat storage.
    #[inline]
    pub fn offset(&self, k: usize) -> usize {
        self.offsets[k]
    }
    /// The key whose values start at `offset` in the flat storage, if any.
    pub fn key_at(&self, offset: usize) -> Option<usize> {
        self.offsets.iter().position(|&o| o == offset)
    }
    /// The range of key `k` in the flat storage.
    #[inline]
    pub fn range(&self, k: usize) -> std::ops::Range<usize> {
        self.offsets[k]..self.offsets[k] + self.lens[k]
    }
}
