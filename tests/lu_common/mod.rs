//! Shared helpers for the tests and the benchmark: a small deterministic RNG,
//! random tree/forest patterns in CSC form and several families of values.
#![allow(dead_code)]

/// SplitMix64: tiny, deterministic, good enough for test data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[lo, hi)`.
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.f64()
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i + 1));
        }
    }
}

/// Random forest on `n` vertices with (about) `roots` trees: vertex `i` is a
/// root with probability `roots / n` (vertex 0 always is), otherwise its
/// parent is uniform among `0..i`. With `shuffle` the labels are permuted so
/// that parents no longer precede their children.
pub fn random_forest(rng: &mut Rng, n: usize, roots: usize, shuffle: bool) -> Vec<Option<usize>> {
    let mut parent: Vec<Option<usize>> = (0..n)
        .map(|i| {
            if i == 0 || rng.below(n) < roots.saturating_sub(1) {
                None
            } else {
                Some(rng.below(i))
            }
        })
        .collect();
    if shuffle {
        let mut label: Vec<usize> = (0..n).collect();
        rng.shuffle(&mut label);
        let mut relabelled = vec![None; n];
        for (i, p) in parent.iter().enumerate() {
            relabelled[label[i]] = p.map(|p| label[p]);
        }
        parent = relabelled;
    }
    parent
}

/// Random binary tree: vertex `i > 0` hangs below a uniformly chosen earlier
/// vertex that still has fewer than two children.
pub fn random_binary_tree(rng: &mut Rng, n: usize) -> Vec<Option<usize>> {
    let mut parent = vec![None; n];
    // Each vertex appears once per free child slot.
    let mut slots: Vec<usize> = Vec::with_capacity(n + 1);
    if n > 0 {
        slots.extend([0, 0]);
    }
    for (i, p) in parent.iter_mut().enumerate().skip(1) {
        let s = rng.below(slots.len());
        let v = slots.swap_remove(s);
        *p = Some(v);
        slots.extend([i, i]);
    }
    parent
}

/// CSC pattern (`col_ptr`, `row_idx`) of the diagonal plus both entries of
/// every tree edge.
pub fn forest_pattern(parent: &[Option<usize>]) -> (Vec<usize>, Vec<usize>) {
    let n = parent.len();
    let mut cols: Vec<Vec<usize>> = (0..n).map(|j| vec![j]).collect();
    for (c, p) in parent.iter().enumerate() {
        if let Some(p) = *p {
            cols[c].push(p);
            cols[p].push(c);
        }
    }
    csc_from_columns(cols)
}

/// CSC arrays from per-column row lists (sorted here).
pub fn csc_from_columns(mut cols: Vec<Vec<usize>>) -> (Vec<usize>, Vec<usize>) {
    let mut col_ptr = vec![0];
    let mut row_idx = Vec::new();
    for col in &mut cols {
        col.sort_unstable();
        row_idx.extend_from_slice(col);
        col_ptr.push(row_idx.len());
    }
    (col_ptr, row_idx)
}

/// How the values relate to diagonal dominance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// Strictly dominant by columns (rows in general not).
    Columns,
    /// Strictly dominant by rows only, like a Hines matrix whose rows are
    /// divided by compartment areas spanning four decades.
    Rows,
    /// Strictly dominant by rows and by columns.
    Both,
    /// Neither: a diagonal about as large as one off-diagonal, so partial
    /// pivoting leaves the diagonal.
    Neither,
}

pub const FLAVORS: [Flavor; 4] = [Flavor::Columns, Flavor::Rows, Flavor::Both, Flavor::Neither];

/// Random values for a square CSC pattern: positive off-diagonals and a
/// diagonal chosen according to `flavor`.
pub fn random_values(
    rng: &mut Rng,
    col_ptr: &[usize],
    row_idx: &[usize],
    flavor: Flavor,
) -> Vec<f64> {
    let n = col_ptr.len() - 1;
    let scale: Vec<f64> = (0..n).map(|_| 10f64.powf(rng.range(-2.0, 2.0))).collect();
    let mut values = vec![0.0; row_idx.len()];
    let mut row_sum = vec![0.0; n];
    let mut col_sum = vec![0.0; n];
    for j in 0..n {
        for k in col_ptr[j]..col_ptr[j + 1] {
            let i = row_idx[k];
            if i != j {
                let mut v = rng.range(0.1, 1.0);
                if flavor == Flavor::Rows {
                    v *= scale[i];
                }
                values[k] = v;
                row_sum[i] += v;
                col_sum[j] += v;
            }
        }
    }
    for j in 0..n {
        let k = col_ptr[j]
            + row_idx[col_ptr[j]..col_ptr[j + 1]]
                .binary_search(&j)
                .unwrap();
        values[k] = match flavor {
            Flavor::Columns => col_sum[j] + rng.range(0.05, 1.0),
            Flavor::Rows => row_sum[j] + scale[j] * rng.range(0.05, 1.0),
            Flavor::Both => row_sum[j].max(col_sum[j]) + rng.range(0.05, 1.0),
            Flavor::Neither => {
                let max_off = row_idx[col_ptr[j]..col_ptr[j + 1]]
                    .iter()
                    .zip(&values[col_ptr[j]..col_ptr[j + 1]])
                    .filter(|&(&i, _)| i != j)
                    .map(|(_, v)| *v)
                    .fold(0.0, f64::max);
                (0.5 + rng.f64()) * max_off + 0.1
            }
        };
    }
    values
}

pub fn random_vec(rng: &mut Rng, n: usize) -> Vec<f64> {
    (0..n).map(|_| rng.range(-1.0, 1.0)).collect()
}

/// Dense column-major copy (`a[i + j n]`).
pub fn to_dense(col_ptr: &[usize], row_idx: &[usize], values: &[f64]) -> Vec<f64> {
    let n = col_ptr.len() - 1;
    let mut a = vec![0.0; n * n];
    for j in 0..n {
        for k in col_ptr[j]..col_ptr[j + 1] {
            a[row_idx[k] + j * n] = values[k];
        }
    }
    a
}

/// Whether `values` are strictly diagonally dominant by columns.
pub fn column_dominant(col_ptr: &[usize], row_idx: &[usize], values: &[f64]) -> bool {
    (0..col_ptr.len() - 1).all(|j| {
        let (mut diag, mut off) = (0.0, 0.0);
        for k in col_ptr[j]..col_ptr[j + 1] {
            if row_idx[k] == j {
                diag = values[k].abs();
            } else {
                off += values[k].abs();
            }
        }
        diag > off
    })
}

/// Whether `values` are strictly diagonally dominant by rows.
pub fn row_dominant(col_ptr: &[usize], row_idx: &[usize], values: &[f64]) -> bool {
    let n = col_ptr.len() - 1;
    let (mut diag, mut off) = (vec![0.0; n], vec![0.0; n]);
    for j in 0..n {
        for k in col_ptr[j]..col_ptr[j + 1] {
            let i = row_idx[k];
            if i == j {
                diag[i] = values[k].abs();
            } else {
                off[i] += values[k].abs();
            }
        }
    }
    (0..n).all(|i| diag[i] > off[i])
}
