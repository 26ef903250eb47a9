//! The Hines solver: Gaussian elimination on the tree, leaves to roots, then back substitution.

use crate::compile::Compiled;
use crate::scalar::Scalar;
use crate::state::AllParams;

/// Solves the backward-Euler system with step `h` for every node and writes the new voltages to
/// `v_out`.
///
/// The system is `diag[i] v_i − h Σ_e g_e v_source(e) = rhs[i]` with
/// `diag[i] = [i is a compartment] + h lin[i] + h Σ_e g_e` and
/// `rhs[i] = [i is a compartment] (v[i] + h cst[i])`. `d` and `r` are scratch arrays of length
/// `n_nodes`.
#[allow(clippy::too_many_arguments)]
pub fn solve<T: Scalar>(
    c: &Compiled,
    p: &AllParams<T>,
    lin: &[T],
    cst: &[T],
    v: &[T],
    h: T,
    d: &mut [T],
    r: &mut [T],
    v_out: &mut [T],
) {
    let ord = &c.hines;
    let n = ord.order.len();
    let is_comp = &c.graph.is_comp;
    let (order, parent_pos) = (&ord.order[..n], &ord.parent_pos[..n]);
    let (lower, upper, gsum) = (&p.h_lower[..n], &p.h_upper[..n], &p.h_gsum[..n]);
    let (d, r) = (&mut d[..n], &mut r[..n]);
    let one = T::one();
    let zero = T::zero();
    for k in 0..n {
        let i = order[k] as usize;
        if is_comp[i] {
            d[k] = h * lin[i] + one + h * gsum[k];
            r[k] = v[i] + h * cst[i];
        } else {
            d[k] = h * gsum[k];
            r[k] = zero;
        }
    }
    for k in 0..n {
        let pp = parent_pos[k] as usize;
        if pp == u32::MAX as usize {
            continue;
        }
        let m = -(h * upper[k]) / d[k];
        let dp = d[pp] - (-(h * lower[k])) * m;
        let rp = r[pp] - r[k] * m;
        d[pp] = dp;
        r[pp] = rp;
    }
    for k in (0..n).rev() {
        let pp = parent_pos[k] as usize;
        let x = if pp == u32::MAX as usize {
            r[k] / d[k]
        } else {
            r[k] / d[k] - (-(h * lower[k]) / d[k]) * r[pp]
        };
        r[k] = x;
    }
    for k in 0..n {
        v_out[order[k] as usize] = r[k];
    }
}
