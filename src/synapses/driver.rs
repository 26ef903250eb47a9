//! The loops that drive a [`Synapse`] over the edges of its type.
//!
//! As for mechanisms ([`crate::mechanisms::driver`]): edges are processed in tiles of 8 (states,
//! parameters and the two voltages gathered into small arrays, the synapse run lane by lane,
//! results scattered back), the `f64` loops are compiled for AVX-512, AVX2+FMA and the
//! baseline and chosen at run time, and dynamic dispatch happens once per synapse type per call.
//!
//! Contributions to the post-synaptic nodes are added in the order of the edge list (edges come
//! sorted by post-synaptic node; within a tile, a run of edges onto one node is summed first and
//! added once), so sums never depend on how work is split between threads.

use super::{Synapse, SynapseInfo};
use crate::mechanisms::driver::{
    FD_DELTA, Nodes, SharedSlice, SimdLevel, load_tile as load, simd_level, store_tile as store,
};
use crate::scalar::{Dual64, Scalar};

/// Edges per tile: one 512-bit vector of `f64`. (The mechanisms' 32-lane tiles, tried here,
/// made the 1 000-cell network step up to 3 % slower on one thread and about 5 % on two: a synapse
/// tile's gathers and scattered sums gain nothing from the longer tile, and its arrays no longer
/// fit in registers.)
const LANES: usize = 8;

/// Arguments of a synapse state update.
pub struct SynUpdateArgs<'a, T> {
    /// The edges to update (indices within the type).
    pub edges: Nodes<'a>,
    /// Per edge of the type: index of its pre-synaptic voltage in `v_pre`.
    pub pre: &'a [u32],
    /// Post-synaptic node of every edge of the type.
    pub post: &'a [u32],
    /// The state store.
    pub store: SharedSlice<'a, T>,
    /// Offset of each state array of the type in `store`.
    pub state_off: &'a [usize],
    /// The parameter store.
    pub params: &'a [T],
    /// Offset of each parameter array of the type in `params`.
    pub param_off: &'a [usize],
    /// Pre-synaptic voltages, indexed by `pre`.
    pub v_pre: &'a [T],
    /// Voltage of every node (only the post-synaptic nodes of the edges are read).
    pub v: SharedSlice<'a, T>,
    /// Time step (ms).
    pub dt: T,
}

/// Arguments of the synapse current and its linearisation.
pub struct SynCurrentArgs<'a, T> {
    /// The edges (indices within the type); their contributions are added in this order.
    pub edges: Nodes<'a>,
    /// Per edge of the type: index of its pre-synaptic voltage in `v_pre`.
    pub pre: &'a [u32],
    /// Post-synaptic node of every edge of the type.
    pub post: &'a [u32],
    /// The state store: states are read, the current of each edge is written at `current_off`.
    pub store: SharedSlice<'a, T>,
    /// Offset of each state array of the type in `store`.
    pub state_off: &'a [usize],
    /// Offset of the type's current array (`i_<name>`, nA per edge) in `store`.
    pub current_off: usize,
    /// The parameter store.
    pub params: &'a [T],
    /// Offset of each parameter array of the type in `params`.
    pub param_off: &'a [usize],
    /// Pre-synaptic voltages, indexed by `pre`.
    pub v_pre: &'a [T],
    /// Voltage of every node (only the post-synaptic nodes of the edges are read).
    pub v: SharedSlice<'a, T>,
    /// Membrane area (µm²) of every node.
    pub area: &'a [T],
    /// Per node: the slope of the density (µA/cm² per mV) is added here.
    pub lin: SharedSlice<'a, T>,
    /// Per node: minus the constant of the density is added here.
    pub cst: SharedSlice<'a, T>,
    /// If given, the states are first advanced by this time step (ms), edge by edge in the same
    /// pass: the same as a state update followed by the current, in one sweep over the edges.
    pub update_dt: Option<T>,
    /// For a type with [`Synapse::PRE_AFFINE`], the coefficients of its update per
    /// pre-synaptic node, as [`SynPreAffineArgs::out`] holds them: the update then reads them
    /// instead of calling [`Synapse::update_states`] (only with `update_dt`).
    pub pre_affine: Option<&'a [T]>,
}

/// Arguments of the per-pre-synaptic-node coefficients of an affine update
/// ([`Synapse::PRE_AFFINE`]).
pub struct SynPreAffineArgs<'a, T> {
    /// The parameter store.
    pub params: &'a [T],
    /// Offset of each parameter array of the type in `params`.
    pub param_off: &'a [usize],
    /// The edge (within the type) whose parameters are used: those the coefficients read are
    /// the same on every edge.
    pub edge: usize,
    /// Pre-synaptic voltages.
    pub v_pre: &'a [T],
    /// Time step (ms).
    pub dt: T,
    /// Per state `k`: `a` at `2k·n + j` and `b` at `(2k + 1)·n + j` for pre-synaptic voltage
    /// `j` (`n = v_pre.len()`).
    pub out: &'a mut [T],
}

/// Object-safe face of a synapse type: one method per supported scalar type.
pub trait DynSynapse: Send + Sync {
    /// Names and defaults.
    fn info(&self) -> &SynapseInfo;
    /// State update in `f64`.
    fn update_f64(&self, args: &mut SynUpdateArgs<'_, f64>);
    /// State update with dual numbers.
    fn update_dual(&self, args: &mut SynUpdateArgs<'_, Dual64>);
    /// Currents and their linearisation in `f64`.
    fn current_f64(&self, args: &mut SynCurrentArgs<'_, f64>);
    /// The same with dual numbers.
    fn current_dual(&self, args: &mut SynCurrentArgs<'_, Dual64>);
    /// The coefficients of an affine update per pre-synaptic node in `f64` (types with
    /// [`Synapse::PRE_AFFINE`]; others leave `out` alone).
    fn pre_affine_f64(&self, args: &mut SynPreAffineArgs<'_, f64>);
    /// The same with dual numbers.
    fn pre_affine_dual(&self, args: &mut SynPreAffineArgs<'_, Dual64>);
}

/// A synapse together with its resolved names.
pub(crate) struct WrappedSynapse<Y, const P: usize, const S: usize> {
    pub(crate) syn: Y,
    pub(crate) info: SynapseInfo,
}

/// Edge indices of the tile at position `i` of `n`; lanes past the end repeat the last edge.
#[inline(always)]
fn tile_edges(edges: &Nodes<'_>, i: usize, n: usize) -> [usize; LANES] {
    let mut idx = [0usize; LANES];
    match edges {
        Nodes::Range { start, .. } => {
            for (l, x) in idx.iter_mut().enumerate() {
                *x = start + (i + l).min(n - 1);
            }
        }
        Nodes::List(list) => {
            for (l, x) in idx.iter_mut().enumerate() {
                // SAFETY: the index is below n = list.len().
                *x = unsafe { *list.get_unchecked((i + l).min(n - 1)) } as usize;
            }
        }
    }
    idx
}

/// For a full tile of a contiguous range: its first edge.
#[inline(always)]
fn tile_base(edges: &Nodes<'_>, i: usize, n: usize) -> Option<usize> {
    match edges {
        Nodes::Range { start, .. } if i + LANES <= n => Some(start + i),
        _ => None,
    }
}

#[inline(always)]
fn tile_max(idx: &[usize; LANES]) -> usize {
    let mut mx = 0;
    for &i in idx {
        mx = mx.max(i);
    }
    mx
}

fn check(cond: bool, what: &str) {
    assert!(cond, "synapse kernel: {what}");
}

/// One past the largest index every array allows: `min(len − offset)` over the offsets.
fn limit(len: usize, offsets: &[usize]) -> usize {
    offsets
        .iter()
        .map(|&o| len.saturating_sub(o))
        .min()
        .unwrap_or(usize::MAX)
}

/// Gathers the pre- and post-synaptic nodes of a tile of edges, checking them against `n_pre` and
/// `n_nodes` unless `checked` (every edge of the call was checked up front, see
/// [`check_range`]).
///
/// # Safety
/// Every index of `idx` is below `pre.len()` and `post.len()`; with `base = Some(e)`,
/// `idx[l] = e + l`.
#[inline(always)]
unsafe fn tile_nodes(
    idx: &[usize; LANES],
    base: Option<usize>,
    pre: &[u32],
    post: &[u32],
    n_pre: usize,
    n_nodes: usize,
    checked: bool,
) -> ([usize; LANES], [usize; LANES]) {
    let mut a = [0usize; LANES];
    let mut b = [0usize; LANES];
    match base {
        // A full tile of consecutive edges: two vector loads instead of two gathers.
        Some(e) => {
            for l in 0..LANES {
                // SAFETY: the caller's guarantee (`idx[l] = e + l`).
                unsafe {
                    a[l] = *pre.get_unchecked(e + l) as usize;
                    b[l] = *post.get_unchecked(e + l) as usize;
                }
            }
        }
        None => {
            for l in 0..LANES {
                // SAFETY: the caller's guarantee.
                unsafe {
                    a[l] = *pre.get_unchecked(idx[l]) as usize;
                    b[l] = *post.get_unchecked(idx[l]) as usize;
                }
            }
        }
    }
    if !checked {
        check(
            tile_max(&a) < n_pre && tile_max(&b) < n_nodes,
            "node index out of range",
        );
    }
    (a, b)
}

/// For a contiguous range of edges: checks every edge index against `lim` and every pre- and
/// post-synaptic node against `n_pre` and `n_nodes` at once (one vectorised pass instead of a
/// check per tile) and returns `true`; `false` for a list of edges (checked tile by tile).
/// Inlined into the kernels so that the pass is compiled for their instruction set (the
/// baseline has no unsigned 32-bit vector maximum: out of line it ran scalar; inlined, the
/// 1 000-cell network step got about 5 % faster).
#[inline(always)]
fn check_range(
    edges: &Nodes<'_>,
    lim: usize,
    pre: &[u32],
    post: &[u32],
    n_pre: usize,
    n_nodes: usize,
) -> bool {
    let Nodes::Range { start, len } = *edges else {
        return false;
    };
    check(
        start.checked_add(len).is_some_and(|end| end <= lim),
        "edge index out of range",
    );
    let max = |x: &[u32]| x.iter().fold(0u32, |m, &y| m.max(y)) as usize;
    check(
        len == 0
            || (max(&pre[start..start + len]) < n_pre && max(&post[start..start + len]) < n_nodes),
        "node index out of range",
    );
    true
}

#[inline(always)]
fn update_loop<Y: Synapse<P, S>, T: Scalar, const P: usize, const S: usize>(
    y: &Y,
    a: &mut SynUpdateArgs<'_, T>,
) {
    let n = a.edges.len();
    let store = a.store.as_mut_ptr();
    let params = a.params.as_ptr();
    let (v, v_pre) = (a.v.as_mut_ptr() as *const T, a.v_pre.as_ptr());
    let lim = limit(a.store.len(), a.state_off)
        .min(limit(a.params.len(), a.param_off))
        .min(a.pre.len())
        .min(a.post.len());
    let mut soff = [0usize; S];
    let mut poff = [0usize; P];
    soff.copy_from_slice(a.state_off);
    poff.copy_from_slice(a.param_off);
    // The tiles, zeroed once (a zeroed array per tile costs a `memset` call): every tile
    // fills every lane.
    let mut vpre = [T::zero(); LANES];
    let mut vpost = [T::zero(); LANES];
    let mut s = [[T::zero(); LANES]; S];
    let mut p = [[T::zero(); LANES]; P];
    let checked = check_range(&a.edges, lim, a.pre, a.post, a.v_pre.len(), a.v.len());
    let mut i = 0;
    while i < n {
        let idx = tile_edges(&a.edges, i, n);
        if !checked {
            check(tile_max(&idx) < lim, "edge index out of range");
        }
        let w = LANES.min(n - i);
        // SAFETY: edge and node indices were checked against every array's length (up front
        // or just above); concurrent callers touch disjoint edges.
        unsafe {
            let base = tile_base(&a.edges, i, n);
            let (pn, qn) = tile_nodes(&idx, base, a.pre, a.post, a.v_pre.len(), a.v.len(), checked);
            for l in 0..LANES {
                vpre[l] = *v_pre.add(pn[l]);
                vpost[l] = *v.add(qn[l]);
            }
            for k in 0..S {
                load(store, soff[k], base, &idx, &mut s[k]);
            }
            for k in 0..P {
                load(params, poff[k], base, &idx, &mut p[k]);
            }
            for l in 0..LANES {
                let mut sl = [T::zero(); S];
                let mut pl = [T::zero(); P];
                for k in 0..S {
                    sl[k] = s[k][l];
                }
                for k in 0..P {
                    pl[k] = p[k][l];
                }
                y.update_states(&mut sl, &pl, vpre[l], vpost[l], a.dt);
                for k in 0..S {
                    s[k][l] = sl[k];
                }
            }
            for k in 0..S {
                self::store(store, soff[k], base, &idx, w, &s[k]);
            }
        }
        i += LANES;
    }
}

#[inline(always)]
fn current_loop<Y: Synapse<P, S>, T: Scalar, const P: usize, const S: usize>(
    y: &Y,
    a: &mut SynCurrentArgs<'_, T>,
) {
    // Whether states advance is a parameter of the loop's type, not a branch inside it (see
    // the mechanism driver's `update_tiles`).
    match (a.update_dt, a.pre_affine.filter(|_| Y::PRE_AFFINE)) {
        (Some(dt), Some(_)) => current_loop_with::<Y, T, P, S, true, true>(y, a, dt),
        (Some(dt), None) => current_loop_with::<Y, T, P, S, true, false>(y, a, dt),
        (None, _) => current_loop_with::<Y, T, P, S, false, false>(y, a, T::zero()),
    }
}

/// What every tile of [`current_loop_with`] reads: pointers and offsets resolved once, and
/// the tile arrays (zeroed once: every tile fills every lane of each).
struct CurrentTiles<T, const P: usize, const S: usize> {
    edges_start: usize,
    n: usize,
    store: *mut T,
    params: *const T,
    v: *const T,
    v_pre: *const T,
    area: *const T,
    lin: *mut T,
    cst: *mut T,
    coef: *const T,
    n_pre: usize,
    n_nodes: usize,
    lim: usize,
    checked: bool,
    soff: [usize; S],
    poff: [usize; P],
    coff: usize,
    vpre: [T; LANES],
    vpost: [T; LANES],
    ar: [T; LANES],
    s: [[T; LANES]; S],
    p: [[T; LANES]; P],
    i0: [T; LANES],
    slope: [T; LANES],
    c: [T; LANES],
    ca: [[T; LANES]; S],
    cb: [[T; LANES]; S],
}

impl<T: Scalar, const P: usize, const S: usize> CurrentTiles<T, P, S> {
    /// The tile of edges at position `i` of the call's edges. `FULL`: a full tile of a
    /// contiguous range of checked edges (`i + LANES ≤ n`), whose edge indices, pre- and
    /// post-synaptic nodes, states and parameters are then plain vector loads: known at
    /// compile time, not found out per tile (the generic tile compiled to a mix of gathers,
    /// scalar loads and spills).
    ///
    /// # Safety
    /// The arrays behind the pointers hold what [`SynCurrentArgs`] describes; edge and node
    /// indices were checked (`checked`), or are checked here; the post-synaptic nodes belong
    /// to the caller.
    #[inline(always)]
    unsafe fn tile<Y: Synapse<P, S>, const UPDATE: bool, const AFFINE: bool, const FULL: bool>(
        &mut self,
        y: &Y,
        edges: &Nodes<'_>,
        pre: &[u32],
        post: &[u32],
        i: usize,
        dt: T,
    ) {
        let n = self.n;
        let (base, idx) = if FULL {
            (Some(self.edges_start + i), [0usize; LANES])
        } else {
            let idx = tile_edges(edges, i, n);
            if !self.checked {
                check(tile_max(&idx) < self.lim, "edge index out of range");
            }
            (tile_base(edges, i, n), idx)
        };
        let w = if FULL { LANES } else { LANES.min(n - i) };
        let delta = T::from(FD_DELTA);
        let inv_delta = T::from(1.0 / FD_DELTA);
        let to_density = T::from(100_000.0);
        let n_pre = self.n_pre;
        // SAFETY: the caller's guarantee.
        unsafe {
            let (pn, qn) = tile_nodes(&idx, base, pre, post, n_pre, self.n_nodes, self.checked);
            // A full tile reads its inputs and writes its states in the lane loop itself
            // (vector loads, gathers and stores); a partial or scattered one goes through the
            // tile arrays. (Through the arrays, a full tile's parameters were copied in lane
            // by lane and read back as one vector: a failed store-to-load forwarding per tile.)
            let b = base.unwrap_or(0);
            if !FULL {
                for l in 0..LANES {
                    self.vpre[l] = *self.v_pre.add(pn[l]);
                    self.vpost[l] = *self.v.add(qn[l]);
                    self.ar[l] = *self.area.add(qn[l]);
                }
                if AFFINE {
                    for k in 0..S {
                        for l in 0..LANES {
                            self.ca[k][l] = *self.coef.add(2 * k * n_pre + pn[l]);
                            self.cb[k][l] = *self.coef.add((2 * k + 1) * n_pre + pn[l]);
                        }
                    }
                }
                for k in 0..S {
                    load(self.store, self.soff[k], base, &idx, &mut self.s[k]);
                }
                for k in 0..P {
                    load(self.params, self.poff[k], base, &idx, &mut self.p[k]);
                }
            }
            for l in 0..LANES {
                let mut sl = [T::zero(); S];
                let mut pl = [T::zero(); P];
                let (vpre, vpost, ar) = if FULL {
                    (
                        *self.v_pre.add(pn[l]),
                        *self.v.add(qn[l]),
                        *self.area.add(qn[l]),
                    )
                } else {
                    (self.vpre[l], self.vpost[l], self.ar[l])
                };
                for k in 0..S {
                    sl[k] = if FULL {
                        *self.store.add(self.soff[k] + b + l)
                    } else {
                        self.s[k][l]
                    };
                }
                for k in 0..P {
                    pl[k] = if FULL {
                        *self.params.add(self.poff[k] + b + l)
                    } else {
                        self.p[k][l]
                    };
                }
                if AFFINE {
                    for k in 0..S {
                        let (ca, cb) = if FULL {
                            (
                                *self.coef.add(2 * k * n_pre + pn[l]),
                                *self.coef.add((2 * k + 1) * n_pre + pn[l]),
                            )
                        } else {
                            (self.ca[k][l], self.cb[k][l])
                        };
                        sl[k] = sl[k] * ca + cb;
                    }
                } else if UPDATE {
                    y.update_states(&mut sl, &pl, vpre, vpost, dt);
                }
                let c0 = y.compute_current(&sl, &pl, vpre, vpost);
                let c1 = y.compute_current(&sl, &pl, vpre + delta, vpost + delta);
                // Jaxley's `convert_point_process_to_distributed`: I / area · 1e5 (here with one
                // division for both currents).
                let k = to_density / ar;
                let d0 = c0 * k;
                let d1 = c1 * k;
                let g = (d1 - d0) * inv_delta;
                self.slope[l] = g;
                self.c[l] = d0 - g * vpost;
                if FULL {
                    if UPDATE {
                        for k in 0..S {
                            *self.store.add(self.soff[k] + b + l) = sl[k];
                        }
                    }
                    *self.store.add(self.coff + b + l) = c0;
                } else {
                    if UPDATE {
                        for k in 0..S {
                            self.s[k][l] = sl[k];
                        }
                    }
                    self.i0[l] = c0;
                }
            }
            if !FULL {
                if UPDATE {
                    for k in 0..S {
                        self::store(self.store, self.soff[k], base, &idx, w, &self.s[k]);
                    }
                }
                self::store(self.store, self.coff, base, &idx, w, &self.i0);
            }
            // Edges come sorted by post-synaptic node: a run of edges onto one node is summed
            // in registers and added once (a chain of read-modify-writes through memory costs
            // a store-to-load forwarding per edge; adding edge by edge without the branch
            // was slower on the 1 000-cell network).
            let (lin, cst) = (self.lin, self.cst);
            let (mut q, mut gl, mut gc) = (qn[0], self.slope[0], self.c[0]);
            for l in 1..w {
                if qn[l] == q {
                    gl += self.slope[l];
                    gc += self.c[l];
                } else {
                    *lin.add(q) += gl;
                    *cst.add(q) -= gc;
                    (q, gl, gc) = (qn[l], self.slope[l], self.c[l]);
                }
            }
            *lin.add(q) += gl;
            *cst.add(q) -= gc;
        }
    }
}

#[inline(always)]
fn current_loop_with<
    Y: Synapse<P, S>,
    T: Scalar,
    const P: usize,
    const S: usize,
    const UPDATE: bool,
    const AFFINE: bool,
>(
    y: &Y,
    a: &mut SynCurrentArgs<'_, T>,
    dt: T,
) {
    let n = a.edges.len();
    let n_nodes =
        a.v.len()
            .min(a.area.len())
            .min(a.lin.len())
            .min(a.cst.len());
    let lim = limit(a.store.len(), a.state_off)
        .min(limit(a.store.len(), &[a.current_off]))
        .min(limit(a.params.len(), a.param_off))
        .min(a.pre.len())
        .min(a.post.len());
    let checked = check_range(&a.edges, lim, a.pre, a.post, a.v_pre.len(), n_nodes);
    // The affine coefficients: `2·S` arrays of `n_pre` values, indexed like `v_pre`.
    let n_pre = a.v_pre.len();
    let coef = match a.pre_affine {
        Some(x) if AFFINE => {
            check(x.len() >= 2 * S * n_pre, "affine coefficients too short");
            x.as_ptr()
        }
        _ => std::ptr::null(),
    };
    let mut soff = [0usize; S];
    let mut poff = [0usize; P];
    soff.copy_from_slice(a.state_off);
    poff.copy_from_slice(a.param_off);
    let zero = [T::zero(); LANES];
    let mut t = CurrentTiles::<T, P, S> {
        edges_start: match a.edges {
            Nodes::Range { start, .. } => start,
            Nodes::List(_) => 0,
        },
        n,
        store: a.store.as_mut_ptr(),
        params: a.params.as_ptr(),
        v: a.v.as_mut_ptr() as *const T,
        v_pre: a.v_pre.as_ptr(),
        area: a.area.as_ptr(),
        lin: a.lin.as_mut_ptr(),
        cst: a.cst.as_mut_ptr(),
        coef,
        n_pre,
        n_nodes,
        lim,
        checked,
        soff,
        poff,
        coff: a.current_off,
        vpre: zero,
        vpost: zero,
        ar: zero,
        s: [zero; S],
        p: [zero; P],
        i0: zero,
        slope: zero,
        c: zero,
        ca: [zero; S],
        cb: [zero; S],
    };
    // Full tiles of a checked contiguous range first, then the rest tile by tile.
    let full = if checked { n / LANES * LANES } else { 0 };
    let mut i = 0;
    // SAFETY: edge and node indices were checked against every array's length (up front, or
    // per tile in `tile`); concurrent callers touch disjoint edges and post-synaptic nodes; the
    // coefficients hold `2·S·n_pre` values (checked above) and `pn < n_pre`.
    unsafe {
        while i < full {
            t.tile::<Y, UPDATE, AFFINE, true>(y, &a.edges, a.pre, a.post, i, dt);
            i += LANES;
        }
        while i < n {
            t.tile::<Y, UPDATE, AFFINE, false>(y, &a.edges, a.pre, a.post, i, dt);
            i += LANES;
        }
    }
}

/// The coefficients of an affine update for every pre-synaptic voltage, in tiles of [`LANES`]
/// (the synapse run lane by lane over small arrays, which vectorises).
#[inline(always)]
fn pre_affine_loop<Y: Synapse<P, S>, T: Scalar, const P: usize, const S: usize>(
    y: &Y,
    a: &mut SynPreAffineArgs<'_, T>,
) {
    let n = a.v_pre.len();
    check(a.out.len() >= 2 * S * n, "affine coefficients too short");
    let mut p = [T::zero(); P];
    for k in 0..P {
        p[k] = a.params[a.param_off[k] + a.edge];
    }
    let mut v = [T::zero(); LANES];
    let mut ra = [[T::zero(); LANES]; S];
    let mut rb = [[T::zero(); LANES]; S];
    let mut j = 0;
    while j < n {
        let w = LANES.min(n - j);
        for l in 0..LANES {
            v[l] = a.v_pre[j + l.min(w - 1)];
        }
        for l in 0..LANES {
            let ab = y.pre_affine(&p, v[l], a.dt);
            for k in 0..S {
                (ra[k][l], rb[k][l]) = ab[k];
            }
        }
        for k in 0..S {
            a.out[2 * k * n + j..][..w].copy_from_slice(&ra[k][..w]);
            a.out[(2 * k + 1) * n + j..][..w].copy_from_slice(&rb[k][..w]);
        }
        j += LANES;
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::*;

    #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
    pub(super) fn pre_affine_avx512<Y: Synapse<P, S>, T: Scalar, const P: usize, const S: usize>(
        y: &Y,
        a: &mut SynPreAffineArgs<'_, T>,
    ) {
        pre_affine_loop::<Y, T, P, S>(y, a)
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) fn pre_affine_avx2<Y: Synapse<P, S>, T: Scalar, const P: usize, const S: usize>(
        y: &Y,
        a: &mut SynPreAffineArgs<'_, T>,
    ) {
        pre_affine_loop::<Y, T, P, S>(y, a)
    }

    #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
    pub(super) fn update_avx512<Y: Synapse<P, S>, T: Scalar, const P: usize, const S: usize>(
        y: &Y,
        a: &mut SynUpdateArgs<'_, T>,
    ) {
        update_loop::<Y, T, P, S>(y, a)
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) fn update_avx2<Y: Synapse<P, S>, T: Scalar, const P: usize, const S: usize>(
        y: &Y,
        a: &mut SynUpdateArgs<'_, T>,
    ) {
        update_loop::<Y, T, P, S>(y, a)
    }

    #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
    pub(super) fn current_avx512<Y: Synapse<P, S>, T: Scalar, const P: usize, const S: usize>(
        y: &Y,
        a: &mut SynCurrentArgs<'_, T>,
    ) {
        current_loop::<Y, T, P, S>(y, a)
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) fn current_avx2<Y: Synapse<P, S>, T: Scalar, const P: usize, const S: usize>(
        y: &Y,
        a: &mut SynCurrentArgs<'_, T>,
    ) {
        current_loop::<Y, T, P, S>(y, a)
    }
}

fn dispatch_update<Y: Synapse<P, S>, T: Scalar, const P: usize, const S: usize>(
    y: &Y,
    a: &mut SynUpdateArgs<'_, T>,
) {
    check(
        a.state_off.len() == S && a.param_off.len() == P,
        "wrong number of states or parameters",
    );
    if a.edges.is_empty() || S == 0 {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    match simd_level() {
        // SAFETY: the CPU supports the features (checked by `simd_level`).
        SimdLevel::Avx512 => return unsafe { x86::update_avx512::<Y, T, P, S>(y, a) },
        SimdLevel::Avx2 => return unsafe { x86::update_avx2::<Y, T, P, S>(y, a) },
        SimdLevel::Baseline => {}
    }
    update_loop::<Y, T, P, S>(y, a)
}

fn dispatch_current<Y: Synapse<P, S>, T: Scalar, const P: usize, const S: usize>(
    y: &Y,
    a: &mut SynCurrentArgs<'_, T>,
) {
    check(
        a.state_off.len() == S && a.param_off.len() == P,
        "wrong number of states or parameters",
    );
    if a.edges.is_empty() {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    match simd_level() {
        // SAFETY: the CPU supports the features (checked by `simd_level`).
        SimdLevel::Avx512 => return unsafe { x86::current_avx512::<Y, T, P, S>(y, a) },
        SimdLevel::Avx2 => return unsafe { x86::current_avx2::<Y, T, P, S>(y, a) },
        SimdLevel::Baseline => {}
    }
    current_loop::<Y, T, P, S>(y, a)
}

fn dispatch_pre_affine<Y: Synapse<P, S>, T: Scalar, const P: usize, const S: usize>(
    y: &Y,
    a: &mut SynPreAffineArgs<'_, T>,
) {
    check(a.param_off.len() == P, "wrong number of parameters");
    if !Y::PRE_AFFINE || a.v_pre.is_empty() {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    match simd_level() {
        // SAFETY: the CPU supports the features (checked by `simd_level`).
        SimdLevel::Avx512 => return unsafe { x86::pre_affine_avx512::<Y, T, P, S>(y, a) },
        SimdLevel::Avx2 => return unsafe { x86::pre_affine_avx2::<Y, T, P, S>(y, a) },
        SimdLevel::Baseline => {}
    }
    pre_affine_loop::<Y, T, P, S>(y, a)
}

impl<Y: Synapse<P, S>, const P: usize, const S: usize> DynSynapse for WrappedSynapse<Y, P, S> {
    fn pre_affine_f64(&self, a: &mut SynPreAffineArgs<'_, f64>) {
        dispatch_pre_affine(&self.syn, a)
    }
    fn pre_affine_dual(&self, a: &mut SynPreAffineArgs<'_, Dual64>) {
        dispatch_pre_affine(&self.syn, a)
    }
    fn info(&self) -> &SynapseInfo {
        &self.info
    }
    fn update_f64(&self, a: &mut SynUpdateArgs<'_, f64>) {
        dispatch_update(&self.syn, a)
    }
    fn update_dual(&self, a: &mut SynUpdateArgs<'_, Dual64>) {
        dispatch_update(&self.syn, a)
    }
    fn current_f64(&self, a: &mut SynCurrentArgs<'_, f64>) {
        dispatch_current(&self.syn, a)
    }
    fn current_dual(&self, a: &mut SynCurrentArgs<'_, Dual64>) {
        dispatch_current(&self.syn, a)
    }
}
