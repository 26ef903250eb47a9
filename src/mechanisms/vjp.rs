//! Reverse mode of a mechanism at each compartment, for the adjoint ([`crate::grad`]): the
//! derivatives of the state update that do not depend on the cotangent
//! ([`Mechanism::update_partials`]), and the cotangent pulled back through the current and its
//! linearisation ([`Mechanism::current_vjp`]). Both have defaults built on the mechanism's own
//! generic code run in dual numbers, so a mechanism written once is differentiated without
//! further work; the loops here drive them over a mechanism's compartments, as
//! [`super::driver`] drives the forward step.
//!
//! The kernels read and write a mechanism's variables in place, wherever they live (see
//! [`Vars`]), so that a mechanism on consecutive compartments needs no copies.

use super::Mechanism;
use super::driver::{FD_DELTA, SimdLevel, simd_level};
use crate::scalar::Dual64;

/// Where [`Mechanism::update_partials`] writes, for one compartment.
pub struct Partials<'a, const P: usize, const S: usize> {
    /// The updated states.
    pub s_new: &'a mut [f64; S],
    /// `∂s'_k/∂v`.
    pub ds_dv: &'a mut [f64; S],
    /// `∂s'_k/∂s_k`.
    pub ds_ds: &'a mut [f64; S],
    /// `∂s'_k/∂p_j` at `[k][j]`; only for a mechanism whose update reads its parameters
    /// ([`Mechanism::UPDATE_READS_PARAMS`]), otherwise left alone.
    pub ds_dp: &'a mut [[f64; P]; S],
}

/// The default of [`Mechanism::update_partials`]: the update in dual numbers, once with `v`
/// seeded and once with every state seeded (which gives `∂s'_k/∂s_k` because each state's update
/// reads no other state), and if the update reads the parameters, once per parameter.
#[inline(always)]
pub fn update_partials_by_duals<M: Mechanism<P, S>, const P: usize, const S: usize>(
    m: &M,
    s: &[f64; S],
    p: &[f64; P],
    v: f64,
    dt: f64,
    out: Partials<'_, P, S>,
) {
    let pd: [Dual64; P] = std::array::from_fn(|k| Dual64::from(p[k]));
    let dtd = Dual64::from(dt);
    let mut by_v: [Dual64; S] = std::array::from_fn(|k| Dual64::from(s[k]));
    m.update_states(&mut by_v, &pd, Dual64::new(v, 1.0), dtd);
    let mut by_s: [Dual64; S] = std::array::from_fn(|k| Dual64::new(s[k], 1.0));
    m.update_states(&mut by_s, &pd, Dual64::from(v), dtd);
    for k in 0..S {
        out.s_new[k] = by_v[k].re;
        out.ds_dv[k] = by_v[k].eps;
        out.ds_ds[k] = by_s[k].eps;
    }
    if M::UPDATE_READS_PARAMS {
        for j in 0..P {
            let mut pj = pd;
            pj[j].eps = 1.0;
            let mut by_p: [Dual64; S] = std::array::from_fn(|k| Dual64::from(s[k]));
            m.update_states(&mut by_p, &pj, Dual64::from(v), dtd);
            for k in 0..S {
                out.ds_dp[k][j] = by_p[k].eps;
            }
        }
    }
}

/// The default of [`Mechanism::current_vjp`]: forward-mode columns by dual numbers, one per
/// state, parameter and `v`, each contracted with the cotangents.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub fn current_vjp_by_duals<M: Mechanism<P, S>, const P: usize, const S: usize>(
    m: &M,
    s: &[f64; S],
    p: &[f64; P],
    v: f64,
    i_bar: f64,
    g_bar: f64,
    s_bar: &mut [f64; S],
    p_bar: &mut [f64; P],
) -> f64 {
    let delta = Dual64::from(FD_DELTA);
    let inv_delta = Dual64::from(1.0 / FD_DELTA);
    // The column of input `seed` (states, then parameters, then `v`).
    let column = |seed: usize| {
        let sd: [Dual64; S] =
            std::array::from_fn(|k| Dual64::new(s[k], if k == seed { 1.0 } else { 0.0 }));
        let pd: [Dual64; P] =
            std::array::from_fn(|k| Dual64::new(p[k], if S + k == seed { 1.0 } else { 0.0 }));
        let vd = Dual64::new(v, if seed == S + P { 1.0 } else { 0.0 });
        let c0 = m.compute_current(&sd, &pd, vd);
        let c1 = m.compute_current(&sd, &pd, vd + delta);
        let g = (c1 - c0) * inv_delta;
        i_bar * c0.eps + g_bar * g.eps
    };
    for (k, sb) in s_bar.iter_mut().enumerate() {
        *sb += column(k);
    }
    for (k, pb) in p_bar.iter_mut().enumerate() {
        *pb += column(S + k);
    }
    column(S + P)
}

/// Variables of a mechanism over its compartments, read in place: variable `k` of compartment
/// `j` is `data[off[k] + j]` (so a variable may live in the model's state or parameter store,
/// in the flat dynamic state, or in a scratch buffer).
#[derive(Clone, Copy)]
pub struct Vars<'a> {
    /// Where the values live.
    pub data: &'a [f64],
    /// Per variable: the position of its first compartment in `data`.
    pub off: &'a [usize],
}

/// [`Vars`] written in place.
pub struct VarsMut<'a> {
    /// Where the values live.
    pub data: &'a mut [f64],
    /// Per variable: the position of its first compartment in `data`.
    pub off: &'a [usize],
}

impl Vars<'_> {
    /// A full tile is copied with a fixed length (vector moves; a variable length calls
    /// `memcpy`).
    #[inline(always)]
    fn load(&self, k: usize, i: usize, w: usize, dst: &mut [f64; TILE]) {
        let a = self.off[k] + i;
        match self.data.get(a..a + TILE) {
            Some(full) if w == TILE => dst.copy_from_slice(full),
            _ => dst[..w].copy_from_slice(&self.data[a..a + w]),
        }
    }

    fn check(&self, what: &str, vars: usize, len: usize) {
        check_vars(what, self.off, self.data.len(), vars, len);
    }
}

impl VarsMut<'_> {
    #[inline(always)]
    fn store(&mut self, k: usize, i: usize, w: usize, src: &[f64; TILE]) {
        let a = self.off[k] + i;
        if w == TILE {
            self.data[a..a + TILE].copy_from_slice(src);
        } else {
            self.data[a..a + w].copy_from_slice(&src[..w]);
        }
    }

    #[inline(always)]
    fn add(&mut self, k: usize, i: usize, w: usize, src: &[f64; TILE]) {
        let a = self.off[k] + i;
        for (d, &x) in self.data[a..a + w].iter_mut().zip(&src[..w]) {
            *d += x;
        }
    }

    fn check(&self, what: &str, vars: usize, len: usize) {
        check_vars(what, self.off, self.data.len(), vars, len);
    }
}

/// Every variable's compartments lie inside the array (the library builds these arguments;
/// a mismatch is a bug, not bad input).
fn check_vars(what: &str, off: &[usize], data_len: usize, vars: usize, len: usize) {
    assert!(
        off.len() == vars && off.iter().all(|&o| o + len <= data_len),
        "{what}: {} variables of {len} compartments do not fit an array of {data_len} \
         (the mechanism has {vars})",
        off.len()
    );
}

/// Arguments of [`crate::mechanisms::driver::DynMechanism::update_partials`] over `len`
/// compartments.
pub struct PartialsArgs<'a> {
    /// Number of compartments.
    pub len: usize,
    /// Time step (ms).
    pub dt: f64,
    /// Voltage at the start of the step (one variable).
    pub v: Vars<'a>,
    /// States before the update (`S` variables).
    pub s: Vars<'a>,
    /// Parameters (`P` variables).
    pub p: Vars<'a>,
    /// Written: the updated states.
    pub s_new: VarsMut<'a>,
    /// Written: `∂s'_k/∂v`.
    pub ds_dv: VarsMut<'a>,
    /// Written: `∂s'_k/∂s_k`.
    pub ds_ds: VarsMut<'a>,
    /// Written if the update reads the parameters: `∂s'_k/∂p_j` as variable `k · P + j`
    /// (otherwise no variables).
    pub ds_dp: VarsMut<'a>,
}

/// Arguments of [`crate::mechanisms::driver::DynMechanism::state_vjp`] over `len`
/// compartments: the cotangent pulled back through the current, its linearisation and the
/// state update.
pub struct StateVjpArgs<'a> {
    /// Number of compartments.
    pub len: usize,
    /// Voltage at the start of the step (one variable).
    pub v: Vars<'a>,
    /// Updated states (`S` variables, from the partials).
    pub s_new: Vars<'a>,
    /// `∂s'_k/∂v` (`S` variables, from the partials).
    pub ds_dv: Vars<'a>,
    /// `∂s'_k/∂s_k` (`S` variables, from the partials).
    pub ds_ds: Vars<'a>,
    /// `∂s'_k/∂p_j` (`S · P` variables if the update reads the parameters, else none).
    pub ds_dp: Vars<'a>,
    /// Parameters (`P` variables).
    pub p: Vars<'a>,
    /// Cotangents of the updated states from outside the mechanism (`S` variables).
    pub w: Vars<'a>,
    /// Cotangent of the current (one variable).
    pub i_bar: Vars<'a>,
    /// Cotangent of the current's slope (one variable).
    pub g_bar: Vars<'a>,
    /// Written: cotangents of the states before the update.
    pub s_bar: VarsMut<'a>,
    /// Added to: cotangents of the parameters.
    pub p_bar: VarsMut<'a>,
    /// Per parameter (`P` entries): whether its cotangent is added to `p_bar`; the others are
    /// not wanted by the caller and left untouched.
    pub p_keep: &'a [bool],
    /// Added to: cotangent of `v`.
    pub v_bar: VarsMut<'a>,
}

/// Compartments per tile: the kernels load a tile's variables into arrays on the stack and run
/// the mechanism lane by lane over them, a loop of fixed length the compiler vectorises (as in
/// [`super::driver`]). Lanes past the end of the last tile compute on what earlier tiles left
/// and are not stored.
const TILE: usize = 16;

#[inline(always)]
fn partials_loop<M: Mechanism<P, S>, const P: usize, const S: usize>(
    m: &M,
    a: &mut PartialsArgs<'_>,
) {
    let n = a.len;
    // Tiles zeroed once (see `TILE`).
    let mut v = [0.0; TILE];
    let mut s = [[0.0; TILE]; S];
    let mut p = [[0.0; TILE]; P];
    let (mut s_new, mut ds_dv, mut ds_ds) = ([[0.0; TILE]; S], [[0.0; TILE]; S], [[0.0; TILE]; S]);
    let mut ds_dp = [[[0.0; TILE]; P]; S];
    let mut i = 0;
    while i < n {
        let w = TILE.min(n - i);
        a.v.load(0, i, w, &mut v);
        for k in 0..S {
            a.s.load(k, i, w, &mut s[k]);
        }
        for k in 0..P {
            a.p.load(k, i, w, &mut p[k]);
        }
        for l in 0..TILE {
            let sl: [f64; S] = std::array::from_fn(|k| s[k][l]);
            let pl: [f64; P] = std::array::from_fn(|k| p[k][l]);
            let (mut x, mut dv, mut dx) = ([0.0; S], [0.0; S], [0.0; S]);
            let mut dp = [[0.0; P]; S];
            m.update_partials(
                &sl,
                &pl,
                v[l],
                a.dt,
                Partials {
                    s_new: &mut x,
                    ds_dv: &mut dv,
                    ds_ds: &mut dx,
                    ds_dp: &mut dp,
                },
            );
            for k in 0..S {
                s_new[k][l] = x[k];
                ds_dv[k][l] = dv[k];
                ds_ds[k][l] = dx[k];
                if M::UPDATE_READS_PARAMS {
                    for j in 0..P {
                        ds_dp[k][j][l] = dp[k][j];
                    }
                }
            }
        }
        for k in 0..S {
            a.s_new.store(k, i, w, &s_new[k]);
            a.ds_dv.store(k, i, w, &ds_dv[k]);
            a.ds_ds.store(k, i, w, &ds_ds[k]);
            if M::UPDATE_READS_PARAMS {
                for j in 0..P {
                    a.ds_dp.store(k * P + j, i, w, &ds_dp[k][j]);
                }
            }
        }
        i += TILE;
    }
}

#[inline(always)]
fn state_vjp_loop<M: Mechanism<P, S>, const P: usize, const S: usize>(
    m: &M,
    a: &mut StateVjpArgs<'_>,
) {
    let n = a.len;
    let (mut v, mut ib, mut gb, mut vb) = ([0.0; TILE], [0.0; TILE], [0.0; TILE], [0.0; TILE]);
    let (mut s, mut dv, mut dx, mut w_in) = (
        [[0.0; TILE]; S],
        [[0.0; TILE]; S],
        [[0.0; TILE]; S],
        [[0.0; TILE]; S],
    );
    let mut sb = [[0.0; TILE]; S];
    let (mut p, mut pb) = ([[0.0; TILE]; P], [[0.0; TILE]; P]);
    let mut dp = [[[0.0; TILE]; P]; S];
    let mut i = 0;
    while i < n {
        let w = TILE.min(n - i);
        a.v.load(0, i, w, &mut v);
        a.i_bar.load(0, i, w, &mut ib);
        a.g_bar.load(0, i, w, &mut gb);
        for k in 0..S {
            a.s_new.load(k, i, w, &mut s[k]);
            a.ds_dv.load(k, i, w, &mut dv[k]);
            a.ds_ds.load(k, i, w, &mut dx[k]);
            a.w.load(k, i, w, &mut w_in[k]);
            if M::UPDATE_READS_PARAMS {
                for j in 0..P {
                    a.ds_dp.load(k * P + j, i, w, &mut dp[k][j]);
                }
            }
        }
        for k in 0..P {
            a.p.load(k, i, w, &mut p[k]);
        }
        for l in 0..TILE {
            let sl: [f64; S] = std::array::from_fn(|k| s[k][l]);
            let pl: [f64; P] = std::array::from_fn(|k| p[k][l]);
            // Cotangents of the updated states: from outside, plus through the current.
            let mut sbl: [f64; S] = std::array::from_fn(|k| w_in[k][l]);
            let mut pbl = [0.0; P];
            let mut vbl = m.current_vjp(&sl, &pl, v[l], ib[l], gb[l], &mut sbl, &mut pbl);
            for k in 0..S {
                vbl += sbl[k] * dv[k][l];
                sb[k][l] = sbl[k] * dx[k][l];
                if M::UPDATE_READS_PARAMS {
                    for j in 0..P {
                        pbl[j] += sbl[k] * dp[k][j][l];
                    }
                }
            }
            for k in 0..P {
                pb[k][l] = pbl[k];
            }
            vb[l] = vbl;
        }
        for k in 0..S {
            a.s_bar.store(k, i, w, &sb[k]);
        }
        for k in 0..P {
            if a.p_keep[k] {
                a.p_bar.add(k, i, w, &pb[k]);
            }
        }
        a.v_bar.add(0, i, w, &vb);
        i += TILE;
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::*;

    #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
    pub(super) fn partials_avx512<M: Mechanism<P, S>, const P: usize, const S: usize>(
        m: &M,
        a: &mut PartialsArgs<'_>,
    ) {
        partials_loop::<M, P, S>(m, a)
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) fn partials_avx2<M: Mechanism<P, S>, const P: usize, const S: usize>(
        m: &M,
        a: &mut PartialsArgs<'_>,
    ) {
        partials_loop::<M, P, S>(m, a)
    }

    #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
    pub(super) fn vjp_avx512<M: Mechanism<P, S>, const P: usize, const S: usize>(
        m: &M,
        a: &mut StateVjpArgs<'_>,
    ) {
        state_vjp_loop::<M, P, S>(m, a)
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) fn vjp_avx2<M: Mechanism<P, S>, const P: usize, const S: usize>(
        m: &M,
        a: &mut StateVjpArgs<'_>,
    ) {
        state_vjp_loop::<M, P, S>(m, a)
    }
}

/// Runs [`partials_loop`] compiled for the best instruction set of this CPU.
pub(crate) fn dispatch_partials<M: Mechanism<P, S>, const P: usize, const S: usize>(
    m: &M,
    a: &mut PartialsArgs<'_>,
) {
    let n = a.len;
    a.v.check("voltages", 1, n);
    a.s.check("states", S, n);
    a.p.check("parameters", P, n);
    a.s_new.check("updated states", S, n);
    a.ds_dv.check("voltage partials", S, n);
    a.ds_ds.check("state partials", S, n);
    let np = if M::UPDATE_READS_PARAMS { S * P } else { 0 };
    a.ds_dp.check("parameter partials", np, n);
    #[cfg(target_arch = "x86_64")]
    match simd_level() {
        // SAFETY: the CPU supports the features (checked by `simd_level`).
        SimdLevel::Avx512 => return unsafe { x86::partials_avx512::<M, P, S>(m, a) },
        SimdLevel::Avx2 => return unsafe { x86::partials_avx2::<M, P, S>(m, a) },
        SimdLevel::Baseline => {}
    }
    partials_loop::<M, P, S>(m, a)
}

/// Runs [`state_vjp_loop`] compiled for the best instruction set of this CPU.
pub(crate) fn dispatch_state_vjp<M: Mechanism<P, S>, const P: usize, const S: usize>(
    m: &M,
    a: &mut StateVjpArgs<'_>,
) {
    let n = a.len;
    a.v.check("voltages", 1, n);
    for (x, what) in [
        (&a.s_new, "updated states"),
        (&a.ds_dv, "voltage partials"),
        (&a.ds_ds, "state partials"),
        (&a.w, "state cotangents"),
    ] {
        x.check(what, S, n);
    }
    let np = if M::UPDATE_READS_PARAMS { S * P } else { 0 };
    a.ds_dp.check("parameter partials", np, n);
    a.p.check("parameters", P, n);
    a.i_bar.check("current cotangents", 1, n);
    a.g_bar.check("slope cotangents", 1, n);
    a.s_bar.check("state cotangents", S, n);
    a.p_bar.check("parameter cotangents", P, n);
    assert_eq!(a.p_keep.len(), P, "one flag per parameter");
    a.v_bar.check("voltage cotangents", 1, n);
    #[cfg(target_arch = "x86_64")]
    match simd_level() {
        // SAFETY: the CPU supports the features (checked by `simd_level`).
        SimdLevel::Avx512 => return unsafe { x86::vjp_avx512::<M, P, S>(m, a) },
        SimdLevel::Avx2 => return unsafe { x86::vjp_avx2::<M, P, S>(m, a) },
        SimdLevel::Baseline => {}
    }
    state_vjp_loop::<M, P, S>(m, a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mechanisms::{HH, Var};
    use crate::scalar::Scalar;

    /// HH without its hand-written adjoint: the defaults.
    #[derive(Clone)]
    struct ByDuals;

    impl Mechanism<6, 3> for ByDuals {
        const INDEPENDENT_STATES: bool = true;
        const UPDATE_READS_PARAMS: bool = false;
        fn name(&self) -> &str {
            "HH"
        }
        fn params(&self) -> [Var; 6] {
            HH.params()
        }
        fn states(&self) -> [Var; 3] {
            HH.states()
        }
        fn update_states<T: Scalar>(&self, s: &mut [T; 3], p: &[T; 6], v: T, dt: T) {
            HH.update_states(s, p, v, dt)
        }
        fn compute_current<T: Scalar>(&self, s: &[T; 3], p: &[T; 6], v: T) -> T {
            HH.compute_current(s, p, v)
        }
    }

    /// HH's hand-written partials and current adjoint give the defaults' numbers: the new gates
    /// and decay factors bit for bit, `∂x'/∂v` and the current's adjoint to rounding, at voltages across the range, at the
    /// points where `vtrap` switches to its limit (−40 and −55 mV), and where the rates clip.
    #[test]
    fn hh_adjoint_by_hand_equals_the_dual_number_default() {
        let p = [0.12, 0.036, 3e-4, 50.0, -77.0, -54.3];
        let p2 = [0.3, 0.01, 1e-3, 55.0, -90.0, -70.0];
        let (mut worst, mut worst_dv): (f64, f64) = (0.0, 0.0);
        for (pi, p) in [p, p2].iter().enumerate() {
            for &v in &[
                -1500.0, -120.0, -80.0, -65.0, -55.0, -40.0, -40.000001, 0.0, 30.0, 700.0,
            ] {
                for s in [[0.05, 0.6, 0.3], [0.9, 0.01, 0.75]] {
                    let mut a = ([0.0; 3], [0.0; 3], [0.0; 3], [[0.0; 6]; 3]);
                    let mut b = a;
                    type Out = ([f64; 3], [f64; 3], [f64; 3], [[f64; 6]; 3]);
                    fn part(x: &mut Out) -> Partials<'_, 6, 3> {
                        Partials {
                            s_new: &mut x.0,
                            ds_dv: &mut x.1,
                            ds_ds: &mut x.2,
                            ds_dp: &mut x.3,
                        }
                    }
                    HH.update_partials(&s, p, v, 0.025, part(&mut a));
                    ByDuals.update_partials(&s, p, v, 0.025, part(&mut b));
                    // The new gates and decay factors to the last bit, ∂x'/∂v to rounding.
                    assert_eq!((a.0, a.2, a.3), (b.0, b.2, b.3), "v = {v}, params {pi}");
                    for (x, y) in a.1.iter().zip(&b.1) {
                        let rel = (x - y).abs() / y.abs().max(1e-300);
                        worst_dv = worst_dv.max(rel);
                        // (Both sum two terms of opposite signs: up to 4e-14 apart.)
                        assert!(rel < 1e-13, "∂x'/∂v at v = {v}, params {pi}: {x} vs {y}");
                    }
                    assert!(a.1.iter().chain(&a.2).all(|x| x.is_finite()));
                    for (ib, gb) in [(1.0, 0.0), (0.0, 1.0), (-0.7, 2.3)] {
                        let (mut sa, mut pa) = ([0.1; 3], [0.2; 6]);
                        let (mut sb, mut pb) = ([0.1; 3], [0.2; 6]);
                        let va = HH.current_vjp(&s, p, v, ib, gb, &mut sa, &mut pa);
                        let vb = ByDuals.current_vjp(&s, p, v, ib, gb, &mut sb, &mut pb);
                        for (x, y) in sa
                            .iter()
                            .chain(&pa)
                            .chain([&va])
                            .zip(sb.iter().chain(&pb).chain([&vb]))
                        {
                            let rel = (x - y).abs() / y.abs().max(1e-3);
                            worst = worst.max(rel);
                            assert!(rel < 1e-14, "v = {v}, Ī {ib}, ḡ {gb}: {x} vs {y}");
                        }
                    }
                }
            }
        }
        eprintln!(
            "HH by hand vs by duals, max rel diff: ∂x'/∂v {worst_dv:.1e}, current {worst:.1e}"
        );
    }
}
