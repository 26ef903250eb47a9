//! Exponential Euler (Lie–Trotter): channels by exponential Euler, then `v ← exp(G dt) v` on the
//! compartments, with `G` the conductance matrix whose branchpoints are eliminated.

use crate::compile::{Compiled, EdgeKind};
use crate::math::exponential_euler;
use crate::scalar::Scalar;
use nalgebra::DMatrix;

/// The dense matrix `G` (compartments × compartments) with `dv/dt = G v` for the axial currents.
pub fn conductance_matrix<T: Scalar>(c: &Compiled, axial: &[T]) -> DMatrix<T> {
    let n_nodes = c.n_nodes();
    let mut comp_of = vec![usize::MAX; n_nodes];
    for (k, &node) in c.comp_nodes.iter().enumerate() {
        comp_of[node as usize] = k;
    }
    let n = c.comp_nodes.len();
    let mut g = DMatrix::<T>::zeros(n, n);
    // Weights of the compartments around each branchpoint.
    let mut wsum = vec![T::zero(); n_nodes];
    let mut around: Vec<Vec<(usize, T)>> = vec![Vec::new(); n_nodes];
    for (e, &w) in c.graph.edges.iter().zip(axial) {
        if matches!(e.kind, EdgeKind::ParentToBp | EdgeKind::ChildToBp) {
            wsum[e.sink] += w;
            around[e.sink].push((comp_of[e.source], w));
        }
    }
    for (e, &ge) in c.graph.edges.iter().zip(axial) {
        match e.kind {
            EdgeKind::CompToComp => {
                let (i, j) = (comp_of[e.sink], comp_of[e.source]);
                g[(i, i)] -= ge;
                g[(i, j)] += ge;
            }
            EdgeKind::BpToParent | EdgeKind::BpToChild => {
                let i = comp_of[e.sink];
                g[(i, i)] -= ge;
                for &(j, w) in &around[e.source] {
                    g[(i, j)] += ge * (w / wsum[e.source]);
                }
            }
            _ => {}
        }
    }
    g
}

/// `exp(G dt)`.
pub fn transition_matrix<T: Scalar>(c: &Compiled, axial: &[T], dt: f64) -> DMatrix<T> {
    (conductance_matrix(c, axial) * T::from(dt)).exp()
}

/// One exponential-Euler step: per compartment `v ← v_inf + (v − v_inf) e^{−lin dt}` (or
/// `v + cst dt` where `lin = 0`), then `v_comps ← M v_comps`. `tmp` and `out` have `n_nodes`
/// entries.
#[inline(always)]
pub fn step<T: Scalar>(
    c: &Compiled,
    m: &DMatrix<T>,
    lin: &[T],
    cst: &[T],
    v: &mut [T],
    dt: T,
    tmp: &mut [T],
) {
    let n = c.comp_nodes.len();
    for (k, &node) in c.comp_nodes.iter().enumerate() {
        let i = node as usize;
        tmp[k] = if lin[i] == T::zero() {
            v[i] + cst[i] * dt
        } else {
            exponential_euler(v[i], dt, cst[i] / lin[i], T::one() / lin[i])
        };
    }
    for (row, &node) in c.comp_nodes.iter().enumerate() {
        let mut acc = T::zero();
        for col in 0..n {
            acc += m[(row, col)] * tmp[col];
        }
        v[node as usize] = acc;
    }
}
