//! The large buffers of [`super::value_and_grad`] (the stored states), kept from one gradient to
//! the next.
//!
//! Fresh memory costs a page fault and a page of zeros per 4 KiB on first touch: on this
//! project's VM about 0.4 ms per megabyte, so the 25 MB of stored states of a 1 000-compartment
//! cell over 800 steps cost 11 ms, as much as the forward run itself. The allocator may or may
//! not keep such blocks for reuse; a fitting loop computes gradients of the same size again and
//! again, so the buffers are kept here instead. [`release_buffers`] frees them.
//!
//! The first gradient still pays for its fresh buffers, so new ones of 4 MiB or more are advised
//! to use transparent huge pages (Linux; one fault per 2 MiB). The first gradient of the
//! benchmark cell in a fresh process, twelve alternating rounds: median 41.1 → 36.5 ms, best
//! 38.4 → 32.3 ms; page faults of the whole run about 8 600 → 2 500–3 000. Later gradients, which
//! reuse the buffers, are unchanged (`All` median 27.8 → 27.55 ms in six rounds of best-of-ten).

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
            None => {
                let buf = Vec::with_capacity(cap);
                advise_huge_pages(&buf);
                buf
            }
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

/// Size of a transparent huge page on x86-64 and most aarch64 kernels.
const HUGE_PAGE: usize = 2 << 20;

/// Asks the kernel (Linux) to back the untouched memory of `buf` with transparent huge pages
/// where it can: the whole 2 MiB pages inside its capacity. A first touch then costs one fault
/// per 2 MiB instead of one per 4 KiB. Advice only: a kernel without huge pages, or without
/// free ones, backs the memory with small pages as before.
fn advise_huge_pages(buf: &Vec<f64>) {
    let bytes = buf.capacity() * std::mem::size_of::<f64>();
    if bytes < 2 * HUGE_PAGE {
        return;
    }
    let start = (buf.as_ptr() as usize).next_multiple_of(HUGE_PAGE);
    let end = (buf.as_ptr() as usize + bytes) / HUGE_PAGE * HUGE_PAGE;
    if end <= start {
        return;
    }
    #[cfg(target_os = "linux")]
    // SAFETY: `start..end` lies inside the buffer's allocation, which this thread owns; the
    // advice changes how its pages are backed, not what they hold (nothing is written yet).
    // The result is ignored: the advice may be refused.
    unsafe {
        libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
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

    /// A new buffer of several huge pages is advised to use them: the mapping that holds its
    /// first whole huge page has the `hg` flag (`MADV_HUGEPAGE`) in `/proc/self/smaps`. Skipped
    /// on kernels without transparent huge pages.
    #[cfg(target_os = "linux")]
    #[test]
    fn large_new_buffers_are_advised_to_use_huge_pages() {
        if !std::path::Path::new("/sys/kernel/mm/transparent_hugepage/enabled").exists() {
            return;
        }
        let buf = Pool(Vec::new()).take(4 * HUGE_PAGE / 8);
        let at = (buf.as_ptr() as usize).next_multiple_of(HUGE_PAGE);
        let smaps = std::fs::read_to_string("/proc/self/smaps").expect("readable");
        let mut inside = false;
        let mut flags = None;
        for line in smaps.lines() {
            let range = line.split_once(' ').and_then(|(r, _)| r.split_once('-'));
            if let Some((a, b)) = range
                && let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
            {
                inside = a <= at && at < b;
                continue;
            }
            if inside && let Some(f) = line.strip_prefix("VmFlags:") {
                flags = Some(f.split_whitespace().map(String::from).collect::<Vec<_>>());
                break;
            }
        }
        let flags = flags.expect("the buffer's mapping is in /proc/self/smaps");
        assert!(flags.iter().any(|f| f == "hg"), "VmFlags {flags:?}");
    }
}
