//! Proves that the numeric phase does not allocate: a counting global
//! allocator counts the allocations made by the current thread while
//! counting is switched on.

#[path = "lu_common/mod.rs"]
mod common;

use common::{Flavor, Rng};
use huxley::solver::sparse_lu::SparseLu;

#[path = "common/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::allocations as count_allocations;

#[test]
fn counter_detects_allocations() {
    let n = count_allocations(|| {
        let v = std::hint::black_box(vec![1u8; 16]);
        drop(v);
    });
    assert_eq!(n, 2, "one allocation and one deallocation");
}

/// Zero heap traffic over 100 `factor_and_solve` (+ `solve_transpose`)
/// calls with fresh values each time, for matrices dominant by columns (A is
/// factorised) and by rows only (Aᵀ is factorised), alternately.
#[test]
fn factor_and_solve_does_not_allocate() {
    let mut rng = Rng::new(42);
    for (n, roots, shuffle) in [
        (1, 1, false),
        (1000, 1, false),
        (1000, 5, true),
        (20_000, 1, true),
    ] {
        let parent = common::random_forest(&mut rng, n, roots, shuffle);
        let (col_ptr, row_idx) = common::forest_pattern(&parent);
        let lu = SparseLu::new(n, &col_ptr, &row_idx).unwrap();
        let mut ws = lu.workspace();
        // Values and right-hand sides are prepared outside the counted region.
        let values: Vec<Vec<f64>> = (0..100)
            .map(|k| {
                let flavor = if k % 2 == 0 {
                    Flavor::Rows
                } else {
                    Flavor::Columns
                };
                common::random_values(&mut rng, &col_ptr, &row_idx, flavor)
            })
            .collect();
        let mut rhs: Vec<Vec<f64>> = (0..100).map(|_| common::random_vec(&mut rng, n)).collect();
        let mut rhs_t = rhs.clone();

        // Warm-up call (the workspace is already warm; this is belt and braces).
        let mut warm = rhs[0].clone();
        lu.factor_and_solve(&mut ws, &values[0], &mut warm).unwrap();

        let mut transposed = 0;
        let allocs = count_allocations(|| {
            for k in 0..100 {
                lu.factor_and_solve(&mut ws, &values[k], &mut rhs[k])
                    .unwrap();
                lu.solve_transpose(&mut ws, &mut rhs_t[k]).unwrap();
                transposed += usize::from(ws.factored_transpose().unwrap());
            }
        });
        assert_eq!(allocs, 0, "n = {n}: {allocs} heap operations in 100 calls");
        if n > 1 {
            // Both orientations were exercised.
            assert!(transposed > 0 && transposed < 100, "n = {n}: {transposed}");
        }
    }
}

/// Without warm-up the very first call on a fresh workspace is already
/// allocation free, because `workspace()` pre-sizes the factor storage.
#[test]
fn first_call_does_not_allocate() {
    let mut rng = Rng::new(7);
    let (col_ptr, row_idx) = common::forest_pattern(&common::random_binary_tree(&mut rng, 5000));
    let lu = SparseLu::new(5000, &col_ptr, &row_idx).unwrap();
    for flavor in [Flavor::Columns, Flavor::Rows] {
        let mut ws = lu.workspace();
        let values = common::random_values(&mut rng, &col_ptr, &row_idx, flavor);
        let mut rhs = common::random_vec(&mut rng, 5000);
        let allocs = count_allocations(|| lu.factor_and_solve(&mut ws, &values, &mut rhs).unwrap());
        assert_eq!(allocs, 0, "{flavor:?}");
    }
}
