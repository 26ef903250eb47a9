//! The parallel step allocates nothing either, on any thread: a global counting allocator
//! watches 100 steps of a network on a 2-thread pool (inside `in_pool`: on its team of threads,
//! see `StepFn::in_pool`). (One test in this binary, so no other
//! test allocates meanwhile.)

use huxley::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

struct Counting;

static ACTIVE: AtomicBool = AtomicBool::new(false);
static COUNT: AtomicUsize = AtomicUsize::new(0);

fn note() {
    if ACTIVE.load(Ordering::Relaxed) {
        COUNT.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: forwards to the system allocator and only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn parallel_network_steps_do_not_allocate_on_any_thread() {
    let branch = Branch::new(&Compartment::new(), 2).unwrap();
    let mut cell = Cell::new(&branch, &[-1, 0, 0]).unwrap();
    cell.insert(HH).unwrap();
    let mut net = Network::new(&vec![cell; 300]).unwrap();
    let all = net.all().selection();
    sparse_connect(&mut net, &all, &all, IonotropicSynapse, 0.03, 1).unwrap();
    let (init_fn, step_fn) =
        build_init_and_step_fn(&net, VoltageSolver::Hines, Solver::BwdEuler).unwrap();
    assert!(init_fn.compiled().n_chunks() > 2);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    // The pool's threads start (and allocate their queues) now, not while counting: the steps
    // inside `in_pool` run on a team of threads of their own and leave the pool idle.
    pool.broadcast(|_| ());
    let step_fn = step_fn.with_parallelism(Parallelism::Pool(std::sync::Arc::new(pool)));
    let (mut s, p) = init_fn.init::<f64>(&[], None, None, 0.025).unwrap();
    let none = Externals::none();
    let n = step_fn.in_pool(|| {
        for _ in 0..50 {
            step_fn.step(&mut s, &p, none.at(0), 0.025).unwrap();
        }
        COUNT.store(0, Ordering::SeqCst);
        ACTIVE.store(true, Ordering::SeqCst);
        for _ in 0..100 {
            step_fn.step(&mut s, &p, none.at(0), 0.025).unwrap();
        }
        ACTIVE.store(false, Ordering::SeqCst);
        COUNT.load(Ordering::SeqCst)
    });
    assert_eq!(n, 0, "{n} allocations in 100 parallel steps");
}
