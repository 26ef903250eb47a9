//! How the step uses threads.
//!
//! The nodes of a model are split into chunks once, at compile time, independently of the
//! number of threads: small cells are grouped into chunks of about 512 nodes, a cell of more than
//! 4096 nodes is split into chunks of 2048 nodes. A step runs one parallel region over the chunks;
//! each worker updates the mechanisms of its chunk, computes their currents, adds the synapses
//! that end in the chunk (edge after edge, in a fixed order) and, when the chunk holds whole
//! cells, solves their cable equations. Nothing is summed across chunks, so the results are bit
//! for bit the same whatever the number of threads. Loops of many steps (`integrate`,
//! [`crate::StepFn::in_pool`]) run the regions on a team of spinning threads
//! ([`crate::team`]) instead of handing each to rayon.

use std::sync::Arc;

/// How a step uses threads.
///
/// The nodes of a model are split into chunks once, at compile time, independently of the
/// number of threads: small cells are grouped into chunks of about 512 nodes, a cell of more than
/// 4096 nodes is split into chunks of 2048 nodes. A step runs one parallel region over the chunks;
/// each worker updates the mechanisms of its chunk, computes their currents, adds the synapses
/// that end in the chunk (edge after edge, in a fixed order) and, when the chunk holds whole
/// cells, solves their cable equations. Nothing is summed across chunks, so the results are bit
/// for bit the same whatever the number of threads. Calling [`crate::StepFn::step`] in a loop
/// from outside the pool hands every step to the pool anew; run the loop inside
/// [`crate::StepFn::in_pool`] (as `integrate` does) to avoid that: there the steps run on a
/// team of as many threads as the pool has, started for the loop, each taking the same
/// chunks step after step.
///
/// ```
/// use huxley::{Cell, HH, IntegrateOptions, Network, Parallelism, integrate};
/// # fn main() -> huxley::Result<()> {
/// let mut net = Network::new(&vec![Cell::default(); 600])?;
/// net.insert(HH)?;
/// net.cell(0)?.record("v")?;
/// let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
/// let opts = IntegrateOptions {
///     parallelism: Parallelism::Pool(std::sync::Arc::new(pool)),
///     ..IntegrateOptions::t_max(1.0)
/// };
/// let two = integrate(&net, &opts)?.recordings;
/// let one = integrate(&net, &IntegrateOptions { parallelism: Parallelism::Serial, ..opts })?;
/// assert_eq!(two, one.recordings); // bit for bit
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, Default)]
pub enum Parallelism {
    /// Chunks in parallel on rayon's current pool (the global pool, unless called from inside
    /// another pool), when the model has more than one chunk. The default.
    #[default]
    Auto,
    /// Everything on the calling thread.
    Serial,
    /// Chunks in parallel on the given pool.
    Pool(Arc<rayon::ThreadPool>),
}

impl Parallelism {
    /// Runs `f(0..n)`, in parallel where allowed. `f` must not depend on the order of calls.
    pub(crate) fn for_each(&self, n: usize, f: impl Fn(usize) + Sync + Send) {
        use rayon::prelude::*;
        if n <= 1 {
            (0..n).for_each(f);
            return;
        }
        if !matches!(self, Parallelism::Serial) && crate::team::for_each(n, &f) {
            return;
        }
        match self {
            Parallelism::Serial => (0..n).for_each(f),
            Parallelism::Auto => {
                if rayon::current_num_threads() > 1 {
                    (0..n).into_par_iter().for_each(f)
                } else {
                    (0..n).for_each(f)
                }
            }
            Parallelism::Pool(pool) => {
                if pool.current_num_threads() > 1 {
                    pool.install(|| (0..n).into_par_iter().for_each(f))
                } else {
                    (0..n).for_each(f)
                }
            }
        }
    }

    /// How many threads [`Parallelism::for_each`] may use.
    pub(crate) fn threads(&self) -> usize {
        match self {
            Parallelism::Serial => 1,
            Parallelism::Auto => rayon::current_num_threads(),
            Parallelism::Pool(pool) => pool.current_num_threads(),
        }
    }

    /// Runs `f` on a worker thread of the pool (so that the parallel regions inside it do not
    /// each pay for handing work to the pool), or on the calling thread.
    pub(crate) fn run<R: Send>(&self, parallel: bool, f: impl FnOnce() -> R + Send) -> R {
        if !parallel {
            return f();
        }
        match self {
            Parallelism::Serial => f(),
            Parallelism::Auto => {
                if rayon::current_thread_index().is_some() || rayon::current_num_threads() <= 1 {
                    f()
                } else {
                    rayon::join(f, || ()).0
                }
            }
            Parallelism::Pool(pool) => pool.install(f),
        }
    }
}

/// Waits for `ready` on one of two threads that hand each other work every few microseconds
/// (the gradient's pipelined sweep and its store of the forward states; the split sweep waits
/// at a [`Bell`]): spins about 2 µs (200 `pause`s on the Xeon; [`spin_until`] spins 2 000,
/// about 17 µs), then yields the core at every check.
///
/// On this project's VM the hypervisor takes a vCPU away for 4–12 ms at a time, several times a
/// second; a thread started meanwhile lands on the same core as its partner, and can stay there
/// for a whole backward sweep (Linux does not move a thread that keeps running). Spinning
/// 17 µs per hand-over then held every step up: about one `Auto` gradient in four swept in
/// 38–51 ms instead of 20 ms. Yielding at once lets the two threads' work run one after the
/// other instead. Criterion, alternating runs of both builds, with this in all of the
/// gradient's waits: `grad_auto` 36.9 / 34.9 ms (spread 31–41 ms) → 32.9 / 31.7 ms (spread
/// 30.7–35.6 ms); `grad_all` unchanged.
pub(crate) fn spin_briefly_until(ready: impl Fn() -> bool) {
    spin_then_yield(200, ready)
}

/// Waits for `ready`: spins, then yields the core (so that more threads than cores still make
/// progress).
pub(crate) fn spin_until(ready: impl Fn() -> bool) {
    spin_then_yield(2000, ready)
}

/// Checks `ready` with a `pause` between checks up to `spins` times, then with a yield of the
/// core between checks.
#[inline(always)]
fn spin_then_yield(spins: u32, ready: impl Fn() -> bool) {
    if !spin(spins, &ready) {
        while !ready() {
            std::thread::yield_now();
        }
    }
}

/// Checks `ready` up to `spins + 1` times with a `pause` between checks; whether it became
/// true.
#[inline(always)]
fn spin(spins: u32, ready: &impl Fn() -> bool) -> bool {
    for _ in 0..spins {
        if ready() {
            return true;
        }
        std::hint::spin_loop();
    }
    ready()
}

/// Where one thread waits for another's progress: it spins (2 000 `pause`s, about 17 µs on the
/// Xeon), then sleeps until the other rings ([`Bell::ring`] after each store of progress) or
/// for at most 1 ms.
///
/// Sleeping matters when the two threads share a core: on this project's VM the hypervisor
/// takes a vCPU away for 4–12 ms at a time, a thread started meanwhile lands on the same core
/// as its partner, and Linux does not move a thread that keeps running (spinning or
/// yielding). A thread woken from sleep is placed on an idle core, so the pair comes apart at
/// the first hand-over after the other core is free again. The split sweep's waits, against
/// [`spin_briefly_until`] (criterion, four alternating rounds): `grad_auto` 33.0, 35.1, 33.2,
/// 35.1 ms → 31.3, 31.3, 32.7, 32.0 ms; `grad_all` 24.8, 26.4, 26.3, 27.8 → 26.2, 25.9, 26.0,
/// 26.8 ms (unchanged: most of its waits end while spinning).
pub(crate) struct Bell {
    parked: std::sync::atomic::AtomicBool,
    sleeper: std::sync::Mutex<Option<std::thread::Thread>>,
    /// The longest sleep (1 ms; only a safety net: every wake-up is rung).
    nap: std::time::Duration,
}

impl Bell {
    /// A bell nobody waits at.
    pub(crate) fn new() -> Bell {
        Bell::with_nap(std::time::Duration::from_millis(1))
    }

    fn with_nap(nap: std::time::Duration) -> Bell {
        Bell {
            parked: std::sync::atomic::AtomicBool::new(false),
            sleeper: std::sync::Mutex::new(None),
            nap,
        }
    }

    /// Waits until `ready` (which reads what the ringing thread stores before it rings).
    pub(crate) fn wait_until(&self, ready: impl Fn() -> bool) {
        use std::sync::atomic::{Ordering, fence};
        if spin(2000, &ready) {
            return;
        }
        while !ready() {
            let mut sleeper = self.sleeper.lock().unwrap_or_else(|e| e.into_inner());
            sleeper.get_or_insert_with(std::thread::current);
            drop(sleeper);
            self.parked.store(true, Ordering::Relaxed);
            // Ordered against `ring`'s fence: either it sees `parked`, or this sees its store.
            fence(Ordering::SeqCst);
            if !ready() {
                std::thread::park_timeout(self.nap);
            }
            self.parked.store(false, Ordering::Relaxed);
        }
    }

    /// Wakes the thread waiting at the bell, if it sleeps; call after storing progress.
    pub(crate) fn ring(&self) {
        use std::sync::atomic::{Ordering, fence};
        fence(Ordering::SeqCst);
        if self.parked.load(Ordering::Relaxed) {
            let sleeper = self.sleeper.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(t) = &*sleeper {
                t.unpark();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Bell;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    /// Two threads hand a counter back and forth 200 times, each sleeping past the spin
    /// budget before it hands over, so that every wait ends asleep. The bells' naps are 5 s:
    /// a wake-up the ring lost would cost one (and the waits give up after 3 s), while the
    /// whole exchange takes well under a second.
    #[test]
    fn bells_wake_sleeping_waiters() {
        let nap = Duration::from_secs(5);
        let bells = [Bell::with_nap(nap), Bell::with_nap(nap)];
        let count = AtomicUsize::new(0);
        let (rounds, limit) = (200, Duration::from_secs(3));
        let start = Instant::now();
        std::thread::scope(|sc| {
            for me in 0..2 {
                let (bells, count) = (&bells, &count);
                sc.spawn(move || {
                    for r in 0..rounds {
                        let turn = 2 * r + me;
                        bells[me].wait_until(|| {
                            count.load(Ordering::Acquire) >= turn || start.elapsed() > limit
                        });
                        assert!(start.elapsed() <= limit, "round {r}: a wake-up was lost");
                        std::thread::sleep(Duration::from_micros(100));
                        assert_eq!(count.fetch_add(1, Ordering::AcqRel), turn);
                        bells[1 - me].ring();
                    }
                });
            }
        });
        assert_eq!(count.load(Ordering::Relaxed), 2 * rounds);
    }
}
