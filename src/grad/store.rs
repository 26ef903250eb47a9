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

use super::step_vjp::lock;
use crate::parallel::spin_until;
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
    /// Checkpoints handed over wait here, with their index: the `j`-th in `ring[j % len]`.
    ring: Vec<Mutex<(usize, Vec<f64>)>>,
    /// How many checkpoints have been handed over, and how many of them written to the store.
    handed: AtomicUsize,
    drained: AtomicUsize,
    /// The second thread drains the ring; the stepping thread has handed over its last
    /// checkpoint.
    ready: AtomicBool,
    done: AtomicBool,
}

impl<'a> Storer<'a> {
    /// Checkpoints of `dim` values each into `store` (uninitialised, `n` checkpoints long).
    pub(crate) fn new(store: &'a mut [MaybeUninit<f64>], dim: usize) -> Self {
        let slots = (RING_BYTES / (dim.max(1) * 8)).clamp(2, MAX_SLOTS);
        Storer {
            chunks: store.chunks_mut(dim.max(1)).map(Mutex::new).collect(),
            dim,
            // (Filled by the second thread when it starts: no ring without one.)
            ring: (0..slots).map(|_| Mutex::new((0, Vec::new()))).collect(),
            handed: AtomicUsize::new(0),
            drained: AtomicUsize::new(0),
            ready: AtomicBool::new(false),
            done: AtomicBool::new(false),
        }
    }

    /// The stepping thread: checkpoint `i`, given as consecutive runs of values (`dim` in
    /// all). Handed over if the second thread is ready and the ring has room; written here
    /// otherwise (so that the stepping thread never waits for the second one).
    pub(crate) fn put<'r>(&self, i: usize, runs: impl IntoIterator<Item = &'r [f64]>) {
        let j = self.handed.load(Ordering::Relaxed);
        let slots = self.ring.len();
        if self.ready.load(Ordering::Acquire) && j - self.drained.load(Ordering::Acquire) < slots {
            let mut slot = lock(&self.ring[j % slots]);
            slot.0 = i;
            let mut at = 0;
            for run in runs {
                slot.1[at..at + run.len()].copy_from_slice(run);
                at += run.len();
            }
            debug_assert_eq!(at, slot.1.len());
            drop(slot);
            self.handed.store(j + 1, Ordering::Release);
            return;
        }
        let mut chunk = lock(&self.chunks[i]);
        let mut at = 0;
        for run in runs {
            stream(&mut chunk[at..at + run.len()], run);
            at += run.len();
        }
        debug_assert_eq!(at, chunk.len());
    }

    /// The stepping thread: no checkpoint follows (also on an error or a panic, so that the
    /// second thread stops). Call [`fence`] first on the thread that wrote.
    pub(crate) fn finish(&self) {
        self.done.store(true, Ordering::Release);
    }

    /// The second thread: writes the checkpoints handed over into the store until the stepping
    /// thread has finished.
    pub(crate) fn drain(&self) {
        for slot in &self.ring {
            lock(slot).1.resize(self.dim, 0.0);
        }
        self.ready.store(true, Ordering::Release);
        let mut d = 0;
        loop {
            spin_until(|| {
                self.handed.load(Ordering::Acquire) > d || self.done.load(Ordering::Acquire)
            });
            if self.handed.load(Ordering::Acquire) == d {
                // Finished, and everything handed over (before `done`) is written.
                fence();
                return;
            }
            let slot = lock(&self.ring[d % self.ring.len()]);
            stream(&mut lock(&self.chunks[slot.0]), &slot.1);
            drop(slot);
            d += 1;
            self.drained.store(d, Ordering::Release);
        }
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

    /// Every checkpoint lands at its place, whether the stepping thread writes it or hands it
    /// over (the ring fills up now and then: 300 checkpoints put without pause), with the
    /// second thread ready from the start, partway, or never.
    #[test]
    fn every_checkpoint_lands_at_its_place() {
        let (dim, n) = (37, 300);
        let state = |i: usize| -> Vec<f64> { (0..dim).map(|j| (i * 1000 + j) as f64).collect() };
        for ready_after in [0, 50, usize::MAX] {
            let mut store: Vec<f64> = Vec::with_capacity(n * dim);
            for x in &mut store.spare_capacity_mut()[..n * dim] {
                x.write(f64::NAN);
            }
            let storer = Storer::new(&mut store.spare_capacity_mut()[..n * dim], dim);
            let started = AtomicBool::new(false);
            std::thread::scope(|sc| {
                let second = (ready_after != usize::MAX).then(|| {
                    let (storer, started) = (&storer, &started);
                    sc.spawn(move || {
                        spin_until(|| started.load(Ordering::Acquire));
                        storer.drain()
                    })
                });
                for i in 0..n {
                    if i == ready_after.min(n) {
                        started.store(true, Ordering::Release);
                    }
                    let x = state(i);
                    // Runs of uneven lengths.
                    storer.put(i, [&x[..5], &x[5..20], &x[20..]]);
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
            unsafe { store.set_len(n * dim) };
            for i in 0..n {
                assert_eq!(
                    store[i * dim..(i + 1) * dim],
                    state(i)[..],
                    "checkpoint {i}"
                );
            }
        }
    }
}
