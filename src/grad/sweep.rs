//! The backward sweep over the steps: the forward states it reads (checkpoints and recomputed
//! segments), and the pipelined sweep that prepares step `n − 1` on some threads while it
//! finishes step `n` on another.

use super::step_vjp::{Finish, Plan, Prepared, spin_until};
use crate::dynamics::{DynamicStateUtils, DynamicStates};
use crate::error::{Error, Result};
use crate::externals::Externals;
use crate::integrate::IntegrateOptions;
use crate::state::{AllParams, AllStates};
use crate::step;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// The forward states the backward sweep reads: the checkpoints (every `k`-th state), and the
/// states of one segment between two checkpoints, recomputed when the sweep enters it.
pub(crate) struct SweepStates<'a> {
    pub checkpoints: &'a [&'a [f64]],
    pub k: usize,
    pub steps: usize,
    /// States `a + 1 .. b` of the segment `held` (`a`: its checkpoint).
    pub seg: Vec<Vec<f64>>,
    pub held: Option<usize>,
    pub s_re: AllStates<f64>,
    pub dyn_re: DynamicStates<f64>,
    pub utils: &'a DynamicStateUtils,
    pub p: &'a AllParams<f64>,
    pub opts: &'a IntegrateOptions,
    pub ext: &'a Externals<f64>,
}

impl SweepStates<'_> {
    /// The flat state `x_t`.
    pub(crate) fn at(&mut self, t: usize) -> Result<&[f64]> {
        let si = t / self.k;
        let a = si * self.k;
        if t == a {
            return Ok(self.checkpoints[si]);
        }
        if self.held != Some(si) {
            let b = (a + self.k).min(self.steps);
            let (c, utils, o) = (&*self.utils.c, self.utils, self.opts);
            for u in a + 1..b {
                let prev = if u == a + 1 {
                    self.checkpoints[si]
                } else {
                    &self.seg[u - a - 2]
                };
                self.dyn_re.data.copy_from_slice(prev);
                utils.scatter(&self.dyn_re, self.p, &mut self.s_re)?;
                step::step(
                    c,
                    o.solver,
                    o.voltage_solver,
                    &crate::Parallelism::Serial,
                    &mut self.s_re,
                    self.p,
                    self.ext.at(u - 1),
                    o.delta_t,
                )?;
                utils.remove_observables_into(&self.s_re, &mut self.dyn_re)?;
                self.seg[u - a - 1].copy_from_slice(&self.dyn_re.data);
            }
            self.held = Some(si);
        }
        Ok(&self.seg[t - a - 1])
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
struct AbortOnPanic<'a>(&'a AtomicBool);

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
    states: &mut SweepStates<'_>,
    ext: &Externals<f64>,
    steps: usize,
) -> Result<()> {
    let pr = Progress::default();
    let error: Mutex<Option<Error>> = Mutex::new(None);
    let fail = |e: Error| {
        let mut g = error.lock().unwrap_or_else(|e| e.into_inner());
        g.get_or_insert(e);
        pr.abort.store(true, Ordering::Release);
    };
    let states = Mutex::new(states);
    let rev = Mutex::new(rev);
    // More threads than passes would only spin.
    let n_threads = plan.threads().min(plan.n_tasks(preps[0]) + 1).max(2);
    let body = |me: usize| {
        let _guard = AbortOnPanic(&pr.abort);
        let aborted = || pr.abort.load(Ordering::Acquire);
        for i in 0..steps {
            let t = steps - 1 - i;
            let (cur, next) = (preps[i % 2], preps[(i + 1) % 2]);
            if me == 0 {
                spin_until(|| pr.prepared.load(Ordering::Acquire) >= i || aborted());
                if aborted() {
                    return;
                }
                let mut r = rev.lock().unwrap_or_else(|e| e.into_inner());
                if let Err(e) = r.step(plan, cur, ext, t) {
                    return fail(e);
                }
                pr.finished.store(i + 1, Ordering::Release);
            }
            if t == 0 {
                return;
            }
            if me == 1 {
                // Everyone has left the previous queue, and `next` has been finished.
                spin_until(|| {
                    (i == 0 || pr.exited.load(Ordering::Acquire) >= n_threads)
                        && pr.finished.load(Ordering::Acquire) >= i
                        || aborted()
                });
                if aborted() {
                    return;
                }
                let mut st = states.lock().unwrap_or_else(|e| e.into_inner());
                match st.at(t - 1) {
                    Ok(x) => plan.begin(next, x),
                    Err(e) => return fail(e),
                }
                drop(st);
                pr.exited.store(0, Ordering::Relaxed);
                pr.opened.store(i + 1, Ordering::Release);
            } else {
                spin_until(|| pr.opened.load(Ordering::Acquire) > i || aborted());
                if aborted() {
                    return;
                }
            }
            plan.run_tasks(next, ext.at(t - 1));
            pr.exited.fetch_add(1, Ordering::AcqRel);
            if me == 1 {
                spin_until(|| plan.tasks_done(next) || aborted());
                if aborted() {
                    return;
                }
                if let Err(e) = plan.end(next) {
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
