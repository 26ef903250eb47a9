//! The update partials of the local reverse mode computed during the forward run, on a thread of
//! their own.
//!
//! In the local reverse mode (see [`super::local`]) the most costly part of a step's
//! vector–Jacobian product, the mechanisms' update partials, depends on the step's state only,
//! not on the cotangent. When every state is stored, the forward run's second core has nothing
//! else to do: it computes the partials of each state as soon as the forward run has stored it,
//! and the backward sweep loads them instead of computing them. The values are those the sweep
//! would compute, to the last bit.

use super::adjoint::append_streaming;
use super::step_vjp::{Plan, spin_until};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// The start of the forward run's state store, read by the thread of the partials while the
/// forward run appends to it.
#[derive(Clone, Copy)]
pub(crate) struct Shared(pub *const f64);

// SAFETY: the pointer is read only at states the forward run has published (see [`run`]); the
// store is neither moved nor reallocated while the threads run (its capacity is reserved).
unsafe impl Send for Shared {}

/// Sets its flag when dropped: tells [`run`] that no more states will be published.
pub(crate) struct StopOnDrop<'a>(pub &'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// Computes the partials of steps `0..rows` into rows of `len`: step `t`'s once the forward run
/// has published state `t` (`published > t`), read at `states + t·dim`. Stops early when `stop`
/// is set (the forward run failed).
pub(crate) fn run(
    plan: &Plan,
    states: Shared,
    dim: usize,
    rows: usize,
    len: usize,
    published: &AtomicUsize,
    stop: &AtomicBool,
) -> Vec<f64> {
    let (mut lp, mut v) = plan.ahead_buffers().expect("the local reverse mode");
    let mut out = super::buffers::take(rows * len);
    for t in 0..rows {
        spin_until(|| published.load(Ordering::Acquire) > t || stop.load(Ordering::Acquire));
        if published.load(Ordering::Acquire) <= t {
            break;
        }
        // SAFETY: state t is published (written before the release store `published` reads
        // here), lies within the store's capacity, and is not written again.
        let x = unsafe { std::slice::from_raw_parts(states.0.add(t * dim), dim) };
        plan.partials_ahead(&mut lp, &mut v, x, |piece| {
            append_streaming(&mut out, piece)
        });
    }
    // The non-temporal stores are ordered before the join that hands the rows over.
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a fence has no preconditions.
    unsafe {
        std::arch::x86_64::_mm_sfence()
    };
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamics::DynamicStateUtils;
    use crate::grad::step_vjp::StepAdjoint;
    use crate::integrate::{build_init_and_step_fn, plan_steps};
    use crate::*;

    /// The partials computed ahead from the stored states, loaded into a step's vector–Jacobian
    /// product, give the product computed there, to the last bit: on HH over a range of nodes,
    /// HH, Na and K on node lists (Na's update reads its parameter `vt`), for each stored state.
    /// A state not yet published is not read: with fewer published, fewer rows.
    #[test]
    fn partials_computed_ahead_are_those_of_the_sweep() -> Result<()> {
        let mut cell = Cell::new(&Branch::new(&Compartment::new(), 3)?, &[-1, 0, 0, 1])?;
        cell.insert(Leak)?;
        cell.branch(0)?.insert(HH)?;
        cell.branch(3)?.comp(1)?.insert(HH)?;
        cell.branch(1)?.insert(Na)?.insert(K)?;
        cell.branch(2)?
            .comp(0)?
            .stimulate(&step_current(0.0, 1.0, 0.4, 0.025, 1.0, 0.0));
        let touched: Vec<String> = ["HH_gNa", "vt", "Na_gNa", "Leak_eLeak"]
            .map(String::from)
            .to_vec();
        let (init_fn, step_fn) =
            build_init_and_step_fn(&cell, VoltageSolver::Hines, Solver::BwdEuler)?;
        let utils = DynamicStateUtils::for_step_fn(&step_fn);
        let c = utils.c.clone();
        let dt = 0.025;
        let (mut s, p) = init_fn.init::<f64>(&[], None, None, dt)?;
        let (_, ext) = plan_steps(&c.externals, &IntegrateOptions::t_max(1.0))?;
        let steps = 12;
        let dim = utils.len();
        let mut store = Vec::with_capacity(steps * dim);
        for t in 0..steps {
            store.extend_from_slice(&utils.remove_observables(&s)?.data);
            step_fn.step(&mut s, &p, ext.at(t), dt)?;
        }
        let mut sa = StepAdjoint::new(
            utils.clone(),
            Solver::BwdEuler,
            VoltageSolver::Hines,
            dt,
            p.clone(),
            &touched,
            Parallelism::Serial,
        )?;
        let len = sa.plan.ahead_len().expect("the local reverse mode");
        let (published, stop) = (AtomicUsize::new(steps), AtomicBool::new(true));
        let rows = run(
            &sa.plan,
            Shared(store.as_ptr()),
            dim,
            steps,
            len,
            &published,
            &stop,
        );
        assert_eq!(rows.len(), steps * len);
        let w: Vec<f64> = (0..dim)
            .map(|j| ((j * 7919 % 101) as f64 - 50.0) / 37.0)
            .collect();
        for t in 0..steps {
            let x = &store[t * dim..(t + 1) * dim];
            let mut vjp = |saved: Option<&[f64]>| -> Result<(Vec<f64>, Vec<f64>)> {
                let StepAdjoint {
                    plan, prep, fin, ..
                } = &mut sa;
                fin.pbar.data.fill(0.0);
                plan.begin(prep, x, saved);
                plan.run_tasks(prep, ext.at(t));
                plan.end(prep, None)?;
                let mut out = vec![f64::NAN; dim];
                plan.finish(prep, fin, ext.at(t), &w, &mut out)?;
                Ok((out, fin.pbar.data.clone()))
            };
            let here = vjp(None)?;
            let ahead = vjp(Some(&rows[t * len..(t + 1) * len]))?;
            assert!(here.0.iter().any(|&g| g != 0.0) && here.1.iter().any(|&g| g != 0.0));
            assert_eq!(here, ahead, "step {t}");
            // The rows differ from step to step: the loaded ones are used.
            if t > 0 {
                let before = vjp(Some(&rows[(t - 1) * len..t * len]))?;
                assert_ne!(before, here, "step {t}");
            }
        }
        // Three states published and then the end: three rows.
        let (published, stop) = (AtomicUsize::new(3), AtomicBool::new(true));
        let rows = run(
            &sa.plan,
            Shared(store.as_ptr()),
            dim,
            steps,
            len,
            &published,
            &stop,
        );
        assert_eq!(rows.len(), 3 * len);
        Ok(())
    }
}
