//! The Hines solver: Gaussian elimination on the tree, leaves to roots, then back substitution.

use crate::compile::Compiled;
use crate::scalar::Scalar;
use crate::state::AllParams;

/// Solves the backward-Euler system with step `h` for every node, in place: `v` holds the
/// voltages at the start of the step and receives the new ones.
///
/// The system is `diag[i] v_i − h Σ_e g_e v_source(e) = rhs[i]` with
/// `diag[i] = [i is a compartment] + h lin[i] + h Σ_e g_e` and
/// `rhs[i] = [i is a compartment] (v[i] + h cst[i])`.
///
/// Nodes are eliminated level by level in the order of [`crate::compile::HinesOrder`] (deepest
/// level first, all cells and branches interleaved). Within a level nodes are independent: their
/// reciprocal diagonals are computed together (one vectorised division per node), then folded into
/// their parents. Back substitution runs the levels the other way. `d` and `r` are scratch arrays
/// of length `n_nodes`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub fn solve<T: Scalar>(
    c: &Compiled,
    p: &AllParams<T>,
    lin: &[T],
    cst: &[T],
    v: &mut [T],
    h: T,
    d: &mut [T],
    r: &mut [T],
) {
    let ord = &c.hines;
    let n = ord.order.len();
    let nv = v.len();
    let (order, parent_pos, is_comp) = (&ord.order[..n], &ord.parent_pos[..n], &ord.is_comp[..n]);
    let (lower, upper, gsum) = (&p.h_lower[..n], &p.h_upper[..n], &p.h_gsum[..n]);
    let (d, r) = (&mut d[..n], &mut r[..n]);
    let (lin, cst) = (&lin[..nv], &cst[..nv]);
    let one = T::one();
    let zero = T::zero();
    assert!(
        nv >= n && lin.len() == nv && cst.len() == nv,
        "arrays shorter than the node count"
    );
    for k in 0..n {
        let i = order[k] as usize;
        debug_assert!(i < nv);
        // SAFETY: `order` is a permutation of 0..n (built by `HinesOrder::build`) and n <= nv.
        let (li, ci, vi) = unsafe {
            (
                *lin.get_unchecked(i),
                *cst.get_unchecked(i),
                *v.get_unchecked(i),
            )
        };
        let comp = is_comp[k];
        let dk = h * li + h * gsum[k];
        d[k] = if comp { dk + one } else { dk };
        let rk = vi + h * ci;
        r[k] = if comp { rk } else { zero };
    }
    let h2 = h * h;
    let levels = &ord.levels;
    let last = levels.len() - 2;
    for l in 0..=last {
        let (a, b) = (levels[l], levels[l + 1]);
        for dk in &mut d[a..b] {
            *dk = one / *dk;
        }
        if l == last {
            break; // the roots: nothing above them
        }
        for k in a..b {
            let pp = parent_pos[k] as usize;
            debug_assert!(pp > k && pp < n);
            let inv = d[k];
            let rk = r[k];
            // SAFETY: parents come after their children in the order and before n.
            unsafe {
                *d.get_unchecked_mut(pp) -= h2 * lower[k] * upper[k] * inv;
                *r.get_unchecked_mut(pp) += h * upper[k] * inv * rk;
            }
        }
    }
    let (a, b) = (levels[last], levels[last + 1]);
    for k in a..b {
        r[k] *= d[k];
    }
    for l in (0..last).rev() {
        for k in levels[l]..levels[l + 1] {
            let pp = parent_pos[k] as usize;
            // SAFETY: as above.
            let rp = unsafe { *r.get_unchecked(pp) };
            r[k] = (r[k] + h * lower[k] * rp) * d[k];
        }
    }
    for k in 0..n {
        // SAFETY: `order` is a permutation of 0..n.
        unsafe { *v.get_unchecked_mut(order[k] as usize) = r[k] };
    }
}
