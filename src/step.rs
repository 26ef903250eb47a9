//! Step: one time step of the whole model, generic over the scalar type.
//!
//! 1. every mechanism advances its states at the old voltage (channels, then pumps, in insertion
//!    order, each seeing the updates of the previous ones);
//! 2. every mechanism's current and its linearisation by a 1e-3 finite difference, summed per
//!    node, with the new states and the old voltage;
//! 3. pumped ions advance by implicit Euler; clamps of states other than `v` are applied;
//! 4. the voltage is solved (backward Euler, Crank–Nicolson, forward or exponential Euler);
//! 5. the `v` clamp is applied.
//!
//! Nothing here allocates once the workspace exists.

use crate::compile::Compiled;
use crate::error::{Error, Result};
use crate::externals::ExternalsAt;
use crate::mechanisms::driver::{CurrentArgs, SimdLevel, UpdateArgs, simd_level};
use crate::scalar::Scalar;
use crate::solver::{Solver, VoltageSolver, exp_euler, explicit, hines, sparse_lu};
use crate::state::{AllParams, AllStates, Workspace};

/// Conversion of a point current (nA) into a density (µA/cm²) on a compartment of area `area`
/// (µm²): `I / area · 1e5`.
#[inline]
pub fn point_to_density<T: Scalar>(current: T, area: T) -> T {
    current / area * T::from(100_000.0)
}

/// Stage 1: state updates of every mechanism.
pub(crate) fn update_states<T: Scalar>(
    c: &Compiled,
    s: &mut AllStates<T>,
    p: &AllParams<T>,
    ws: &mut Workspace<T>,
    dt: T,
) {
    let n = c.n_nodes();
    ws.v_old.copy_from_slice(&s.data[..n]);
    for (mi, m) in c.mechs.iter().enumerate() {
        let mut args = UpdateArgs {
            nodes: m.nodes.nodes(),
            store: &mut s.data,
            state_off: &m.state_off,
            params: &p.data,
            param_off: &m.param_off,
            param_uniform: &p.uniform[mi],
            v: &ws.v_old,
            v_off: 0,
            dt,
        };
        T::run_update(m.mech.as_ref(), &mut args, false);
    }
}

/// Stage 2: currents and their linearisation; writes the summed currents into the states.
pub(crate) fn currents<T: Scalar>(
    c: &Compiled,
    s: &mut AllStates<T>,
    p: &AllParams<T>,
    ws: &mut Workspace<T>,
) {
    compute_currents(c, s, p, ws, true)
}

/// Computes every mechanism's current and linearisation into the workspace and writes the summed
/// currents into the states: all of them with their linearisation (`stepping`), or only the
/// current of those no mechanism reads
/// (the observables; a current that is a dynamic state keeps its value).
pub(crate) fn compute_currents<T: Scalar>(
    c: &Compiled,
    s: &mut AllStates<T>,
    p: &AllParams<T>,
    ws: &mut Workspace<T>,
    stepping: bool,
) {
    for x in ws
        .lin
        .iter_mut()
        .chain(ws.cst.iter_mut())
        .chain(ws.cur.iter_mut())
    {
        x.fill(T::zero());
    }
    for (mi, m) in c.mechs.iter().enumerate() {
        let mut args = CurrentArgs {
            nodes: m.nodes.nodes(),
            store: &s.data,
            state_off: &m.state_off,
            params: &p.data,
            param_off: &m.param_off,
            param_uniform: &p.uniform[mi],
            target_off: s.layout.offset(c.targets[m.target]),
            lin: &mut ws.lin[m.target],
            cst: &mut ws.cst[m.target],
            current: &mut ws.cur[m.current],
            linearise: stepping,
        };
        T::run_current(m.mech.as_ref(), &mut args);
    }
    for (slot, &key) in c.currents.iter().enumerate() {
        if !stepping && s.layout.kinds[key] != (crate::compile::KeyKind::Current { read: false }) {
            continue;
        }
        let dst = &mut s.data[s.layout.range(key)];
        for &node in s.layout.defined(key) {
            dst[node as usize] = ws.cur[slot][node as usize];
        }
    }
}

/// One step of the model, in place. See the module documentation for the order of operations.
#[allow(clippy::too_many_arguments)]
pub(crate) fn step<T: Scalar, E: Scalar>(
    c: &Compiled,
    solver: Solver,
    vsolver: VoltageSolver,
    s: &mut AllStates<T>,
    p: &AllParams<T>,
    ext: ExternalsAt<'_, E>,
    dt: f64,
) -> Result<()> {
    let mut ws = take_workspace(c, s);
    let result = match simd_level() {
        // SAFETY: the CPU supports the features (checked by `simd_level`).
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx512 => unsafe { step_avx512(c, solver, vsolver, s, p, ext, dt, &mut ws) },
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx2 => unsafe { step_avx2(c, solver, vsolver, s, p, ext, dt, &mut ws) },
        _ => step_with(c, solver, vsolver, s, p, ext, dt, &mut ws),
    };
    s.ws = ws;
    result
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

/// Stages before the voltage solve (see [`pre_solve`]), compiled for this CPU's vector units.
/// Leaves the voltage terms in `ws.lin[0]`, `ws.cst[0]`.
pub(crate) fn pre_solve_dispatch<T: Scalar, E: Scalar>(
    c: &Compiled,
    s: &mut AllStates<T>,
    p: &AllParams<T>,
    ext: ExternalsAt<'_, E>,
    dt: f64,
    ws: &mut Workspace<T>,
) {
    match simd_level() {
        // SAFETY: the CPU supports the features (checked by `simd_level`).
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx512 => unsafe { pre_solve_avx512(c, s, p, ext, dt, ws) },
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx2 => unsafe { pre_solve_avx2(c, s, p, ext, dt, ws) },
        _ => pre_solve(c, s, p, ext, dt, ws),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
fn pre_solve_avx512<T: Scalar, E: Scalar>(
    c: &Compiled,
    s: &mut AllStates<T>,
    p: &AllParams<T>,
    ext: ExternalsAt<'_, E>,
    dt: f64,
    ws: &mut Workspace<T>,
) {
    pre_solve(c, s, p, ext, dt, ws)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn pre_solve_avx2<T: Scalar, E: Scalar>(
    c: &Compiled,
    s: &mut AllStates<T>,
    p: &AllParams<T>,
    ext: ExternalsAt<'_, E>,
    dt: f64,
    ws: &mut Workspace<T>,
) {
    pre_solve(c, s, p, ext, dt, ws)
}

/// [`step_with`] compiled for AVX-512 (the solver and the loops over nodes vectorise).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
#[allow(clippy::too_many_arguments)]
fn step_avx512<T: Scalar, E: Scalar>(
    c: &Compiled,
    solver: Solver,
    vsolver: VoltageSolver,
    s: &mut AllStates<T>,
    p: &AllParams<T>,
    ext: ExternalsAt<'_, E>,
    dt: f64,
    ws: &mut Workspace<T>,
) -> Result<()> {
    step_with(c, solver, vsolver, s, p, ext, dt, ws)
}

/// [`step_with`] compiled for AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
fn step_avx2<T: Scalar, E: Scalar>(
    c: &Compiled,
    solver: Solver,
    vsolver: VoltageSolver,
    s: &mut AllStates<T>,
    p: &AllParams<T>,
    ext: ExternalsAt<'_, E>,
    dt: f64,
    ws: &mut Workspace<T>,
) -> Result<()> {
    step_with(c, solver, vsolver, s, p, ext, dt, ws)
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn step_with<T: Scalar, E: Scalar>(
    c: &Compiled,
    solver: Solver,
    vsolver: VoltageSolver,
    s: &mut AllStates<T>,
    p: &AllParams<T>,
    ext: ExternalsAt<'_, E>,
    dt: f64,
    ws: &mut Workspace<T>,
) -> Result<()> {
    pre_solve(c, s, p, ext, dt, ws);
    solve_voltage(c, solver, vsolver, s, p, dt, ws)?;
    clamp_voltage(s, ext);
    Ok(())
}

/// Stages 1–3: mechanism states, currents and their linearisation, the voltage terms (divided by
/// the capacitance, external current added) in `ws.lin[0]` / `ws.cst[0]`, pumped ions, and the
/// clamps of states other than `v`. Everything here is local to each node.
#[inline(always)]
pub(crate) fn pre_solve<T: Scalar, E: Scalar>(
    c: &Compiled,
    s: &mut AllStates<T>,
    p: &AllParams<T>,
    ext: ExternalsAt<'_, E>,
    dt: f64,
    ws: &mut Workspace<T>,
) {
    let n = c.n_nodes();
    let h = T::from(dt);
    update_states(c, s, p, ws, h);
    currents(c, s, p, ws);

    // Voltage terms divided by the capacitance (mA/cm² → µA/cm²), then the external current
    // (nA → µA/cm²).
    let thousand = T::from(1000.0);
    let inv_cm = &p.inv_cm[..n];
    let (lin_v, rest_lin) = ws.lin.split_first_mut().expect("v is a target");
    let (cst_v, rest_cst) = ws.cst.split_first_mut().expect("v is a target");
    let (lin_v, cst_v) = (&mut lin_v[..n], &mut cst_v[..n]);
    for i in 0..n {
        lin_v[i] = lin_v[i] * thousand * inv_cm[i];
        cst_v[i] = cst_v[i] * thousand * inv_cm[i];
    }
    let area = &p.data[p.layout.range(c.area_key)];
    for series in ext.ext.series.iter().filter(|x| x.key_id == usize::MAX) {
        for (&node, &i) in series.nodes.iter().zip(series.at(ext.t)) {
            let node = node as usize;
            cst_v[node] += point_to_density(T::lift(i), area[node]) * inv_cm[node];
        }
    }

    // Pumped ions: implicit Euler for a diagonal system.
    for ((&key, lin), cst) in c.targets[1..]
        .iter()
        .zip(rest_lin.iter())
        .zip(rest_cst.iter())
    {
        let u = &mut s.data[s.layout.range(key)];
        for &node in s.layout.defined(key) {
            let i = node as usize;
            u[i] = (u[i] + h * cst[i]) / (T::one() + h * lin[i]);
        }
    }

    // Clamps of states other than v: before the voltage solve.
    for series in ext
        .ext
        .series
        .iter()
        .filter(|x| x.key_id != usize::MAX && x.key_id != 0)
    {
        let dst = &mut s.data[s.layout.range(series.key_id)];
        for (&node, &x) in series.nodes.iter().zip(series.at(ext.t)) {
            dst[node as usize] = T::lift(x);
        }
    }
}

/// Stage 4: the voltage solve with the terms left in `ws` by [`pre_solve`].
#[inline(always)]
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
    let lin_v = &ws.lin[0];
    let cst_v = &ws.cst[0];
    let (v, _) = s.data.split_at_mut(n);
    match solver {
        Solver::BwdEuler | Solver::CrankNicolson => {
            let hh = if solver == Solver::CrankNicolson {
                T::from(dt / 2.0)
            } else {
                h
            };
            if solver == Solver::CrankNicolson || vsolver == VoltageSolver::SparseLu {
                ws.tmp.copy_from_slice(v);
            }
            match vsolver {
                VoltageSolver::Hines => {
                    hines::solve(c, p, lin_v, cst_v, v, hh, &mut ws.d, &mut ws.r)
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
                    "exponential Euler needs its transition matrix: build all_params with init_fn of an exp-Euler step function"
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

/// Stage 5: the `v` clamp, after the solve.
#[inline(always)]
pub(crate) fn clamp_voltage<T: Scalar, E: Scalar>(s: &mut AllStates<T>, ext: ExternalsAt<'_, E>) {
    for series in ext.ext.series.iter().filter(|x| x.key_id == 0) {
        for (&node, &x) in series.nodes.iter().zip(series.at(ext.t)) {
            s.data[node as usize] = T::lift(x);
        }
    }
}
