//! Step: one time step of the whole model, generic over the scalar type.
//!
//! Per chunk of nodes (see [`crate::Parallelism`]), in one parallel region:
//! 1. every mechanism advances its states at the old voltage (channels, then pumps, in insertion
//!    order, each seeing the updates of the previous ones);
//! 2. every mechanism's current and its linearisation by a 1e-3 finite difference, summed per
//!    node, with the new states and the voltage after step 1 (it differs only where a
//!    mechanism writes the voltage);
//! 3. voltage terms: channel terms ×1000 plus the external current density;
//! 4. synapses ending in the chunk: states advance with the voltages at the start of the step
//!    (for types whose update is affine per pre-synaptic node, `Synapse::PRE_AFFINE`, with
//!    coefficients computed once per pre-synaptic node before the region), then their
//!    currents (as densities on the post-synaptic node, linearised by perturbing both
//!    voltages) are added edge after edge; everything is divided by the capacitance;
//! 5. pumped ions that do not diffuse advance by implicit Euler;
//! 6. the cable equation of the chunk's cells is solved (and diffused ions on the same tree).
//!
//! Then, serially: the solves of cells split over several chunks, clamps of states other than
//! `v` (they only change what is stored), and the `v` clamp.
//!
//! Nothing here allocates once the workspace exists.

use crate::compile::{Chunk, Compiled, SubSet};
use crate::error::{Error, Result};
use crate::externals::ExternalsAt;
use crate::mechanisms::driver::{
    CurrentArgs, Nodes, SharedSlice, SimdLevel, UpdateArgs, simd_level,
};
use crate::parallel::Parallelism;
use crate::scalar::Scalar;
use crate::solver::hines::{self, Coefficients};
use crate::solver::{Solver, VoltageSolver, exp_euler, explicit, sparse_lu};
use crate::state::{AllParams, AllStates, Workspace};
use crate::synapses::driver::{SynCurrentArgs, SynPreAffineArgs};

/// Conversion of a point current (nA) into a density (µA/cm²) on a compartment of area `area`
/// (µm²): `I / area · 1e5`.
#[inline]
pub fn point_to_density<T: Scalar>(current: T, area: T) -> T {
    current / area * T::from(100_000.0)
}

/// Raw views of the arrays that the workers of one step share. Every worker touches only the
/// nodes (and the synapses) of its own chunk; arrays read by everyone (`v_pre`, `iext`) are not
/// written during a parallel region.
struct Ctx<'a, T> {
    c: &'a Compiled,
    p: &'a AllParams<T>,
    n: usize,
    dt: T,
    /// Step of the implicit solve (dt, or dt/2 for Crank–Nicolson); `None` if the voltage is
    /// solved after the chunks (other solvers).
    solve: Option<(T, bool)>,
    data: *mut T,
    data_len: usize,
    v_old: *mut T,
    v_pre: *const T,
    n_pre: usize,
    /// Coefficients of the affine synapse updates (`Workspace::pre_affine`), read-only
    /// during the region.
    pre_affine: *const T,
    pre_affine_len: usize,
    lin: *mut T,
    cst: *mut T,
    cur: *mut T,
    d: *mut T,
    r: *mut T,
    tmp: *mut T,
    tmp2: *mut T,
    iext: *const T,
    chunk_finite: *mut bool,
    /// Per compiled mechanism: whether it runs (see `Workspace::mech_mask`), and whether its
    /// update runs (`Workspace::update_mask`).
    mech_on: Option<&'a [bool]>,
    update_on: Option<&'a [bool]>,
    /// Per current slot: whether it is reset and written (`Workspace::current_mask`).
    cur_on: Option<&'a [bool]>,
}

// SAFETY: see the type's documentation: concurrent workers access disjoint elements, and shared
// reads are of arrays nobody writes during the region.
unsafe impl<T: Send + Sync> Send for Ctx<'_, T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync> Sync for Ctx<'_, T> {}

impl<T: Scalar> Ctx<'_, T> {
    /// `len` elements at `ptr + off`.
    ///
    /// # Safety
    /// In bounds, and no other worker accesses them concurrently (unless all only read).
    #[inline(always)]
    unsafe fn slice<'b>(&self, ptr: *const T, off: usize, len: usize) -> &'b [T] {
        unsafe { std::slice::from_raw_parts(ptr.add(off), len) }
    }
    /// Mutable version of [`Ctx::slice`].
    ///
    /// # Safety
    /// As for [`Ctx::slice`], and nobody else reads them concurrently.
    #[inline(always)]
    #[allow(clippy::mut_from_ref)]
    unsafe fn slice_mut<'b>(&self, ptr: *mut T, off: usize, len: usize) -> &'b mut [T] {
        unsafe { std::slice::from_raw_parts_mut(ptr.add(off), len) }
    }
}

/// Writes `value` at `nodes` of the array of nodes starting at `a`: the undefined values or
/// zero current terms at a chunk's branchpoints, where padded kernels ran along.
///
/// # Safety
/// `a` points at an array of more than every node of `nodes` elements, which no other worker
/// touches at those nodes.
#[inline(always)]
unsafe fn set_at<T: Copy>(a: *mut T, nodes: &[u32], value: T) {
    for &i in nodes {
        // SAFETY: the caller's guarantee.
        unsafe { *a.add(i as usize) = value };
    }
}

fn sub_nodes<'a>(m: &'a crate::compile::CompiledMech, s: SubSet) -> Nodes<'a> {
    match (s, &m.nodes) {
        (SubSet::Range(start, len) | SubSet::Padded(start, len), _) => Nodes::Range { start, len },
        (SubSet::List(lo, hi), crate::compile::NodeSet::List(l)) => Nodes::List(&l[lo..hi]),
        (SubSet::List(..), crate::compile::NodeSet::Range(..)) => unreachable!("built together"),
    }
}

/// Stage 1 for one chunk: mechanism state updates.
///
/// # Safety
/// `x` points at live arrays of the right sizes; no other worker touches this chunk's nodes.
#[inline(always)]
unsafe fn chunk_update<T: Scalar>(x: &Ctx<'_, T>, ch: &Chunk) {
    let c = x.c;
    // The voltage at the start of the step, which every mechanism of the chunk reads: kept
    // aside only if a mechanism's update may overwrite it (point neurons).
    let v_start = if c.sets_voltage {
        let (a, len) = (ch.nodes.start, ch.nodes.len());
        // SAFETY: the chunk's nodes.
        unsafe {
            x.slice_mut(x.v_old, a, len)
                .copy_from_slice(x.slice(x.data, a, len));
        }
        x.v_old
    } else {
        x.data
    };
    for (mi, (m, &sub)) in c.mechs.iter().zip(&ch.mechs).enumerate() {
        let nodes = sub_nodes(m, sub);
        if nodes.is_empty() || x.update_on.is_some_and(|on| !on[mi]) {
            continue;
        }
        // SAFETY: the caller's guarantee; the kernel reads `v_start` at the chunk's nodes only,
        // and writes no voltage unless `v_start` is the copy.
        let mut args = unsafe {
            UpdateArgs {
                nodes,
                store: SharedSlice::from_raw_parts(x.data, x.data_len),
                state_off: &m.state_off,
                params: &x.p.data,
                param_off: &m.param_off,
                param_uniform: &x.p.uniform[mi],
                param_node: x.p.uniform_node[mi],
                v: SharedSlice::from_raw_parts(v_start, x.n),
                v_off: 0,
                dt: x.dt,
            }
        };
        T::run_update(m.mech.as_ref(), &mut args, false);
        if matches!(sub, SubSet::Padded(..)) && !m.mech.info().update_keeps_nan {
            // The branchpoint rows ran along: states stay undefined (NaN) there.
            for &off in &m.state_off {
                // SAFETY: the chunk's branchpoints of a state array.
                unsafe {
                    set_at(
                        x.data.add(off),
                        &c.bp_nodes[ch.bps.0..ch.bps.1],
                        T::from(f64::NAN),
                    )
                };
            }
        }
    }
}

/// Which outputs of a chunk's current kernels are assigned rather than accumulated, as bit
/// masks.
///
/// The first mechanism (that runs) of a target or current slot that covers every compartment of
/// the chunk (padded or not) assigns its terms: the scratch need not be zeroed first, except at
/// the branchpoints. A current slot whose first mechanism is such is written straight into its
/// state array, when nothing reads that array during the step (`Current { read: false }`),
/// instead of through the scratch and a copy. The sums are the same as accumulating onto zeros.
#[derive(Clone, Copy, Default)]
struct Assign {
    /// Mechanisms (bit = compiled mechanism) that write their slope and constant.
    terms: u64,
    /// Targets (bit = target) whose terms some mechanism writes: not zeroed.
    targets: u64,
    /// Mechanisms that write their current.
    current: u64,
    /// Current slots (bit = slot) written straight into the state store.
    direct: u64,
}

impl Assign {
    /// The masks of chunk `ch` (all zero when there are more than 64 mechanisms or slots).
    fn of<T>(x: &Ctx<'_, T>, ch: &Chunk) -> Assign {
        let c = x.c;
        let mut out = Assign::default();
        if c.mechs.len() > 64 || c.currents.len() > 64 || c.targets.len() > 64 {
            return out;
        }
        let n_comps = ch.nodes.len() - (ch.bps.1 - ch.bps.0);
        // Every compartment of the chunk (mechanisms never live on branchpoints).
        let whole = |s: SubSet| match s {
            SubSet::Padded(..) => true,
            SubSet::Range(_, len) => len == n_comps,
            SubSet::List(..) => false,
        };
        let (mut seen_t, mut seen_k) = (0u64, 0u64);
        for (mi, (m, &sub)) in c.mechs.iter().zip(&ch.mechs).enumerate() {
            if sub_nodes(m, sub).is_empty() || x.mech_on.is_some_and(|on| !on[mi]) {
                continue;
            }
            let (t, k) = (1u64 << m.target, 1u64 << m.current);
            if seen_t & t == 0 && whole(sub) {
                out.terms |= 1 << mi;
                out.targets |= t;
            }
            let key = c.currents[m.current];
            let direct = c.states.kinds[key] == (crate::compile::KeyKind::Current { read: false })
                && x.cur_on.is_none_or(|on| on[m.current]);
            if seen_k & k == 0 && whole(sub) && direct {
                out.current |= 1 << mi;
                out.direct |= k;
            }
            seen_t |= t;
            seen_k |= k;
        }
        out
    }
}

/// Stage 2 for one chunk: currents and their linearisation, written into the states. With
/// `stepping = false` (observers) only the currents are computed, and only those no mechanism
/// reads are written (a current that is a dynamic state keeps its value).
///
/// # Safety
/// As for [`chunk_update`].
#[inline(always)]
unsafe fn chunk_currents<T: Scalar>(x: &Ctx<'_, T>, ch: &Chunk, stepping: bool) {
    let (c, n) = (x.c, x.n);
    let (a, len) = (ch.nodes.start, ch.nodes.len());
    let bps = &c.bp_nodes[ch.bps.0..ch.bps.1];
    let layout = &c.states;
    let assign = Assign::of(x, ch);
    // SAFETY: the chunk's nodes of the scratch arrays belong to this worker.
    unsafe {
        for t in 0..c.targets.len() {
            if assign.targets >> t & 1 == 0 {
                x.slice_mut(x.lin, t * n + a, len).fill(T::zero());
                x.slice_mut(x.cst, t * n + a, len).fill(T::zero());
            }
        }
        for k in 0..c.currents.len() {
            if x.cur_on.is_none_or(|on| on[k]) && assign.direct >> k & 1 == 0 {
                x.slice_mut(x.cur, k * n + a, len).fill(T::zero());
            }
        }
    }
    for (mi, (m, &sub)) in c.mechs.iter().zip(&ch.mechs).enumerate() {
        let nodes = sub_nodes(m, sub);
        if nodes.is_empty() || x.mech_on.is_some_and(|on| !on[mi]) {
            continue;
        }
        let current = if assign.direct >> m.current & 1 == 1 {
            // SAFETY: the current's array in the store (nothing reads it during the step).
            unsafe { x.data.add(layout.offset(c.currents[m.current])) }
        } else {
            // SAFETY: the current slot's scratch array.
            unsafe { x.cur.add(m.current * n) }
        };
        // SAFETY: as above; the kernel writes only the chunk's nodes of lin, cst and current.
        let mut args = unsafe {
            CurrentArgs {
                nodes,
                store: SharedSlice::from_raw_parts(x.data, x.data_len),
                state_off: &m.state_off,
                params: &x.p.data,
                param_off: &m.param_off,
                param_uniform: &x.p.uniform[mi],
                param_node: x.p.uniform_node[mi],
                target_off: layout.offset(c.targets[m.target]),
                lin: SharedSlice::from_raw_parts(x.lin.add(m.target * n), n),
                cst: SharedSlice::from_raw_parts(x.cst.add(m.target * n), n),
                current: SharedSlice::from_raw_parts(current, n),
                linearise: stepping,
                assign_terms: assign.terms >> mi & 1 == 1,
                assign_current: assign.current >> mi & 1 == 1,
            }
        };
        T::run_current(m.mech.as_ref(), &mut args);
    }
    if ch.padded || assign.targets != 0 {
        // Padded mechanisms ran over the branchpoints too, and assigned terms were not zeroed
        // there: no current terms at branchpoints. (The current scratch is read at
        // compartments only, below.)
        // SAFETY: the chunk's branchpoints of whole arrays of `n` nodes.
        unsafe {
            for t in 0..c.targets.len() {
                set_at(x.lin.add(t * n), bps, T::zero());
                set_at(x.cst.add(t * n), bps, T::zero());
            }
        }
    }
    for (slot, &key) in c.currents.iter().enumerate() {
        if !stepping && layout.kinds[key] != (crate::compile::KeyKind::Current { read: false }) {
            continue;
        }
        if x.cur_on.is_some_and(|on| !on[slot]) {
            continue;
        }
        let (lo, hi) = ch.currents[slot];
        let off = layout.offset(key);
        if assign.direct >> slot & 1 == 1 {
            // Written in place: the branchpoints back to undefined.
            // SAFETY: the chunk's branchpoints of an array of `n` nodes.
            unsafe { set_at(x.data.add(off), bps, T::from(f64::NAN)) };
            continue;
        }
        if hi - lo + bps.len() == len {
            // Defined at every compartment of the chunk: one block copy, then the branchpoints
            // back to undefined.
            // SAFETY: the chunk's nodes, of arrays of `n` nodes.
            unsafe {
                x.slice_mut(x.data, off + a, len).copy_from_slice(x.slice(
                    x.cur,
                    slot * n + a,
                    len,
                ));
                set_at(x.data.add(off), bps, T::from(f64::NAN));
            }
            continue;
        }
        for &node in &layout.defined(key)[lo..hi] {
            let node = node as usize;
            // SAFETY: the node is in this chunk.
            unsafe { *x.data.add(off + node) = *x.cur.add(slot * n + node) };
        }
    }
}

/// Stages 3–6 for one chunk (chunk index `ci`).
///
/// # Safety
/// As for [`chunk_update`].
#[inline(always)]
unsafe fn chunk_rest<T: Scalar>(x: &Ctx<'_, T>, ci: usize) {
    // SAFETY: the caller's guarantee.
    unsafe { chunk_rest_of(x, ci, &x.c.chunks[ci]) }
}

/// Stages 3–6 for the chunk `ch` (`ci`: its index in [`Compiled::chunks`], read only if it has
/// synapses or a solve unit).
///
/// # Safety
/// As for [`chunk_update`].
#[inline(always)]
unsafe fn chunk_rest_of<T: Scalar>(x: &Ctx<'_, T>, ci: usize, ch: &Chunk) {
    let (c, n, p) = (x.c, x.n, x.p);
    // SAFETY: the caller's guarantee.
    unsafe { chunk_currents(x, ch, true) };
    let (a, len) = (ch.nodes.start, ch.nodes.len());
    let thousand = T::from(1000.0);
    let inv_cm = &p.inv_cm[a..a + len];
    if ch.has_syn {
        {
            // SAFETY: the chunk's nodes; `iext` is only read during the region.
            let (lin_v, cst_v, iext) = unsafe {
                (
                    x.slice_mut(x.lin, a, len),
                    x.slice_mut(x.cst, a, len),
                    x.slice(x.iext, a, len),
                )
            };
            for i in 0..len {
                lin_v[i] *= thousand;
                cst_v[i] = cst_v[i] * thousand + iext[i];
            }
        }
        let area = &p.data[p.layout.range(c.area_key)];
        for (t, y) in c.syns.iter().enumerate() {
            let list = &y.by_chunk[y.chunk_ptr[ci]..y.chunk_ptr[ci + 1]];
            if list.is_empty() {
                continue;
            }
            // Edges sorted by target form one block per chunk: contiguous loads.
            let edges = if y.chunk_contiguous[ci] {
                Nodes::Range {
                    start: list[0] as usize,
                    len: list.len(),
                }
            } else {
                Nodes::List(list)
            };
            // SAFETY: synapse states and currents of these edges, and the lin/cst entries and
            // voltages of their post-synaptic nodes, belong to this chunk; `v_pre` is only read.
            unsafe {
                // State update and current in one sweep over the edges.
                let mut cu = SynCurrentArgs {
                    edges,
                    pre: &y.pre_slot,
                    post: &y.post,
                    store: SharedSlice::from_raw_parts(x.data, x.data_len),
                    state_off: &y.state_off,
                    current_off: y.current_off,
                    params: &p.data,
                    param_off: &y.param_off,
                    v_pre: x.slice(x.v_pre, 0, x.n_pre),
                    v: SharedSlice::from_raw_parts(x.data, n),
                    area,
                    lin: SharedSlice::from_raw_parts(x.lin, n),
                    cst: SharedSlice::from_raw_parts(x.cst, n),
                    update_dt: Some(x.dt),
                    pre_affine: affine_coefficients(x, t),
                };
                T::run_syn_current(y.syn.as_ref(), &mut cu);
            }
        }
        // SAFETY: the chunk's nodes.
        let (lin_v, cst_v) = unsafe { (x.slice_mut(x.lin, a, len), x.slice_mut(x.cst, a, len)) };
        for i in 0..len {
            lin_v[i] *= inv_cm[i];
            cst_v[i] *= inv_cm[i];
        }
    } else {
        // SAFETY: the chunk's nodes; `iext` is only read during the region.
        let (lin_v, cst_v, iext) = unsafe {
            (
                x.slice_mut(x.lin, a, len),
                x.slice_mut(x.cst, a, len),
                x.slice(x.iext, a, len),
            )
        };
        for i in 0..len {
            lin_v[i] = lin_v[i] * thousand * inv_cm[i];
            cst_v[i] = (cst_v[i] * thousand + iext[i]) * inv_cm[i];
        }
    }

    // Pumped ions that do not diffuse: implicit Euler for a diagonal system.
    let layout = &c.states;
    for (k, &t) in c.euler_targets.iter().enumerate() {
        let key = c.targets[t];
        let off = layout.offset(key);
        let (lo, hi) = ch.euler[k];
        for &node in &layout.defined(key)[lo..hi] {
            let i = node as usize;
            // SAFETY: the node is in this chunk.
            unsafe {
                let u = x.data.add(off + i);
                *u =
                    (*u + x.dt * *x.cst.add(t * n + i)) / (T::one() + x.dt * *x.lin.add(t * n + i));
            }
        }
    }

    if let (None, Some((h, _))) = (ch.unit, x.solve) {
        // A chunk without a unit is a part of a split cell (see `compile::partition`), solved
        // after every chunk: its rows of the voltage system are assembled now, while their
        // terms are in cache.
        // SAFETY: the chunk's nodes; their positions in `d` and `r` are this chunk's alone.
        unsafe {
            hines::assemble_nodes(
                &c.hines,
                &p.h_gsum,
                a..a + len,
                x.slice(x.lin, a, len),
                x.slice(x.cst, a, len),
                x.slice(x.data, a, len),
                h,
                x.d,
                x.r,
            );
        }
    }
    if let (Some(u), Some(_)) = (ch.unit, x.solve) {
        // SAFETY: the unit's nodes are this chunk's nodes, and so is the chunk's flag.
        unsafe {
            solve_unit(x, u, false);
            let v = x.slice(x.data, a, len);
            *x.chunk_finite.add(ci) = v.iter().fold(true, |ok, y| ok & y.all_finite());
        }
    }
}

/// The implicit solve of one unit: the voltage, then every diffused ion. `assembled`: the
/// voltage rows are already in `d` and `r` (a split cell, see [`chunk_rest`]).
///
/// # Safety
/// No other worker touches the unit's nodes.
#[inline(always)]
unsafe fn solve_unit<T: Scalar>(x: &Ctx<'_, T>, u: usize, assembled: bool) {
    let (c, n, p) = (x.c, x.n, x.p);
    let (h, crank) = x.solve.expect("implicit solver");
    let range = c.hines.units[u].nodes.clone();
    let (a, len) = (range.start, range.len());
    // SAFETY: the caller's guarantee.
    unsafe {
        let v = x.slice_mut(x.data, a, len);
        let (lin, cst) = (x.slice(x.lin, a, len), x.slice(x.cst, a, len));
        let (d, r, tmp) = (
            x.slice_mut(x.d, a, len),
            x.slice_mut(x.r, a, len),
            x.slice_mut(x.tmp, a, len),
        );
        if crank {
            tmp.copy_from_slice(v);
        }
        let coef = Coefficients {
            lower: &p.h_lower,
            upper: &p.h_upper,
            gsum: &p.h_gsum,
        };
        if assembled {
            hines::solve_assembled_unit(&c.hines, u, coef, v, h, d, r, true);
        } else {
            hines::solve_unit(&c.hines, u, coef, lin, cst, v, h, d, r, true);
        }
        if crank {
            let two = T::from(2.0);
            for i in 0..len {
                v[i] = two * v[i] - tmp[i];
            }
        }
        for (i, dif) in c.diffused.iter().enumerate() {
            let off = c.states.offset(dif.key);
            let ion = x.slice_mut(x.data, off + a, len);
            let (lin, cst): (&[T], &[T]) = match dif.target {
                Some(t) => (
                    x.slice(x.lin, t * n + a, len),
                    x.slice(x.cst, t * n + a, len),
                ),
                None => {
                    let z = x.slice_mut(x.tmp2, a, len);
                    z.fill(T::zero());
                    (x.slice(x.tmp2, a, len), x.slice(x.tmp2, a, len))
                }
            };
            if crank {
                tmp.copy_from_slice(ion);
            }
            let [lower, upper, gsum] = &p.ion_hines[i];
            let coef = Coefficients { lower, upper, gsum };
            hines::solve_unit(&c.hines, u, coef, lin, cst, ion, h, d, r, false);
            if crank {
                let two = T::from(2.0);
                for i in 0..len {
                    ion[i] = two * ion[i] - tmp[i];
                }
            }
        }
    }
}

/// A chunk's work compiled for one instruction set.
macro_rules! simd_variants {
    ($name:ident, $body:ident, $($arg:ident: $ty:ty),*) => {
        #[inline(always)]
        fn $name<T: Scalar>(x: &Ctx<'_, T>, $($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
                unsafe fn avx512<T: Scalar>(x: &Ctx<'_, T>, $($arg: $ty),*) {
                    unsafe { $body(x, $($arg),*) }
                }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2<T: Scalar>(x: &Ctx<'_, T>, $($arg: $ty),*) {
                    unsafe { $body(x, $($arg),*) }
                }
                match simd_level() {
                    // SAFETY: the CPU supports the features; the step hands each chunk to one
                    // worker.
                    SimdLevel::Avx512 => return unsafe { avx512(x, $($arg),*) },
                    SimdLevel::Avx2 => return unsafe { avx2(x, $($arg),*) },
                    SimdLevel::Baseline => {}
                }
            }
            // SAFETY: as above.
            unsafe { $body(x, $($arg),*) }
        }
    };
}

#[inline(always)]
unsafe fn chunk_all<T: Scalar>(x: &Ctx<'_, T>, ci: usize) {
    // SAFETY: the caller's guarantee.
    unsafe {
        chunk_update(x, &x.c.chunks[ci]);
        chunk_rest(x, ci);
    }
}

#[inline(always)]
unsafe fn chunk_update_only<T: Scalar>(x: &Ctx<'_, T>, ci: usize) {
    // SAFETY: the caller's guarantee.
    unsafe { chunk_update(x, &x.c.chunks[ci]) }
}

/// Stages 1–5 for a chunk outside the model's (see [`Compiled::chunk_of`]).
///
/// # Safety
/// As for [`chunk_update`].
#[inline(always)]
unsafe fn chunk_other<T: Scalar>(x: &Ctx<'_, T>, ch: &Chunk) {
    debug_assert!(ch.unit.is_none() && !ch.has_syn);
    // SAFETY: the caller's guarantee.
    unsafe {
        chunk_update(x, ch);
        chunk_rest_of(x, usize::MAX, ch);
    }
}

simd_variants!(run_chunk_all, chunk_all, ci: usize);
simd_variants!(run_chunk_other, chunk_other, ch: &Chunk);
simd_variants!(run_chunk_update, chunk_update_only, ci: usize);
simd_variants!(run_chunk_rest, chunk_rest, ci: usize);
/// The solve of a split cell's unit, after every chunk assembled its rows.
///
/// # Safety
/// As for [`solve_unit`].
#[inline(always)]
unsafe fn solve_deferred_unit<T: Scalar>(x: &Ctx<'_, T>, u: usize) {
    // SAFETY: the caller's guarantee.
    unsafe { solve_unit(x, u, true) }
}

simd_variants!(run_unit_solve, solve_deferred_unit, u: usize);

/// Currents of the initial state (Jaxley's `append_channel_currents_to_states`): membrane
/// currents and synapse currents from the states and voltages as they are. Serial.
pub(crate) fn init_currents<T: Scalar>(
    c: &Compiled,
    s: &mut AllStates<T>,
    p: &AllParams<T>,
    ws: &mut Workspace<T>,
) {
    compute_currents(c, s, p, ws, true)
}

/// Computes the membrane and synapse currents from the states as they are and writes them into
/// the states: every current (`stepping`, as at initialisation), or only the observables (the
/// currents no mechanism reads; a current that is a dynamic state keeps its value). Serial.
pub(crate) fn compute_currents<T: Scalar>(
    c: &Compiled,
    s: &mut AllStates<T>,
    p: &AllParams<T>,
    ws: &mut Workspace<T>,
    stepping: bool,
) {
    let n = c.n_nodes();
    gather_pre(c, &s.data, &mut ws.v_pre);
    let x = ctx(c, p, s, ws, T::zero(), None);
    for ch in &c.chunks {
        // SAFETY: serial.
        unsafe { chunk_currents(&x, ch, stepping) };
    }
    let area = &p.data[p.layout.range(c.area_key)];
    for y in &c.syns {
        // SAFETY: serial; lin and cst are scratch here.
        unsafe {
            let mut cu = SynCurrentArgs {
                edges: Nodes::Range {
                    start: 0,
                    len: y.pre.len(),
                },
                pre: &y.pre_slot,
                post: &y.post,
                store: SharedSlice::from_raw_parts(x.data, x.data_len),
                state_off: &y.state_off,
                current_off: y.current_off,
                params: &p.data,
                param_off: &y.param_off,
                v_pre: x.slice(x.v_pre, 0, x.n_pre),
                v: SharedSlice::from_raw_parts(x.data, n),
                area,
                lin: SharedSlice::from_raw_parts(x.lin, n),
                cst: SharedSlice::from_raw_parts(x.cst, n),
                update_dt: None,
                pre_affine: None,
            };
            T::run_syn_current(y.syn.as_ref(), &mut cu);
        }
    }
}

/// Where synapse type `t`'s coefficients per pre-synaptic node are in the workspace, if the
/// step computes them: the type is compiled for it and its parameters allow it.
fn affine_off<T>(c: &Compiled, p: &AllParams<T>, t: usize) -> Option<usize> {
    c.syns[t]
        .affine_off
        .filter(|_| p.syn_affine.get(t) == Some(&true))
}

/// The coefficients of synapse type `t`'s affine update per pre-synaptic node, if the step
/// computed them (see [`pre_affine`]).
///
/// # Safety
/// `x` points at live arrays, and nobody writes the coefficients during the region.
#[inline(always)]
unsafe fn affine_coefficients<'a, T: Scalar>(x: &Ctx<'a, T>, t: usize) -> Option<&'a [T]> {
    let off = affine_off(x.c, x.p, t)?;
    let len = 2 * x.c.syns[t].state_off.len() * x.n_pre;
    assert!(
        off + len <= x.pre_affine_len,
        "affine coefficients out of range"
    );
    // SAFETY: in bounds (just checked); the caller's guarantee.
    Some(unsafe { x.slice(x.pre_affine, off, len) })
}

/// Computes, for every synapse type whose update is affine per pre-synaptic node
/// (`CompiledSyn::affine_off`) and whose coefficients' parameters are the same on all its
/// edges, the coefficients at every pre-synaptic voltage: once per node instead of once per
/// edge. Serial, before the region that reads them.
fn pre_affine<T: Scalar>(c: &Compiled, p: &AllParams<T>, v_pre: &[T], out: &mut [T], dt: T) {
    for (t, y) in c.syns.iter().enumerate() {
        let Some(off) = affine_off(c, p, t) else {
            continue;
        };
        let len = 2 * y.state_off.len() * v_pre.len();
        T::run_syn_pre_affine(
            y.syn.as_ref(),
            &mut SynPreAffineArgs {
                params: &p.data,
                param_off: &y.param_off,
                edge: 0,
                v_pre,
                dt,
                out: &mut out[off..off + len],
            },
        );
    }
}

/// Replaces the derivative parts of the gathered pre-synaptic voltages (adjoint passes only).
fn set_pre_eps<T: Scalar>(v_pre: &mut [T], eps: &Option<Vec<f64>>) {
    if let Some(eps) = eps {
        for (x, &e) in v_pre.iter_mut().zip(eps) {
            *x = T::lift(crate::scalar::Dual64::new(x.re(), e));
        }
    }
}

/// The voltages of the pre-synaptic nodes.
fn gather_pre<T: Scalar>(c: &Compiled, data: &[T], v_pre: &mut [T]) {
    for (x, &node) in v_pre.iter_mut().zip(&c.pre_nodes) {
        *x = data[node as usize];
    }
}

fn ctx<'a, T: Scalar>(
    c: &'a Compiled,
    p: &'a AllParams<T>,
    s: &mut AllStates<T>,
    ws: &mut Workspace<T>,
    dt: T,
    solve: Option<(T, bool)>,
) -> Ctx<'a, T> {
    Ctx {
        c,
        p,
        n: c.n_nodes(),
        dt,
        solve,
        data: s.data.as_mut_ptr(),
        data_len: s.data.len(),
        v_old: ws.v_old.as_mut_ptr(),
        v_pre: ws.v_pre.as_mut_ptr() as *const T,
        n_pre: ws.v_pre.len(),
        pre_affine: ws.pre_affine.as_ptr(),
        pre_affine_len: ws.pre_affine.len(),
        lin: ws.lin.as_mut_ptr(),
        cst: ws.cst.as_mut_ptr(),
        cur: ws.cur.as_mut_ptr(),
        d: ws.d.as_mut_ptr(),
        r: ws.r.as_mut_ptr(),
        tmp: ws.tmp.as_mut_ptr(),
        tmp2: ws.tmp2.as_mut_ptr(),
        iext: ws.iext.as_ptr(),
        chunk_finite: ws.chunk_finite.as_mut_ptr(),
        // SAFETY: the mask is not changed while the context lives (the step only reads it).
        mech_on: ws
            .mech_mask
            .as_deref()
            .map(|m| unsafe { std::slice::from_raw_parts(m.as_ptr(), m.len()) }),
        // SAFETY: as above.
        update_on: ws
            .update_mask
            .as_deref()
            .or(ws.mech_mask.as_deref())
            .map(|m| unsafe { std::slice::from_raw_parts(m.as_ptr(), m.len()) }),
        // SAFETY: as above.
        cur_on: ws
            .current_mask
            .as_deref()
            .map(|m| unsafe { std::slice::from_raw_parts(m.as_ptr(), m.len()) }),
    }
}

/// The state container's workspace, (re)allocated for `c` if needed.
pub(crate) fn take_workspace<T: Scalar>(c: &Compiled, s: &mut AllStates<T>) -> Workspace<T> {
    let ws = std::mem::take(&mut s.ws);
    if ws.v_old.len() != c.n_nodes() {
        Workspace::new(c)
    } else {
        ws
    }
}

/// One step of the model, in place. See the module documentation for the order of operations.
/// External inputs may be of another scalar type than the states (`f64` stimuli drive a
/// dual-number step).
#[allow(clippy::too_many_arguments)]
pub(crate) fn step<T: Scalar, E: Scalar>(
    c: &Compiled,
    solver: Solver,
    vsolver: VoltageSolver,
    par: &Parallelism,
    s: &mut AllStates<T>,
    p: &AllParams<T>,
    ext: ExternalsAt<'_, E>,
    dt: f64,
) -> Result<()> {
    let mut ws = take_workspace(c, s);
    let result = step_with(c, solver, vsolver, par, s, p, ext, dt, &mut ws);
    s.ws = ws;
    result
}

/// Whether the voltage is solved inside the chunks (Hines with an implicit solver).
fn solves_in_chunks(solver: Solver, vsolver: VoltageSolver) -> bool {
    vsolver == VoltageSolver::Hines && matches!(solver, Solver::BwdEuler | Solver::CrankNicolson)
}

/// Stages 1–5 for every chunk (and 6, the solve, if `solve` is given), in parallel.
#[allow(clippy::too_many_arguments)]
fn run_chunks<T: Scalar, E: Scalar>(
    c: &Compiled,
    par: &Parallelism,
    s: &mut AllStates<T>,
    p: &AllParams<T>,
    ext: ExternalsAt<'_, E>,
    h: T,
    solve: Option<(T, bool)>,
    ws: &mut Workspace<T>,
) {
    add_stimuli(c, p, ext, ws);
    // Synapses read the pre-synaptic voltages after the mechanism updates: the same as at the
    // start of the step unless a mechanism writes the voltage; then the step has two regions.
    let two_phase = c.sets_voltage && !c.syns.is_empty();
    // (Taken out of the workspace for the region, put back after.)
    let pre_eps = if two_phase { ws.pre_eps.take() } else { None };
    let n_chunks = c.chunks.len();
    if !two_phase {
        gather_pre(c, &s.data, &mut ws.v_pre);
        set_pre_eps(&mut ws.v_pre, &ws.pre_eps);
        pre_affine(c, p, &ws.v_pre, &mut ws.pre_affine, h);
    }
    {
        let x = ctx(c, p, s, ws, h, solve);
        if two_phase {
            par.for_each(n_chunks, |ci| run_chunk_update(&x, ci));
            // SAFETY: no region is running; `v_pre` has `n_pre` elements and does not alias
            // the state store.
            unsafe {
                for (k, &node) in c.pre_nodes.iter().enumerate() {
                    *(x.v_pre as *mut T).add(k) = *x.data.add(node as usize);
                }
                let v_pre = std::slice::from_raw_parts_mut(x.v_pre as *mut T, x.n_pre);
                if pre_eps.is_some() {
                    set_pre_eps(v_pre, &pre_eps);
                }
                let out = std::slice::from_raw_parts_mut(x.pre_affine as *mut T, x.pre_affine_len);
                pre_affine(c, p, v_pre, out, h);
            }
            par.for_each(n_chunks, |ci| run_chunk_rest(&x, ci));
        } else {
            par.for_each(n_chunks, |ci| run_chunk_all(&x, ci));
        }
        if solve.is_some() {
            let deferred = &c.deferred_units;
            par.for_each(deferred.len(), |k| run_unit_solve(&x, deferred[k]));
        }
    }
    if pre_eps.is_some() {
        ws.pre_eps = pre_eps;
    }
    clear_stimuli(ext, ws);
}

/// The external currents of the step as densities (µA/cm²), added up per node into `ws.iext`.
fn add_stimuli<T: Scalar, E: Scalar>(
    c: &Compiled,
    p: &AllParams<T>,
    ext: ExternalsAt<'_, E>,
    ws: &mut Workspace<T>,
) {
    let area = &p.data[p.layout.range(c.area_key)];
    for series in ext.ext.series.iter().filter(|x| x.key_id == usize::MAX) {
        for (&node, &i) in series.nodes.iter().zip(series.at(ext.t)) {
            let node = node as usize;
            ws.iext[node] += point_to_density(T::lift(i), area[node]);
        }
    }
}

/// Zeroes what [`add_stimuli`] wrote.
fn clear_stimuli<T: Scalar, E: Scalar>(ext: ExternalsAt<'_, E>, ws: &mut Workspace<T>) {
    for series in ext.ext.series.iter().filter(|x| x.key_id == usize::MAX) {
        for &node in &series.nodes {
            ws.iext[node as usize] = T::zero();
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn step_with<T: Scalar, E: Scalar>(
    c: &Compiled,
    solver: Solver,
    vsolver: VoltageSolver,
    par: &Parallelism,
    s: &mut AllStates<T>,
    p: &AllParams<T>,
    ext: ExternalsAt<'_, E>,
    dt: f64,
    ws: &mut Workspace<T>,
) -> Result<()> {
    let h = T::from(dt);
    let in_chunks = solves_in_chunks(solver, vsolver);
    let solve = in_chunks.then(|| {
        if solver == Solver::CrankNicolson {
            (T::from(dt / 2.0), true)
        } else {
            (h, false)
        }
    });
    run_chunks(c, par, s, p, ext, h, solve, ws);
    ws.v_finite = in_chunks
        && c.deferred_units.is_empty()
        && !ext.ext.series.iter().any(|x| x.key_id == 0)
        && ws.chunk_finite.iter().all(|&ok| ok);
    if !in_chunks {
        solve_voltage(c, solver, vsolver, s, p, dt, ws)?;
    }
    clamp_states(c, s, ext);
    clamp_voltage(s, ext);
    Ok(())
}

/// Stage 1 alone, serially: every mechanism's state update, from the states and voltages as
/// they are (for models whose updates read nothing else the step computes; see
/// [`crate::grad`]'s checkpoints rebuilt from voltages).
pub(crate) fn update_states<T: Scalar>(
    c: &Compiled,
    s: &mut AllStates<T>,
    p: &AllParams<T>,
    dt: f64,
    ws: &mut Workspace<T>,
) {
    let x = ctx(c, p, s, ws, T::from(dt), None);
    for ci in 0..c.chunks.len() {
        run_chunk_update(&x, ci);
    }
}

/// Stages 1–5, serially, without the voltage solve (for the derivatives of a step): mechanism
/// states, currents and their linearisation, synapses, pumped ions, and the clamps of states
/// other than `v`. Leaves the voltage terms (divided by the capacitance, external and synaptic
/// currents added) in `ws.lin[..n]` / `ws.cst[..n]`.
pub(crate) fn pre_solve<T: Scalar, E: Scalar>(
    c: &Compiled,
    s: &mut AllStates<T>,
    p: &AllParams<T>,
    ext: ExternalsAt<'_, E>,
    dt: f64,
    ws: &mut Workspace<T>,
) {
    run_chunks(c, &Parallelism::Serial, s, p, ext, T::from(dt), None, ws);
    clamp_states(c, s, ext);
}

/// [`pre_solve`] for the nodes of `ch` only (see [`Compiled::chunk_of`]; a model without
/// synapses): the other nodes' states and terms are left alone, so that threads with containers
/// of their own each take a part of the model.
pub(crate) fn pre_solve_chunk<T: Scalar, E: Scalar>(
    c: &Compiled,
    ch: &Chunk,
    s: &mut AllStates<T>,
    p: &AllParams<T>,
    ext: ExternalsAt<'_, E>,
    dt: f64,
    ws: &mut Workspace<T>,
) {
    debug_assert!(c.syns.is_empty());
    add_stimuli(c, p, ext, ws);
    {
        let x = ctx(c, p, s, ws, T::from(dt), None);
        run_chunk_other(&x, ch);
    }
    clear_stimuli(ext, ws);
    clamp_states(c, s, ext);
}

/// Stage 6: the voltage solve with the terms left in `ws` by the chunks (every solver; Hines
/// here solves every unit serially).
#[allow(clippy::too_many_arguments)]
pub(crate) fn solve_voltage<T: Scalar>(
    c: &Compiled,
    solver: Solver,
    vsolver: VoltageSolver,
    s: &mut AllStates<T>,
    p: &AllParams<T>,
    dt: f64,
    ws: &mut Workspace<T>,
) -> Result<()> {
    let n = c.n_nodes();
    let h = T::from(dt);
    let lin_v = &ws.lin[..n];
    let cst_v = &ws.cst[..n];
    let (v, _) = s.data.split_at_mut(n);
    match solver {
        Solver::BwdEuler | Solver::CrankNicolson => {
            let hh = if solver == Solver::CrankNicolson {
                T::from(dt / 2.0)
            } else {
                h
            };
            ws.tmp.copy_from_slice(v);
            match vsolver {
                VoltageSolver::Hines => {
                    hines::solve(c, p, lin_v, cst_v, v, hh, &mut ws.d, &mut ws.r);
                }
                VoltageSolver::SparseLu => {
                    let plan = c.lu_plan()?;
                    let work = ws
                        .lu
                        .0
                        .get_or_insert_with(|| Box::new(sparse_lu::LuWork::new(plan)));
                    sparse_lu::solve(plan, work, c, p, lin_v, cst_v, &ws.tmp, hh, v)?;
                }
            }
            if solver == Solver::CrankNicolson {
                let two = T::from(2.0);
                for i in 0..n {
                    v[i] = two * v[i] - ws.tmp[i];
                }
            }
        }
        Solver::FwdEuler => {
            explicit::step(
                c,
                &p.axial,
                lin_v,
                cst_v,
                v,
                h,
                &mut ws.tmp,
                &mut ws.d,
                &mut ws.r,
            );
        }
        Solver::ExpEuler => {
            let (mdt, m) = p.exp_euler.as_ref().ok_or_else(|| {
                Error::Unsupported(
                    "exponential Euler needs its transition matrix: build all_params with \
                     init_fn of an exp-Euler step function"
                        .into(),
                )
            })?;
            if *mdt != dt {
                return Err(Error::Unsupported(format!(
                    "the exponential-Euler transition matrix was built for delta_t = {mdt}, the step uses {dt}"
                )));
            }
            exp_euler::step(c, m, lin_v, cst_v, v, h, &mut ws.tmp);
            explicit::branchpoint_voltages(c, &p.axial, v, &mut ws.d, &mut ws.r);
        }
    }
    Ok(())
}

/// Clamps of states other than `v` (Jaxley applies them before the voltage solve, which does not
/// read them; a diffused ion is overwritten by its solve, so its clamp has no effect).
fn clamp_states<T: Scalar, E: Scalar>(c: &Compiled, s: &mut AllStates<T>, ext: ExternalsAt<'_, E>) {
    for series in ext.ext.series.iter().filter(|x| {
        x.key_id != usize::MAX && x.key_id != 0 && !c.diffused.iter().any(|d| d.key == x.key_id)
    }) {
        let dst = &mut s.data[s.layout.range(series.key_id)];
        for (&node, &x) in series.nodes.iter().zip(series.at(ext.t)) {
            dst[node as usize] = T::lift(x);
        }
    }
}

/// The `v` clamp, after the solve.
pub(crate) fn clamp_voltage<T: Scalar, E: Scalar>(s: &mut AllStates<T>, ext: ExternalsAt<'_, E>) {
    for series in ext.ext.series.iter().filter(|x| x.key_id == 0) {
        for (&node, &x) in series.nodes.iter().zip(series.at(ext.t)) {
            s.data[node as usize] = T::lift(x);
        }
    }
}
