//! The implicit system handed to faer's sparse LU: the pattern (CSC) and symbolic factorisation
//! are computed once per compiled model; each step only refactors numerically.

use crate::compile::Compiled;
use crate::error::{Error, Result};
use crate::scalar::{Dual64, Scalar};
use crate::state::AllParams;
use std::any::Any;

pub use super::faer_lu::{SparseLu, SparseLuError, SparseLuWorkspace};

/// The CSC pattern of the system and its symbolic LU.
pub struct Plan {
    lu: SparseLu,
    /// Slot of each node's diagonal entry.
    diag_slot: Vec<usize>,
    /// Slot of each edge's off-diagonal entry (row sink, column source).
    edge_slot: Vec<usize>,
    nnz: usize,
}

impl Plan {
    /// Pattern: column `j` holds the diagonal and the rows of every edge whose source is `j`.
    pub fn new(c: &Compiled) -> Result<Plan> {
        let n = c.n_nodes();
        // (row, diag node or edge index)
        let mut cols: Vec<Vec<(usize, Option<usize>)>> = (0..n).map(|j| vec![(j, None)]).collect();
        for (k, e) in c.graph.edges.iter().enumerate() {
            cols[e.source].push((e.sink, Some(k)));
        }
        let mut col_ptr = vec![0usize];
        let mut row_idx = Vec::new();
        let mut diag_slot = vec![0; n];
        let mut edge_slot = vec![0; c.graph.edges.len()];
        for (j, col) in cols.iter_mut().enumerate() {
            col.sort_by_key(|x| x.0);
            for &(r, en) in col.iter() {
                match en {
                    None => diag_slot[j] = row_idx.len(),
                    Some(k) => edge_slot[k] = row_idx.len(),
                }
                row_idx.push(r);
            }
            col_ptr.push(row_idx.len());
        }
        let nnz = row_idx.len();
        let lu = SparseLu::new(n, &col_ptr, &row_idx).map_err(|e| Error::Solver(e.to_string()))?;
        Ok(Plan {
            lu,
            diag_slot,
            edge_slot,
            nnz,
        })
    }

    /// Fills `values` with one part (real or derivative) of the matrix.
    fn fill<T: Scalar>(
        &self,
        c: &Compiled,
        p: &AllParams<T>,
        lin: &[T],
        h: T,
        part: impl Fn(T) -> f64,
        values: &mut [f64],
    ) {
        for i in 0..c.n_nodes() {
            values[self.diag_slot[i]] = if c.graph.is_comp[i] {
                part(h * lin[i] + T::one())
            } else {
                0.0
            };
        }
        // Branchpoint rows (`h Σw v_bp − h Σ w_j v_j = 0`, with weights ~1e-4 of the compartment
        // rows) are divided by `h Σw`: the same equations, well scaled for pivoting.
        for (k, (e, &g)) in c.graph.edges.iter().zip(&p.axial).enumerate() {
            if c.graph.is_comp[e.sink] {
                let hg = part(h * g);
                values[self.diag_slot[e.sink]] += hg;
                values[self.edge_slot[k]] = -hg;
            } else {
                let wsum = p.h_gsum[c.hines.pos[e.sink] as usize];
                values[self.diag_slot[e.sink]] = part(T::one());
                values[self.edge_slot[k]] = -part(g / wsum);
            }
        }
    }
}

/// Per-state scratch of the sparse solver.
pub struct LuWork {
    ws: SparseLuWorkspace,
    values: Vec<f64>,
    dvalues: Vec<f64>,
    x: Vec<f64>,
    dx: Vec<f64>,
}

impl std::fmt::Debug for LuWork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LuWork")
    }
}

/// The sparse solver's scratch inside a state container; a clone starts empty (the scratch is
/// rebuilt on the first sparse solve).
#[derive(Debug, Default)]
pub(crate) struct LuCache(pub(crate) Option<Box<LuWork>>);

impl Clone for LuCache {
    fn clone(&self) -> Self {
        LuCache(None)
    }
}

impl LuWork {
    /// Scratch sized for `plan`.
    pub fn new(plan: &Plan) -> LuWork {
        let n = plan.diag_slot.len();
        LuWork {
            ws: plan.lu.workspace(),
            values: vec![0.0; plan.nnz],
            dvalues: vec![0.0; plan.nnz],
            x: vec![0.0; n],
            dx: vec![0.0; n],
        }
    }
}

fn eps<T: Scalar>(x: T) -> f64 {
    (&x as &dyn Any)
        .downcast_ref::<Dual64>()
        .map_or(0.0, |d| d.eps)
}

fn is_f64<T: Scalar>() -> bool {
    std::any::TypeId::of::<T>() == std::any::TypeId::of::<f64>()
}

/// Solves the backward-Euler system with step `h` by sparse LU and writes the voltages to `v_out`.
///
/// `f64` is solved directly. Dual numbers are solved as two real systems with the same factored
/// matrix (`A x = b`, then `A ẋ = ḃ − Ȧ x`), which is the exact derivative of the solve.
#[allow(clippy::too_many_arguments)]
pub fn solve<T: Scalar>(
    plan: &Plan,
    work: &mut LuWork,
    c: &Compiled,
    p: &AllParams<T>,
    lin: &[T],
    cst: &[T],
    v: &[T],
    h: T,
    v_out: &mut [T],
) -> Result<()> {
    let n = c.n_nodes();
    let err = |e: SparseLuError| Error::Solver(e.to_string());
    plan.fill(c, p, lin, h, |x| x.re(), &mut work.values);
    for i in 0..n {
        work.x[i] = if c.graph.is_comp[i] {
            (v[i] + h * cst[i]).re()
        } else {
            0.0
        };
    }
    plan.lu
        .factor_and_solve(&mut work.ws, &work.values, &mut work.x)
        .map_err(err)?;
    if is_f64::<T>() {
        for i in 0..n {
            v_out[i] = T::from(work.x[i]);
        }
        return Ok(());
    }
    plan.fill(c, p, lin, h, eps, &mut work.dvalues);
    for i in 0..n {
        work.dx[i] = if c.graph.is_comp[i] {
            eps(v[i] + h * cst[i])
        } else {
            0.0
        };
    }
    // ḃ − Ȧ x, column by column of the pattern.
    for i in 0..n {
        work.dx[i] -= work.dvalues[plan.diag_slot[i]] * work.x[i];
    }
    for (k, e) in c.graph.edges.iter().enumerate() {
        work.dx[e.sink] -= work.dvalues[plan.edge_slot[k]] * work.x[e.source];
    }
    plan.lu
        .solve_factored(&mut work.ws, &mut work.dx)
        .map_err(err)?;
    for i in 0..n {
        let d = Dual64::new(work.x[i], work.dx[i]);
        v_out[i] = *(&d as &dyn Any)
            .downcast_ref::<T>()
            .expect("the only non-f64 scalar is Dual64");
    }
    Ok(())
}
