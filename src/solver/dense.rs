//! The implicit system as a dense matrix, solved by nalgebra's LU: the oracle for the tree
//! solvers (and usable with any scalar type).

use crate::compile::Compiled;
use crate::scalar::Scalar;
use crate::state::AllParams;
use nalgebra::{DMatrix, DVector};

/// The backward-Euler matrix and right-hand side with step `h` (see [`super::hines::solve`]).
pub fn assemble<T: Scalar>(
    c: &Compiled,
    p: &AllParams<T>,
    lin: &[T],
    cst: &[T],
    v: &[T],
    h: T,
) -> (DMatrix<T>, DVector<T>) {
    let n = c.n_nodes();
    let mut a = DMatrix::<T>::zeros(n, n);
    let mut b = DVector::<T>::zeros(n);
    for i in 0..n {
        if c.graph.is_comp[i] {
            a[(i, i)] = h * lin[i] + T::one();
            b[i] = v[i] + h * cst[i];
        }
    }
    for (e, &g) in c.graph.edges.iter().zip(&p.axial) {
        a[(e.sink, e.sink)] += h * g;
        a[(e.sink, e.source)] -= h * g;
    }
    (a, b)
}

/// Solves the backward-Euler system densely (LU with partial pivoting). Returns `None` if the
/// matrix is singular.
pub fn solve<T: Scalar>(
    c: &Compiled,
    p: &AllParams<T>,
    lin: &[T],
    cst: &[T],
    v: &[T],
    h: T,
) -> Option<DVector<T>> {
    let (a, b) = assemble(c, p, lin, cst, v, h);
    a.lu().solve(&b)
}
