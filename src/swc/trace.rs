//! Cutting the SWC graph into branches: Jaxley's `_trace_branches`,
//! `_split_branches` (max_branch_len) and
//! `_split_branches_if_swc_nodes_were_traced_with_interruption`.

use std::ops::Range;

use super::graph::Graph;
use super::numpy::floor_divide;
use super::tree::NONE;

/// One traversed edge: from `i` to `j` over edge `e`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DfsEdge {
    pub i: u32,
    pub j: u32,
    pub e: u32,
}

/// Branches as ranges of consecutive DFS edges, in Jaxley's branch order.
pub(crate) struct Trace {
    pub edges: Vec<DfsEdge>,
    pub branches: Vec<(Range<usize>, i32)>,
}

/// Depth-first traversal from Jaxley's root (the lowest-key node of degree < 2),
/// visiting neighbours in key order: networkx's `dfs_edges(sort_neighbors=sorted)`.
fn dfs(g: &Graph) -> Vec<DfsEdge> {
    let n_nodes = g.n_nodes();
    let root = (0..n_nodes as u32)
        .filter(|&v| g.degree(v) < 2)
        .min_by_key(|&v| g.key(v))
        .unwrap_or(0);
    let mut edges = Vec::with_capacity(n_nodes.saturating_sub(1));
    let mut visited = vec![false; n_nodes];
    visited[root as usize] = true;
    let mut stack: Vec<(u32, usize)> = vec![(root, 0)];
    while let Some(top) = stack.last_mut() {
        let (v, pos) = *top;
        let nb = g.neighbours(v);
        match nb[pos..].iter().position(|&(u, _)| !visited[u as usize]) {
            Some(off) => {
                top.1 = pos + off + 1;
                let (u, e) = nb[pos + off];
                visited[u as usize] = true;
                edges.push(DfsEdge { i: v, j: u, e });
                stack.push((u, 0));
            }
            None => {
                stack.pop();
            }
        }
    }
    edges
}

/// Traces the branches. `relevant` is `relevant_type_ids` (default `[1, 2, 3, 4]`).
pub(crate) fn trace(
    g: &Graph,
    relevant: &[i32],
    max_len: Option<f64>,
    ignore_interruptions: bool,
) -> Trace {
    let edges = dfs(g);
    let same_id = |a: u32, b: u32| {
        let (ta, tb) = (g.type_id(a), g.type_id(b));
        (!relevant.contains(&ta) && !relevant.contains(&tb)) || ta == tb
    };
    let mut branches: Vec<(Range<usize>, i32)> = Vec::new();
    let mut push = |r: Range<usize>, t: i32| {
        if !r.is_empty() {
            branches.push((r, t));
        }
    };
    let mut start = 0usize;
    for (t, de) in edges.iter().enumerate() {
        let (i, j) = (de.i, de.j);
        let type_i = g.type_id(i);
        if g.degree(j) < 2 {
            if !same_id(i, j) {
                push(start..t, type_i);
                push(t..t + 1, g.type_id(j));
            } else {
                push(start..t + 1, type_i);
            }
            start = t + 1;
        } else if g.degree(j) > 2 {
            push(start..t + 1, type_i);
            start = t + 1;
        } else if !same_id(i, j) {
            if g.is_reversed(de.e, i) {
                push(start..t + 1, type_i);
                start = t + 1;
            } else {
                push(start..t, type_i);
                start = t;
            }
        }
    }

    if let Some(max_len) = max_len {
        branches = split_long(&edges, branches, g, max_len);
    }

    if !ignore_interruptions {
        branches = split_interruptions(g, &edges, branches);
    }
    Trace { edges, branches }
}

/// `_split_branches`: cuts where `cumsum(edge lengths) // max_len` changes.
fn split_long(
    edges: &[DfsEdge],
    branches: Vec<(Range<usize>, i32)>,
    g: &Graph,
    max_len: f64,
) -> Vec<(Range<usize>, i32)> {
    let mut out = Vec::with_capacity(branches.len());
    for (r, t) in branches {
        let mut cum = 0.0;
        let mut piece_start = r.start;
        let mut k_prev = f64::NAN;
        for q in r.clone() {
            cum += g.edge_len[edges[q].e as usize];
            let k = floor_divide(cum, max_len);
            if q > r.start && k != k_prev {
                out.push((piece_start..q, t));
                piece_start = q;
            }
            k_prev = k;
        }
        out.push((piece_start..r.end, t));
    }
    out
}

/// Splits branches where the SWC file traced a neurite in interrupted pieces
/// (a sample whose parent is not the previous id, with neither of them starting a
/// branch). Jaxley fails when the parent is not inside a branch (a traversal root
/// or tip); such parents are skipped here.
fn split_interruptions(
    g: &Graph,
    edges: &[DfsEdge],
    branches: Vec<(Range<usize>, i32)>,
) -> Vec<(Range<usize>, i32)> {
    let n_nodes = g.n_nodes();
    // Nodes that start a branch (other than the first) are Jaxley's branchpoints.
    let mut is_bp = vec![false; n_nodes];
    for (r, _) in branches.iter().skip(1) {
        is_bp[edges[r.start].i as usize] = true;
    }
    let mut in_edge = vec![NONE; n_nodes];
    for (t, de) in edges.iter().enumerate() {
        in_edge[de.j as usize] = t as u32;
    }
    let mut branch_end = vec![0usize; edges.len()];
    for (r, _) in &branches {
        for q in r.clone() {
            branch_end[q] = r.end;
        }
    }
    let mut cut = vec![false; edges.len() + 1];
    for k in 0..g.n {
        let Some(p) = g.interrupted_parent(k) else {
            continue;
        };
        if is_bp[k] || is_bp[p as usize] {
            continue;
        }
        let t_in = in_edge[p as usize];
        if t_in == NONE {
            continue;
        }
        let t_next = t_in as usize + 1;
        if t_next < branch_end[t_in as usize] {
            cut[t_next] = true;
        }
    }
    let mut out = Vec::with_capacity(branches.len());
    for (r, t) in branches {
        let mut s = r.start;
        for (q, _) in cut
            .iter()
            .enumerate()
            .take(r.end)
            .skip(r.start + 1)
            .filter(|c| *c.1)
        {
            out.push((s..q, t));
            s = q;
        }
        out.push((s..r.end, t));
    }
    out
}
