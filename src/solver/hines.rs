//! The Hines solver: Gaussian elimination on the tree, leaves to roots, then back substitution.

use crate::compile::{Compiled, HinesOrder};
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
#[inline(always)]
#[allow(clippy::too_many_arguments)]
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
    assert!(
        nv >= n && lin.len() == nv && cst.len() == nv,
        "arrays shorter than the node count"
    );
    let (order, is_comp) = (&ord.order[..n], &ord.is_comp[..n]);
    let (d, r) = (&mut d[..n], &mut r[..n]);
    diagonal(ord, p, lin, h, d);
    for k in 0..n {
        let i = order[k] as usize;
        // SAFETY: `order` is a permutation of 0..n (built by `HinesOrder::build`) and n <= nv.
        let (ci, vi) = unsafe { (*cst.get_unchecked(i), *v.get_unchecked(i)) };
        let rk = vi + h * ci;
        r[k] = if is_comp[k] { rk } else { T::zero() };
    }
    eliminate(ord, &p.h_lower, &p.h_upper, h, d, r);
    for k in 0..n {
        // SAFETY: `order` is a permutation of 0..n.
        unsafe { *v.get_unchecked_mut(order[k] as usize) = r[k] };
    }
}

/// Solves the **transposed** backward-Euler system `Aᵀ λ = w` in place (`rhs` holds `w` per node
/// and receives `λ`). The transpose of a tree matrix is a tree matrix with the two off-diagonal
/// entries of every edge swapped, so this is the same elimination — the adjoint of one implicit
/// step, used by vector–Jacobian products.
#[inline(always)]
pub fn solve_transpose<T: Scalar>(
    c: &Compiled,
    p: &AllParams<T>,
    lin: &[T],
    h: T,
    rhs: &mut [T],
    d: &mut [T],
    r: &mut [T],
) {
    let ord = &c.hines;
    let n = ord.order.len();
    assert!(
        rhs.len() >= n && lin.len() >= n,
        "arrays shorter than the node count"
    );
    let order = &ord.order[..n];
    let (d, r) = (&mut d[..n], &mut r[..n]);
    diagonal(ord, p, lin, h, d);
    for k in 0..n {
        r[k] = rhs[order[k] as usize];
    }
    eliminate(ord, &p.h_upper, &p.h_lower, h, d, r);
    for k in 0..n {
        rhs[order[k] as usize] = r[k];
    }
}

/// The diagonal in elimination order.
#[inline(always)]
fn diagonal<T: Scalar>(ord: &HinesOrder, p: &AllParams<T>, lin: &[T], h: T, d: &mut [T]) {
    let n = d.len();
    let (order, is_comp, gsum) = (&ord.order[..n], &ord.is_comp[..n], &p.h_gsum[..n]);
    for k in 0..n {
        let i = order[k] as usize;
        // SAFETY: `order` is a permutation of 0..n and callers checked lin.len() >= n.
        let li = unsafe { *lin.get_unchecked(i) };
        let dk = h * li + h * gsum[k];
        d[k] = if is_comp[k] { dk + T::one() } else { dk };
    }
}

/// Elimination and back substitution in elimination order; `lower[k]`/`upper[k]` are the
/// conductances of row k / column k towards the parent. On return `r` holds the solution.
#[inline(always)]
fn eliminate<T: Scalar>(
    ord: &HinesOrder,
    lower: &[T],
    upper: &[T],
    h: T,
    d: &mut [T],
    r: &mut [T],
) {
    let n = d.len();
    let parent_pos = &ord.parent_pos[..n];
    let (lower, upper) = (&lower[..n], &upper[..n]);
    let one = T::one();
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
}
