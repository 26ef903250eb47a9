//! The branching structure of a module: cells, their branches and compartments, and the numbering
//! of nodes (compartments and branchpoints) that Jaxley uses.

use crate::error::{Error, Result};

/// One cell: a tree of branches given by a parents list, each branch with its compartment count.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct CellMorph {
    /// Parent branch of each branch; `-1` for the root branch (branch 0).
    pub parents: Vec<i64>,
    /// Number of compartments of each branch.
    pub ncomp: Vec<usize>,
}

impl CellMorph {
    /// Validates a parents list: non-empty, `parents[0] == -1`, `0 <= parents[i] < i` otherwise.
    pub fn check_parents(parents: &[i64]) -> Result<()> {
        if parents.is_empty() {
            return Err(Error::InvalidParents(
                "the list is empty; a cell needs at least one branch".into(),
            ));
        }
        if parents[0] != -1 {
            return Err(Error::InvalidParents(format!(
                "the first branch is the root and must have parent -1, got {}",
                parents[0]
            )));
        }
        for (i, &p) in parents.iter().enumerate().skip(1) {
            if p < 0 {
                return Err(Error::InvalidParents(format!(
                    "branch {i} has parent {p}; only branch 0 may be a root (-1)"
                )));
            }
            if p as usize >= parents.len() {
                return Err(Error::InvalidParents(format!(
                    "branch {i} has parent {p}, but there are only {} branches",
                    parents.len()
                )));
            }
            if p as usize >= i {
                return Err(Error::InvalidParents(format!(
                    "branch {i} has parent {p}; a parent must come before its child (parent < index)"
                )));
            }
        }
        Ok(())
    }

    /// Sorted distinct parent branches: one branchpoint each, in this order.
    pub fn branchpoint_parents(&self) -> Vec<usize> {
        let mut p: Vec<usize> = self.parents.iter().skip(1).map(|&p| p as usize).collect();
        p.sort_unstable();
        p.dedup();
        p
    }
}

/// All cells of a module.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Morphology {
    pub cells: Vec<CellMorph>,
}

/// Lookup tables derived from a [`Morphology`], recomputed whenever it changes.
#[derive(Clone, Debug, Default)]
pub(crate) struct MorphIndex {
    /// Per compartment: its cell.
    pub comp_cell: Vec<usize>,
    /// Per compartment: its global branch.
    pub comp_branch: Vec<usize>,
    /// Per compartment: its index within its branch (0 = proximal).
    pub comp_local: Vec<usize>,
    /// Per compartment: its node index (Jaxley numbering: per cell compartments then branchpoints).
    pub comp_node: Vec<usize>,
    /// Per global branch: its cell.
    pub branch_cell: Vec<usize>,
    /// Per global branch: index within its cell.
    pub branch_local: Vec<usize>,
    /// Per global branch: first global compartment.
    pub branch_first_comp: Vec<usize>,
    /// Per global branch: number of compartments.
    pub branch_ncomp: Vec<usize>,
    /// Per cell: first global branch.
    pub cell_first_branch: Vec<usize>,
    /// Per cell: first node.
    pub cell_first_node: Vec<usize>,
    /// Total number of nodes.
    pub n_nodes: usize,
}

impl Morphology {
    pub fn index(&self) -> MorphIndex {
        let mut ix = MorphIndex::default();
        let mut node = 0;
        for (c, cell) in self.cells.iter().enumerate() {
            ix.cell_first_branch.push(ix.branch_cell.len());
            ix.cell_first_node.push(node);
            for (b, &nc) in cell.ncomp.iter().enumerate() {
                let gb = ix.branch_cell.len();
                ix.branch_cell.push(c);
                ix.branch_local.push(b);
                ix.branch_first_comp.push(ix.comp_cell.len());
                ix.branch_ncomp.push(nc);
                for k in 0..nc {
                    ix.comp_cell.push(c);
                    ix.comp_branch.push(gb);
                    ix.comp_local.push(k);
                    ix.comp_node.push(node);
                    node += 1;
                }
            }
            node += cell.branchpoint_parents().len();
        }
        ix.n_nodes = node;
        ix
    }
}
