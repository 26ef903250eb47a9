//! Allocation-free sparse LU for matrices whose sparsity pattern is fixed.
//!
//! Built for the Hines-type systems of a compartmental neuron simulation: a
//! square matrix whose pattern is that of a tree or forest (the diagonal plus
//! one pair of off-diagonal entries per tree edge), whose values change every
//! time step while the pattern never does. The work is split accordingly:
//!
//! * [`SparseLu::new`] validates the CSC pattern and computes a fill-reducing
//!   elimination order once. For a forest pattern this puts children before
//!   parents (following the vertex numbering where it can), which produces
//!   **no fill at all**; any other pattern falls back to faer's approximate
//!   minimum degree (AMD) ordering of `A + Aᵀ`.
//! * [`SparseLu::workspace`] allocates everything the numeric phase needs and
//!   runs warm-up factorisations so that faer's factor storage already has
//!   its final size.
//! * [`SparseLu::factor_and_solve`] and [`SparseLu::solve_transpose`] then
//!   run without touching the heap.
//!
//! The numeric work is done by faer's simplicial (left-looking,
//! Gilbert–Peierls) LU with partial pivoting. Partial pivoting picks the
//! largest entry of each column, so it keeps the diagonal pivots (and hence
//! the fixed, fill-free factor structure) exactly when the matrix is
//! *column* diagonally dominant. Neuron matrices are usually only *row*
//! diagonally dominant (each row is scaled by its compartment's area or
//! capacitance), so every call checks both and, when only the rows are
//! dominant, factors `Aᵀ` instead and answers `A x = b` with a transposed
//! solve. See [`SparseLu::factor_and_solve`] for the exact guarantees.

use faer::dyn_stack::{MemBuffer, MemStack, StackReq};
use faer::perm::{Perm, PermRef};
use faer::sparse::linalg::LuError;
use faer::sparse::linalg::amd;
use faer::sparse::linalg::lu::simplicial::{self, SimplicialLu};
use faer::sparse::{FaerError, SparseColMatRef, SymbolicSparseColMat};
use faer::{Conj, MatMut, Par};

/// Index type handed to faer.
type Ix = usize;

/// Errors reported by [`SparseLu`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SparseLuError {
    /// `col_ptr.len()` is not `n + 1`.
    #[error("col_ptr has length {got}, expected n + 1 = {expected}")]
    ColPtrLength {
        /// `n + 1`.
        expected: usize,
        /// Actual length of `col_ptr`.
        got: usize,
    },
    /// `col_ptr` does not start at 0, decreases somewhere, or does not end at
    /// `row_idx.len()`.
    #[error(
        "col_ptr must start at 0, never decrease and end at row_idx.len() = {nnz} \
         (violated at col_ptr[{index}])"
    )]
    InvalidColPtr {
        /// Position in `col_ptr` where the violation was found.
        index: usize,
        /// `row_idx.len()`.
        nnz: usize,
    },
    /// A row index is `>= n`.
    #[error("row index {row} in column {col} is out of range for n = {n}")]
    RowIndexOutOfRange {
        /// Column containing the bad entry.
        col: usize,
        /// The offending row index.
        row: usize,
        /// Matrix dimension.
        n: usize,
    },
    /// The row indices of a column are not strictly increasing.
    #[error("row indices of column {col} are unsorted or duplicated (at row {row})")]
    UnsortedOrDuplicateRow {
        /// Column containing the bad entry.
        col: usize,
        /// First row index that is not larger than its predecessor.
        row: usize,
    },
    /// A column has no entry on the diagonal.
    #[error("column {col} has no diagonal entry")]
    MissingDiagonal {
        /// Column lacking its diagonal entry.
        col: usize,
    },
    /// `values.len()` is not the number of stored entries.
    #[error("values has length {got}, expected nnz = {expected}")]
    ValuesLength {
        /// `nnz`.
        expected: usize,
        /// Actual length of `values`.
        got: usize,
    },
    /// `rhs.len()` is not `n`.
    #[error("rhs has length {got}, expected n = {expected}")]
    RhsLength {
        /// `n`.
        expected: usize,
        /// Actual length of `rhs`.
        got: usize,
    },
    /// The workspace was created by a solver of different size.
    #[error(
        "workspace was made for n = {ws_n}, nnz = {ws_nnz}; this solver has n = {n}, nnz = {nnz}"
    )]
    WorkspaceMismatch {
        /// Dimension of this solver.
        n: usize,
        /// Stored entries of this solver.
        nnz: usize,
        /// Dimension the workspace was made for.
        ws_n: usize,
        /// Stored entries the workspace was made for.
        ws_nnz: usize,
    },
    /// An entry of `values` is NaN or infinite. Nothing was factorised.
    #[error("values[{index}] = {value} is not finite")]
    NonFiniteValue {
        /// Position in `values` (CSC order).
        index: usize,
        /// The offending value.
        value: f64,
    },
    /// A pivot was exactly zero or not finite: the matrix is (numerically)
    /// singular. The right-hand side is left in an unspecified state.
    #[error("matrix is singular: zero or non-finite pivot at elimination step {step}")]
    Singular {
        /// Elimination step (0-based) at which the bad pivot appeared.
        step: usize,
    },
    /// [`SparseLu::solve_transpose`] was called before a successful
    /// [`SparseLu::factor_and_solve`] (or after a failed one).
    #[error("no valid factorisation in the workspace; call factor_and_solve first")]
    NotFactorized,
    /// faer reported a failure (out of memory or index overflow).
    #[error("faer: {0:?}")]
    Faer(FaerError),
}

impl From<FaerError> for SparseLuError {
    fn from(e: FaerError) -> Self {
        Self::Faer(e)
    }
}

impl From<LuError> for SparseLuError {
    fn from(e: LuError) -> Self {
        match e {
            LuError::SymbolicSingular { index } => Self::Singular { step: index },
            LuError::Generic(e) => Self::Faer(e),
        }
    }
}

/// Which matrix the workspace currently holds the factors of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Factored {
    /// `P A Q = L U`.
    A,
    /// `P Aᵀ Q = L U`.
    At,
}

/// A validated square CSC pattern together with the position of each
/// column's diagonal entry.
#[derive(Debug, Clone)]
struct Pattern {
    sym: SymbolicSparseColMat<Ix>,
    diag_pos: Vec<usize>,
}

/// Symbolic half of the solver: the pattern and the elimination order.
///
/// Create once per pattern with [`SparseLu::new`], then create one
/// [`SparseLuWorkspace`] per thread with [`SparseLu::workspace`].
#[derive(Debug, Clone)]
pub struct SparseLu {
    n: usize,
    /// Pattern of `A`.
    a: Pattern,
    /// Pattern of `Aᵀ`, or `None` when `A` is structurally symmetric (then
    /// the pattern of `Aᵀ` is the pattern of `A`).
    at: Option<Pattern>,
    /// `values_t[k] = values[at_src[k]]` turns CSC values of `A` into CSC
    /// values of `Aᵀ`.
    at_src: Vec<usize>,
    /// Fill-reducing column (= elimination) order.
    col_perm: Perm<Ix>,
    /// Whether `col_perm` came from [`forest_order`] (no fill) rather than
    /// AMD.
    forest: bool,
    /// Scratch needed by the numeric factorisation and the solves.
    scratch: StackReq,
}

/// Numeric half of the solver: factor storage and scratch, reused across
/// calls. Create with [`SparseLu::workspace`].
pub struct SparseLuWorkspace {
    n: usize,
    nnz: usize,
    lu: SimplicialLu<Ix, f64>,
    row_perm: Vec<Ix>,
    row_perm_inv: Vec<Ix>,
    /// CSC values of `Aᵀ` when the transpose is factorised.
    values_t: Vec<f64>,
    mem: MemBuffer,
    factored: Option<Factored>,
}

impl std::fmt::Debug for SparseLuWorkspace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SparseLuWorkspace")
            .field("n", &self.n)
            .field("nnz", &self.nnz)
            .field("factored", &self.factored)
            .finish_non_exhaustive()
    }
}

impl SparseLuWorkspace {
    /// Number of entries stored in `L` plus `U` by the last factorisation
    /// (0 before the first). With diagonal pivots on a forest pattern this is
    /// exactly `nnz + n`, i.e. no fill.
    pub fn factor_nnz(&self) -> usize {
        let l = self.lu.l_factor_unsorted().compute_nnz();
        let u = self.lu.u_factor_unsorted().compute_nnz();
        l + u
    }

    /// Whether the last successful factorisation was of `Aᵀ` rather than `A`
    /// (`None` if there is no valid factorisation). See
    /// [`SparseLu::factor_and_solve`].
    pub fn factored_transpose(&self) -> Option<bool> {
        self.factored.map(|f| f == Factored::At)
    }
}

impl SparseLu {
    /// Symbolic analysis of the CSC pattern of an `n × n` matrix.
    ///
    /// Requirements: `col_ptr.len() == n + 1`, `col_ptr[0] == 0`, `col_ptr`
    /// non-decreasing with `col_ptr[n] == row_idx.len()`, row indices `< n`,
    /// strictly increasing within each column, and every diagonal entry
    /// present. Violations are reported as the corresponding
    /// [`SparseLuError`] variant.
    ///
    /// The pattern need not be symmetric or a forest, but that is the case
    /// this type is tuned for: a forest pattern (of `A + Aᵀ`) is eliminated
    /// children before parents, which causes no fill (and for the usual
    /// numbering with parents below children, simply in reverse order);
    /// anything else is ordered by faer's AMD.
    pub fn new(n: usize, col_ptr: &[usize], row_idx: &[usize]) -> Result<Self, SparseLuError> {
        validate_pattern(n, col_ptr, row_idx)?;
        let a = Pattern::new(n, col_ptr.to_vec(), row_idx.to_vec());
        let nnz = row_idx.len();

        // Pattern of Aᵀ (a counting-sort transpose, which keeps rows sorted)
        // and the value gather map.
        let mut t_ptr = vec![0usize; n + 1];
        for &i in row_idx {
            t_ptr[i + 1] += 1;
        }
        for i in 0..n {
            t_ptr[i + 1] += t_ptr[i];
        }
        let mut t_idx = vec![0usize; nnz];
        let mut at_src = vec![0usize; nnz];
        let mut next = t_ptr[..n].to_vec();
        for j in 0..n {
            let range = col_ptr[j]..col_ptr[j + 1];
            for (k, &i) in range.clone().zip(&row_idx[range]) {
                t_idx[next[i]] = j;
                at_src[next[i]] = k;
                next[i] += 1;
            }
        }
        let symmetric = t_ptr == col_ptr && t_idx == row_idx;
        let at = (!symmetric).then(|| Pattern::new(n, t_ptr, t_idx));

        let (fwd, forest) = match forest_order(n, &a, at.as_ref()) {
            Some(order) => (order, true),
            None => (amd_order(n, &a)?, false),
        };
        let mut inv = vec![0; n];
        for (k, &j) in fwd.iter().enumerate() {
            inv[j] = k;
        }
        let col_perm = Perm::new_checked(fwd.into_boxed_slice(), inv.into_boxed_slice(), n);

        let scratch = StackReq::any_of(&[
            simplicial::factorize_simplicial_numeric_lu_scratch::<Ix, f64>(n, n),
            simplicial::solve_in_place_scratch::<Ix, f64>(n, 1, Par::Seq),
            simplicial::solve_transpose_in_place_scratch::<Ix, f64>(n, 1, Par::Seq),
        ]);

        Ok(Self {
            n,
            a,
            at,
            at_src,
            col_perm,
            forest,
            scratch,
        })
    }

    /// Dimension `n` of the matrix.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Number of stored entries of the pattern (the length `values` must
    /// have).
    pub fn nnz(&self) -> usize {
        self.at_src.len()
    }

    /// Whether the pattern of `A + Aᵀ` is a forest, in which case the
    /// elimination order causes no fill.
    pub fn is_forest(&self) -> bool {
        self.forest
    }

    /// Allocates everything the numeric phase needs.
    ///
    /// Besides the scratch buffer this runs a warm-up factorisation of a
    /// synthetic, strictly diagonally dominant matrix with this pattern (of
    /// `A` and, if the pattern is not symmetric, of `Aᵀ`), so that faer's
    /// factor storage reaches its final size here rather than in the first
    /// [`factor_and_solve`](Self::factor_and_solve). The returned workspace
    /// holds no valid factorisation.
    ///
    /// # Panics
    /// Panics if memory cannot be allocated.
    pub fn workspace(&self) -> SparseLuWorkspace {
        let nnz = self.nnz();
        let mut ws = SparseLuWorkspace {
            n: self.n,
            nnz,
            lu: SimplicialLu::new(),
            row_perm: vec![0; self.n],
            row_perm_inv: vec![0; self.n],
            values_t: vec![0.0; nnz],
            mem: MemBuffer::new(self.scratch),
            factored: None,
        };
        let warm_a = dominant_values(&self.a);
        self.factor(&mut ws, Factored::A, Some(&warm_a))
            .expect("warm-up factorisation of a diagonally dominant matrix");
        if let Some(at) = &self.at {
            ws.values_t = dominant_values(at);
            self.factor(&mut ws, Factored::At, None)
                .expect("warm-up factorisation of a diagonally dominant matrix");
        }
        ws.factored = None;
        ws
    }

    /// Numeric factorisation of `values` followed by the solve `A x = b` in
    /// place (`rhs` holds `b` on entry and `x` on return).
    ///
    /// `values` are the entries of `A` in the CSC order of the pattern given
    /// to [`new`](Self::new). The factorisation stays in `ws` for
    /// [`solve_transpose`](Self::solve_transpose).
    ///
    /// # Errors
    /// * [`SparseLuError::ValuesLength`], [`SparseLuError::RhsLength`],
    ///   [`SparseLuError::WorkspaceMismatch`] for wrongly sized arguments.
    /// * [`SparseLuError::NonFiniteValue`] if any value is NaN or ±∞; this is
    ///   checked up front, so NaN/∞ in the matrix never yields a silently
    ///   wrong `x`. (A NaN or ∞ in `rhs` is not checked: it propagates into
    ///   `x`, where the caller can see it.)
    /// * [`SparseLuError::Singular`] if a pivot is exactly zero or not finite.
    ///
    /// After an error `ws` holds no valid factorisation and `rhs` is
    /// unspecified (it is untouched for the argument and non-finite checks).
    ///
    /// # Allocation
    /// None, provided the pivots are the diagonal entries, which is the case
    /// whenever `A` is strictly diagonally dominant by columns or by rows:
    /// each call checks column dominance of `A`; if that fails it checks
    /// column dominance of `Aᵀ` (row dominance of `A`) and, if that holds,
    /// factors `Aᵀ` and solves with its transpose. Only if neither holds can
    /// faer's partial pivoting move pivots off the diagonal; the result is
    /// still correct, but the factors then have some fill, and whenever a
    /// pivot sequence needs more storage than any before, faer grows its
    /// factor storage (a few reallocations early on, in practice).
    pub fn factor_and_solve(
        &self,
        ws: &mut SparseLuWorkspace,
        values: &[f64],
        rhs: &mut [f64],
    ) -> Result<(), SparseLuError> {
        self.check_ws(ws)?;
        ws.factored = None;
        if values.len() != self.nnz() {
            return Err(SparseLuError::ValuesLength {
                expected: self.nnz(),
                got: values.len(),
            });
        }
        self.check_rhs(rhs)?;

        let which = if column_dominant(&self.a, values)? {
            Factored::A
        } else {
            for (t, &src) in ws.values_t.iter_mut().zip(&self.at_src) {
                *t = values[src];
            }
            // Cannot fail: the values were just found to be finite.
            if column_dominant(self.at_pattern(), &ws.values_t)? {
                Factored::At
            } else {
                Factored::A
            }
        };
        self.factor(ws, which, Some(values))?;
        self.solve(ws, rhs, false);
        Ok(())
    }

    /// Solves `Aᵀ x = b` in place with the factorisation left in `ws` by the
    /// last successful [`factor_and_solve`](Self::factor_and_solve). Does not
    /// allocate.
    ///
    /// # Errors
    /// [`SparseLuError::NotFactorized`] if there is no valid factorisation,
    /// [`SparseLuError::RhsLength`] or [`SparseLuError::WorkspaceMismatch`]
    /// for wrongly sized arguments.
    pub fn solve_transpose(
        &self,
        ws: &mut SparseLuWorkspace,
        rhs: &mut [f64],
    ) -> Result<(), SparseLuError> {
        self.check_ws(ws)?;
        self.check_rhs(rhs)?;
        if ws.factored.is_none() {
            return Err(SparseLuError::NotFactorized);
        }
        self.solve(ws, rhs, true);
        Ok(())
    }

    /// Solves `A x = b` in place with the factorisation left in `ws` by the last successful
    /// [`factor_and_solve`](Self::factor_and_solve) (a second right-hand side for the same
    /// matrix). Does not allocate.
    ///
    /// # Errors
    /// As [`solve_transpose`](Self::solve_transpose).
    pub fn solve_factored(
        &self,
        ws: &mut SparseLuWorkspace,
        rhs: &mut [f64],
    ) -> Result<(), SparseLuError> {
        self.check_ws(ws)?;
        self.check_rhs(rhs)?;
        if ws.factored.is_none() {
            return Err(SparseLuError::NotFactorized);
        }
        self.solve(ws, rhs, false);
        Ok(())
    }

    fn at_pattern(&self) -> &Pattern {
        self.at.as_ref().unwrap_or(&self.a)
    }

    fn check_ws(&self, ws: &SparseLuWorkspace) -> Result<(), SparseLuError> {
        if ws.n != self.n || ws.nnz != self.nnz() {
            return Err(SparseLuError::WorkspaceMismatch {
                n: self.n,
                nnz: self.nnz(),
                ws_n: ws.n,
                ws_nnz: ws.nnz,
            });
        }
        Ok(())
    }

    fn check_rhs(&self, rhs: &[f64]) -> Result<(), SparseLuError> {
        if rhs.len() != self.n {
            return Err(SparseLuError::RhsLength {
                expected: self.n,
                got: rhs.len(),
            });
        }
        Ok(())
    }

    /// Factorises `A` (`which == A`, values from `a_values`) or `Aᵀ` (values
    /// from `ws.values_t`) and checks the pivots.
    fn factor(
        &self,
        ws: &mut SparseLuWorkspace,
        which: Factored,
        a_values: Option<&[f64]>,
    ) -> Result<(), SparseLuError> {
        ws.factored = None;
        let (pattern, values) = match which {
            Factored::A => (&self.a, a_values.expect("values of A")),
            Factored::At => (self.at_pattern(), &ws.values_t[..]),
        };
        let mat = SparseColMatRef::new(pattern.sym.as_ref(), values);
        simplicial::factorize_simplicial_numeric_lu(
            &mut ws.row_perm,
            &mut ws.row_perm_inv,
            &mut ws.lu,
            mat,
            self.col_perm.as_ref(),
            MemStack::new(&mut ws.mem),
        )?;
        // faer only reports structurally missing pivots, not numerically
        // zero ones. Its U keeps each pivot as the last entry of its column
        // (which faer's own triangular solve relies on).
        let u = ws.lu.u_factor_unsorted();
        for step in 0..self.n {
            let pivot = u.val_of_col(step).last().copied().unwrap_or(0.0);
            if pivot == 0.0 || !pivot.is_finite() {
                return Err(SparseLuError::Singular { step });
            }
        }
        ws.factored = Some(which);
        Ok(())
    }

    /// Solves `A x = b` (`transpose == false`) or `Aᵀ x = b` in place with the
    /// factorisation in `ws`, which must be valid.
    fn solve(&self, ws: &mut SparseLuWorkspace, rhs: &mut [f64], transpose: bool) {
        let factored = ws.factored.expect("valid factorisation");
        let row_perm = PermRef::new_checked(&ws.row_perm, &ws.row_perm_inv, self.n);
        let col_perm = self.col_perm.as_ref();
        let x = MatMut::from_column_major_slice_mut(rhs, self.n, 1);
        let stack = MemStack::new(&mut ws.mem);
        // Factors of Aᵀ solve A x = b with their transposed solve and vice
        // versa.
        if transpose == (factored == Factored::A) {
            ws.lu.solve_transpose_in_place_with_conj(
                row_perm,
                col_perm,
                Conj::No,
                x,
                Par::Seq,
                stack,
            );
        } else {
            ws.lu
                .solve_in_place_with_conj(row_perm, col_perm, Conj::No, x, Par::Seq, stack);
        }
    }
}

impl Pattern {
    /// Wraps an already validated pattern.
    fn new(n: usize, col_ptr: Vec<usize>, row_idx: Vec<usize>) -> Self {
        let diag_pos = (0..n)
            .map(|j| {
                let col = &row_idx[col_ptr[j]..col_ptr[j + 1]];
                col_ptr[j] + col.binary_search(&j).expect("validated diagonal")
            })
            .collect();
        let sym = SymbolicSparseColMat::new_checked(n, n, col_ptr, None, row_idx);
        Self { sym, diag_pos }
    }

    fn col_ptr(&self) -> &[usize] {
        self.sym.col_ptr()
    }

    fn row_idx(&self) -> &[usize] {
        self.sym.row_idx()
    }
}

/// Checks the pattern requirements of [`SparseLu::new`].
fn validate_pattern(n: usize, col_ptr: &[usize], row_idx: &[usize]) -> Result<(), SparseLuError> {
    if col_ptr.len() != n + 1 {
        return Err(SparseLuError::ColPtrLength {
            expected: n + 1,
            got: col_ptr.len(),
        });
    }
    let nnz = row_idx.len();
    if col_ptr[0] != 0 {
        return Err(SparseLuError::InvalidColPtr { index: 0, nnz });
    }
    if let Some(j) = (0..n).find(|&j| col_ptr[j + 1] < col_ptr[j]) {
        return Err(SparseLuError::InvalidColPtr { index: j + 1, nnz });
    }
    if col_ptr[n] != nnz {
        return Err(SparseLuError::InvalidColPtr { index: n, nnz });
    }
    for col in 0..n {
        let rows = &row_idx[col_ptr[col]..col_ptr[col + 1]];
        let mut has_diag = false;
        for (k, &row) in rows.iter().enumerate() {
            if row >= n {
                return Err(SparseLuError::RowIndexOutOfRange { col, row, n });
            }
            if k > 0 && row <= rows[k - 1] {
                return Err(SparseLuError::UnsortedOrDuplicateRow { col, row });
            }
            has_diag |= row == col;
        }
        if !has_diag {
            return Err(SparseLuError::MissingDiagonal { col });
        }
    }
    Ok(())
}

/// If the graph of `A + Aᵀ` (diagonal ignored) is a forest, returns an
/// elimination order that creates no fill: every vertex comes before its
/// parent, so when it is eliminated its only remaining neighbour is that
/// parent. Returns `None` if the graph has a cycle.
///
/// The order is the reverse of a traversal from each tree's smallest vertex
/// that always continues with the smallest discovered vertex. For the usual
/// Hines numbering (every parent numbered below its children) that traversal
/// is `0, 1, …, n-1`, so the elimination runs through memory in plain
/// reverse order, which is markedly faster for large `n` than a depth-first
/// postorder of a randomly numbered tree.
fn forest_order(n: usize, a: &Pattern, at: Option<&Pattern>) -> Option<Vec<usize>> {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;

    // The neighbours of v are column v of A and, for an unsymmetric pattern,
    // column v of Aᵀ (= row v of A).
    let patterns: Vec<&Pattern> = std::iter::once(a).chain(at).collect();
    const NONE: usize = usize::MAX;
    let mut parent = vec![NONE; n];
    let mut seen = vec![false; n];
    let mut order = Vec::with_capacity(n);
    let mut frontier = BinaryHeap::new();
    for root in 0..n {
        if seen[root] {
            continue;
        }
        seen[root] = true;
        frontier.push(Reverse(root));
        while let Some(Reverse(v)) = frontier.pop() {
            order.push(v);
            for p in &patterns {
                let (ptr, idx) = (p.col_ptr(), p.row_idx());
                for &u in &idx[ptr[v]..ptr[v + 1]] {
                    if u == v || u == parent[v] || parent[u] == v {
                        // Diagonal, tree edge, or the second listing of a
                        // tree edge in an unsymmetric pattern.
                        continue;
                    }
                    if seen[u] {
                        return None; // a second path to u: cycle
                    }
                    seen[u] = true;
                    parent[u] = v;
                    frontier.push(Reverse(u));
                }
            }
        }
    }
    order.reverse();
    Some(order)
}

/// faer's approximate minimum degree ordering of `A + Aᵀ`.
fn amd_order(n: usize, a: &Pattern) -> Result<Vec<usize>, SparseLuError> {
    let mut perm = vec![0; n];
    let mut perm_inv = vec![0; n];
    let mut mem = MemBuffer::try_new(amd::order_scratch::<Ix>(n, a.row_idx().len()))
        .map_err(|_| FaerError::OutOfMemory)?;
    amd::order(
        &mut perm,
        &mut perm_inv,
        a.sym.as_ref(),
        amd::Control::default(),
        MemStack::new(&mut mem),
    )?;
    Ok(perm)
}

/// Values for `pattern` that are strictly diagonally dominant by columns.
fn dominant_values(pattern: &Pattern) -> Vec<f64> {
    let (ptr, idx) = (pattern.col_ptr(), pattern.row_idx());
    let mut values = vec![-1.0; idx.len()];
    for (j, &d) in pattern.diag_pos.iter().enumerate() {
        values[d] = (ptr[j + 1] - ptr[j]) as f64;
    }
    values
}

/// Whether `values` (CSC order of `pattern`) are strictly diagonally
/// dominant by columns: `|a_jj| > Σ_{i≠j} |a_ij|` for every column `j`.
/// Fails on the first non-finite value.
fn column_dominant(pattern: &Pattern, values: &[f64]) -> Result<bool, SparseLuError> {
    let ptr = pattern.col_ptr();
    let mut dominant = true;
    for (j, &d) in pattern.diag_pos.iter().enumerate() {
        let mut off = 0.0;
        let range = ptr[j]..ptr[j + 1];
        for (k, &v) in range.clone().zip(&values[range]) {
            if !v.is_finite() {
                return Err(SparseLuError::NonFiniteValue { index: k, value: v });
            }
            if k != d {
                off += v.abs();
            }
        }
        dominant &= values[d].abs() > off;
    }
    Ok(dominant)
}
