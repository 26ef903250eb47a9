//! Reverse mode: forward run with checkpoints, then the backward sweep step by step.

use super::checkpoint::{held_states, segment_len};
use super::rebuild::Updates;
use super::step_vjp::StepAdjoint;
use super::store::{self, Rebuild, Storer};
use super::{Gradient, chain, check_finite_loss};
use super::{buffers, split, sweep};
use crate::compile::{Compiled, KeyKind};
use crate::dynamics::DynamicStateUtils;
use crate::error::{Error, Result};
use crate::integrate::{IntegrateOptions, build_init_and_step_fn, check_finite, plan_steps};
use crate::model::{Module, ParamGroup, ParamState};
use crate::solver::Solver;
use crate::state::AllStates;
use nalgebra::DMatrix;

/// The loss with its gradient with respect to the recordings.
pub(crate) type LossWithGrad<'a> = dyn Fn(&DMatrix<f64>) -> Result<(f64, DMatrix<f64>)> + 'a;

/// The flat index of every recording (only dynamic states at compartments are supported).
fn recording_slots(c: &Compiled, utils: &DynamicStateUtils) -> Result<Vec<usize>> {
    let dl = &utils.layout;
    c.recordings
        .iter()
        .map(|&(k, node)| {
            let name = &c.states.names()[k];
            let unsupported = |why: &str| {
                Error::Unsupported(format!(
                    "the adjoint of a recording of `{name}` at node {node} ({why}); use \
                     value_and_grad_forward"
                ))
            };
            if matches!(
                c.states.kinds[k],
                KeyKind::Current { read: false } | KeyKind::SynapseCurrent
            ) {
                return Err(unsupported("a current is an observable, not a state"));
            }
            let kd = dl
                .all_key
                .iter()
                .position(|&a| a == k)
                .ok_or_else(|| unsupported("not a dynamic state"))?;
            let j = dl.entries[kd]
                .binary_search(&(node as u32))
                .map_err(|_| unsupported("not a compartment"))?;
            Ok(dl.offsets[kd] + j)
        })
        .collect()
}

/// Value and gradient by the discrete adjoint.
pub(crate) fn run(
    module: &Module,
    opts: &IntegrateOptions,
    params: &[ParamGroup<f64>],
    param_state: Option<&[ParamState<f64>]>,
    loss: &LossWithGrad<'_>,
    grad_opts: &super::GradOptions,
) -> Result<Gradient> {
    if opts.solver == Solver::ExpEuler {
        return Err(Error::Unsupported(
            "the adjoint of exponential Euler; use value_and_grad_forward".into(),
        ));
    }
    let (init_fn, step_fn) = build_init_and_step_fn(module, opts.voltage_solver, opts.solver)?;
    let step_fn = step_fn.with_parallelism(opts.parallelism.clone());
    let c = init_fn.compiled().clone();
    if c.recordings.is_empty() {
        return Err(Error::NoRecordings);
    }
    let utils = DynamicStateUtils::for_step_fn(&step_fn);
    let slots = recording_slots(&c, &utils)?;
    let (steps, ext) = plan_steps(&c.externals, opts)?;
    let dt = opts.delta_t;
    let (mut s, p) = init_fn.init::<f64>(params, None, param_state, dt)?;
    let dim = utils.len();
    let k = segment_len(grad_opts.checkpointing, steps, dim * 8)?;
    // Forward: recordings, and every k-th flat state.
    let every = opts.record_every;
    let cols = steps / every + 1;
    let mut rec = DMatrix::<f64>::zeros(c.recordings.len(), cols);
    let record = |s: &AllStates<f64>, rec: &mut DMatrix<f64>, col: usize| {
        for (r, &(key, node)) in c.recordings.iter().enumerate() {
            rec[(r, col)] = s.data[c.states.offset(key) + node];
        }
    };
    record(&s, &mut rec, 0);
    let n_check = steps.div_ceil(k);
    let mut store = buffers::take(n_check * dim);
    let storer = Storer::new(&mut store.spare_capacity_mut()[..n_check * dim], dim);
    let kv = utils.layout.key("v");
    // A second thread works beside the forward run (not beside a team of threads stepping the
    // model), with the first state if it rebuilds the others (see `rebuild`; only with every
    // state stored).
    let threads = opts.parallelism.threads();
    let spare = threads > 1 && step_fn.team_threads() < 2;
    let s0 = (spare && k == 1).then(|| s.clone());
    let mut forward = || -> Result<()> {
        // The second thread stops when this does, however it ends.
        struct Finish<'s, 'a>(&'s Storer<'a>);
        impl Drop for Finish<'_, '_> {
            fn drop(&mut self) {
                self.0.finish();
            }
        }
        let _finish = Finish(&storer);
        step_fn.in_pool(|| -> Result<()> {
            for t in 0..steps {
                if t.is_multiple_of(k) {
                    let voltages = kv.into_iter().flat_map(|kv| utils.key_runs(kv, &s));
                    storer.put(t / k, utils.flat_runs(&s)?, voltages);
                }
                step_fn.step(&mut s, &p, ext.at(t), dt)?;
                check_finite(&c, &s, t + 1, dt)?;
                if (t + 1).is_multiple_of(every) {
                    record(&s, &mut rec, (t + 1) / every);
                }
            }
            // The non-temporal stores are ordered before what follows, on the thread that made
            // them (the pool's, which then hands its result back).
            store::fence();
            Ok(())
        })
    };
    // Which parameter arrays the trainables and data_set values change.
    let mut touched: Vec<String> = params.iter().map(|g| g.key.clone()).collect();
    touched.extend(param_state.unwrap_or(&[]).iter().map(|g| g.key.clone()));
    if touched.iter().any(|t| t == "radius" || t == "length") {
        for g in [
            "radius",
            "length",
            "area",
            "volume",
            "resistive_load_in",
            "resistive_load_out",
        ] {
            touched.push(g.into());
        }
    }
    // The derivatives of `init` for the chain rule to the trainables at the end, and the
    // step's adjoint (its plan), do not depend on the simulation: with a second thread, they
    // are made during the forward run.
    let init_jacobian = || chain::init_jacobian(&init_fn, params, param_state, dt, &utils);
    let new_adjoint = || {
        StepAdjoint::new(
            utils.clone(),
            opts.solver,
            opts.voltage_solver,
            dt,
            p.clone(),
            &touched,
            opts.parallelism.clone(),
        )
    };
    // ... and then the second thread writes the stored states (see `store`), rebuilding
    // them from their voltages where it can (every state stored; see `rebuild`).
    let (done, spare_work) = std::thread::scope(|sc| {
        let worker = spare.then(|| {
            sc.spawn(|| {
                let sa = new_adjoint();
                // The split sweep's containers too, if it will run (see `split`).
                let parts = (sa.as_ref().ok())
                    .filter(|sa| steps > 1 && split::applies(&sa.plan, threads))
                    .and_then(|sa| split::Parts::new(&sa.plan, threads, k > 1).ok());
                let work = (init_jacobian(), sa, parts);
                let mut updates = s0.and_then(|s0| Updates::new(&utils, &p, s0, dt));
                storer.drain(updates.as_mut().map(|u| u as &mut dyn Rebuild));
                work
            })
        });
        let done = forward();
        let work = worker.map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
        (done, work)
    });
    drop(storer);
    done?;
    // SAFETY: every checkpoint has been written: by the stepping thread, or by the second one,
    // which has written everything handed to it before it returned.
    unsafe { store.set_len(n_check * dim) };
    let (jac, sa, parts) = match spare_work {
        Some(work) => work,
        None => (init_jacobian(), new_adjoint(), None),
    };
    let jac = jac?;
    let checkpoints: Vec<&[f64]> = store.chunks(dim.max(1)).take(n_check).collect();
    let (value, grec) = loss(&rec)?;
    check_finite_loss(value, &grec)?;
    // Backward sweep.
    let mut sa = sa?;
    let add_rec = |lam: &mut [f64], t: usize| {
        if t.is_multiple_of(every) {
            for (r, &slot) in slots.iter().enumerate() {
                lam[slot] += grec[(r, t / every)];
            }
        }
    };
    let mut lam = vec![0.0; dim];
    let mut lam_prev = vec![0.0; dim];
    add_rec(&mut lam, steps);
    let states = sweep::SweepStates::new(
        &checkpoints,
        k,
        steps,
        AllStates::from_data(&c, vec![f64::NAN; c.states.total_len()]),
        utils.remove_observables(&s)?,
        &utils,
        &p,
        opts,
        &ext,
    );
    // With more than one thread: the sweep split by nodes where the local reverse mode covers
    // the model; otherwise step n − 1's passes run while step n is finished.
    let split = split::applies(&sa.plan, threads);
    if threads > 1 && steps > 1 && !split {
        sa.next = Some(sa.plan.prepared());
    }
    // On a worker thread of the pool, so that the parallel passes of every step are cheap.
    opts.parallelism.run(true, || -> Result<()> {
        if steps == 0 {
            return Ok(());
        }
        let StepAdjoint {
            plan,
            prep,
            next,
            fin,
        } = &mut sa;
        states.with(steps - 1, |x| {
            plan.prepare(prep, x, ext.at(steps - 1), None)
        })??;
        let mut rev = sweep::Reverse {
            fin,
            lam: &mut lam,
            lam_prev: &mut lam_prev,
            add_rec: &add_rec,
        };
        if split {
            return split::sweep(plan, prep, &mut rev, &states, &ext, steps, threads, parts);
        }
        if let Some(next) = next {
            return sweep::pipelined(plan, [&*prep, &*next], &mut rev, &states, &ext, steps);
        }
        // The voltages of x_t: step t − 1's new voltages.
        let mut v_next = vec![0.0; c.n_nodes()];
        for t in (0..steps).rev() {
            rev.step(plan, prep, &ext, t)?;
            if t > 0 {
                prep.copy_voltages(&mut v_next);
                let v_next = Some(&v_next[..]);
                states.with(t - 1, |x| plan.prepare(prep, x, ext.at(t - 1), v_next))??;
            }
        }
        Ok(())
    })?;
    let stored = (checkpoints.len() + states.slots.len()).max(1);
    drop(states);
    drop(checkpoints);
    buffers::give_back(store);
    debug_assert!(steps == 0 || stored <= held_states(steps, k));
    let (gp, gps) = chain::to_trainables(
        &jac,
        &init_fn,
        params,
        param_state,
        dt,
        &sa.fin.pbar,
        &utils,
        &lam,
    )?;
    Ok(Gradient {
        value,
        params: gp,
        param_state: gps,
        stored_states: stored,
    })
}
