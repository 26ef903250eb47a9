//! The Hines solver: Gaussian elimination on the tree, leaves to roots, then back substitution.

use crate::compile::Compiled;
use crate::scalar::Scalar;
use crate::state::AllParams;

/// Solves the backward-Euler system with step `h` for every node, in place: `v` holds the
/// voltages at the start of the step and receives the new ones.
///
/// The system is `diag[i] v_i − h Σ_e g_e v_source(e) = rhs[i]` with
/// `diag[i] = [i is a compartment] + h lin[i] + h Σ_e g_e` and
/// `rhs[i] = [i is a compartment] (v[i] + h cst[i])`. Nodes are eliminated in the order of
/// [`crate::compile::HinesOrder`] (children before parents, equal depths interleaved), with one
/// division per node. `d` and `r` are scratch arrays of length `n_nodes`.
#[allow(clippy::too_many_arguments)]
pub fn solve<T: Scalar>(c: &Compiled, p: &AllParams<T>, lin: &[T], cst: &[T], v: &mut [T], h: T, d: &mut [T], r: &mut [T]) {
    let ord = &c.hines;
    let n = ord.order.len();
    let is_comp = &c.graph.is_comp[..v.len()];
    let (order, parent_pos) = (&ord.order[..n], &ord.parent_pos[..n]);
    let (lower, upper, gsum) = (&p.h_lower[..n], &p.h_upper[..n], &p.h_gsum[..n]);
    let (d, r) = (&mut d[..n], &mut r[..n]);
    let (lin, cst) = (&lin[..v.len()], &cst[..v.len()]);
    let one = T::one();
    for k in 0..n {
        let i = order[k] as usize;
        if is_comp[i] {
            d[k] = h * lin[i] + one + h * gsum[k];
            r[k] = v[i] + h * cst[i];
        } else {
            d[k] = h * gsum[k];
            r[k] = T::zero();
        }
    }
    // Leaves to roots: eliminate each node from its parent's row; keep 1/diag.
    for k in 0..n {
        let inv = one / d[k];
        d[k] = inv;
        let pp = parent_pos[k] as usize;
        if pp < n {
            let m = -(h * upper[k]) * inv;
            d[pp] -= -(h * lower[k]) * m;
            r[pp] = r[pp] - r[k] * m;
        }
    }
    // Roots to leaves.
    for k in (0..n).rev() {
        let pp = parent_pos[k] as usize;
        r[k] = if pp < n { (r[k] + h * lower[k] * r[pp]) * d[k] } else { r[k] * d[k] };
    }
    for k in 0..n {
        v[order[k] as usize] = r[k];
    }
}
