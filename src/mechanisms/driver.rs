//! The loops that drive a [`Mechanism`] over every compartment where it lives.
//!
//! The user writes one compartment; this module writes the loop. Compartments are processed in
//! tiles of [`LANES`]: the states, parameters and voltages of a tile are gathered into small arrays
//! on the stack, the mechanism runs lane by lane over them (a loop of fixed length over
//! non-aliasing local arrays, which the compiler vectorises), and the results are scattered back.
//! For `f64` the tile loops are compiled three times — for AVX-512, AVX2+FMA and the baseline — and
//! the variant is chosen once at run time for the CPU the program runs on, so users who link the
//! crate get SIMD without `target-cpu=native`.
//!
//! Dynamic dispatch happens once per mechanism per step ([`DynMechanism`]), never per compartment.

use super::{Mechanism, MechanismInfo};
use crate::scalar::{Dual64, Scalar};
use std::marker::PhantomData;
use std::sync::OnceLock;

/// An array handed to a kernel by pointer, so that the workers of a parallel step can share one
/// state store while each touches only the nodes of its own chunk.
///
/// Made safely from `&mut [T]` (exclusive) or `&[T]` (then only read), or unsafely from raw
/// parts by the step, which guarantees that concurrent kernels access disjoint elements.
pub struct SharedSlice<'a, T> {
    ptr: *mut T,
    len: usize,
    _m: PhantomData<&'a mut [T]>,
}

// SAFETY: a `SharedSlice` is either exclusive (made from `&mut`), read-only (made from `&`), or
// made by `from_raw_parts`, whose caller guarantees that threads touch disjoint elements.
unsafe impl<T: Send + Sync> Send for SharedSlice<'_, T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync> Sync for SharedSlice<'_, T> {}

impl<'a, T> SharedSlice<'a, T> {
    /// Exclusive access to `s`.
    pub fn new(s: &'a mut [T]) -> Self {
        SharedSlice {
            ptr: s.as_mut_ptr(),
            len: s.len(),
            _m: PhantomData,
        }
    }

    /// Read access to `s` (the kernels that receive it never write through it).
    pub(crate) fn read_only(s: &'a [T]) -> Self {
        SharedSlice {
            ptr: s.as_ptr() as *mut T,
            len: s.len(),
            _m: PhantomData,
        }
    }

    /// An array of `len` elements at `ptr`.
    ///
    /// # Safety
    /// The memory must be valid for `'a`, and while several `SharedSlice`s of it are alive no
    /// two of them may access the same element unless both only read it.
    pub(crate) unsafe fn from_raw_parts(ptr: *mut T, len: usize) -> Self {
        SharedSlice {
            ptr,
            len,
            _m: PhantomData,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The first element's address.
    pub fn as_mut_ptr(&self) -> *mut T {
        self.ptr
    }
}

/// Number of compartments processed together in one tile.
pub const LANES: usize = 32;

/// The compartments a mechanism lives on: a contiguous range of nodes or a list of node indices.
#[derive(Clone, Copy, Debug)]
pub enum Nodes<'a> {
    /// Nodes `start..start + len`.
    Range {
        /// First node.
        start: usize,
        /// Number of nodes.
        len: usize,
    },
    /// Arbitrary node indices.
    List(&'a [u32]),
}

impl Nodes<'_> {
    /// Number of nodes.
    pub fn len(&self) -> usize {
        match self {
            Nodes::Range { len, .. } => *len,
            Nodes::List(l) => l.len(),
        }
    }

    /// Whether there are no nodes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Arguments of a state update (or of the initialisation to steady state).
pub struct UpdateArgs<'a, T> {
    /// Where the mechanism lives.
    pub nodes: Nodes<'a>,
    /// The state store: every state array, one after the other.
    pub store: SharedSlice<'a, T>,
    /// Offset of each of the mechanism's states in `store`.
    pub state_off: &'a [usize],
    /// The parameter store.
    pub params: &'a [T],
    /// Offset of each of the mechanism's parameters in `params`.
    pub param_off: &'a [usize],
    /// Per parameter: whether it has the same value on every node of the mechanism (it is then
    /// loaded once, at node `param_node`, and broadcast). Empty means "none is".
    pub param_uniform: &'a [bool],
    /// A node of the mechanism: where uniform parameters are read.
    pub param_node: usize,
    /// Membrane voltage of every node at the start of the step (only the updated nodes are
    /// read).
    pub v: SharedSlice<'a, T>,
    /// Offset of `v` in `store` (written by mechanisms that set the voltage).
    pub v_off: usize,
    /// Time step (ms).
    pub dt: T,
}

/// Arguments of the current computation and its linearisation.
pub struct CurrentArgs<'a, T> {
    /// Where the mechanism lives.
    pub nodes: Nodes<'a>,
    /// The state store (read only here).
    pub store: SharedSlice<'a, T>,
    /// Offset of each of the mechanism's states in `store`.
    pub state_off: &'a [usize],
    /// The parameter store.
    pub params: &'a [T],
    /// Offset of each of the mechanism's parameters in `params`.
    pub param_off: &'a [usize],
    /// Per parameter: whether it has the same value on every node of the mechanism (it is then
    /// loaded once, at node `param_node`, and broadcast). Empty means "none is".
    pub param_uniform: &'a [bool],
    /// A node of the mechanism: where uniform parameters are read.
    pub param_node: usize,
    /// Offset in `store` of the state the current acts on (`v`, or the pump's ion).
    pub target_off: usize,
    /// Per node: the slope `dI/dx` is added here.
    pub lin: SharedSlice<'a, T>,
    /// Per node: `-(I - slope·x)` is added here.
    pub cst: SharedSlice<'a, T>,
    /// Per node: the current `I` is added here.
    pub current: SharedSlice<'a, T>,
    /// Whether to compute the slope and constant too (false: only the current, for observers).
    pub linearise: bool,
    /// Whether the slope and constant are written instead of added (the first mechanism of a
    /// target: no zeroed scratch needed).
    pub assign_terms: bool,
    /// Whether the current is written instead of added.
    pub assign_current: bool,
}

/// Object-safe face of a mechanism: one method per supported scalar type.
pub trait DynMechanism: Send + Sync {
    /// Names, defaults and kind.
    fn info(&self) -> &MechanismInfo;
    /// State update (`init = false`) or steady-state initialisation (`init = true`) in `f64`.
    fn update_f64(&self, args: &mut UpdateArgs<'_, f64>, init: bool);
    /// The same with dual numbers.
    fn update_dual(&self, args: &mut UpdateArgs<'_, Dual64>, init: bool);
    /// Currents and their finite-difference linearisation in `f64`.
    fn current_f64(&self, args: &mut CurrentArgs<'_, f64>);
    /// The same with dual numbers.
    fn current_dual(&self, args: &mut CurrentArgs<'_, Dual64>);
    /// [`Mechanism::update_partials`] over the compartments of `args`.
    fn update_partials(&self, args: &mut super::vjp::PartialsArgs<'_>);
    /// [`Mechanism::current_vjp`] and the update's partials over the compartments of `args`.
    fn state_vjp(&self, args: &mut super::vjp::StateVjpArgs<'_>);
}

/// A mechanism together with its resolved names.
pub(crate) struct Wrapped<M, const P: usize, const S: usize> {
    pub(crate) mech: M,
    pub(crate) info: MechanismInfo,
}

/// Finite difference (mV) of Jaxley's current linearisation.
pub const FD_DELTA: f64 = 1e-3;

/// How a tile finds its node indices: monomorphised for contiguous ranges (vector loads) and for
/// index lists (gathers).
trait NodeIndex: Copy {
    fn node(self, j: usize) -> usize;
    /// For a full tile of a contiguous range: its first node.
    #[inline(always)]
    fn base(self, _i: usize, _n: usize) -> Option<usize> {
        None
    }
}

#[derive(Clone, Copy)]
struct RangeIndex(usize);
impl NodeIndex for RangeIndex {
    #[inline(always)]
    fn node(self, j: usize) -> usize {
        self.0 + j
    }
    #[inline(always)]
    fn base(self, i: usize, n: usize) -> Option<usize> {
        (i + LANES <= n).then_some(self.0 + i)
    }
}

#[derive(Clone, Copy)]
struct ListIndex<'a>(&'a [u32]);
impl NodeIndex for ListIndex<'_> {
    #[inline(always)]
    fn node(self, j: usize) -> usize {
        // SAFETY: callers only pass j < len (checked in `tile_nodes`).
        unsafe { *self.0.get_unchecked(j) as usize }
    }
}

/// Node indices of the tile at position `i` of `n`; lanes past the end repeat the last node.
#[inline(always)]
fn tile_nodes<I: NodeIndex>(ix: I, i: usize, n: usize) -> [usize; LANES] {
    let mut idx = [0usize; LANES];
    if i + LANES <= n {
        for (l, x) in idx.iter_mut().enumerate() {
            *x = ix.node(i + l);
        }
    } else {
        for (l, x) in idx.iter_mut().enumerate() {
            *x = ix.node((i + l).min(n - 1));
        }
    }
    idx
}

/// Loads one tile of the array at `ptr + off`.
///
/// # Safety
/// Every `off + node` of the tile must be in bounds of the allocation behind `ptr`.
#[inline(always)]
pub(crate) unsafe fn load_tile<T: Copy, const N: usize>(
    ptr: *const T,
    off: usize,
    base: Option<usize>,
    idx: &[usize; N],
    out: &mut [T; N],
) {
    match base {
        // SAFETY: guaranteed by the caller.
        Some(b) => unsafe {
            for (l, x) in out.iter_mut().enumerate() {
                *x = *ptr.add(off + b + l);
            }
        },
        None => unsafe {
            for (l, x) in out.iter_mut().enumerate() {
                *x = *ptr.add(off + idx[l]);
            }
        },
    }
}

/// Stores the first `w` lanes of a tile into the array at `ptr + off`.
///
/// # Safety
/// As for [`load_tile`].
#[inline(always)]
pub(crate) unsafe fn store_tile<T: Copy, const N: usize>(
    ptr: *mut T,
    off: usize,
    base: Option<usize>,
    idx: &[usize; N],
    w: usize,
    x: &[T; N],
) {
    match base {
        // SAFETY: guaranteed by the caller.
        Some(b) => unsafe {
            for (l, x) in x.iter().enumerate() {
                *ptr.add(off + b + l) = *x;
            }
        },
        None => unsafe {
            for l in 0..w {
                *ptr.add(off + idx[l]) = x[l];
            }
        },
    }
}

/// One past the largest node index that every array allows: `min(len − offset)` over the
/// arrays' offsets.
fn limit(len: usize, offsets: &[usize]) -> usize {
    offsets
        .iter()
        .map(|&o| len.saturating_sub(o))
        .min()
        .unwrap_or(usize::MAX)
}

/// Checks that every node of a range is below `lim`; lists are checked tile by tile (so no
/// extra pass over the list).
fn check_range(nodes: &Nodes<'_>, lim: usize) {
    if let Nodes::Range { start, len } = nodes {
        assert!(
            start + len <= lim,
            "mechanism arrays too short: nodes up to {} but room for {lim}",
            start + len
        );
    }
}

/// Checks the node indices of one tile of a list against `lim`.
#[inline(always)]
fn check_tile(idx: &[usize; LANES], lim: usize) {
    let mut mx = 0;
    for &i in idx {
        mx = mx.max(i);
    }
    assert!(mx < lim, "mechanism node {mx} out of range ({lim})");
}

#[inline(always)]
fn update_tiles<M: Mechanism<P, S>, T: Scalar, const P: usize, const S: usize>(
    m: &M,
    a: &mut UpdateArgs<'_, T>,
    init: bool,
) {
    let lim = limit(a.store.len(), a.state_off)
        .min(limit(a.store.len(), &[a.v_off]))
        .min(limit(a.params.len(), a.param_off))
        .min(a.v.len());
    check_range(&a.nodes, lim);
    // `init` is a parameter of the loop's type, not a branch inside it: a loop holding both
    // `init_state` and `update_states` vectorises only if both inline, which a user's channel
    // need not allow (a call to a non-inlined `init_state` kept the update loop scalar: 3x
    // slower).
    match (a.nodes, init) {
        (Nodes::Range { start, len }, false) => {
            update_loop::<M, T, RangeIndex, P, S, false>(m, a, RangeIndex(start), len, lim)
        }
        (Nodes::Range { start, len }, true) => {
            update_loop::<M, T, RangeIndex, P, S, true>(m, a, RangeIndex(start), len, lim)
        }
        (Nodes::List(list), false) => {
            update_loop::<M, T, ListIndex<'_>, P, S, false>(m, a, ListIndex(list), list.len(), lim)
        }
        (Nodes::List(list), true) => {
            update_loop::<M, T, ListIndex<'_>, P, S, true>(m, a, ListIndex(list), list.len(), lim)
        }
    }
}

#[inline(always)]
fn update_loop<
    M: Mechanism<P, S>,
    T: Scalar,
    I: NodeIndex,
    const P: usize,
    const S: usize,
    const INIT: bool,
>(
    m: &M,
    a: &mut UpdateArgs<'_, T>,
    ix: I,
    n: usize,
    lim: usize,
) {
    let store = a.store.as_mut_ptr();
    let params = a.params.as_ptr();
    let v_in = a.v.as_mut_ptr() as *const T;
    let mut soff = [0usize; S];
    let mut poff = [0usize; P];
    soff.copy_from_slice(a.state_off);
    poff.copy_from_slice(a.param_off);
    let mut uniform = [false; P];
    if a.param_uniform.len() == P {
        uniform.copy_from_slice(a.param_uniform);
    }
    let first = a.param_node;
    // The tiles, zeroed once (a zeroed array per tile costs a `memset` call): every tile load
    // fills every lane.
    let mut v = [T::zero(); LANES];
    let mut s = [[T::zero(); LANES]; S];
    let mut p = [[T::zero(); LANES]; P];
    // Uniform parameters are broadcast once, not once per tile: the tile loop loads only the
    // others (a broadcast per tile was four vector stores per parameter, read back by the lane
    // loop).
    for k in 0..P {
        if uniform[k] {
            // SAFETY: `first` is a node of the mechanism, inside every parameter array.
            p[k] = [unsafe { *params.add(poff[k] + first) }; LANES];
        }
    }
    let mut i = 0;
    while i < n {
        let idx = tile_nodes(ix, i, n);
        if ix.base(i, n).is_none() {
            check_tile(&idx, lim);
        }
        let w = LANES.min(n - i);
        // SAFETY: every index is below `bound` and every offset + bound fits (checked above);
        // states, parameters and voltages are distinct arrays or distinct parts of the store.
        unsafe {
            let base = ix.base(i, n);
            load_tile(v_in, 0, base, &idx, &mut v);
            for k in 0..S {
                load_tile(store, soff[k], base, &idx, &mut s[k]);
            }
            for k in 0..P {
                if !uniform[k] {
                    load_tile(params, poff[k], base, &idx, &mut p[k]);
                }
            }
            let mut vnew = v;
            for l in 0..LANES {
                let mut sl = [T::zero(); S];
                let mut pl = [T::zero(); P];
                for k in 0..S {
                    sl[k] = s[k][l];
                }
                for k in 0..P {
                    pl[k] = p[k][l];
                }
                if INIT {
                    m.init_state(&mut sl, &pl, v[l], a.dt);
                } else {
                    m.update_states(&mut sl, &pl, v[l], a.dt);
                    if M::SETS_VOLTAGE {
                        vnew[l] = m.update_voltage(&mut sl, &pl, v[l], a.dt);
                    }
                }
                for k in 0..S {
                    s[k][l] = sl[k];
                }
            }
            for k in 0..S {
                store_tile(store, soff[k], base, &idx, w, &s[k]);
            }
            if M::SETS_VOLTAGE && !INIT {
                store_tile(store, a.v_off, base, &idx, w, &vnew);
            }
        }
        i += LANES;
    }
}

#[inline(always)]
fn current_tiles<M: Mechanism<P, S>, T: Scalar, const P: usize, const S: usize>(
    m: &M,
    a: &mut CurrentArgs<'_, T>,
) {
    let lim = limit(a.store.len(), a.state_off)
        .min(limit(a.store.len(), &[a.target_off]))
        .min(limit(a.params.len(), a.param_off))
        .min(a.lin.len().min(a.cst.len()).min(a.current.len()));
    check_range(&a.nodes, lim);
    match a.nodes {
        Nodes::Range { start, len } => {
            current_loop::<M, T, RangeIndex, P, S>(m, a, RangeIndex(start), len, lim)
        }
        Nodes::List(list) => {
            current_loop::<M, T, ListIndex<'_>, P, S>(m, a, ListIndex(list), list.len(), lim)
        }
    }
}

#[inline(always)]
fn current_loop<M: Mechanism<P, S>, T: Scalar, I: NodeIndex, const P: usize, const S: usize>(
    m: &M,
    a: &mut CurrentArgs<'_, T>,
    ix: I,
    n: usize,
    lim: usize,
) {
    let delta = T::from(FD_DELTA);
    let inv_delta = T::from(1.0 / FD_DELTA);
    let store = a.store.as_mut_ptr() as *const T;
    let params = a.params.as_ptr();
    let (lin, cst, cur) = (
        a.lin.as_mut_ptr(),
        a.cst.as_mut_ptr(),
        a.current.as_mut_ptr(),
    );
    let mut soff = [0usize; S];
    let mut poff = [0usize; P];
    soff.copy_from_slice(a.state_off);
    poff.copy_from_slice(a.param_off);
    let mut uniform = [false; P];
    if a.param_uniform.len() == P {
        uniform.copy_from_slice(a.param_uniform);
    }
    let first = a.param_node;
    let toff = a.target_off;
    // The tiles, zeroed once (a zeroed array per tile costs a `memset` call): every tile load
    // fills every lane, and so does the kernel's lane loop for the outputs (`slope` and `c`
    // stay zero without linearisation).
    let mut x = [T::zero(); LANES];
    let mut s = [[T::zero(); LANES]; S];
    let mut p = [[T::zero(); LANES]; P];
    let mut i0 = [T::zero(); LANES];
    let mut slope = [T::zero(); LANES];
    let mut c = [T::zero(); LANES];
    // Uniform parameters: broadcast once (see `update_loop`).
    for k in 0..P {
        if uniform[k] {
            // SAFETY: `first` is a node of the mechanism, inside every parameter array.
            p[k] = [unsafe { *params.add(poff[k] + first) }; LANES];
        }
    }
    let mut i = 0;
    while i < n {
        let idx = tile_nodes(ix, i, n);
        if ix.base(i, n).is_none() {
            check_tile(&idx, lim);
        }
        let w = LANES.min(n - i);
        // SAFETY: as in `update_loop`; the outputs are separate arrays.
        unsafe {
            let base = ix.base(i, n);
            load_tile(store, toff, base, &idx, &mut x);
            for k in 0..S {
                load_tile(store, soff[k], base, &idx, &mut s[k]);
            }
            for k in 0..P {
                if !uniform[k] {
                    load_tile(params, poff[k], base, &idx, &mut p[k]);
                }
            }
            if a.linearise {
                for l in 0..LANES {
                    let mut sl = [T::zero(); S];
                    let mut pl = [T::zero(); P];
                    for k in 0..S {
                        sl[k] = s[k][l];
                    }
                    for k in 0..P {
                        pl[k] = p[k][l];
                    }
                    let c0 = m.compute_current(&sl, &pl, x[l]);
                    let c1 = m.compute_current(&sl, &pl, x[l] + delta);
                    let g = (c1 - c0) * inv_delta;
                    i0[l] = c0;
                    slope[l] = g;
                    c[l] = -(c0 - g * x[l]);
                }
            } else {
                for l in 0..LANES {
                    let mut sl = [T::zero(); S];
                    let mut pl = [T::zero(); P];
                    for k in 0..S {
                        sl[k] = s[k][l];
                    }
                    for k in 0..P {
                        pl[k] = p[k][l];
                    }
                    i0[l] = m.compute_current(&sl, &pl, x[l]);
                }
            }
            match base {
                Some(b) => {
                    put_tile(lin, b, &slope, a.assign_terms);
                    put_tile(cst, b, &c, a.assign_terms);
                    put_tile(cur, b, &i0, a.assign_current);
                }
                None => {
                    for l in 0..w {
                        let j = idx[l];
                        if a.assign_terms {
                            *lin.add(j) = slope[l];
                            *cst.add(j) = c[l];
                        } else {
                            *lin.add(j) += slope[l];
                            *cst.add(j) += c[l];
                        }
                        if a.assign_current {
                            *cur.add(j) = i0[l];
                        } else {
                            *cur.add(j) += i0[l];
                        }
                    }
                }
            }
        }
        i += LANES;
    }
}

/// Writes (`assign`) or adds a tile to `LANES` consecutive elements at `ptr + b`.
///
/// # Safety
/// The elements are in bounds and nobody else accesses them.
#[inline(always)]
unsafe fn put_tile<T: Scalar>(ptr: *mut T, b: usize, x: &[T; LANES], assign: bool) {
    // SAFETY: the caller's guarantee.
    unsafe {
        if assign {
            for (l, x) in x.iter().enumerate() {
                *ptr.add(b + l) = *x;
            }
        } else {
            for (l, x) in x.iter().enumerate() {
                *ptr.add(b + l) += *x;
            }
        }
    }
}

/// The vector instruction sets the `f64` kernels are compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SimdLevel {
    /// AVX-512 (F, VL, DQ) with FMA.
    Avx512,
    /// AVX2 with FMA.
    Avx2,
    /// Whatever the build targets (SSE2 on x86-64).
    Baseline,
}

/// The instruction set chosen for this CPU (detected once). The environment variable
/// `HUXLEY_NO_AVX512` (any value) skips AVX-512, `HUXLEY_NO_SIMD` every vector set.
pub fn simd_level() -> SimdLevel {
    static LEVEL: OnceLock<SimdLevel> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            if std::env::var_os("HUXLEY_NO_SIMD").is_some() {
                return SimdLevel::Baseline;
            }
            let no_avx512 = std::env::var_os("HUXLEY_NO_AVX512").is_some();
            if !no_avx512
                && is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512vl")
                && is_x86_feature_detected!("avx512dq")
                && is_x86_feature_detected!("fma")
            {
                return SimdLevel::Avx512;
            }
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                return SimdLevel::Avx2;
            }
        }
        SimdLevel::Baseline
    })
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::*;

    #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
    pub(super) fn update_avx512<M: Mechanism<P, S>, T: Scalar, const P: usize, const S: usize>(
        m: &M,
        a: &mut UpdateArgs<'_, T>,
        init: bool,
    ) {
        update_tiles::<M, T, P, S>(m, a, init)
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) fn update_avx2<M: Mechanism<P, S>, T: Scalar, const P: usize, const S: usize>(
        m: &M,
        a: &mut UpdateArgs<'_, T>,
        init: bool,
    ) {
        update_tiles::<M, T, P, S>(m, a, init)
    }

    #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
    pub(super) fn current_avx512<M: Mechanism<P, S>, T: Scalar, const P: usize, const S: usize>(
        m: &M,
        a: &mut CurrentArgs<'_, T>,
    ) {
        current_tiles::<M, T, P, S>(m, a)
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) fn current_avx2<M: Mechanism<P, S>, T: Scalar, const P: usize, const S: usize>(
        m: &M,
        a: &mut CurrentArgs<'_, T>,
    ) {
        current_tiles::<M, T, P, S>(m, a)
    }
}

/// Runs the update kernel compiled for the best instruction set of this CPU.
fn dispatch_update<M: Mechanism<P, S>, T: Scalar, const P: usize, const S: usize>(
    m: &M,
    a: &mut UpdateArgs<'_, T>,
    init: bool,
) {
    check_args(a.state_off.len(), a.param_off.len(), S, P);
    if a.nodes.is_empty() {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    match simd_level() {
        // SAFETY: the CPU supports the features (checked by `simd_level`).
        SimdLevel::Avx512 => return unsafe { x86::update_avx512::<M, T, P, S>(m, a, init) },
        SimdLevel::Avx2 => return unsafe { x86::update_avx2::<M, T, P, S>(m, a, init) },
        SimdLevel::Baseline => {}
    }
    update_tiles::<M, T, P, S>(m, a, init)
}

/// Runs the current kernel compiled for the best instruction set of this CPU.
fn dispatch_current<M: Mechanism<P, S>, T: Scalar, const P: usize, const S: usize>(
    m: &M,
    a: &mut CurrentArgs<'_, T>,
) {
    check_args(a.state_off.len(), a.param_off.len(), S, P);
    if a.nodes.is_empty() {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    match simd_level() {
        // SAFETY: the CPU supports the features (checked by `simd_level`).
        SimdLevel::Avx512 => return unsafe { x86::current_avx512::<M, T, P, S>(m, a) },
        SimdLevel::Avx2 => return unsafe { x86::current_avx2::<M, T, P, S>(m, a) },
        SimdLevel::Baseline => {}
    }
    current_tiles::<M, T, P, S>(m, a)
}

impl<M: Mechanism<P, S>, const P: usize, const S: usize> DynMechanism for Wrapped<M, P, S> {
    fn info(&self) -> &MechanismInfo {
        &self.info
    }
    fn update_f64(&self, a: &mut UpdateArgs<'_, f64>, init: bool) {
        dispatch_update(&self.mech, a, init)
    }
    fn update_dual(&self, a: &mut UpdateArgs<'_, Dual64>, init: bool) {
        dispatch_update(&self.mech, a, init)
    }
    fn current_f64(&self, a: &mut CurrentArgs<'_, f64>) {
        dispatch_current(&self.mech, a)
    }
    fn current_dual(&self, a: &mut CurrentArgs<'_, Dual64>) {
        dispatch_current(&self.mech, a)
    }
    fn update_partials(&self, a: &mut super::vjp::PartialsArgs<'_>) {
        super::vjp::dispatch_partials(&self.mech, a)
    }
    fn state_vjp(&self, a: &mut super::vjp::StateVjpArgs<'_>) {
        super::vjp::dispatch_state_vjp(&self.mech, a)
    }
}

#[inline]
fn check_args(ns: usize, np: usize, s: usize, p: usize) {
    assert!(
        ns == s && np == p,
        "mechanism called with {ns} states / {np} params, expects {s} / {p}"
    );
}
