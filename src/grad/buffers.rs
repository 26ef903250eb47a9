//! The large buffers of [`super::value_and_grad`] (the stored states), kept from one gradient to
//! the next.
//!
//! Fresh memory costs a page fault and a page of zeros per 4 KiB on first touch: on this
//! project's VM about 0.4 ms per megabyte, so the 25 MB of stored states of a 1 000-compartment
//! cell over 800 steps cost 11 ms, as much as the forward run itself. The allocator may or may
//! not keep such blocks for reuse; a fitting loop computes gradients of the same size again and
//! again, so the buffers are kept here instead. [`release_buffers`] frees them.

use super::step_vjp::lock;
use std::sync::Mutex;

/// How many buffers are kept (a gradient uses one; two gradients may run at once).
const KEEP: usize = 2;

/// Kept buffers, largest capacity first.
struct Pool(Vec<Vec<f64>>);

impl Pool {
    /// An empty buffer of capacity at least `cap`: the smallest kept one that is large enough,
    /// or a new one.
    fn take(&mut self, cap: usize) -> Vec<f64> {
        match self.0.iter().rposition(|b| b.capacity() >= cap) {
            Some(i) => {
                let mut b = self.0.remove(i);
                b.clear();
                b
            }
            None => Vec::with_capacity(cap),
        }
    }

    /// Keeps `buf` if it is among the `KEEP` largest.
    fn give_back(&mut self, buf: Vec<f64>) {
        if buf.capacity() == 0 {
            return;
        }
        let at = self.0.partition_point(|b| b.capacity() >= buf.capacity());
        self.0.insert(at, buf);
        self.0.truncate(KEEP);
    }
}

/// The process's kept buffers.
static SPARE: Mutex<Pool> = Mutex::new(Pool(Vec::new()));

/// An empty buffer of capacity at least `cap`, kept from an earlier gradient if one is large
/// enough.
pub(crate) fn take(cap: usize) -> Vec<f64> {
    lock(&SPARE).take(cap)
}

/// Keeps `buf` for a later gradient if it is among the largest.
pub(crate) fn give_back(buf: Vec<f64>) {
    lock(&SPARE).give_back(buf);
}

/// Frees the buffers [`crate::grad::value_and_grad`] keeps between calls: the stored states of
/// the two largest recent gradients (see [`crate::grad::Checkpointing`]).
///
/// ```
/// huxley::grad::release_buffers();
/// ```
pub fn release_buffers() {
    lock(&SPARE).0.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Buffers come back empty and large enough, the smallest that fits first; the two largest
    /// are kept.
    #[test]
    fn kept_buffers_are_reused_smallest_fitting_first() {
        let mut pool = Pool(Vec::new());
        for cap in [1000, 3000, 2000] {
            let mut b = Vec::with_capacity(cap);
            b.push(1.0);
            pool.give_back(b);
        }
        let caps = |p: &Pool| p.0.iter().map(|b| b.capacity()).collect::<Vec<_>>();
        assert_eq!(caps(&pool), [3000, 2000]);
        let b = pool.take(1001);
        assert!(b.capacity() == 2000 && b.is_empty());
        assert_eq!(caps(&pool), [3000]);
        let c = pool.take(3001);
        assert!(c.capacity() >= 3001 && c.is_empty());
        assert_eq!(caps(&pool), [3000]);
        pool.give_back(Vec::new());
        assert_eq!(caps(&pool), [3000]);
    }
}
