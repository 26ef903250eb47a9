//! Forward Euler for the cable, and the branchpoint voltages.

use crate::compile::{Compiled, EdgeKind};
use crate::scalar::Scalar;

/// Sets the voltage of every branchpoint to the conductance-weighted mean of its neighbours
/// (`v_bp = Σ w_j v_j / Σ w_j`, the value the implicit system gives it). `num` and `den` are
/// scratch arrays of length `n_nodes`.
#[inline(always)]
pub fn branchpoint_voltages<T: Scalar>(
    c: &Compiled,
    axial: &[T],
    v: &mut [T],
    num: &mut [T],
    den: &mut [T],
) {
    branchpoint_voltages_of(c, &c.bp_edges, &c.bp_with_parent, axial, v, num, den);
}

/// [`branchpoint_voltages`] of the branchpoints `bps` only, summed over the edges `bp_edges`
/// (the edges into them, in edge order: a sublist of `c.bp_edges`).
#[inline(always)]
pub(crate) fn branchpoint_voltages_of<T: Scalar>(
    c: &Compiled,
    bp_edges: &[u32],
    bps: &[u32],
    axial: &[T],
    v: &mut [T],
    num: &mut [T],
    den: &mut [T],
) {
    let edges = &c.graph.edges;
    for &e in bp_edges {
        let sink = edges[e as usize].sink;
        num[sink] = T::zero();
        den[sink] = T::zero();
    }
    for &e in bp_edges {
        let (e, g) = (&edges[e as usize], axial[e as usize]);
        num[e.sink] += g * v[e.source];
        den[e.sink] += g;
    }
    for &b in bps {
        let b = b as usize;
        v[b] = num[b] / den[b];
    }
}

/// One forward-Euler step of the cable equation: `v += dt (−lin v + cst + Σ g (v_src − v))`,
/// with branchpoint voltages from their neighbours before and after.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub fn step<T: Scalar>(
    c: &Compiled,
    axial: &[T],
    lin: &[T],
    cst: &[T],
    v: &mut [T],
    dt: T,
    field: &mut [T],
    num: &mut [T],
    den: &mut [T],
) {
    branchpoint_voltages(c, axial, v, num, den);
    for &i in &c.comp_nodes {
        let i = i as usize;
        field[i] = -lin[i] * v[i] + cst[i];
    }
    for (e, g) in c.graph.edges.iter().zip(axial) {
        if matches!(
            e.kind,
            EdgeKind::CompToComp | EdgeKind::BpToParent | EdgeKind::BpToChild
        ) {
            field[e.sink] += (v[e.source] - v[e.sink]) * *g;
        }
    }
    for &i in &c.comp_nodes {
        let i = i as usize;
        v[i] += dt * field[i];
    }
    branchpoint_voltages(c, axial, v, num, den);
}
