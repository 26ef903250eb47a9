//! Losses over recordings, and their gradients with respect to the recordings.

use crate::error::{Error, Result};
use crate::scalar::{Dual64, Scalar};
use nalgebra::DMatrix;

/// A loss over the recordings of [`crate::integrate`] (shape `(n_recordings, n_steps + 1)`,
/// column 0 is t = 0), written once, generic over the scalar type.
///
/// Its gradient with respect to the recordings comes from [`Loss::gradient`] when the loss
/// provides one, and otherwise from dual numbers: one evaluation of [`Loss::value`] per recorded
/// value. That fallback costs `O(len²)` for a loss that reads every value — negligible for a few
/// recordings (2 × 801 values: about a millisecond), but for hundreds of recorded compartments
/// give the gradient by hand, as [`MeanSquaredError`] does.
pub trait Loss: Sync {
    /// The loss of `recordings`.
    fn value<T: Scalar>(&self, recordings: &DMatrix<T>) -> T;

    /// `d loss / d recordings` (same shape as the recordings), if the loss can give it
    /// directly; `None` (the default) computes it with dual numbers through [`Loss::value`].
    fn gradient(&self, _recordings: &DMatrix<f64>) -> Option<DMatrix<f64>> {
        None
    }

    /// Checks the loss against the shape of the recordings before it is evaluated (e.g. that
    /// a target has the same shape). The default accepts every shape.
    fn validate(&self, _shape: (usize, usize)) -> Result<()> {
        Ok(())
    }
}

/// The mean squared difference between the recordings and a target of the same shape,
/// `Σ (r − y)² / len` (mV² for voltages), with its gradient `2 (r − y) / len` written out, so it
/// costs `O(len)` however many values are recorded.
///
/// ```
/// use huxley::{Loss, MeanSquaredError};
/// use nalgebra::DMatrix;
/// let target = DMatrix::from_row_slice(1, 3, &[-65.0, -60.0, -55.0]);
/// let loss = MeanSquaredError::new(target);
/// let rec = DMatrix::from_row_slice(1, 3, &[-64.0, -60.0, -57.0]);
/// assert_eq!(loss.value(&rec), (1.0 + 0.0 + 4.0) / 3.0);
/// let g = loss.gradient(&rec).unwrap();
/// assert_eq!(g[(0, 2)], 2.0 * -2.0 / 3.0);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct MeanSquaredError {
    target: DMatrix<f64>,
}

impl MeanSquaredError {
    /// The loss towards `target` (shape of the recordings: one row per recording, one column
    /// per time point).
    pub fn new(target: DMatrix<f64>) -> Self {
        MeanSquaredError { target }
    }

    /// The target.
    pub fn target(&self) -> &DMatrix<f64> {
        &self.target
    }
}

impl Loss for MeanSquaredError {
    fn value<T: Scalar>(&self, rec: &DMatrix<T>) -> T {
        if rec.shape() != self.target.shape() {
            return T::from(f64::NAN); // `validate` reports it before any evaluation
        }
        let sum = rec
            .iter()
            .zip(self.target.iter())
            .fold(T::zero(), |acc, (&r, &y)| {
                let d = r - T::from(y);
                acc + d * d
            });
        sum / T::from(rec.len() as f64)
    }

    fn gradient(&self, rec: &DMatrix<f64>) -> Option<DMatrix<f64>> {
        let scale = 2.0 / rec.len() as f64;
        Some(rec.zip_map(&self.target, |r, y| scale * (r - y)))
    }

    fn validate(&self, shape: (usize, usize)) -> Result<()> {
        if shape != self.target.shape() {
            return Err(Error::ShapeMismatch {
                what: "MeanSquaredError target (must have the shape of the recordings)".into(),
                expected: shape,
                got: self.target.shape(),
            });
        }
        Ok(())
    }
}

/// The loss and its gradient with respect to the recordings: [`Loss::gradient`] if given,
/// otherwise by dual numbers (one evaluation per recorded value, in blocks run in parallel
/// where `par` allows).
pub(crate) fn loss_and_grad<L: Loss>(
    loss: &L,
    rec: &DMatrix<f64>,
    par: &crate::Parallelism,
) -> Result<(f64, DMatrix<f64>)> {
    loss.validate(rec.shape())?;
    let value = loss.value(rec);
    if let Some(g) = loss.gradient(rec) {
        if g.shape() != rec.shape() {
            return Err(Error::ShapeMismatch {
                what: "Loss::gradient (must have the shape of the recordings)".into(),
                expected: rec.shape(),
                got: g.shape(),
            });
        }
        return Ok((value, g));
    }
    let len = rec.len();
    let block = 64;
    let n_blocks = len.div_ceil(block);
    let results: Vec<std::sync::Mutex<Vec<f64>>> =
        (0..n_blocks).map(|_| Default::default()).collect();
    par.for_each(n_blocks, |b| {
        let mut dual = rec.map(Dual64::from);
        let mut out = Vec::with_capacity(block);
        for j in b * block..((b + 1) * block).min(len) {
            dual[j].eps = 1.0;
            out.push(loss.value(&dual).eps);
            dual[j].eps = 0.0;
        }
        *results[b].lock().unwrap_or_else(|e| e.into_inner()) = out;
    });
    let g = results
        .into_iter()
        .flat_map(|r| r.into_inner().unwrap_or_else(|e| e.into_inner()));
    Ok((value, DMatrix::from_iterator(rec.nrows(), rec.ncols(), g)))
}

/// A typed error if the loss or its gradient is not finite.
pub(crate) fn check_finite_loss(value: f64, g: &DMatrix<f64>) -> Result<()> {
    if !value.is_finite() {
        return Err(Error::NonFiniteGradient {
            what: "loss".into(),
            value,
        });
    }
    if let Some(x) = g.iter().find(|x| !x.is_finite()) {
        return Err(Error::NonFiniteGradient {
            what: "gradient of the loss with respect to the recordings".into(),
            value: *x,
        });
    }
    Ok(())
}
