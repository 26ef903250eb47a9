//! Accuracy and error-handling tests for `SparseLu` against a dense LU
//! (nalgebra) oracle.

#[path = "lu_common/mod.rs"]
mod common;

use common::{Flavor, Rng};
use huxley::solver::sparse_lu::{SparseLu, SparseLuError};
use nalgebra::{DMatrix, DVector};

/// `max |x - y| / max |y|`.
fn rel_err(x: &[f64], y: &[f64]) -> f64 {
    let num = x
        .iter()
        .zip(y)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    let den = y.iter().map(|v| v.abs()).fold(0.0, f64::max);
    num / den
}

/// Normwise backward error `‖A x - b‖∞ / (‖A‖∞ ‖x‖∞ + ‖b‖∞)`.
fn backward_err(a: &DMatrix<f64>, x: &[f64], b: &[f64]) -> f64 {
    let r = a * DVector::from_column_slice(x) - DVector::from_column_slice(b);
    let norm_a = a.row_iter().map(|r| r.abs().sum()).fold(0.0, f64::max);
    r.amax()
        / (norm_a * x.iter().map(|v| v.abs()).fold(0.0, f64::max)
            + b.iter().map(|v| v.abs()).fold(0.0, f64::max))
}

/// Factors, solves `A x = b` and `Aᵀ y = c`, and compares with nalgebra.
fn check_against_dense(
    rng: &mut Rng,
    col_ptr: &[usize],
    row_idx: &[usize],
    flavor: Flavor,
    label: &str,
) {
    let n = col_ptr.len() - 1;
    let lu = SparseLu::new(n, col_ptr, row_idx).unwrap();
    let mut ws = lu.workspace();
    let values = common::random_values(rng, col_ptr, row_idx, flavor);
    let b = common::random_vec(rng, n);
    let c = common::random_vec(rng, n);
    let dense = DMatrix::from_column_slice(n, n, &common::to_dense(col_ptr, row_idx, &values));

    let mut x = b.clone();
    lu.factor_and_solve(&mut ws, &values, &mut x).unwrap();
    let mut y = c.clone();
    lu.solve_transpose(&mut ws, &mut y).unwrap();

    // Which matrix gets factorised follows from the dominance of the values.
    let by_cols = common::column_dominant(col_ptr, row_idx, &values);
    let by_rows = common::row_dominant(col_ptr, row_idx, &values);
    assert_eq!(
        ws.factored_transpose(),
        Some(!by_cols && by_rows),
        "{label}: orientation"
    );
    if lu.is_forest() && (by_cols || by_rows) {
        // Diagonal pivots on a forest: L and U have exactly the pattern of A
        // plus the unit diagonal of L.
        assert_eq!(ws.factor_nnz(), lu.nnz() + n, "{label}: fill");
    }

    if flavor == Flavor::Neither {
        // Pivoting on an arbitrary matrix: judge by backward error.
        assert!(
            backward_err(&dense, &x, &b) < 1e-14,
            "{label}: A x = b backward error"
        );
        assert!(
            backward_err(&dense.transpose(), &y, &c) < 1e-14,
            "{label}: Aᵀ y = c backward error"
        );
    } else {
        let x_ref = dense
            .clone()
            .lu()
            .solve(&DVector::from_column_slice(&b))
            .unwrap();
        let y_ref = dense
            .transpose()
            .lu()
            .solve(&DVector::from_column_slice(&c))
            .unwrap();
        let (ex, ey) = (rel_err(&x, x_ref.as_slice()), rel_err(&y, y_ref.as_slice()));
        assert!(ex < 1e-12, "{label}: A x = b relative error {ex:e}");
        assert!(ey < 1e-12, "{label}: Aᵀ y = c relative error {ey:e}");
    }
}

#[test]
fn random_trees_and_forests_match_dense_lu() {
    let mut rng = Rng::new(1);
    for n in [1usize, 2, 10, 1000] {
        for roots in [1, 2, n.div_ceil(10), n] {
            for shuffle in [false, true] {
                for flavor in common::FLAVORS {
                    for rep in 0..3 {
                        let parent = common::random_forest(&mut rng, n, roots, shuffle);
                        let (col_ptr, row_idx) = common::forest_pattern(&parent);
                        let label =
                            format!("n={n} roots={roots} shuffle={shuffle} {flavor:?} rep={rep}");
                        check_against_dense(&mut rng, &col_ptr, &row_idx, flavor, &label);
                    }
                }
            }
        }
    }
}

#[test]
fn random_binary_trees_match_dense_lu() {
    let mut rng = Rng::new(2);
    for n in [1, 2, 10, 1000] {
        for flavor in common::FLAVORS {
            let (col_ptr, row_idx) =
                common::forest_pattern(&common::random_binary_tree(&mut rng, n));
            check_against_dense(
                &mut rng,
                &col_ptr,
                &row_idx,
                flavor,
                &format!("binary n={n} {flavor:?}"),
            );
        }
    }
}

/// Refactoring with new values in the same workspace gives the new answer
/// (nothing stale survives), in both orientations alternately.
#[test]
fn workspace_reuse_across_value_changes() {
    let mut rng = Rng::new(3);
    let parent = common::random_forest(&mut rng, 300, 3, true);
    let (col_ptr, row_idx) = common::forest_pattern(&parent);
    let lu = SparseLu::new(300, &col_ptr, &row_idx).unwrap();
    let mut ws = lu.workspace();
    for step in 0..20 {
        let flavor = common::FLAVORS[step % 4];
        let values = common::random_values(&mut rng, &col_ptr, &row_idx, flavor);
        let dense =
            DMatrix::from_column_slice(300, 300, &common::to_dense(&col_ptr, &row_idx, &values));
        let b = common::random_vec(&mut rng, 300);
        let mut x = b.clone();
        lu.factor_and_solve(&mut ws, &values, &mut x).unwrap();
        assert!(backward_err(&dense, &x, &b) < 1e-14, "step {step}");
        let mut y = b.clone();
        lu.solve_transpose(&mut ws, &mut y).unwrap();
        assert!(
            backward_err(&dense.transpose(), &y, &b) < 1e-14,
            "step {step} transpose"
        );
    }
}

/// Patterns that are not forests (cycles, an unsymmetric pattern) still work,
/// through the AMD ordering.
#[test]
fn non_forest_and_unsymmetric_patterns() {
    let mut rng = Rng::new(4);
    // 12 x 12 grid graph (many cycles).
    let side = 12;
    let n = side * side;
    let cols: Vec<Vec<usize>> = (0..n)
        .map(|v| {
            let (r, c) = (v / side, v % side);
            let mut col = vec![v];
            if r > 0 {
                col.push(v - side);
            }
            if r + 1 < side {
                col.push(v + side);
            }
            if c > 0 {
                col.push(v - 1);
            }
            if c + 1 < side {
                col.push(v + 1);
            }
            col
        })
        .collect();
    let (col_ptr, row_idx) = common::csc_from_columns(cols);
    assert!(!SparseLu::new(n, &col_ptr, &row_idx).unwrap().is_forest());
    for flavor in common::FLAVORS {
        check_against_dense(
            &mut rng,
            &col_ptr,
            &row_idx,
            flavor,
            &format!("grid {flavor:?}"),
        );
    }

    // Unsymmetric: a path with only the sub-diagonal, plus one far entry.
    let n = 50;
    let mut cols: Vec<Vec<usize>> = (0..n)
        .map(|j| if j + 1 < n { vec![j, j + 1] } else { vec![j] })
        .collect();
    cols[0].push(n - 1);
    let (col_ptr, row_idx) = common::csc_from_columns(cols);
    for flavor in common::FLAVORS {
        check_against_dense(
            &mut rng,
            &col_ptr,
            &row_idx,
            flavor,
            &format!("unsymmetric {flavor:?}"),
        );
    }

    // An unsymmetric forest pattern (each edge stored once) is a forest.
    let parent = common::random_forest(&mut rng, 100, 2, true);
    let cols: Vec<Vec<usize>> = (0..100)
        .map(|j| std::iter::once(j).chain(parent[j]).collect())
        .collect();
    let (col_ptr, row_idx) = common::csc_from_columns(cols);
    assert!(SparseLu::new(100, &col_ptr, &row_idx).unwrap().is_forest());
    for flavor in common::FLAVORS {
        check_against_dense(
            &mut rng,
            &col_ptr,
            &row_idx,
            flavor,
            &format!("one-sided forest {flavor:?}"),
        );
    }
}

#[test]
fn one_node_matrix() {
    let lu = SparseLu::new(1, &[0, 1], &[0]).unwrap();
    assert_eq!((lu.n(), lu.nnz()), (1, 1));
    let mut ws = lu.workspace();
    let mut x = [6.0];
    lu.factor_and_solve(&mut ws, &[-4.0], &mut x).unwrap();
    assert_eq!(x, [-1.5]);
    let mut y = [2.0];
    lu.solve_transpose(&mut ws, &mut y).unwrap();
    assert_eq!(y, [-0.5]);
    assert_eq!(
        lu.factor_and_solve(&mut ws, &[0.0], &mut x),
        Err(SparseLuError::Singular { step: 0 })
    );
}

#[test]
fn empty_matrix() {
    let lu = SparseLu::new(0, &[0], &[]).unwrap();
    let mut ws = lu.workspace();
    lu.factor_and_solve(&mut ws, &[], &mut []).unwrap();
    lu.solve_transpose(&mut ws, &mut []).unwrap();
}

#[test]
fn bad_patterns_give_typed_errors() {
    use SparseLuError::*;
    let err = |n: usize, col_ptr: &[usize], row_idx: &[usize]| {
        SparseLu::new(n, col_ptr, row_idx).unwrap_err()
    };
    // A valid 3 x 3 path for reference.
    assert!(SparseLu::new(3, &[0, 2, 5, 7], &[0, 1, 0, 1, 2, 1, 2]).is_ok());

    assert_eq!(
        err(3, &[0, 2, 5], &[0, 1, 0, 1, 2]),
        ColPtrLength {
            expected: 4,
            got: 3
        }
    );
    assert_eq!(
        err(3, &[], &[]),
        ColPtrLength {
            expected: 4,
            got: 0
        }
    );
    assert_eq!(
        err(3, &[1, 2, 5, 7], &[0, 1, 0, 1, 2, 1, 2]),
        InvalidColPtr { index: 0, nnz: 7 }
    );
    assert_eq!(
        err(3, &[0, 5, 2, 7], &[0, 1, 0, 1, 2, 1, 2]),
        InvalidColPtr { index: 2, nnz: 7 }
    );
    assert_eq!(
        err(3, &[0, 2, 5, 6], &[0, 1, 0, 1, 2, 1, 2]),
        InvalidColPtr { index: 3, nnz: 7 }
    );
    assert_eq!(
        err(3, &[0, 2, 5, 8], &[0, 1, 0, 1, 2, 1, 2]),
        InvalidColPtr { index: 3, nnz: 7 }
    );
    assert_eq!(
        err(3, &[0, 2, 5, 7], &[0, 1, 0, 1, 2, 1, 3]),
        RowIndexOutOfRange {
            col: 2,
            row: 3,
            n: 3
        }
    );
    assert_eq!(
        err(3, &[0, 2, 5, 7], &[0, 1, 1, 0, 2, 1, 2]),
        UnsortedOrDuplicateRow { col: 1, row: 0 }
    );
    assert_eq!(
        err(3, &[0, 2, 5, 7], &[0, 1, 0, 1, 1, 1, 2]),
        UnsortedOrDuplicateRow { col: 1, row: 1 }
    );
    assert_eq!(
        err(3, &[0, 2, 4, 6], &[0, 1, 0, 2, 1, 2]),
        MissingDiagonal { col: 1 }
    );
    assert_eq!(err(1, &[0, 0], &[]), MissingDiagonal { col: 0 });
}

#[test]
fn bad_arguments_give_typed_errors() {
    use SparseLuError::*;
    let (col_ptr, row_idx) = ([0, 2, 5, 7], [0, 1, 0, 1, 2, 1, 2]);
    let lu = SparseLu::new(3, &col_ptr, &row_idx).unwrap();
    let mut ws = lu.workspace();
    let values = [4.0, 1.0, 1.0, 4.0, 1.0, 1.0, 4.0];
    let mut rhs = [1.0, 2.0, 3.0];

    assert_eq!(lu.solve_transpose(&mut ws, &mut rhs), Err(NotFactorized));
    assert_eq!(
        lu.factor_and_solve(&mut ws, &values[..6], &mut rhs),
        Err(ValuesLength {
            expected: 7,
            got: 6
        })
    );
    assert_eq!(
        lu.factor_and_solve(&mut ws, &values, &mut [1.0, 2.0]),
        Err(RhsLength {
            expected: 3,
            got: 2
        })
    );
    let other = SparseLu::new(2, &[0, 1, 2], &[0, 1]).unwrap();
    assert_eq!(
        other.factor_and_solve(&mut ws, &[1.0, 1.0], &mut [1.0, 1.0]),
        Err(WorkspaceMismatch {
            n: 2,
            nnz: 2,
            ws_n: 3,
            ws_nnz: 7
        })
    );
    lu.factor_and_solve(&mut ws, &values, &mut rhs).unwrap();
    assert_eq!(
        lu.solve_transpose(&mut ws, &mut [1.0; 4]),
        Err(RhsLength {
            expected: 3,
            got: 4
        })
    );
}

/// NaN or ±∞ anywhere in `values` is reported as an error before any
/// factorisation; afterwards there is no factorisation to reuse.
#[test]
fn non_finite_values_are_errors() {
    let mut rng = Rng::new(5);
    let parent = common::random_forest(&mut rng, 50, 1, true);
    let (col_ptr, row_idx) = common::forest_pattern(&parent);
    let lu = SparseLu::new(50, &col_ptr, &row_idx).unwrap();
    let mut ws = lu.workspace();
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        for flavor in [Flavor::Columns, Flavor::Rows] {
            for index in [0, 17, lu.nnz() - 1] {
                let mut values = common::random_values(&mut rng, &col_ptr, &row_idx, flavor);
                let mut rhs = common::random_vec(&mut rng, 50);
                lu.factor_and_solve(&mut ws, &values, &mut rhs).unwrap();
                values[index] = bad;
                let before = rhs.clone();
                match lu.factor_and_solve(&mut ws, &values, &mut rhs) {
                    Err(SparseLuError::NonFiniteValue { index: i, value }) => {
                        assert_eq!(i, index);
                        assert!(value.is_nan() == bad.is_nan() && (value.is_nan() || value == bad));
                    }
                    other => panic!("{bad} at {index}: {other:?}"),
                }
                assert_eq!(rhs, before, "rhs untouched on error");
                assert_eq!(
                    lu.solve_transpose(&mut ws, &mut rhs),
                    Err(SparseLuError::NotFactorized)
                );
            }
        }
    }
}

/// A NaN in the right-hand side is not an error: it shows up in the solution.
#[test]
fn non_finite_rhs_propagates() {
    let lu = SparseLu::new(3, &[0, 2, 5, 7], &[0, 1, 0, 1, 2, 1, 2]).unwrap();
    let mut ws = lu.workspace();
    let mut rhs = [1.0, f64::NAN, 1.0];
    lu.factor_and_solve(&mut ws, &[4.0, 1.0, 1.0, 4.0, 1.0, 1.0, 4.0], &mut rhs)
        .unwrap();
    assert!(rhs.iter().all(|v| v.is_nan()));
}

#[test]
fn singular_matrices_are_errors() {
    // A column of zeros.
    let lu = SparseLu::new(3, &[0, 2, 5, 7], &[0, 1, 0, 1, 2, 1, 2]).unwrap();
    let mut ws = lu.workspace();
    let mut rhs = [1.0; 3];
    let err = lu.factor_and_solve(&mut ws, &[4.0, 1.0, 0.0, 0.0, 0.0, 1.0, 4.0], &mut rhs);
    assert!(
        matches!(err, Err(SparseLuError::Singular { .. })),
        "{err:?}"
    );
    assert_eq!(
        lu.solve_transpose(&mut ws, &mut rhs),
        Err(SparseLuError::NotFactorized)
    );
    // Rank one 2 x 2 block.
    let lu = SparseLu::new(2, &[0, 2, 4], &[0, 1, 0, 1]).unwrap();
    let mut ws = lu.workspace();
    let err = lu.factor_and_solve(&mut ws, &[1.0, 2.0, 2.0, 4.0], &mut [1.0, 1.0]);
    assert!(
        matches!(err, Err(SparseLuError::Singular { .. })),
        "{err:?}"
    );
    // And the workspace recovers with good values.
    let mut x = [1.0, 1.0];
    lu.factor_and_solve(&mut ws, &[2.0, 1.0, 1.0, 2.0], &mut x)
        .unwrap();
    assert!((x[0] - 1.0 / 3.0).abs() < 1e-15 && (x[1] - 1.0 / 3.0).abs() < 1e-15);
}

/// The symbolic part can be shared between threads, each with its own
/// workspace.
#[test]
fn thread_safety_markers() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<SparseLu>();
    send_sync::<huxley::solver::sparse_lu::SparseLuWorkspace>();
    send_sync::<SparseLuError>();
}
