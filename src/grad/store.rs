//! Writing the forward run's checkpoints into the stored states, on the thread that steps the
//! model or on a second one.
//!
//! The stored states go to main memory with non-temporal stores (they are read back only by the
//! backward sweep, long after): about 32 KB per step for a 1 000-compartment HH cell, 25 MB over
//! 800 steps, which took the stepping thread about a quarter of its forward run on this
//! project's VM. With a second thread free (it first computes what the gradient needs of `init`
//! and the step's adjoint plan, see [`super::adjoint`]), the stepping thread instead copies each
//! checkpoint into a small ring of buffers that stays in its caches, and the second thread
//! streams them from there into the store. Until the second thread is ready, without one, and
//! whenever the ring is full, the stepping thread writes the store itself: it never waits for
//! the second thread. Either way every checkpoint lands at its own place in the store, with the
//! same bits.
//!
//! For models whose states other than the voltages each update from themselves and the
//! voltages alone (the local reverse mode's: HH cells, Pospischil's channels without pumps; see
//! [`super::rebuild`]), the second thread is given a [`Rebuild`]: it then keeps a state of its
//! own, the stepping thread hands over a whole checkpoint once and after that only the voltages
//! (a quarter of an HH cell's state), and the second thread advances the other states itself,
//! with the step's own update kernels (so to the same bits), while the stepping thread runs
//! the rest of the step. The stepping thread hands over a whole checkpoint again after any it
//! wrote itself.

use super::step_vjp::lock;
use crate::parallel::spin_briefly_until;
use std::mem::MaybeUninit;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// The ring's size in bytes, at most (at least two slots whatever the state's size).
const RING_BYTES: usize = 512 * 1024;
/// At most this many slots.
const MAX_SLOTS: usize = 16;

/// The checkpoints' places in the store, and the hand-over to a second thread.
pub(crate) struct Storer<'a> {
    /// Checkpoint `i` goes to `chunks[i]` (each locked by the one thread writing it).
    chunks: Vec<Mutex<&'a mut [MaybeUninit<f64>]>>,
    /// A checkpoint's length.
    dim: usize,
    /// Checkpoints handed over wait here: the `j`-th in `ring[j % len]`.
    ring: Vec<Mutex<Slot>>,
    /// How many checkpoints have been handed over, and how many of them written to the store.
    handed: AtomicUsize,
    drained: AtomicUsize,
    /// The second thread drains the ring; the stepping thread has handed over its last
    /// checkpoint.
    ready: AtomicBool,
    done: AtomicBool,
    /// The second thread rebuilds checkpoints from their voltages (set before `ready`).
    rebuilds: AtomicBool,
    /// The stepping thread's own: the next checkpoint it hands over goes whole (the first, and
    /// the first after one it wrote itself).
    whole_next: AtomicBool,
}

/// A checkpoint handed over: its index, whether it is whole (or only its voltages), and its
/// values (the first `len`).
struct Slot {
    i: usize,
    whole: bool,
    len: usize,
    x: Vec<f64>,
}

/// How the second thread rebuilds checkpoints from the voltages alone (see the module
/// documentation): it holds a state of the model.
pub(crate) trait Rebuild {
    /// Takes a whole checkpoint (flat).
    fn load(&mut self, x: &[f64]);
    /// The next checkpoint from the one held: the other states advanced one step (from
    /// themselves and the voltages held), then the voltages set to `v` (the flat state's
    /// voltage part).
    fn advance(&mut self, v: &[f64]);
    /// Calls `f` with the checkpoint held, as consecutive runs of the flat state.
    fn for_each_run(&self, f: &mut dyn FnMut(&[f64]));
}

impl<'a> Storer<'a> {
    /// Checkpoints of `dim` values each into `store` (uninitialised, `n` checkpoints long).
    pub(crate) fn new(store: &'a mut [MaybeUninit<f64>], dim: usize) -> Self {
        let slots = (RING_BYTES / (dim.max(1) * 8)).clamp(2, MAX_SLOTS);
        Storer {
            chunks: store.chunks_mut(dim.max(1)).map(Mutex::new).collect(),
            dim,
            // (Filled by the second thread when it starts: no ring without one.)
            ring: (0..slots)
                .map(|_| {
                    Mutex::new(Slot {
                        i: 0,
                        whole: true,
                        len: 0,
                        x: Vec::new(),
                    })
                })
                .collect(),
            handed: AtomicUsize::new(0),
            drained: AtomicUsize::new(0),
            ready: AtomicBool::new(false),
            done: AtomicBool::new(false),
            rebuilds: AtomicBool::new(false),
            whole_next: AtomicBool::new(true),
        }
    }

    /// The stepping thread: checkpoint `i`, given as consecutive runs of values (`dim` in
    /// all), and the runs of its voltages alone. Handed over if the second thread is ready and
    /// the ring has room (only the voltages if it rebuilds the rest and has the checkpoint
    /// before); written here otherwise (so that the stepping thread never waits for the second
    /// one).
    pub(crate) fn put<'r>(
        &self,
        i: usize,
        runs: impl IntoIterator<Item = &'r [f64]>,
        voltages: impl IntoIterator<Item = &'r [f64]>,
    ) {
        let j = self.handed.load(Ordering::Relaxed);
        let slots = self.ring.len();
        if self.ready.load(Ordering::Acquire) && j - self.drained.load(Ordering::Acquire) < slots {
            let whole = !self.rebuilds.load(Ordering::Relaxed)
                || self.whole_next.swap(false, Ordering::Relaxed);
            let mut slot = lock(&self.ring[j % slots]);
            let mut at = 0;
            let mut copy = |run: &[f64]| {
                slot.x[at..at + run.len()].copy_from_slice(run);
                at += run.len();
            };
            match whole {
                true => runs.into_iter().for_each(&mut copy),
                false => voltages.into_iter().for_each(&mut copy),
            }
            debug_assert!(!whole || at == self.dim);
            (slot.i, slot.whole, slot.len) = (i, whole, at);
            drop(slot);
            self.handed.store(j + 1, Ordering::Release);
            return;
        }
        // The second thread misses this one: if it rebuilds, the next one goes whole.
        self.whole_next.store(true, Ordering::Relaxed);
        let mut chunk = lock(&self.chunks[i]);
        let mut w = Streamer::new(&mut chunk);
        runs.into_iter().for_each(|run| w.run(run));
        w.end();
    }

    /// The stepping thread: no checkpoint follows (also on an error or a panic, so that the
    /// second thread stops). Call [`fence`] first on the thread that wrote.
    pub(crate) fn finish(&self) {
        self.done.store(true, Ordering::Release);
    }

    /// The second thread: writes the checkpoints handed over into the store until the stepping
    /// thread has finished; with `rebuild`, rebuilds those handed over as voltages (see the
    /// module documentation; only for checkpoints at every step).
    pub(crate) fn drain(&self, mut rebuild: Option<&mut dyn Rebuild>) {
        for slot in &self.ring {
            lock(slot).x.resize(self.dim, 0.0);
        }
        self.rebuilds.store(rebuild.is_some(), Ordering::Relaxed);
        self.ready.store(true, Ordering::Release);
        let mut d = 0;
        loop {
            spin_briefly_until(|| {
                self.handed.load(Ordering::Acquire) > d || self.done.load(Ordering::Acquire)
            });
            if self.handed.load(Ordering::Acquire) == d {
                // Finished, and everything handed over (before `done`) is written.
                fence();
                return;
            }
            let slot = lock(&self.ring[d % self.ring.len()]);
            let mut chunk = lock(&self.chunks[slot.i]);
            match (rebuild.as_deref_mut(), slot.whole) {
                (Some(r), false) => {
                    r.advance(&slot.x[..slot.len]);
                    drop(slot);
                    let mut w = Streamer::new(&mut chunk);
                    r.for_each_run(&mut |run| w.run(run));
                    w.end();
                }
                (r, _) => {
                    if let Some(r) = r {
                        r.load(&slot.x);
                    }
                    stream(&mut chunk, &slot.x);
                }
            }
            d += 1;
            self.drained.store(d, Ordering::Release);
        }
    }
}

/// Streams consecutive runs of a checkpoint into its place in the store, from the start.
struct Streamer<'c> {
    chunk: &'c mut [MaybeUninit<f64>],
    at: usize,
}

impl<'c> Streamer<'c> {
    fn new(chunk: &'c mut [MaybeUninit<f64>]) -> Self {
        Streamer { chunk, at: 0 }
    }

    /// The next run.
    fn run(&mut self, x: &[f64]) {
        stream(&mut self.chunk[self.at..self.at + x.len()], x);
        self.at += x.len();
    }

    /// Every value written.
    fn end(self) {
        debug_assert_eq!(self.at, self.chunk.len());
    }
}

/// Copies `x` into `dst` (of the same length) with non-temporal stores where the CPU has them.
fn stream(dst: &mut [MaybeUninit<f64>], x: &[f64]) {
    assert_eq!(dst.len(), x.len(), "a checkpoint's length");
    #[cfg(target_arch = "x86_64")]
    for (d, v) in dst.iter_mut().zip(x) {
        // SAFETY: `d` is a valid, aligned place for 8 bytes.
        unsafe {
            std::arch::x86_64::_mm_stream_si64(d.as_mut_ptr() as *mut i64, v.to_bits() as i64)
        };
    }
    #[cfg(not(target_arch = "x86_64"))]
    for (d, &v) in dst.iter_mut().zip(x) {
        d.write(v);
    }
}

/// Orders this thread's non-temporal stores before what it does next (and so before what other
/// threads see of it after synchronising with it).
pub(crate) fn fence() {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a fence has no preconditions.
    unsafe {
        std::arch::x86_64::_mm_sfence()
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIM: usize = 37;
    /// Voltages: the first three values.
    const NV: usize = 3;

    /// A toy model: the voltages are any values; every other value advances from itself and
    /// the voltages.
    fn next_rest(x: &[f64], rest: &mut [f64]) {
        for (j, r) in rest.iter_mut().enumerate() {
            *r = 0.5 * x[NV + j] + x[j % NV] / 7.0;
        }
    }
    fn states(n: usize) -> Vec<Vec<f64>> {
        let mut out: Vec<Vec<f64>> = vec![(0..DIM).map(|j| j as f64).collect()];
        for i in 1..n {
            let mut x = vec![0.0; DIM];
            next_rest(&out[i - 1], &mut x[NV..]);
            for (j, v) in x[..NV].iter_mut().enumerate() {
                *v = (i * 10 + j) as f64 * 0.3;
            }
            out.push(x);
        }
        out
    }
    struct Toy(Vec<f64>);
    impl Rebuild for Toy {
        fn load(&mut self, x: &[f64]) {
            self.0.copy_from_slice(x);
        }
        fn advance(&mut self, v: &[f64]) {
            let mut rest = vec![0.0; DIM - NV];
            next_rest(&self.0, &mut rest);
            self.0[NV..].copy_from_slice(&rest);
            self.0[..NV].copy_from_slice(v);
        }
        fn for_each_run(&self, f: &mut dyn FnMut(&[f64])) {
            f(&self.0[..10]);
            f(&self.0[10..]);
        }
    }

    /// Every checkpoint lands at its place, whether the stepping thread writes it or hands it
    /// over (the ring fills up now and then: 300 checkpoints put without pause), with the
    /// second thread ready from the start, partway, or never, and copying what it is given or
    /// rebuilding it from the voltages (then it must be given a whole checkpoint first, and again
    /// after each it missed).
    #[test]
    fn every_checkpoint_lands_at_its_place() {
        let n = 300;
        let want = states(n);
        for rebuilds in [false, true] {
            for ready_after in [0, 50, usize::MAX] {
                let mut store: Vec<f64> = Vec::with_capacity(n * DIM);
                for x in &mut store.spare_capacity_mut()[..n * DIM] {
                    x.write(f64::NAN);
                }
                let storer = Storer::new(&mut store.spare_capacity_mut()[..n * DIM], DIM);
                let started = AtomicBool::new(false);
                std::thread::scope(|sc| {
                    let second = (ready_after != usize::MAX).then(|| {
                        let (storer, started) = (&storer, &started);
                        sc.spawn(move || {
                            spin_briefly_until(|| started.load(Ordering::Acquire));
                            let mut toy = Toy(vec![f64::NAN; DIM]);
                            storer.drain(rebuilds.then_some(&mut toy as &mut dyn Rebuild))
                        })
                    });
                    for (i, x) in want.iter().enumerate() {
                        if i == ready_after.min(n) {
                            started.store(true, Ordering::Release);
                        }
                        // Runs of uneven lengths.
                        storer.put(i, [&x[..5], &x[5..20], &x[20..]], [&x[..1], &x[1..NV]]);
                    }
                    started.store(true, Ordering::Release);
                    fence();
                    storer.finish();
                    if let Some(h) = second {
                        h.join().expect("no panic");
                    }
                });
                drop(storer);
                // SAFETY: every value has been written (NaN first).
                unsafe { store.set_len(n * DIM) };
                for (i, x) in want.iter().enumerate() {
                    assert_eq!(store[i * DIM..(i + 1) * DIM], x[..], "checkpoint {i}");
                }
            }
        }
    }
}
