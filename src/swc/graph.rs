//! The undirected SWC graph that Jaxley traverses (`to_swc_graph` and the start of
//! `_trace_branches` in `jaxley/io/graph.py`): edge lengths, the extra node of a
//! single-point soma, somatic branchpoints and sorted neighbour lists.

use super::parse::Samples;
use super::tree::{NONE, Tree};

/// Jaxley's minimum SWC edge length (`_add_edge_lengths(min_len=1e-5)`).
const MIN_EDGE_LEN: f64 = 1e-5;

/// Nodes are the samples (indices `0..n`) plus, for a single-point soma, one extra
/// node `n` (Jaxley's node 0 before relabelling, linked to the soma by an edge of
/// length 2r). Edge `k < n` links sample `k` to its SWC parent; edge `n` links the
/// extra node to the soma.
pub(crate) struct Graph<'a> {
    pub samples: &'a Samples,
    pub tree: &'a Tree,
    pub n: usize,
    /// `Some((extra node, soma))` for a single-point soma.
    pub phantom: Option<(u32, u32)>,
    /// Sample whose attributes the extra node copies (Jaxley: the sample with id 1).
    phantom_src: u32,
    /// Length of each edge.
    pub edge_len: Vec<f64>,
    /// Whether a branch starting at this node drops the node's point from its xyzr.
    pub soma_ignore: Vec<bool>,
    /// Sorted neighbour lists (CSR) of `(neighbour, edge)`.
    adj_start: Vec<u32>,
    adj: Vec<(u32, u32)>,
}

impl<'a> Graph<'a> {
    pub fn build(samples: &'a Samples, tree: &'a Tree) -> Graph<'a> {
        let n = samples.len();
        let mut soma = NONE;
        let mut n_soma = 0usize;
        for (k, &t) in samples.type_id.iter().enumerate() {
            if t == 1 {
                n_soma += 1;
                soma = k as u32;
            }
        }
        let phantom = (n_soma == 1).then_some((n as u32, soma));
        let phantom_src = samples
            .id
            .iter()
            .position(|&id| id == 1)
            .map_or(soma, |k| k as u32);
        let n_nodes = n + usize::from(phantom.is_some());

        let mut edge_len = vec![0.0; n_nodes];
        for (k, (len, &p)) in edge_len.iter_mut().zip(&tree.parent).enumerate() {
            if p != NONE {
                let (a, b) = (&samples.xyzr[p as usize], &samples.xyzr[k]);
                let (dx, dy, dz) = (a[0] - b[0], a[1] - b[1], a[2] - b[2]);
                let d = ((dx * dx + dy * dy) + dz * dz).sqrt();
                *len = if d >= MIN_EDGE_LEN { d } else { MIN_EDGE_LEN };
            }
        }

        // Neighbour lists.
        let mut adj_start = vec![0u32; n_nodes + 1];
        for (k, &p) in tree.parent.iter().enumerate() {
            let deg = tree.children_of(k as u32).len() + usize::from(p != NONE);
            adj_start[k + 1] = deg as u32;
        }
        if let Some((ph, so)) = phantom {
            adj_start[ph as usize + 1] = 1;
            adj_start[so as usize + 1] += 1;
        }
        for v in 0..n_nodes {
            adj_start[v + 1] += adj_start[v];
        }
        let mut adj = vec![(0u32, 0u32); adj_start[n_nodes] as usize];
        for (k, &p) in tree.parent.iter().enumerate() {
            let mut at = adj_start[k] as usize;
            if phantom.is_some_and(|(_, so)| so as usize == k) {
                adj[at] = (n as u32, n as u32);
                at += 1;
            }
            if p != NONE {
                adj[at] = (p, k as u32);
                at += 1;
            }
            for &c in tree.children_of(k as u32) {
                adj[at] = (c, c);
                at += 1;
            }
        }
        if let Some((ph, so)) = phantom {
            adj[adj_start[ph as usize] as usize] = (so, n as u32);
        }

        let mut g = Graph {
            samples,
            tree,
            n,
            phantom,
            phantom_src,
            edge_len,
            soma_ignore: vec![false; n_nodes],
            adj_start,
            adj,
        };
        for v in 0..n_nodes {
            let (a, b) = (g.adj_start[v] as usize, g.adj_start[v + 1] as usize);
            let slice = &g.adj[a..b];
            if !slice.windows(2).all(|w| g.key(w[0].0) < g.key(w[1].0)) {
                let mut list = slice.to_vec();
                list.sort_unstable_by_key(|&(u, _)| g.key(u));
                g.adj[a..b].copy_from_slice(&list);
            }
        }

        if let Some((ph, so)) = phantom {
            // Single-point soma: every edge at the soma gets length 0, the extra
            // edge 2r, and branches starting at either node drop that node's point.
            let nb = g.adj_start[so as usize] as usize..g.adj_start[so as usize + 1] as usize;
            for q in nb {
                let e = g.adj[q].1;
                g.edge_len[e as usize] = 0.0;
            }
            g.edge_len[n] = 2.0 * samples.xyzr[so as usize][3];
            g.soma_ignore[ph as usize] = true;
            g.soma_ignore[so as usize] = true;
        } else {
            // Somatic branchpoints: a soma sample with more than one somatic
            // neighbour; its non-somatic neighbours start at their own point.
            for s in 0..n {
                if samples.type_id[s] != 1 {
                    continue;
                }
                let nb = g.adj_start[s] as usize..g.adj_start[s + 1] as usize;
                let somatic = g.adj[nb.clone()]
                    .iter()
                    .filter(|&&(u, _)| samples.type_id[u as usize] == 1)
                    .count();
                if somatic > 1 {
                    for q in nb {
                        let (u, e) = g.adj[q];
                        if samples.type_id[u as usize] != 1 {
                            g.edge_len[e as usize] = 0.0;
                            g.soma_ignore[s] = true;
                        }
                    }
                }
            }
        }
        g
    }

    pub fn n_nodes(&self) -> usize {
        self.adj_start.len() - 1
    }

    /// Sort key of a node: its SWC id; the extra soma node comes first.
    pub fn key(&self, v: u32) -> i64 {
        if (v as usize) < self.n {
            self.samples.id[v as usize]
        } else {
            i64::MIN
        }
    }

    pub fn neighbours(&self, v: u32) -> &[(u32, u32)] {
        &self.adj[self.adj_start[v as usize] as usize..self.adj_start[v as usize + 1] as usize]
    }

    pub fn degree(&self, v: u32) -> usize {
        (self.adj_start[v as usize + 1] - self.adj_start[v as usize]) as usize
    }

    /// The sample whose attributes node `v` carries.
    fn source(&self, v: u32) -> usize {
        if (v as usize) < self.n {
            v as usize
        } else {
            self.phantom_src as usize
        }
    }

    pub fn type_id(&self, v: u32) -> i32 {
        self.samples.type_id[self.source(v)]
    }

    pub fn xyzr(&self, v: u32) -> [f64; 4] {
        self.samples.xyzr[self.source(v)]
    }

    /// Whether edge `e`, traversed from `i`, runs against the SWC direction
    /// (parent -> child; the extra node is the parent of the soma).
    pub fn is_reversed(&self, e: u32, i: u32) -> bool {
        if (e as usize) < self.n {
            e == i // the SWC child is where we come from
        } else {
            self.phantom.is_some_and(|(_, so)| so == i)
        }
    }

    /// Jaxley's `p` attribute check for tracing interruptions: the parent of sample
    /// `k`, unless its id follows its parent's (or it is the sample with id 1 in a
    /// single-point-soma file, whose `p` Jaxley points at the extra node).
    pub fn interrupted_parent(&self, k: usize) -> Option<u32> {
        let p = self.tree.parent[k];
        if p == NONE {
            return None;
        }
        let id = self.samples.id[k];
        if self.phantom.is_some() && id == 1 {
            return None;
        }
        let p_id = self.samples.id[p as usize];
        if id.checked_sub(1) == Some(p_id) {
            return None;
        }
        Some(p)
    }
}
