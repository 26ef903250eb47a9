//! The compartment graph (Jaxley's `_comp_edges`) and the tree the Hines solver eliminates on.

use crate::model::MorphIndex;
use crate::model::Morphology;

/// The kind of a graph edge (Jaxley's `type` column).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EdgeKind {
    /// Compartment ↔ compartment within a branch (type 0).
    CompToComp,
    /// Branchpoint → last compartment of the parent branch (type 1).
    BpToParent,
    /// Branchpoint → first compartment of a child branch (type 2).
    BpToChild,
    /// Last compartment of the parent branch → branchpoint (type 3).
    ParentToBp,
    /// First compartment of a child branch → branchpoint (type 4).
    ChildToBp,
}

/// A directed edge: current flows into `sink` proportionally to `v[source] - v[sink]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Edge {
    /// Node the conductance belongs to (the row of the system matrix).
    pub sink: usize,
    /// The neighbour (the column).
    pub source: usize,
    /// Edge type.
    pub kind: EdgeKind,
    /// Jaxley's `ordered` flag: 1 if the source is proximal to the sink.
    pub ordered: bool,
}

/// Graph of all cells: edges in Jaxley's order (per cell: type 0 branch by branch, forward then
/// backward; then types 1, 2, 3, 4), and the tree structure.
#[derive(Clone, Debug)]
pub struct Graph {
    /// All edges.
    pub edges: Vec<Edge>,
    /// Tree parent of each node (`usize::MAX` for the root of each cell).
    pub parent: Vec<usize>,
    /// Depth of each node below its cell's root.
    pub depth: Vec<usize>,
    /// Whether each node is a compartment (false: branchpoint).
    pub is_comp: Vec<bool>,
    /// Cell of each node.
    pub node_cell: Vec<usize>,
}

impl Graph {
    pub(crate) fn build(morph: &Morphology, ix: &MorphIndex) -> Graph {
        let n = ix.n_nodes;
        let mut edges = Vec::new();
        let mut parent = vec![usize::MAX; n];
        let mut is_comp = vec![false; n];
        let mut node_cell = vec![0; n];
        for &node in &ix.comp_node {
            is_comp[node] = true;
        }
        for (c, cell) in morph.cells.iter().enumerate() {
            let off = ix.cell_first_node[c];
            let n_comps: usize = cell.ncomp.iter().sum();
            let bps = cell.branchpoint_parents();
            for k in 0..n_comps + bps.len() {
                node_cell[off + k] = c;
            }
            let mut first = Vec::with_capacity(cell.ncomp.len());
            let mut acc = 0;
            for &nc in &cell.ncomp {
                first.push(off + acc);
                acc += nc;
            }
            let last = |b: usize| first[b] + cell.ncomp[b] - 1;
            let bp_node =
                |p: usize| off + n_comps + bps.binary_search(&p).expect("parent has a branchpoint");
            let e = |sink, source, kind, ordered| Edge {
                sink,
                source,
                kind,
                ordered,
            };
            for (b, &nc) in cell.ncomp.iter().enumerate() {
                for k in 0..nc.saturating_sub(1) {
                    edges.push(e(
                        first[b] + k + 1,
                        first[b] + k,
                        EdgeKind::CompToComp,
                        true,
                    ));
                    parent[first[b] + k + 1] = first[b] + k;
                }
                for k in 0..nc.saturating_sub(1) {
                    edges.push(e(
                        first[b] + k,
                        first[b] + k + 1,
                        EdgeKind::CompToComp,
                        false,
                    ));
                }
            }
            for &p in &bps {
                edges.push(e(last(p), bp_node(p), EdgeKind::BpToParent, false));
                parent[bp_node(p)] = last(p);
            }
            for b in 1..cell.parents.len() {
                let p = cell.parents[b] as usize;
                edges.push(e(first[b], bp_node(p), EdgeKind::BpToChild, true));
                parent[first[b]] = bp_node(p);
            }
            for &p in &bps {
                edges.push(e(bp_node(p), last(p), EdgeKind::ParentToBp, true));
            }
            for b in 1..cell.parents.len() {
                let p = cell.parents[b] as usize;
                edges.push(e(bp_node(p), first[b], EdgeKind::ChildToBp, false));
            }
        }
        // Depth by walking up: parents of compartments and branchpoints always have lower depth,
        // and are visited first in a BFS from the roots.
        let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (i, &p) in parent.iter().enumerate() {
            if p != usize::MAX {
                children[p].push(i);
            }
        }
        let mut depth = vec![0; n];
        let mut queue: std::collections::VecDeque<usize> =
            (0..n).filter(|&i| parent[i] == usize::MAX).collect();
        while let Some(i) = queue.pop_front() {
            for &ch in &children[i] {
                depth[ch] = depth[i] + 1;
                queue.push_back(ch);
            }
        }
        Graph {
            edges,
            parent,
            depth,
            is_comp,
            node_cell,
        }
    }

    /// Number of nodes.
    pub fn n_nodes(&self) -> usize {
        self.parent.len()
    }
}

/// The elimination order of the Hines solver.
///
/// Nodes are grouped into *solve units* (contiguous node ranges of whole cells: a chunk of small
/// cells, or one large cell); units follow each other in node order. Inside a unit every node
/// comes after all its children, nodes of equal depth together (cells and branches interleaved),
/// deepest first; inside a level by the node's place in its cell, then by cell. Consecutive
/// positions of a level whose parents are consecutive positions too form a *run*
/// ([`HinesOrder::runs`]): the same node of every cell of one shape, or successive compartments
/// of parallel branches. Elimination and back substitution go run by run over contiguous
/// arrays, which vectorises. Units are independent, so they can be solved in parallel; the
/// single cell of a `Cell` is one unit.
#[derive(Clone, Debug)]
pub struct HinesOrder {
    /// Node at each elimination position.
    pub order: Vec<u32>,
    /// Elimination position of each position's tree parent (`u32::MAX` for roots).
    pub parent_pos: Vec<u32>,
    /// Per position: index of the edge with sink = node, source = parent (row node, column parent).
    pub lower_edge: Vec<u32>,
    /// Per position: index of the edge with sink = parent, source = node.
    pub upper_edge: Vec<u32>,
    /// Elimination position of each node.
    pub pos: Vec<u32>,
    /// Tree parent of each node (the node itself for roots): the parent position's node, in
    /// node order, so that per-node loops read it without going through the positions.
    pub parent_node: Vec<u32>,
    /// Per position: whether the node is a compartment.
    pub is_comp: Vec<bool>,
    /// Start positions of the depth levels of every unit (each unit's deepest level first), with
    /// `n` appended. Nodes of one level are independent of each other; the last level of each
    /// unit holds exactly that unit's roots.
    pub levels: Vec<usize>,
    /// The solve units.
    pub units: Vec<HinesUnit>,
    /// Runs of every level: level `l` has the runs `level_runs[l]..level_runs[l + 1]` (with
    /// one entry appended), together covering its positions in order.
    pub level_runs: Vec<usize>,
    /// The runs `(first position, length, parent position of the first)`: positions
    /// `k..k + len` whose parents are the positions `pp..pp + len`, so that elimination and
    /// back substitution run over them as contiguous arrays (roots: `pp = u32::MAX`).
    pub runs: Vec<(u32, u32, u32)>,
}

/// A solve unit of [`HinesOrder`]: its nodes (which are also its elimination positions) and its
/// levels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HinesUnit {
    /// Node range (equal to the range of elimination positions).
    pub nodes: std::ops::Range<usize>,
    /// Indices into [`HinesOrder::levels`]: level `l` of the unit spans positions
    /// `levels[l]..levels[l + 1]` for `l` in this range.
    pub levels: std::ops::Range<usize>,
}

impl HinesOrder {
    /// The order for the given solve units (contiguous node ranges of whole cells that together
    /// cover every node, in order).
    pub(crate) fn build(g: &Graph, units: &[std::ops::Range<usize>]) -> HinesOrder {
        let n = g.n_nodes();
        let mut cell_first = vec![usize::MAX; g.node_cell.iter().max().map_or(0, |&c| c + 1)];
        for (i, &c) in g.node_cell.iter().enumerate() {
            cell_first[c] = cell_first[c].min(i);
        }
        let mut order: Vec<u32> = Vec::with_capacity(n);
        let mut levels = Vec::new();
        let mut unit_info = Vec::with_capacity(units.len());
        for u in units {
            debug_assert_eq!(u.start, order.len());
            let mut nodes: Vec<u32> = (u.start as u32..u.end as u32).collect();
            // Deepest first; inside a level by the node's place in its cell, then by cell:
            // in a unit of cells of one shape, a level is rows of "the same node of every
            // cell", and each row's parents form a row too (a run, see `runs`). A parent's
            // children are all in one level and keep their node order, so each parent
            // receives their terms in the same order as with any other grouping.
            // The key packed into one integer, computed once per node: (depth descending,
            // place in the cell, node), all distinct, so an unstable sort gives the same order.
            let max_depth = u.clone().map(|i| g.depth[i]).max().unwrap_or(0);
            let mut keyed: Vec<(u64, u64, u32)> = nodes
                .iter()
                .map(|&i| {
                    let iu = i as usize;
                    (
                        (max_depth - g.depth[iu]) as u64,
                        (iu - cell_first[g.node_cell[iu]]) as u64,
                        i,
                    )
                })
                .collect();
            keyed.sort_unstable();
            for (slot, &(_, _, i)) in nodes.iter_mut().zip(&keyed) {
                *slot = i;
            }
            let first_level = levels.len();
            for (k, &i) in nodes.iter().enumerate() {
                if k == 0 || g.depth[i as usize] != g.depth[nodes[k - 1] as usize] {
                    levels.push(u.start + k);
                }
            }
            order.extend(nodes);
            unit_info.push(HinesUnit {
                nodes: u.clone(),
                levels: first_level..levels.len(),
            });
        }
        assert_eq!(order.len(), n, "solve units must cover every node");
        levels.push(n);
        let mut pos = vec![0u32; n];
        for (k, &i) in order.iter().enumerate() {
            pos[i as usize] = k as u32;
        }
        // Per node: its edge towards its parent (row node) and back (row parent).
        let mut lower_of = vec![u32::MAX; n];
        let mut upper_of = vec![u32::MAX; n];
        for (e, edge) in g.edges.iter().enumerate() {
            if g.parent[edge.sink] == edge.source {
                lower_of[edge.sink] = e as u32;
            }
            if g.parent[edge.source] == edge.sink {
                upper_of[edge.source] = e as u32;
            }
        }
        let mut parent_pos = vec![u32::MAX; n];
        let mut lower_edge = vec![u32::MAX; n];
        let mut upper_edge = vec![u32::MAX; n];
        for (k, &i) in order.iter().enumerate() {
            let (i, p) = (i as usize, g.parent[i as usize]);
            if p != usize::MAX {
                parent_pos[k] = pos[p];
                assert!(
                    lower_of[i] != u32::MAX && upper_of[i] != u32::MAX,
                    "every tree edge is in the graph both ways"
                );
                lower_edge[k] = lower_of[i];
                upper_edge[k] = upper_of[i];
            }
        }
        let is_comp = order.iter().map(|&i| g.is_comp[i as usize]).collect();
        let mut level_runs = Vec::with_capacity(levels.len());
        let mut runs: Vec<(u32, u32, u32)> = Vec::new();
        for l in 0..levels.len() - 1 {
            level_runs.push(runs.len());
            let mut k = levels[l];
            while k < levels[l + 1] {
                let pp = parent_pos[k];
                let mut len = 1;
                while k + len < levels[l + 1]
                    && pp != u32::MAX
                    && parent_pos[k + len] == pp + len as u32
                {
                    len += 1;
                }
                runs.push((k as u32, len as u32, pp));
                k += len;
            }
        }
        level_runs.push(runs.len());
        let mut parent_node = vec![0u32; n];
        for (k, (&i, &pp)) in order.iter().zip(&parent_pos).enumerate() {
            let pk = if pp == u32::MAX { k } else { pp as usize };
            parent_node[i as usize] = order[pk];
        }
        HinesOrder {
            order,
            parent_pos,
            lower_edge,
            upper_edge,
            pos,
            parent_node,
            is_comp,
            levels,
            units: unit_info,
            level_runs,
            runs,
        }
    }
}
