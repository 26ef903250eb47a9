//! The backward sweep over the steps: the forward states it reads (checkpoints and recomputed
//! segments), and the pipelined sweep that prepares step `n − 1` on some threads while it
//! finishes step `n` on another.

use super::step_vjp::{Finish, Plan, Prepared, lock};
use crate::dynamics::{DynamicStateUtils, DynamicStates};
use crate::error::{Error, Result};
use crate::externals::Externals;
use crate::integrate::IntegrateOptions;
use crate::parallel::spin_briefly_until;
use crate::state::{AllParams, AllStates};
use crate::step;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, RwLock, RwLockReadGuard};

/// A read lock that ignores poisoning (a panicking thread ends the sweep anyway).
fn read<T>(p: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    p.read().unwrap_or_else(|e| e.into_inner())
}

/// The forward states the backward sweep reads: the checkpoints (every `k`-th state), and the
/// `k − 1` states inside one segment between two checkpoints, recomputed when the sweep reaches
/// it.
///
/// The segment's states live in `k − 1` slots. The sweep reads a segment's states from the
/// top down, and a slot is free once its state has been read; the pipelined sweep uses that to
/// recompute the next segment (one step after each step it finishes, [`SweepStates::advance`])
/// into the slots already read, from the bottom up, so the recomputation overlaps the backward
/// passes instead of holding up the sweep, without holding more states. Segments therefore sit
/// in the slots alternately upright and reversed.
pub(crate) struct SweepStates<'a> {
    checkpoints: &'a [&'a [f64]],
    k: usize,
    steps: usize,
    /// The `k − 1` slots.
    /// (Read-locked by the sweep, so that threads that split a step read a state at once.)
    pub slots: Vec<RwLock<Vec<f64>>>,
    /// Which segments the slots hold.
    held: Mutex<Held>,
    /// Taken by [`SweepStates::advance`] for its whole work, and by a thread entering a
    /// segment: so that an advance for the segment a thread has left is over before the entry
    /// fills the slots (the split sweep reads states on several threads).
    adv: Mutex<()>,
    /// State containers of the recomputation.
    re: Mutex<Recompute>,
    /// States recomputed when the sweep entered their segment (not in advance).
    pub(crate) at_entry: AtomicUsize,
    utils: &'a DynamicStateUtils,
    p: &'a AllParams<f64>,
    opts: &'a IntegrateOptions,
    ext: &'a Externals<f64>,
}

/// The recomputation's state containers, and which state `(segment, f)` they hold (the one last
/// computed).
struct Recompute {
    s: AllStates<f64>,
    flat: DynamicStates<f64>,
    holds: Option<(usize, usize)>,
}

/// The segment being swept (complete, in its orientation), and how many states of the one below
/// it have been recomputed (in the other orientation).
#[derive(Default)]
struct Held {
    cur: Option<usize>,
    reversed: bool,
    next_filled: usize,
}

impl<'a> SweepStates<'a> {
    /// The states of a sweep with segments of `k` steps (`dim`: length of a flat state).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        checkpoints: &'a [&'a [f64]],
        k: usize,
        steps: usize,
        s_re: AllStates<f64>,
        dyn_re: DynamicStates<f64>,
        utils: &'a DynamicStateUtils,
        p: &'a AllParams<f64>,
        opts: &'a IntegrateOptions,
        ext: &'a Externals<f64>,
    ) -> Self {
        let dim = dyn_re.data.len();
        SweepStates {
            checkpoints,
            k,
            steps,
            slots: (1..k.min(steps.max(1)))
                .map(|_| RwLock::new(vec![0.0; dim]))
                .collect(),
            held: Mutex::new(Held::default()),
            adv: Mutex::new(()),
            re: Mutex::new(Recompute {
                s: s_re,
                flat: dyn_re,
                holds: None,
            }),
            at_entry: AtomicUsize::new(0),
            utils,
            p,
            opts,
            ext,
        }
    }

    /// Whether states between checkpoints are recomputed (see [`SweepStates::advance`]).
    pub(crate) fn recomputes(&self) -> bool {
        self.k > 1 && self.steps > 1
    }

    /// The slot of the `f`-th state (from the checkpoint up, 0-based) of a segment.
    fn slot(&self, f: usize, reversed: bool) -> usize {
        if reversed { self.k - 2 - f } else { f }
    }

    /// Computes state `f` of segment `si` into its slot from the state below it.
    fn recompute(&self, si: usize, f: usize, reversed: bool) -> Result<()> {
        let a = si * self.k;
        let (c, utils, o) = (&*self.utils.c, self.utils, self.opts);
        let mut re = lock(&self.re);
        let Recompute {
            s: s_re,
            flat: dyn_re,
            holds,
        } = &mut *re;
        // Segments are filled state after state: the step usually continues from the state the
        // containers hold (as the forward run did), with no copy in.
        if f == 0 || *holds != Some((si, f - 1)) {
            if f == 0 {
                dyn_re.data.copy_from_slice(self.checkpoints[si]);
            } else {
                dyn_re
                    .data
                    .copy_from_slice(&read(&self.slots[self.slot(f - 1, reversed)]));
            }
            utils.scatter(dyn_re, self.p, s_re)?;
        }
        *holds = None;
        step::step(
            c,
            o.solver,
            o.voltage_solver,
            &crate::Parallelism::Serial,
            s_re,
            self.p,
            self.ext.at(a + f),
            o.delta_t,
        )?;
        // Straight into the slot (the flat container is only the scatter's scratch).
        let mut slot = self.slots[self.slot(f, reversed)]
            .write()
            .unwrap_or_else(|e| e.into_inner());
        utils.remove_observables_to(s_re, &mut slot)?;
        *holds = Some((si, f));
        Ok(())
    }

    /// Runs `f` on the flat state `x_t`. The sweep asks for the states in decreasing order.
    pub(crate) fn with<R>(&self, t: usize, f: impl FnOnce(&[f64]) -> R) -> Result<R> {
        let si = t / self.k;
        let a = si * self.k;
        if t == a {
            return Ok(f(self.checkpoints[si]));
        }
        let mut held = lock(&self.held);
        let mut _adv = None;
        if held.cur != Some(si) {
            // Entering a segment waits for an advance in flight (see `adv`; always `adv`
            // before `held`).
            drop(held);
            _adv = Some(lock(&self.adv));
            held = lock(&self.held);
        }
        if held.cur != Some(si) {
            // Entering the segment: the states not recomputed in advance, now.
            let (from, reversed) = if held.cur == Some(si + 1) {
                (held.next_filled, !held.reversed)
            } else {
                (0, false)
            };
            let n = (a + self.k).min(self.steps) - a - 1;
            for g in from..n {
                self.recompute(si, g, reversed)?;
            }
            self.at_entry
                .fetch_add(n.saturating_sub(from), Ordering::Relaxed);
            *held = Held {
                cur: Some(si),
                reversed,
                next_filled: 0,
            };
        }
        let slot = self.slot(t - a - 1, held.reversed);
        drop(held);
        Ok(f(&read(&self.slots[slot])))
    }

    /// Reads one value per cache line of `x_t` if it is a checkpoint (no recomputation), so that
    /// the thread that copies it next finds it in a cache instead of main memory. The
    /// finishing thread of the pipelined sweep, which waits for the preparing one when every
    /// state is stored, does this for the state after the one being prepared.
    pub(crate) fn warm(&self, t: usize) {
        if t.is_multiple_of(self.k) {
            let x = self.checkpoints[t / self.k];
            let sum = x.iter().step_by(8).fold(0.0, |a, &b| a + b);
            std::hint::black_box(sum);
        }
    }

    /// After the sweep has finished step `t`: recomputes the next state of the segment below
    /// `t`'s, in a slot the sweep has read (see the type's documentation). Only at steps
    /// inside a segment (not at its checkpoint), so that it is done before the sweep enters
    /// the segment below.
    pub(crate) fn advance(&self, t: usize) -> Result<()> {
        let si = t / self.k;
        if si == 0 || t == si * self.k {
            return Ok(());
        }
        let _adv = lock(&self.adv);
        let (f, reversed) = {
            let held = lock(&self.held);
            if held.cur != Some(si) {
                // A thread has entered the segment below already, and filled it.
                return Ok(());
            }
            (held.next_filled, !held.reversed)
        };
        if f + 1 >= self.k {
            return Ok(()); // the segment below is complete
        }
        self.recompute(si - 1, f, reversed)?;
        lock(&self.held).next_filled = f + 1;
        Ok(())
    }
}

/// The cotangent side of the sweep, which the finishing thread owns: the step's cotangent
/// accumulators, the cotangent of the current state and the previous one's, and how the
/// recordings' cotangents join them.
pub(crate) struct Reverse<'a> {
    pub fin: &'a mut Finish,
    pub lam: &'a mut Vec<f64>,
    pub lam_prev: &'a mut Vec<f64>,
    pub add_rec: &'a (dyn Fn(&mut [f64], usize) + Sync),
}

impl Reverse<'_> {
    /// Applies step `t`'s transposed Jacobian (prepared in `pr`) to the cotangent, which then
    /// belongs to `x_t`, and adds the recordings' cotangents at `t`.
    pub(crate) fn step(
        &mut self,
        plan: &Plan,
        pr: &Prepared,
        ext: &Externals<f64>,
        t: usize,
    ) -> Result<()> {
        plan.finish(pr, self.fin, ext.at(t), self.lam, self.lam_prev)?;
        std::mem::swap(self.lam, self.lam_prev);
        (self.add_rec)(self.lam, t);
        Ok(())
    }
}

/// Tells the other threads to stop waiting when this one panics (the scope then passes the
/// panic on).
pub(crate) struct AbortOnPanic<'a>(pub &'a AtomicBool);

impl Drop for AbortOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.store(true, Ordering::Release);
        }
    }
}

/// Where the threads of the pipelined sweep are: generations count steps of the sweep.
#[derive(Default)]
struct Progress {
    /// Sweep step `i` whose passes the queue holds (plus one).
    opened: AtomicUsize,
    /// Threads that have left the current queue.
    exited: AtomicUsize,
    /// Sweep steps prepared and finished (each: the count).
    prepared: AtomicUsize,
    finished: AtomicUsize,
    abort: AtomicBool,
}

/// The backward sweep from step `steps − 1` down to 0 on as many threads as the sweep's
/// parallelism allows (at least two: the calling thread and threads of its own), with `preps[0]` prepared at step `steps − 1`. Sweep step `i` (model step
/// `t = steps − 1 − i`): thread 0 finishes step `t` with the passes of `preps[i % 2]`, while
/// thread 1 starts preparing step `t − 1` in `preps[(i + 1) % 2]`; every thread, thread 0 once
/// it has finished, runs passes from that step's queue; thread 1 ends the preparation (the
/// voltage solve). The threads wait for each other by spinning, so that no step pays for waking
/// a sleeping thread. The cotangents are applied in the order of the serial sweep: the result
/// is the same to the last bit.
pub(crate) fn pipelined(
    plan: &Plan,
    preps: [&Prepared; 2],
    rev: &mut Reverse<'_>,
    states: &SweepStates<'_>,
    ext: &Externals<f64>,
    steps: usize,
) -> Result<()> {
    let pr = Progress::default();
    let error: Mutex<Option<Error>> = Mutex::new(None);
    let fail = |e: Error| {
        let mut g = lock(&error);
        g.get_or_insert(e);
        pr.abort.store(true, Ordering::Release);
    };
    let rev = Mutex::new(rev);
    // More threads than passes would only spin.
    let n_threads = plan.threads().min(plan.n_tasks(preps[0]) + 1).max(2);
    let body = |me: usize| {
        let _guard = AbortOnPanic(&pr.abort);
        let aborted = || pr.abort.load(Ordering::Acquire);
        // Thread 1: the voltages of x_t, step t − 1's new voltages.
        let mut v_next = vec![0.0; if me == 1 { plan.n_nodes() } else { 0 }];
        for i in 0..steps {
            let t = steps - 1 - i;
            let (cur, next) = (preps[i % 2], preps[(i + 1) % 2]);
            if me == 0 {
                spin_briefly_until(|| pr.prepared.load(Ordering::Acquire) >= i || aborted());
                if aborted() {
                    return;
                }
                let mut r = lock(&rev);
                if let Err(e) = r.step(plan, cur, ext, t) {
                    return fail(e);
                }
                drop(r);
                pr.finished.store(i + 1, Ordering::Release);
                // While the others prepare step t − 1: one step of the segment below, and the
                // state that step t − 2's preparation will copy brought into a cache.
                if let Err(e) = states.advance(t) {
                    return fail(e);
                }
                if t >= 2 {
                    states.warm(t - 2);
                }
            }
            if t == 0 {
                return;
            }
            if me == 1 {
                // Everyone has left the previous queue, and `next` has been finished.
                spin_briefly_until(|| {
                    (i == 0 || pr.exited.load(Ordering::Acquire) >= n_threads)
                        && pr.finished.load(Ordering::Acquire) >= i
                        || aborted()
                });
                if aborted() {
                    return;
                }
                if let Err(e) = states.with(t - 1, |x| plan.begin(next, x)) {
                    return fail(e);
                }
                pr.exited.store(0, Ordering::Relaxed);
                pr.opened.store(i + 1, Ordering::Release);
            } else {
                spin_briefly_until(|| pr.opened.load(Ordering::Acquire) > i || aborted());
                if aborted() {
                    return;
                }
            }
            plan.run_tasks(next, ext.at(t - 1));
            pr.exited.fetch_add(1, Ordering::AcqRel);
            if me == 1 {
                spin_briefly_until(|| plan.tasks_done(next) || aborted());
                if aborted() {
                    return;
                }
                cur.copy_voltages(&mut v_next);
                if let Err(e) = plan.end(next, Some(&v_next)) {
                    return fail(e);
                }
                pr.prepared.store(i + 1, Ordering::Release);
            }
        }
    };
    // Threads of its own rather than the pool's: the threads wait for each other by spinning,
    // which would never end if one of them were a pool thread busy with another such sweep.
    std::thread::scope(|sc| {
        let body = &body;
        for me in 1..n_threads {
            sc.spawn(move || body(me));
        }
        body(0);
    });
    match error.into_inner().unwrap_or_else(|e| e.into_inner()) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::integrate::{build_init_and_step_fn, plan_steps};
    use crate::*;

    /// Read in the sweep's order, with a step of the segment below recomputed after each step
    /// (as the pipelined sweep does) or not (serial), the states are those of the forward run,
    /// bit for bit; with the advances only the first segment swept (the last, short one) and the
    /// rest of the one below it are recomputed on entry.
    #[test]
    fn segments_recomputed_ahead_are_the_forward_states() -> Result<()> {
        let mut cell = Cell::new(&Branch::new(&Compartment::new(), 3)?, &[-1, 0, 0])?;
        cell.insert(HH)?;
        cell.branch(0)?
            .comp(0)?
            .stimulate(&step_current(0.5, 2.0, 0.3, 0.025, 1.0, 0.0));
        cell.branch(2)?.comp(2)?.record("v")?;
        let opts = IntegrateOptions::t_max(1.0);
        let (init_fn, step_fn) =
            build_init_and_step_fn(&cell, VoltageSolver::Hines, Solver::BwdEuler)?;
        let c = init_fn.compiled().clone();
        let utils = DynamicStateUtils::for_step_fn(&step_fn);
        let (steps, ext) = plan_steps(&c.externals, &opts)?;
        let (mut s, p) = init_fn.init::<f64>(&[], None, None, opts.delta_t)?;
        let mut all = vec![utils.remove_observables(&s)?.data];
        for t in 0..steps {
            step_fn.step(&mut s, &p, ext.at(t), opts.delta_t)?;
            all.push(utils.remove_observables(&s)?.data);
        }
        // 40 steps: segments of 6 leave a last one of 4 steps (3 states inside it), of 7 one
        // of 5.
        assert_eq!(steps, 40);
        for (k, ahead) in [(6, true), (6, false), (7, true), (1, true)] {
            let checkpoints: Vec<&[f64]> = all.iter().step_by(k).map(|x| &x[..]).collect();
            let states = SweepStates::new(
                &checkpoints[..steps.div_ceil(k)],
                k,
                steps,
                AllStates::from_data(&c, vec![f64::NAN; c.states.total_len()]),
                utils.remove_observables(&s)?,
                &utils,
                &p,
                &opts,
                &ext,
            );
            for t in (0..steps).rev() {
                assert!(states.with(t, |x| x == &all[t][..])?, "k {k}, state {t}");
                if ahead {
                    states.advance(t)?;
                }
            }
            // Ahead: the first segment swept, and what its few steps left of the one below.
            let expected = if ahead {
                k - 1
            } else {
                steps - steps.div_ceil(k)
            };
            assert_eq!(states.at_entry.into_inner(), expected, "k {k}");
        }
        Ok(())
    }
}
