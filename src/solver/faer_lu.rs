//! TEMPORARY dense stand-in with the API of the faer wrapper (replaced by the faer version).

/// Error of the sparse solver.
#[derive(Debug, thiserror::Error)]
pub enum SparseLuError {
    /// Singular.
    #[error("singular matrix")]
    Singular,
}

/// Sparse LU.
pub struct SparseLu {
    n: usize,
    col_ptr: Vec<usize>,
    row_idx: Vec<usize>,
}

/// Workspace.
#[derive(Clone)]
pub struct SparseLuWorkspace {
    lu: Option<nalgebra::LU<f64, nalgebra::Dyn, nalgebra::Dyn>>,
}

impl SparseLu {
    /// New.
    pub fn new(n: usize, col_ptr: &[usize], row_idx: &[usize]) -> Result<Self, SparseLuError> {
        Ok(SparseLu {
            n,
            col_ptr: col_ptr.to_vec(),
            row_idx: row_idx.to_vec(),
        })
    }
    /// n.
    pub fn n(&self) -> usize {
        self.n
    }
    /// ws.
    pub fn workspace(&self) -> SparseLuWorkspace {
        SparseLuWorkspace { lu: None }
    }
    /// Factor and solve.
    pub fn factor_and_solve(
        &self,
        ws: &mut SparseLuWorkspace,
        values: &[f64],
        rhs: &mut [f64],
    ) -> Result<(), SparseLuError> {
        let mut a = nalgebra::DMatrix::<f64>::zeros(self.n, self.n);
        for j in 0..self.n {
            for k in self.col_ptr[j]..self.col_ptr[j + 1] {
                a[(self.row_idx[k], j)] = values[k];
            }
        }
        ws.lu = Some(a.lu());
        self.solve_factored(ws, rhs)
    }
    /// Solve with the last factorisation.
    pub fn solve_factored(
        &self,
        ws: &mut SparseLuWorkspace,
        rhs: &mut [f64],
    ) -> Result<(), SparseLuError> {
        let b = nalgebra::DVector::from_column_slice(rhs);
        let x = ws
            .lu
            .as_ref()
            .unwrap()
            .solve(&b)
            .ok_or(SparseLuError::Singular)?;
        rhs.copy_from_slice(x.as_slice());
        Ok(())
    }
}
