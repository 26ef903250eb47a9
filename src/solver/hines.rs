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
/// Nodes are eliminated unit by unit and, inside a unit, level by level in the order of
/// [`crate::compile::HinesOrder`] (deepest level first, cells and branches interleaved). Within a
/// level nodes are independent: their reciprocal diagonals are computed together (one vectorised
/// division per node), then folded into their parents run by run (a run's parents are
/// consecutive too, so the fold is a loop over contiguous arrays). Back substitution runs the
/// levels the other way. `d` and `r` are scratch arrays of length `n_nodes`.
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
    assert!(
        v.len() >= n && lin.len() >= n && cst.len() >= n && d.len() >= n && r.len() >= n,
        "arrays shorter than the node count"
    );
    let coef = Coefficients {
        lower: &p.h_lower,
        upper: &p.h_upper,
        gsum: &p.h_gsum,
    };
    for u in 0..ord.units.len() {
        let nodes = ord.units[u].nodes.clone();
        solve_unit(
            ord,
            u,
            coef,
            &lin[nodes.clone()],
            &cst[nodes.clone()],
            &mut v[nodes.clone()],
            h,
            &mut d[nodes.clone()],
            &mut r[nodes],
            true,
        );
    }
}

/// The coefficients of the tree system per elimination position (see [`AllParams`]).
#[derive(Clone, Copy)]
pub(crate) struct Coefficients<'a, T> {
    /// Conductance of row `node`, column `parent`.
    pub lower: &'a [T],
    /// Conductance of row `parent`, column `node`.
    pub upper: &'a [T],
    /// Sum of the conductances into the node.
    pub gsum: &'a [T],
}

/// Solves one unit. `lin`, `cst`, `v`, `d` and `r` are the unit's parts of the node arrays
/// (indexed by node − first node of the unit; positions equal nodes at unit level); the
/// coefficients are indexed by global position. With `write_bp = false` the solution is written
/// at compartments only (ion concentrations are not defined at branchpoints).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn solve_unit<T: Scalar>(
    ord: &HinesOrder,
    u: usize,
    coef: Coefficients<'_, T>,
    lin: &[T],
    cst: &[T],
    v: &mut [T],
    h: T,
    d: &mut [T],
    r: &mut [T],
    write_bp: bool,
) {
    let unit = &ord.units[u];
    let base = unit.nodes.start;
    let m = unit.nodes.len();
    let range = unit.nodes.clone();
    let (order, is_comp, gsum) = (
        &ord.order[range.clone()],
        &ord.is_comp[range.clone()],
        &coef.gsum[range],
    );
    let (d, r) = (&mut d[..m], &mut r[..m]);
    let (lin, cst, v) = (&lin[..m], &cst[..m], &mut v[..m]);
    for k in 0..m {
        let i = order[k] as usize - base;
        debug_assert!(i < m);
        // SAFETY: `order` restricted to a unit is a permutation of the unit's nodes (built by
        // `HinesOrder::build`), so i < m.
        let (li, ci, vi) = unsafe {
            (
                *lin.get_unchecked(i),
                *cst.get_unchecked(i),
                *v.get_unchecked(i),
            )
        };
        (d[k], r[k]) = assemble(li, ci, vi, gsum[k], is_comp[k], h);
    }
    solve_assembled_unit(ord, u, coef, v, h, d, r, write_bp);
}

/// The diagonal and right-hand side of the row of one node.
#[inline(always)]
fn assemble<T: Scalar>(lin: T, cst: T, v: T, gsum: T, comp: bool, h: T) -> (T, T) {
    let dk = h * lin + h * gsum;
    let rk = v + h * cst;
    if comp {
        (dk + T::one(), rk)
    } else {
        (dk, T::zero())
    }
}

/// The rows of the nodes `nodes` (a part of one unit), assembled into the position-indexed `d`
/// and `r` (whole arrays) while their terms are still in cache; [`solve_assembled_unit`]
/// solves the unit once every node's row is in. `lin`, `cst` and `v` are the parts of the node
/// arrays at `nodes`; `gsum` is indexed by global position.
///
/// # Safety
/// `d` and `r` point at arrays of at least `n_nodes` elements, and no other thread touches the
/// positions of `nodes` in them.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) unsafe fn assemble_nodes<T: Scalar>(
    ord: &HinesOrder,
    gsum: &[T],
    nodes: std::ops::Range<usize>,
    lin: &[T],
    cst: &[T],
    v: &[T],
    h: T,
    d: *mut T,
    r: *mut T,
) {
    let pos = &ord.pos[nodes];
    let (lin, cst, v) = (&lin[..pos.len()], &cst[..pos.len()], &v[..pos.len()]);
    let n = ord.pos.len();
    assert!(
        gsum.len() >= n && ord.is_comp.len() >= n,
        "arrays shorter than the node count"
    );
    for (q, &k) in pos.iter().enumerate() {
        let k = k as usize;
        debug_assert!(k < n);
        // SAFETY: `pos` is a permutation of the positions 0..n_nodes (built by
        // `HinesOrder::build`, as `solve_unit` relies on too), so k < n_nodes; the caller's
        // guarantee for d and r.
        unsafe {
            let (dk, rk) = assemble(
                lin[q],
                cst[q],
                v[q],
                *gsum.get_unchecked(k),
                *ord.is_comp.get_unchecked(k),
                h,
            );
            *d.add(k) = dk;
            *r.add(k) = rk;
        }
    }
}

/// Solves unit `u` whose rows are already in `d` and `r` (its parts, indexed by position − first
/// position of the unit), and writes the solution into `v` (its part of the node array).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn solve_assembled_unit<T: Scalar>(
    ord: &HinesOrder,
    u: usize,
    coef: Coefficients<'_, T>,
    v: &mut [T],
    h: T,
    d: &mut [T],
    r: &mut [T],
    write_bp: bool,
) {
    let unit = &ord.units[u];
    let base = unit.nodes.start;
    let m = unit.nodes.len();
    let range = unit.nodes.clone();
    let is_comp = &ord.is_comp[range.clone()];
    let (lower, upper) = (&coef.lower[range.clone()], &coef.upper[range]);
    let (d, r, v) = (&mut d[..m], &mut r[..m], &mut v[..m]);
    eliminate_unit(ord, u, lower, upper, h, d, r);
    let pos = &ord.pos[base..base + m];
    for i in 0..m {
        let k = pos[i] as usize - base;
        debug_assert!(k < m);
        // SAFETY: `pos` restricted to a unit is a permutation of the unit's positions.
        let (x, comp) = unsafe { (*r.get_unchecked(k), *is_comp.get_unchecked(k)) };
        if write_bp || comp {
            v[i] = x;
        }
    }
}

/// Elimination and back substitution of unit `u` in elimination order (`d`, `r`, `lower`,
/// `upper` are the unit's parts, indexed by position − first position of the unit); `lower[k]`
/// and `upper[k]` are the conductances of row k / column k towards the parent. On entry `d` holds
/// the diagonal, `r` the right-hand side; on return `r` holds the solution.
#[inline(always)]
fn eliminate_unit<T: Scalar>(
    ord: &HinesOrder,
    u: usize,
    lower: &[T],
    upper: &[T],
    h: T,
    d: &mut [T],
    r: &mut [T],
) {
    let unit = &ord.units[u];
    let base = unit.nodes.start;
    let m = unit.nodes.len();
    let one = T::one();
    let h2 = h * h;
    let levels = &ord.levels;
    let (first, last) = (unit.levels.start, unit.levels.end - 1);
    assert!(
        d.len() >= m && r.len() >= m && lower.len() >= m && upper.len() >= m,
        "unit arrays shorter than the unit"
    );
    // Positions of one run are consecutive and so are their parents' (`HinesOrder::runs`),
    // all in later levels: contiguous arrays on both sides, which vectorise.
    let runs = |l: usize| {
        ord.runs[ord.level_runs[l]..ord.level_runs[l + 1]]
            .iter()
            .map(move |&(k, len, pp)| (k as usize - base, len as usize, pp as usize))
    };
    for l in first..=last {
        let (a, b) = (levels[l] - base, levels[l + 1] - base);
        for dk in &mut d[a..b] {
            *dk = one / *dk;
        }
        if l == last {
            break; // the roots: nothing above them
        }
        let (dlo, dhi) = d.split_at_mut(b);
        let (rlo, rhi) = r.split_at_mut(b);
        for (k, len, pp) in runs(l) {
            let pp = pp - base - b;
            debug_assert!(k >= a && k + len <= b && pp + len <= m - b);
            let (inv, rk) = (&dlo[k..k + len], &rlo[k..k + len]);
            let (lw, up) = (&lower[k..k + len], &upper[k..k + len]);
            let (dp, rp) = (&mut dhi[pp..pp + len], &mut rhi[pp..pp + len]);
            for q in 0..len {
                dp[q] -= h2 * lw[q] * up[q] * inv[q];
                rp[q] += h * up[q] * inv[q] * rk[q];
            }
        }
    }
    let (a, b) = (levels[last] - base, levels[last + 1] - base);
    for k in a..b {
        r[k] *= d[k];
    }
    for l in (first..last).rev() {
        let b = levels[l + 1] - base;
        let (lo, hi) = r.split_at_mut(b);
        for (k, len, pp) in runs(l) {
            let pp = pp - base - b;
            debug_assert!(k + len <= b && pp + len <= hi.len());
            let (x, dl, ll, xp) = (
                &mut lo[k..k + len],
                &d[k..k + len],
                &lower[k..k + len],
                &hi[pp..pp + len],
            );
            for q in 0..len {
                x[q] = (x[q] + h * ll[q] * xp[q]) * dl[q];
            }
        }
    }
}

/// Solves the **transposed** backward-Euler system `Aᵀ λ = w` in place (`rhs` holds `w` per node
/// and receives `λ`; `A` as in [`solve`] with step `h`). The transpose of a tree matrix is a tree
/// matrix with the two off-diagonal entries of every edge swapped, so this is the same
/// elimination — the adjoint of one implicit step, used by vector–Jacobian products.
/// `d` and `r` are scratch arrays of length `n_nodes`.
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
        rhs.len() >= n && lin.len() >= n && d.len() >= n && r.len() >= n,
        "arrays shorter than the node count"
    );
    for u in 0..ord.units.len() {
        let range = ord.units[u].nodes.clone();
        for k in range.clone() {
            let i = ord.order[k] as usize;
            d[k] = transpose_diagonal(ord, p, lin[i], h, k);
            r[k] = rhs[i];
        }
        eliminate_transpose_unit(ord, p, u, h, d, r, rhs);
    }
}

/// The diagonal of the transposed system's row at position `k` (of the node with slope `lin`).
#[inline(always)]
fn transpose_diagonal<T: Scalar>(ord: &HinesOrder, p: &AllParams<T>, lin: T, h: T, k: usize) -> T {
    let dk = h * lin + h * p.h_gsum[k];
    if ord.is_comp[k] { dk + T::one() } else { dk }
}

/// Elimination and back substitution of unit `u` of the transposed system whose rows are in
/// `d` and `r` (per position, whole arrays); λ per node into `lambda`.
#[inline(always)]
fn eliminate_transpose_unit<T: Scalar>(
    ord: &HinesOrder,
    p: &AllParams<T>,
    u: usize,
    h: T,
    d: &mut [T],
    r: &mut [T],
    lambda: &mut [T],
) {
    let range = ord.units[u].nodes.clone();
    eliminate_unit(
        ord,
        u,
        &p.h_upper[range.clone()],
        &p.h_lower[range.clone()],
        h,
        &mut d[range.clone()],
        &mut r[range.clone()],
    );
    for k in range {
        lambda[ord.order[k] as usize] = r[k];
    }
}

/// The diagonals of the transposed system's rows of the nodes `nodes` (as [`solve_transpose`]
/// assembles them from the slopes per node `lin`), written at their elimination positions in
/// `d`, for [`solve_transpose_assembled`]: threads that own parts of the nodes each write
/// theirs.
///
/// # Safety
/// `d` points at an array of at least `n_nodes` values, and no other thread touches the
/// positions of `nodes` in it meanwhile.
#[inline(always)]
pub(crate) unsafe fn assemble_transpose_diagonal(
    c: &Compiled,
    p: &AllParams<f64>,
    lin: &[f64],
    h: f64,
    nodes: std::ops::Range<usize>,
    d: *mut f64,
) {
    let ord = &c.hines;
    assert!(
        ord.pos.len() >= nodes.end && lin.len() >= nodes.end,
        "nodes out of range"
    );
    for i in nodes {
        let k = ord.pos[i] as usize;
        // SAFETY: `pos` is a permutation of 0..n_nodes; the caller's guarantee for `d`.
        unsafe { *d.add(k) = transpose_diagonal(ord, p, lin[i], h, k) };
    }
}

/// [`solve_transpose`] with the rows already at their elimination positions: the diagonals in
/// `d` (see [`assemble_transpose_diagonal`]) and the right-hand side in `r` (both consumed);
/// λ per node into `lambda`.
#[inline(always)]
pub(crate) fn solve_transpose_assembled<T: Scalar>(
    c: &Compiled,
    p: &AllParams<T>,
    h: T,
    d: &mut [T],
    r: &mut [T],
    lambda: &mut [T],
) {
    let ord = &c.hines;
    let n = ord.order.len();
    assert!(
        d.len() >= n && r.len() >= n && lambda.len() >= n,
        "arrays shorter than the node count"
    );
    for u in 0..ord.units.len() {
        eliminate_transpose_unit(ord, p, u, h, d, r, lambda);
    }
}
