//! A team of threads for the parallel regions of many consecutive steps.
//!
//! A step's parallel region lasts 0.1–1 ms on the benchmark networks. Handed to rayon, every
//! region woke the pool's other thread, which had gone to sleep since the last one: on this
//! project's 2-core VM the kernel's scheduler took about 14 % of a two-thread run of the
//! 1 000-cell network. A team's threads, started once per loop of steps, wait for the next
//! region by spinning (then yielding the core). Each takes the chunks of its own block first,
//! the same ones every step, so that their arrays stay in its core's caches, and then helps
//! with the others' blocks. Each chunk still runs on exactly one thread, so results stay bit
//! for bit those of one thread.
//!
//! [`with_team`] makes a team current on the calling thread for the duration of a closure;
//! [`crate::Parallelism::for_each`] on that thread then runs on it.

use crate::parallel::spin_until;
use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};

/// One parallel region: `f(0..n)`. The indices are split into one block per thread, in
/// order; a thread takes the indices of its own block first (so that a chunk's data stays in
/// the same core's caches from one step to the next), then helps with the others' blocks.
struct Job<'a> {
    f: &'a (dyn Fn(usize) + Sync),
    n: usize,
    panicked: AtomicBool,
}

/// Most threads a team has.
const MAX_THREADS: usize = 64;

/// A counter on a cache line of its own.
#[repr(align(128))]
#[derive(Default)]
struct Padded(AtomicUsize);

/// The shared state of a team (see the module documentation).
pub(crate) struct Team {
    /// Number of regions started.
    epoch: AtomicUsize,
    /// The current region (`*const Job`), valid until every helper has left it.
    job: AtomicPtr<()>,
    /// Helpers that have left the current region.
    left: AtomicUsize,
    /// Threads, the calling one included.
    threads: usize,
    stop: AtomicBool,
    /// Per thread: the next index of its block.
    next: Vec<Padded>,
}

impl Team {
    /// Block `j` of `n` indices.
    fn block(&self, j: usize, n: usize) -> std::ops::Range<usize> {
        j * n / self.threads..(j + 1) * n / self.threads
    }

    /// Thread `me` runs indices of the current region until none is left: its own block first,
    /// then the others'.
    fn work(&self, me: usize, job: &Job<'_>) {
        for b in (0..self.threads).map(|k| (me + k) % self.threads) {
            let end = self.block(b, job.n).end;
            loop {
                let i = self.next[b].0.fetch_add(1, Ordering::Relaxed);
                if i >= end {
                    break;
                }
                if catch_unwind(AssertUnwindSafe(|| (job.f)(i))).is_err() {
                    job.panicked.store(true, Ordering::Relaxed);
                }
            }
        }
    }
}

thread_local! {
    /// The team of the calling thread's [`with_team`], if any.
    static CURRENT: Cell<*const Team> = const { Cell::new(std::ptr::null()) };
}

/// Clears the thread's team and stops the helpers, also when unwinding.
struct Dismiss<'a>(&'a Team);

impl Drop for Dismiss<'_> {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(std::ptr::null()));
        self.0.stop.store(true, Ordering::Release);
    }
}

/// Cores of the machine.
fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The number of threads of the team [`with_team`] would start for `requested` threads: at
/// most as many as the machine has cores (more spinning threads would take turns on them),
/// and 1 (no team) on a thread that has one already (nested calls keep it).
pub(crate) fn team_size(requested: usize) -> usize {
    if !CURRENT.with(|c| c.get()).is_null() {
        return 1;
    }
    requested.min(cores()).clamp(1, MAX_THREADS)
}

/// Runs `f` with a team of [`team_size`]`(threads)` threads (the calling thread and helpers
/// of its own) current on the calling thread; with fewer than two, just runs `f`.
pub(crate) fn with_team<R>(threads: usize, f: impl FnOnce() -> R) -> R {
    let threads = team_size(threads);
    if threads < 2 {
        return f();
    }
    let team = Team {
        epoch: AtomicUsize::new(0),
        job: AtomicPtr::new(std::ptr::null_mut()),
        left: AtomicUsize::new(0),
        threads,
        stop: AtomicBool::new(false),
        next: (0..threads).map(|_| Padded::default()).collect(),
    };
    std::thread::scope(|sc| {
        for me in 1..threads {
            let team = &team;
            sc.spawn(move || team.helper(me));
        }
        CURRENT.with(|c| c.set(&team));
        let _dismiss = Dismiss(&team);
        f()
    })
}

/// Runs `f(0..n)` on the calling thread's team and returns `true`, or returns `false` (without
/// running anything) if the thread has none.
pub(crate) fn for_each(n: usize, f: &(dyn Fn(usize) + Sync)) -> bool {
    let team = CURRENT.with(|c| c.get());
    if team.is_null() {
        return false;
    }
    // SAFETY: set by `with_team`, which outlives this call (the pointer is cleared before the
    // team is dropped).
    let team = unsafe { &*team };
    team.run(n, f);
    true
}

impl Team {
    /// One region: publish it, work on it, wait until every helper has left it.
    fn run(&self, n: usize, f: &(dyn Fn(usize) + Sync)) {
        let job = Job {
            f,
            n,
            panicked: AtomicBool::new(false),
        };
        for j in 0..self.threads {
            self.next[j]
                .0
                .store(self.block(j, n).start, Ordering::Relaxed);
        }
        self.left.store(0, Ordering::Relaxed);
        self.job
            .store(&job as *const Job<'_> as *mut (), Ordering::Relaxed);
        self.epoch.fetch_add(1, Ordering::Release);
        self.work(0, &job);
        // Every helper takes part in every region (it finds no index left if it comes late),
        // so that none still holds `job` when it goes out of scope.
        spin_until(|| self.left.load(Ordering::Acquire) == self.threads - 1);
        if job.panicked.load(Ordering::Relaxed) {
            panic!("a chunk of a parallel region panicked");
        }
    }

    /// The loop of helper `me`: every region until the team is dismissed.
    fn helper(&self, me: usize) {
        let mut seen = 0;
        loop {
            spin_until(|| {
                self.epoch.load(Ordering::Acquire) != seen || self.stop.load(Ordering::Acquire)
            });
            let epoch = self.epoch.load(Ordering::Acquire);
            if epoch == seen {
                return; // stopped
            }
            seen = epoch;
            // SAFETY: published before the epoch was raised; the caller keeps it alive until
            // this helper has left (`left`).
            let job = unsafe { &*(self.job.load(Ordering::Relaxed) as *const Job<'_>) };
            self.work(me, job);
            self.left.fetch_add(1, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every index runs once per region, on some thread of the team, over many regions; without
    /// a team nothing runs.
    #[test]
    fn every_index_runs_once_per_region() {
        let counts: Vec<AtomicUsize> = (0..37).map(|_| AtomicUsize::new(0)).collect();
        let f = |i: usize| {
            counts[i].fetch_add(1, Ordering::Relaxed);
        };
        assert!(!for_each(37, &f));
        if cores() < 2 {
            return; // no team on one core
        }
        with_team(3, || {
            for _ in 0..500 {
                assert!(for_each(37, &f));
            }
        });
        assert!(counts.iter().all(|c| c.load(Ordering::Relaxed) == 500));
        assert!(!for_each(37, &f), "the team is gone after with_team");
    }

    /// A panicking chunk panics the caller, and the team still ends.
    #[test]
    fn a_panicking_chunk_reaches_the_caller() {
        if cores() < 2 {
            return; // no team on one core
        }
        let r = std::panic::catch_unwind(|| {
            with_team(2, || {
                for_each(8, &|i| assert!(i != 5, "chunk 5"));
            })
        });
        assert!(r.is_err());
    }
}
