//! Reading SWC morphologies into compartment geometry, exactly as Jaxley 0.14's
//! `jx.read_swc(fname, ncomp, ...)` (backend "graph") does.
//!
//! [`read_swc`] / [`parse_swc`] give a simulatable [`crate::Cell`];
//! [`read_swc_geometry`] / [`parse_swc_geometry`] give the geometry alone ([`SwcMorphology`]).
//!
//! The result lists the branches in Jaxley's order with their parent branches, and
//! for every compartment (local compartment 0 proximal) the radius, length, area,
//! volume, resistive loads and centre that Jaxley puts into `cell.nodes`.
//!
//! How Jaxley builds the branches (and so this reader):
//! - The samples form an undirected graph that is traversed depth first from the
//!   lowest-id sample with fewer than two neighbours, neighbours in id order. A
//!   branch ends at every sample with more than two neighbours, at every leaf, and
//!   where the SWC type changes (only between types in `relevant_type_ids`).
//! - A single-point soma (exactly one sample of type 1) becomes a branch of length
//!   2r whose area is that of a sphere; edges at the soma get length 0. At a
//!   somatic branchpoint (a soma sample with two somatic neighbours) non-somatic
//!   neighbours start at their own first point.
//! - Each branch is cut into `ncomp` pieces of equal path length; a piece's radius
//!   is the length-weighted mean radius, its area and volume the sums over frusta.
//!   Lengths are the SWC path length (edges shorter than 1e-5 count 1e-5) over
//!   `ncomp`; a branch shorter than 1e-8 gets length 0.1.
//!
//! Where this reader deliberately differs from Jaxley (which silently mis-reads or
//! crashes in these cases):
//! - Errors: duplicate sample ids (Jaxley keeps the last definition), several roots
//!   and cycles (Jaxley silently drops every part not connected to its traversal
//!   root), missing parents, non-integral ids, NaN/infinite numbers, a single
//!   non-somatic sample, and radii <= 0 without `min_radius` (Jaxley only asserts
//!   when a whole compartment's mean radius is not positive, and otherwise returns
//!   infinite resistive loads). `max_branch_len` must be positive (Jaxley ignores 0
//!   and fails on negative values).
//! - Accepted: fields after the seventh are ignored, as NEURON does (Jaxley fails);
//!   no sample needs id 1 (Jaxley raises `KeyError` without one; for a single-point
//!   soma the extra node then copies the soma, where Jaxley copies sample 1); with
//!   `ignore_swc_tracing_interruptions = false`, an interrupted parent that is the
//!   traversal root or a tip is left alone (Jaxley raises `IndexError`).

mod build;
mod cell;
mod compart;
mod error;
mod graph;
mod number;
mod numpy;
mod parse;
mod trace;
mod tree;

use std::path::Path;

pub use cell::{parse_swc, read_swc};
pub use compart::compartmentalize;
pub use error::SwcError;

/// Options of `jx.read_swc`; `Default` gives Jaxley's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct SwcOptions {
    /// Branches longer than this (µm of SWC path) are cut into pieces. Must be > 0.
    pub max_branch_len: Option<f64>,
    /// Compartment radii below this are raised to it; also allows zero radii.
    pub min_radius: Option<f64>,
    /// Whether to report the SWC-type groups (soma, axon, basal, apical, ...).
    pub assign_groups: bool,
    /// If false, a branch is also cut where the file traced a neurite in pieces.
    pub ignore_swc_tracing_interruptions: bool,
    /// Type ids whose changes end a branch; `None` means `[1, 2, 3, 4]`.
    pub relevant_type_ids: Option<Vec<i32>>,
}

impl Default for SwcOptions {
    fn default() -> Self {
        SwcOptions {
            max_branch_len: None,
            min_radius: None,
            assign_groups: true,
            ignore_swc_tracing_interruptions: true,
            relevant_type_ids: None,
        }
    }
}

/// Geometry of one compartment, in µm (area µm², volume µm³, resistive loads 1/µm).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CompGeometry {
    /// Length-weighted mean radius of the traced points (raised to `min_radius` if given).
    pub radius: f64,
    /// SWC path length of the branch divided by `ncomp`.
    pub length: f64,
    /// Lateral area of the frusta between the traced points (a sphere's share for a
    /// single-point soma).
    pub area: f64,
    /// Volume of the frusta.
    pub volume: f64,
    /// `(1/π)∫dl/r²` over the proximal half.
    pub resistive_load_in: f64,
    /// `(1/π)∫dl/r²` over the distal half.
    pub resistive_load_out: f64,
    /// Jaxley's `x, y, z` of the compartment.
    pub center: [f64; 3],
}

/// One branch.
#[derive(Debug, Clone, PartialEq)]
pub struct SwcBranch {
    /// SWC type id of the branch (all its compartments share it).
    pub type_id: i32,
    /// The points Jaxley keeps as the branch's `xyzr`: the compartments' points one
    /// after another (cut points appear twice). `compartmentalize(&xyzr, n, ..)`
    /// re-splits the branch as Jaxley's `set_ncomp(n)` does.
    pub xyzr: Vec<[f64; 4]>,
    /// `ncomp` compartments, compartment 0 proximal.
    pub comps: Vec<CompGeometry>,
}

/// A cell read from SWC.
#[derive(Debug, Clone, PartialEq)]
pub struct SwcMorphology {
    /// Parent branch of each branch; the first is -1 (Jaxley's `comb_parents`).
    pub parents: Vec<i64>,
    /// The branches, in Jaxley's order.
    pub branches: Vec<SwcBranch>,
    /// Whether groups were requested (`SwcOptions::assign_groups`).
    pub assign_groups: bool,
}

/// Jaxley's group name of an SWC type id.
pub fn group_name(type_id: i32) -> String {
    match type_id {
        0 => "undefined".to_string(),
        1 => "soma".to_string(),
        2 => "axon".to_string(),
        3 => "basal".to_string(),
        4 => "apical".to_string(),
        t => format!("custom{t}"),
    }
}

impl SwcMorphology {
    /// Groups and their branches, sorted by group name (Jaxley's `group_names`
    /// order). Empty if groups were not requested. Jaxley stores groups per
    /// compartment, but all compartments of a branch share the branch's group.
    pub fn groups(&self) -> Vec<(String, Vec<usize>)> {
        if !self.assign_groups {
            return Vec::new();
        }
        let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
        for (b, br) in self.branches.iter().enumerate() {
            let name = group_name(br.type_id);
            match groups.iter_mut().find(|(g, _)| *g == name) {
                Some((_, v)) => v.push(b),
                None => groups.push((name, vec![b])),
            }
        }
        groups.sort_by(|a, b| a.0.cmp(&b.0));
        groups
    }

    /// Groups with their global compartment indices (branch-major), as Jaxley's
    /// boolean group columns of `cell.nodes` give them.
    pub fn comp_groups(&self) -> Vec<(String, Vec<usize>)> {
        let offsets = self.comp_offsets();
        self.groups()
            .into_iter()
            .map(|(name, branches)| {
                let comps = branches
                    .iter()
                    .flat_map(|&b| offsets[b]..offsets[b + 1])
                    .collect();
                (name, comps)
            })
            .collect()
    }

    /// `offsets[b]` is the global index of branch `b`'s first compartment;
    /// the last entry is the number of compartments.
    pub fn comp_offsets(&self) -> Vec<usize> {
        let mut v = Vec::with_capacity(self.branches.len() + 1);
        let mut acc = 0;
        v.push(0);
        for b in &self.branches {
            acc += b.comps.len();
            v.push(acc);
        }
        v
    }

    /// All compartments, branch-major (Jaxley's compartment order).
    pub fn comps(&self) -> impl Iterator<Item = &CompGeometry> {
        self.branches.iter().flat_map(|b| b.comps.iter())
    }

    /// Number of branchpoints Jaxley creates: one per distinct parent branch.
    pub fn n_branchpoints(&self) -> usize {
        let mut is_parent = vec![false; self.branches.len()];
        for &p in self.parents.iter().skip(1) {
            if let Ok(p) = usize::try_from(p)
                && p < is_parent.len()
            {
                is_parent[p] = true;
            }
        }
        is_parent.iter().filter(|&&b| b).count()
    }
}

/// Largest `ncomp` accepted (guards against allocation failure on absurd input).
pub const MAX_NCOMP: usize = 1 << 20;

pub(crate) fn check_ncomp(ncomp: usize) -> Result<(), SwcError> {
    if ncomp == 0 {
        return Err(SwcError::ZeroNcomp);
    }
    if ncomp > MAX_NCOMP {
        return Err(SwcError::InvalidOption {
            name: "ncomp",
            reason: format!("must be at most {MAX_NCOMP}, got {ncomp}"),
        });
    }
    Ok(())
}

fn check_options(ncomp: usize, options: &SwcOptions) -> Result<(), SwcError> {
    check_ncomp(ncomp)?;
    if let Some(m) = options.max_branch_len
        && (m.is_nan() || m <= 0.0 || m.is_infinite())
    {
        return Err(SwcError::InvalidOption {
            name: "max_branch_len",
            reason: format!("must be positive and finite, got {m}"),
        });
    }
    if let Some(m) = options.min_radius
        && (m.is_nan() || m < 0.0 || m.is_infinite())
    {
        return Err(SwcError::InvalidOption {
            name: "min_radius",
            reason: format!("must be non-negative and finite, got {m}"),
        });
    }
    Ok(())
}

/// Reads SWC data from bytes into Jaxley's compartment geometry (see the module
/// documentation). `ncomp` compartments per branch.
pub fn parse_swc_geometry(
    text: &[u8],
    ncomp: usize,
    options: &SwcOptions,
) -> Result<SwcMorphology, SwcError> {
    check_options(ncomp, options)?;
    let samples = parse::parse_samples(text)?;
    let tree = tree::build_tree(&samples, options.min_radius.is_some())?;
    let g = graph::Graph::build(&samples, &tree);
    const DEFAULT_RELEVANT: [i32; 4] = [1, 2, 3, 4];
    let relevant = options
        .relevant_type_ids
        .as_deref()
        .unwrap_or(&DEFAULT_RELEVANT);
    let tr = trace::trace(
        &g,
        relevant,
        options.max_branch_len,
        options.ignore_swc_tracing_interruptions,
    );
    if tr.branches.is_empty() {
        return Err(SwcError::SingleSample {
            line: samples.line[0],
        });
    }
    build::build_morphology(&g, &tr, ncomp, options.min_radius, options.assign_groups)
}

/// Reads an SWC file (see [`parse_swc_geometry`]); errors name the path.
pub fn read_swc_geometry(
    path: &Path,
    ncomp: usize,
    options: &SwcOptions,
) -> Result<SwcMorphology, SwcError> {
    let text = std::fs::read(path).map_err(|e| SwcError::Io {
        path: path.to_path_buf(),
        kind: e.kind(),
        message: e.to_string(),
    })?;
    parse_swc_geometry(&text, ncomp, options).map_err(|e| SwcError::InFile {
        path: path.to_path_buf(),
        source: Box::new(e),
    })
}
