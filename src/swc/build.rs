//! Turning traced branches into compartments: the per-branch loop of Jaxley's
//! `build_compartment_graph`, and the branch parents of the resulting `Cell`.

use super::compart::{Scratch, morph_attrs, split_equal_length};
use super::error::SwcError;
use super::graph::Graph;
use super::numpy::{interp, linspace_at};
use super::trace::Trace;
use super::tree::NONE;
use super::{CompGeometry, SwcBranch, SwcMorphology};

/// Branches shorter than this get length 0.1 µm (Jaxley warns and does the same).
const MIN_BRANCH_LEN: f64 = 1e-8;
const ZERO_BRANCH_LEN: f64 = 0.1;

pub(crate) fn build_morphology(
    g: &Graph,
    tr: &Trace,
    ncomp: usize,
    min_radius: Option<f64>,
    assign_groups: bool,
) -> Result<SwcMorphology, SwcError> {
    let mut scratch = Scratch::default();
    // Per-branch buffers, reused.
    let mut nodes: Vec<u32> = Vec::new();
    let mut path: Vec<f64> = Vec::new();
    let mut traced: Vec<[f64; 4]> = Vec::new();
    let mut coord: [Vec<f64>; 3] = Default::default();
    let mut ranges = Vec::with_capacity(ncomp);
    let (mut cum, mut dists) = (Vec::new(), Vec::new());

    let mut branches = Vec::with_capacity(tr.branches.len());
    for (b, (r, type_id)) in tr.branches.iter().enumerate() {
        let edges = &tr.edges[r.clone()];
        nodes.clear();
        path.clear();
        nodes.push(edges[0].i);
        path.push(0.0);
        let mut acc = 0.0;
        for de in edges {
            nodes.push(de.j);
            acc += g.edge_len[de.e as usize];
            path.push(acc);
        }
        traced.clear();
        traced.extend(nodes.iter().map(|&v| g.xyzr(v)));
        // "Fix id and r bleed-over from neighbouring neurites of a different type."
        if g.type_id(nodes[0]) != g.type_id(nodes[1]) {
            traced[0][3] = traced[1][3];
        }
        for (c, col) in coord.iter_mut().enumerate() {
            col.clear();
            col.extend(traced.iter().map(|p| p[c]));
        }
        // Somatic start points (single-point soma, somatic branchpoint) are not part
        // of the branch's xyzr.
        let first = usize::from(g.soma_ignore[nodes[0] as usize]);
        let xyzr_in = &traced[first..];

        let mut xyzr = Vec::with_capacity(xyzr_in.len() + 2 * ncomp);
        ranges.clear();
        split_equal_length(xyzr_in, ncomp, &mut xyzr, &mut ranges, &mut cum, &mut dists);

        let mut branch_len = path.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if branch_len < MIN_BRANCH_LEN {
            branch_len = ZERO_BRANCH_LEN;
        }
        let comp_len = branch_len / ncomp as f64;
        let mut comps = Vec::with_capacity(ncomp);
        for (k, range) in ranges.iter().enumerate() {
            let m = morph_attrs(&xyzr[range.clone()], min_radius, ncomp, &mut scratch).map_err(
                |radius| SwcError::DegenerateCompartment {
                    branch: b,
                    comp: k,
                    radius,
                },
            )?;
            let loc = linspace_at(comp_len / 2.0, branch_len - comp_len / 2.0, ncomp, k);
            let center = [
                interp(loc, &path, &coord[0]),
                interp(loc, &path, &coord[1]),
                interp(loc, &path, &coord[2]),
            ];
            comps.push(CompGeometry {
                radius: m.radius,
                length: comp_len,
                area: m.area,
                volume: m.volume,
                resistive_load_in: m.load_in,
                resistive_load_out: m.load_out,
                center,
            });
        }
        branches.push(SwcBranch {
            type_id: *type_id,
            xyzr,
            comps,
        });
    }

    // A branch's parent is the branch that ends where it starts.
    let mut ends_here = vec![NONE; g.n_nodes()];
    for (b, (r, _)) in tr.branches.iter().enumerate() {
        ends_here[tr.edges[r.end - 1].j as usize] = b as u32;
    }
    let parents = tr
        .branches
        .iter()
        .enumerate()
        .map(|(b, (r, _))| {
            let p = ends_here[tr.edges[r.start].i as usize];
            if b == 0 || p == NONE {
                -1
            } else {
                i64::from(p)
            }
        })
        .collect();
    Ok(SwcMorphology {
        parents,
        branches,
        assign_groups,
    })
}
