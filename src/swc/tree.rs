//! Checking that the samples form one tree, and its child lists.
//!
//! All work is O(n) (O(n log n) only for widely scattered ids or unsorted files).

use super::error::SwcError;
use super::parse::Samples;

pub(crate) const NONE: u32 = u32::MAX;

/// The validated tree: parent indices and child lists (children sorted by id).
#[derive(Debug)]
pub(crate) struct Tree {
    /// Index of each sample's parent, or `NONE` for the root.
    pub parent: Vec<u32>,
    /// CSR child lists: children of `v` are `children[child_start[v]..child_start[v+1]]`.
    pub child_start: Vec<u32>,
    pub children: Vec<u32>,
}

impl Tree {
    pub fn children_of(&self, v: u32) -> &[u32] {
        let v = v as usize;
        &self.children[self.child_start[v] as usize..self.child_start[v + 1] as usize]
    }
}

/// Maps sample ids to indices and finds duplicates.
enum IdMap {
    Dense { min: i64, slot: Vec<u32> },
    Sorted(Vec<(i64, u32)>),
}

impl IdMap {
    fn build(s: &Samples) -> Result<IdMap, SwcError> {
        let n = s.len();
        let min = s.id.iter().copied().min().unwrap_or(0);
        let max = s.id.iter().copied().max().unwrap_or(0);
        let span = (max as i128 - min as i128) as u128 + 1;
        if span <= (2 * n + 64) as u128 {
            let mut slot = vec![NONE; span as usize];
            for (k, &id) in s.id.iter().enumerate() {
                let at = &mut slot[(id - min) as usize];
                if *at != NONE {
                    return Err(SwcError::DuplicateId {
                        line: s.line[k],
                        id,
                        first_line: s.line[*at as usize],
                    });
                }
                *at = k as u32;
            }
            Ok(IdMap::Dense { min, slot })
        } else {
            let mut v: Vec<(i64, u32)> =
                s.id.iter()
                    .enumerate()
                    .map(|(k, &id)| (id, k as u32))
                    .collect();
            v.sort_unstable();
            if let Some(w) = v.windows(2).find(|w| w[0].0 == w[1].0) {
                // Sorted by (id, index): w[1] is the later line.
                return Err(SwcError::DuplicateId {
                    line: s.line[w[1].1 as usize],
                    id: w[0].0,
                    first_line: s.line[w[0].1 as usize],
                });
            }
            Ok(IdMap::Sorted(v))
        }
    }

    fn get(&self, id: i64) -> Option<u32> {
        match self {
            IdMap::Dense { min, slot } => {
                let off = (id as i128) - (*min as i128);
                if off < 0 || off >= slot.len() as i128 {
                    return None;
                }
                let k = slot[off as usize];
                (k != NONE).then_some(k)
            }
            IdMap::Sorted(v) => v
                .binary_search_by_key(&id, |&(i, _)| i)
                .ok()
                .map(|p| v[p].1),
        }
    }
}

/// Validates the samples (unique ids, existing parents, exactly one root, no cycle,
/// positive radii unless `allow_nonpositive_radius`) and builds the child lists.
pub(crate) fn build_tree(s: &Samples, allow_nonpositive_radius: bool) -> Result<Tree, SwcError> {
    let n = s.len();
    if n == 0 {
        return Err(SwcError::Empty);
    }
    if n >= NONE as usize {
        return Err(SwcError::InvalidOption {
            name: "input",
            reason: format!("too many samples ({n})"),
        });
    }
    let ids = IdMap::build(s)?;
    let mut parent = vec![NONE; n];
    let mut root = NONE;
    for (k, &p) in s.parent.iter().enumerate() {
        if p == -1 {
            if root != NONE {
                return Err(SwcError::MultipleRoots {
                    line: s.line[k],
                    id: s.id[k],
                    first_line: s.line[root as usize],
                });
            }
            root = k as u32;
            continue;
        }
        if p == s.id[k] {
            return Err(SwcError::Cycle {
                line: s.line[k],
                id: s.id[k],
            });
        }
        match ids.get(p) {
            Some(pk) => parent[k] = pk,
            None => {
                return Err(SwcError::MissingParent {
                    line: s.line[k],
                    id: s.id[k],
                    parent: p,
                });
            }
        }
    }
    if root == NONE {
        // Every sample has a parent: the links must contain a cycle.
        return Err(SwcError::Cycle {
            line: s.line[0],
            id: s.id[0],
        });
    }

    // Child lists (CSR), children in file order.
    let mut child_start = vec![0u32; n + 1];
    for &p in &parent {
        if p != NONE {
            child_start[p as usize + 1] += 1;
        }
    }
    for v in 0..n {
        child_start[v + 1] += child_start[v];
    }
    let mut fill = child_start.clone();
    let mut children = vec![0u32; n - 1];
    for (k, &p) in parent.iter().enumerate() {
        if p != NONE {
            children[fill[p as usize] as usize] = k as u32;
            fill[p as usize] += 1;
        }
    }
    // Sort each child list by id unless the file is already sorted by id.
    if !s.id.windows(2).all(|w| w[0] < w[1]) {
        for v in 0..n {
            let (a, b) = (child_start[v] as usize, child_start[v + 1] as usize);
            children[a..b].sort_unstable_by_key(|&c| s.id[c as usize]);
        }
    }
    let tree = Tree {
        parent,
        child_start,
        children,
    };

    // Every sample must be reachable from the root; the others lie on cycles.
    let mut seen = vec![false; n];
    let mut stack = vec![root];
    seen[root as usize] = true;
    let mut reached = 1usize;
    while let Some(v) = stack.pop() {
        for &c in tree.children_of(v) {
            if !seen[c as usize] {
                seen[c as usize] = true;
                reached += 1;
                stack.push(c);
            }
        }
    }
    if reached != n {
        let k = seen.iter().position(|&b| !b).unwrap_or(0);
        return Err(SwcError::Cycle {
            line: s.line[k],
            id: s.id[k],
        });
    }

    if !allow_nonpositive_radius && let Some(k) = s.xyzr.iter().position(|p| p[3] <= 0.0) {
        return Err(SwcError::NonPositiveRadius {
            line: s.line[k],
            id: s.id[k],
            radius: s.xyzr[k][3],
        });
    }
    Ok(tree)
}
