//! Parameter transforms: optimise in an unconstrained space, simulate with parameters inside
//! their bounds (Jaxley's `jaxley.optimize.transforms`, with the same formulas).
//!
//! A [`Transform`] maps an unconstrained value `x` to a constrained one `y = forward(x)`; its
//! [`inverse`](Transform::inverse) maps back. A [`ParamTransform`] applies one transform per
//! trainable key to the list that [`crate::Module::get_parameters`] returns, and
//! [`ParamTransform::chain_gradient`] turns a gradient with respect to the constrained
//! parameters into one with respect to the unconstrained ones.
//!
//! ```
//! use huxley::{Cell, HH, ParamTransform, Transform};
//! # fn main() -> huxley::Result<()> {
//! let mut cell = Cell::default();
//! cell.insert(HH)?;
//! cell.make_trainable("HH_gNa", None)?;                    // 0.12 S/cm²
//! cell.make_trainable("radius", None)?;                    // 1 µm
//! let tf = ParamTransform::new([
//!     ("HH_gNa", Transform::sigmoid(0.05, 0.5)?),
//!     ("radius", Transform::softplus(0.1)?),
//! ])?;
//! let constrained = cell.get_parameters();
//! let unconstrained = tf.inverse(&constrained)?;           // optimise these
//! let back = tf.forward(&unconstrained)?;                  // simulate with these
//! assert!((back[0].values[0] - 0.12).abs() < 1e-15);
//! assert!((back[1].values[0] - 1.0).abs() < 1e-15);
//! # Ok(()) }
//! ```

use crate::error::{Error, Result};
use crate::model::ParamGroup;
use crate::scalar::{Dual64, Scalar};

/// Jaxley's `save_exp`: `exp(min(x, 20))` (derivative 0 above the clip).
fn save_exp<T: Scalar>(x: T) -> T {
    if x.re() > 20.0 { T::from(20.0) } else { x }.exp()
}

/// One bijection from unconstrained values to constrained ones (Jaxley's transform classes).
///
/// Build the bounded variants with the checked constructors ([`Transform::sigmoid`],
/// [`Transform::softplus`], [`Transform::affine`], ...) or check a hand-built value with
/// [`Transform::validate`] ([`ParamTransform::new`] does).
///
/// ```
/// use huxley::Transform;
/// # fn main() -> huxley::Result<()> {
/// let t = Transform::sigmoid(-1.0, 3.0)?;
/// assert_eq!(t.forward(0.0_f64), 1.0);                     // the middle of [-1, 3]
/// assert_eq!(t.inverse(1.0_f64)?, 0.0);
/// assert!((t.derivative(0.0) - 1.0).abs() < 1e-15);        // width / 4
/// assert!(t.inverse(3.5_f64).is_err());                    // outside (-1, 3)
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum Transform {
    /// `y = x` (Jaxley's `IdentityTransform`).
    Identity,
    /// `y = lower + (upper - lower) / (1 + save_exp(-x))`, onto `(lower, upper)` (Jaxley's
    /// `SigmoidTransform`; `save_exp(z) = exp(min(z, 20))`).
    Sigmoid {
        /// Lower bound.
        lower: f64,
        /// Upper bound (greater than `lower`).
        upper: f64,
    },
    /// The sigmoid of `x · π / √3`: unit variance in the unconstrained space (Jaxley's
    /// `LogisticTransform`).
    Logistic {
        /// Lower bound.
        lower: f64,
        /// Upper bound (greater than `lower`).
        upper: f64,
    },
    /// `y = lower + (x if x > threshold else log1p(save_exp(x)))`, onto `(lower, ∞)` (Jaxley's
    /// `SoftplusTransform`; its default threshold is 20).
    Softplus {
        /// Lower bound.
        lower: f64,
        /// Above it the transform is linear (for numerical stability).
        threshold: f64,
    },
    /// `y = scale · x + shift` (Jaxley's `AffineTransform`).
    Affine {
        /// Scale (|scale| > 1e-8, as Jaxley's `allclose(scale, 0)` check).
        scale: f64,
        /// Shift.
        shift: f64,
    },
    /// The transforms applied one after the other: forward first to last, inverse last to first
    /// (Jaxley's `ChainTransform`).
    Chain(Vec<Transform>),
}

impl Transform {
    /// The checked [`Transform::Sigmoid`] onto `(lower, upper)`.
    pub fn sigmoid(lower: f64, upper: f64) -> Result<Self> {
        let t = Transform::Sigmoid { lower, upper };
        t.validate()?;
        Ok(t)
    }

    /// The checked [`Transform::Logistic`] onto `(lower, upper)`.
    pub fn logistic(lower: f64, upper: f64) -> Result<Self> {
        let t = Transform::Logistic { lower, upper };
        t.validate()?;
        Ok(t)
    }

    /// The checked [`Transform::Softplus`] onto `(lower, ∞)` with Jaxley's default threshold 20.
    pub fn softplus(lower: f64) -> Result<Self> {
        let t = Transform::Softplus {
            lower,
            threshold: 20.0,
        };
        t.validate()?;
        Ok(t)
    }

    /// The checked [`Transform::Affine`] `y = scale · x + shift`.
    pub fn affine(scale: f64, shift: f64) -> Result<Self> {
        let t = Transform::Affine { scale, shift };
        t.validate()?;
        Ok(t)
    }

    /// The checked [`Transform::Chain`].
    pub fn chain(transforms: Vec<Transform>) -> Result<Self> {
        let t = Transform::Chain(transforms);
        t.validate()?;
        Ok(t)
    }

    /// Checks the constants: finite bounds with `lower < upper`, finite `lower` and `threshold`,
    /// finite `shift` and `|scale| > 1e-8`, recursively for a chain.
    pub fn validate(&self) -> Result<()> {
        let finite = |name: &str, value: f64, what: &Transform| {
            if value.is_finite() {
                Ok(())
            } else {
                Err(Error::InvalidValue {
                    name: name.to_string(),
                    value,
                    requirement: "finite",
                    location: format!("{what:?}"),
                })
            }
        };
        match self {
            Transform::Identity => Ok(()),
            Transform::Sigmoid { lower, upper } | Transform::Logistic { lower, upper } => {
                finite("lower", *lower, self)?;
                finite("upper", *upper, self)?;
                if lower < upper {
                    Ok(())
                } else {
                    Err(Error::InvalidValue {
                        name: "upper".into(),
                        value: *upper,
                        requirement: "greater than the lower bound",
                        location: format!("{self:?}"),
                    })
                }
            }
            Transform::Softplus { lower, threshold } => {
                finite("lower", *lower, self)?;
                finite("threshold", *threshold, self)
            }
            Transform::Affine { scale, shift } => {
                finite("shift", *shift, self)?;
                if scale.is_finite() && scale.abs() > 1e-8 {
                    Ok(())
                } else {
                    Err(Error::InvalidValue {
                        name: "scale".into(),
                        value: *scale,
                        requirement: "finite and not zero (|scale| > 1e-8)",
                        location: format!("{self:?}"),
                    })
                }
            }
            Transform::Chain(ts) => ts.iter().try_for_each(Transform::validate),
        }
    }

    /// Unconstrained → constrained, in any scalar type (with [`Dual64`] the derivative comes
    /// along).
    pub fn forward<T: Scalar>(&self, x: T) -> T {
        match self {
            Transform::Identity => x,
            Transform::Sigmoid { lower, upper } => sigmoid(*lower, *upper, x),
            Transform::Logistic { lower, upper } => {
                let pi = T::from(std::f64::consts::PI);
                sigmoid(*lower, *upper, x * pi / T::from(3.0_f64.sqrt()))
            }
            Transform::Softplus { lower, threshold } => {
                let y = if x.re() > *threshold {
                    x
                } else {
                    save_exp(x).ln_1p()
                };
                y + T::from(*lower)
            }
            Transform::Affine { scale, shift } => T::from(*scale) * x + T::from(*shift),
            Transform::Chain(ts) => ts.iter().fold(x, |x, t| t.forward(x)),
        }
    }

    /// Constrained → unconstrained. A value outside the open range of the transform (where
    /// Jaxley returns NaN or ±∞) is an [`Error::InvalidValue`].
    pub fn inverse<T: Scalar>(&self, y: T) -> Result<T> {
        let outside = |requirement: &'static str| Error::InvalidValue {
            name: "value to invert".into(),
            value: y.re(),
            requirement,
            location: format!("inverse of {self:?}"),
        };
        match self {
            Transform::Identity => Ok(y),
            Transform::Sigmoid { lower, upper } => {
                if !(y.re() > *lower && y.re() < *upper) {
                    return Err(outside("strictly between the lower and upper bound"));
                }
                Ok(sigmoid_inverse(*lower, *upper, y))
            }
            Transform::Logistic { lower, upper } => {
                if !(y.re() > *lower && y.re() < *upper) {
                    return Err(outside("strictly between the lower and upper bound"));
                }
                let x = sigmoid_inverse(*lower, *upper, y);
                Ok(x * T::from(3.0_f64.sqrt()) / T::from(std::f64::consts::PI))
            }
            Transform::Softplus { lower, threshold } => {
                if !(y.re() > *lower && y.re().is_finite()) {
                    return Err(outside("finite and greater than the lower bound"));
                }
                let shifted = y - T::from(*lower);
                if y.re() > *lower + *threshold {
                    Ok(shifted)
                } else {
                    Ok((save_exp(shifted) - T::one()).ln())
                }
            }
            Transform::Affine { scale, shift } => {
                if !y.re().is_finite() {
                    return Err(outside("finite"));
                }
                Ok((y - T::from(*shift)) / T::from(*scale))
            }
            Transform::Chain(ts) => ts.iter().rev().try_fold(y, |y, t| t.inverse(y)),
        }
    }

    /// `d forward / dx` at `x` (by a dual number through [`Transform::forward`]).
    pub fn derivative(&self, x: f64) -> f64 {
        self.forward(Dual64::new(x, 1.0)).eps
    }
}

/// Jaxley's sigmoid: `lower + width / (1 + save_exp(-x))`, `width = upper - lower`.
fn sigmoid<T: Scalar>(lower: f64, upper: f64, x: T) -> T {
    let y = T::one() / (T::one() + save_exp(-x));
    T::from(lower) + T::from(upper - lower) * y
}

/// Jaxley's inverse sigmoid: `-log(1 / ((y - lower) / width) - 1)`.
fn sigmoid_inverse<T: Scalar>(lower: f64, upper: f64, y: T) -> T {
    let x = (y - T::from(lower)) / T::from(upper - lower);
    -(T::one() / x - T::one()).ln()
}

/// Which transform each trainable parameter group gets.
#[derive(Clone, Debug, PartialEq)]
enum Assignment {
    /// By key: every group of that key.
    ByKey(Vec<(String, Transform)>),
    /// By position in the list of parameter groups (Jaxley's list of dicts).
    PerGroup(Vec<Transform>),
}

/// Transforms for all trainable parameters (Jaxley's `ParamTransform`): one [`Transform`] per
/// key of [`crate::Module::get_parameters`] (applied to every value of that key), or one per
/// parameter group.
///
/// Every parameter group needs a transform ([`Transform::Identity`] leaves one unchanged), and
/// every key given must be a trainable: a missing or unknown key is an [`Error::UnknownName`].
///
/// ```
/// use huxley::{ParamGroup, ParamTransform, Transform};
/// # fn main() -> huxley::Result<()> {
/// let tf = ParamTransform::new([("HH_gK", Transform::sigmoid(0.0, 0.1)?)])?;
/// let x = vec![ParamGroup { key: "HH_gK".to_string(), values: vec![0.0, 2.0] }];
/// let y = tf.forward(&x)?;
/// assert_eq!(y[0].values[0], 0.05);
/// // A gradient with respect to y, pulled back to x: multiplied by dy/dx.
/// let dy = vec![ParamGroup { key: "HH_gK".to_string(), values: vec![1.0, 1.0] }];
/// let dx = tf.chain_gradient(&x, &dy)?;
/// assert!((dx[0].values[0] - 0.025).abs() < 1e-15);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ParamTransform {
    assignment: Assignment,
}

impl ParamTransform {
    /// One transform per trainable key. Every transform is checked ([`Transform::validate`]);
    /// a key given twice is an [`Error::DuplicateName`].
    pub fn new<K: Into<String>>(
        transforms: impl IntoIterator<Item = (K, Transform)>,
    ) -> Result<Self> {
        let mut out: Vec<(String, Transform)> = Vec::new();
        for (k, t) in transforms {
            let k = k.into();
            t.validate()?;
            if out.iter().any(|(o, _)| *o == k) {
                return Err(Error::DuplicateName {
                    name: k,
                    context: "two transforms for one trainable key".into(),
                });
            }
            out.push((k, t));
        }
        Ok(ParamTransform {
            assignment: Assignment::ByKey(out),
        })
    }

    /// One transform per parameter group, in the order of `get_parameters()` (Jaxley's list of
    /// `{key: transform}`); use it when a key is trainable twice with different bounds.
    pub fn per_group(transforms: Vec<Transform>) -> Result<Self> {
        transforms.iter().try_for_each(Transform::validate)?;
        Ok(ParamTransform {
            assignment: Assignment::PerGroup(transforms),
        })
    }

    /// The transform of each group of `params`, checking that every group has one and every
    /// transform has a group.
    fn resolve<T>(&self, params: &[ParamGroup<T>]) -> Result<Vec<&Transform>> {
        match &self.assignment {
            Assignment::PerGroup(ts) => {
                if ts.len() != params.len() {
                    return Err(Error::LengthMismatch {
                        what: "parameter groups (one transform per group)".into(),
                        expected: ts.len(),
                        got: params.len(),
                    });
                }
                Ok(ts.iter().collect())
            }
            Assignment::ByKey(ts) => {
                if let Some((k, _)) = ts.iter().find(|(k, _)| !params.iter().any(|p| p.key == *k)) {
                    let keys: Vec<&str> = params.iter().map(|p| p.key.as_str()).collect();
                    return Err(Error::UnknownName {
                        name: k.clone(),
                        context: format!(
                            "has a transform but is not among the parameters ({})",
                            if keys.is_empty() {
                                "none".to_string()
                            } else {
                                keys.join(", ")
                            }
                        ),
                    });
                }
                params
                    .iter()
                    .map(|p| {
                        ts.iter()
                            .find(|(k, _)| *k == p.key)
                            .map(|(_, t)| t)
                            .ok_or_else(|| Error::UnknownName {
                                name: p.key.clone(),
                                context: "a parameter without a transform (give it \
                                          Transform::Identity to leave it unchanged)"
                                    .into(),
                            })
                    })
                    .collect()
            }
        }
    }

    /// Unconstrained → constrained parameters (Jaxley's `ParamTransform.forward`), in any
    /// scalar type.
    pub fn forward<T: Scalar>(&self, params: &[ParamGroup<T>]) -> Result<Vec<ParamGroup<T>>> {
        let ts = self.resolve(params)?;
        Ok(params
            .iter()
            .zip(ts)
            .map(|(p, t)| ParamGroup {
                key: p.key.clone(),
                values: p.values.iter().map(|&x| t.forward(x)).collect(),
            })
            .collect())
    }

    /// Constrained → unconstrained parameters (Jaxley's `ParamTransform.inverse`); a value
    /// outside the range of its transform is an [`Error::InvalidValue`] naming the key and
    /// the index.
    pub fn inverse<T: Scalar>(&self, params: &[ParamGroup<T>]) -> Result<Vec<ParamGroup<T>>> {
        let ts = self.resolve(params)?;
        params
            .iter()
            .zip(ts)
            .map(|(p, t)| {
                let values = p
                    .values
                    .iter()
                    .enumerate()
                    .map(|(i, &y)| {
                        t.inverse(y).map_err(|e| match e {
                            Error::InvalidValue {
                                value,
                                requirement,
                                location,
                                ..
                            } => Error::InvalidValue {
                                name: p.key.clone(),
                                value,
                                requirement,
                                location: format!("value {i}, {location}"),
                            },
                            e => e,
                        })
                    })
                    .collect::<Result<Vec<T>>>()?;
                Ok(ParamGroup {
                    key: p.key.clone(),
                    values,
                })
            })
            .collect()
    }

    /// The gradient of a loss with respect to the unconstrained parameters, from its gradient
    /// with respect to the constrained ones: `grad_constrained · forward'(unconstrained)`,
    /// value by value. Both lists must have the same keys and lengths.
    pub fn chain_gradient(
        &self,
        unconstrained: &[ParamGroup<f64>],
        grad_constrained: &[ParamGroup<f64>],
    ) -> Result<Vec<ParamGroup<f64>>> {
        let ts = self.resolve(unconstrained)?;
        check_same_shape(unconstrained, grad_constrained, "gradient")?;
        Ok(unconstrained
            .iter()
            .zip(grad_constrained)
            .zip(ts)
            .map(|((p, g), t)| ParamGroup {
                key: p.key.clone(),
                values: p
                    .values
                    .iter()
                    .zip(&g.values)
                    .map(|(&x, &gy)| gy * t.derivative(x))
                    .collect(),
            })
            .collect())
    }
}

/// Checks that `other` has the keys and lengths of `params` (a gradient, an update, a state).
pub(crate) fn check_same_shape<T, U>(
    params: &[ParamGroup<T>],
    other: &[ParamGroup<U>],
    what: &str,
) -> Result<()> {
    if params.len() != other.len() {
        return Err(Error::LengthMismatch {
            what: format!("{what}: parameter groups"),
            expected: params.len(),
            got: other.len(),
        });
    }
    for (i, (p, o)) in params.iter().zip(other).enumerate() {
        if p.key != o.key {
            return Err(Error::UnknownName {
                name: o.key.clone(),
                context: format!(
                    "{what}: group {i} is `{}` in the parameters but `{}` here",
                    p.key, o.key
                ),
            });
        }
        if p.values.len() != o.values.len() {
            return Err(Error::LengthMismatch {
                what: format!("{what}: values of `{}` (group {i})", p.key),
                expected: p.values.len(),
                got: o.values.len(),
            });
        }
    }
    Ok(())
}
