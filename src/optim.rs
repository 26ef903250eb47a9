//! Gradient-based optimisers over the trainable parameters ([`crate::ParamGroup`] lists), as
//! optax's, which Jaxley's tutorials use.

use crate::error::{Error, Result};
use crate::model::ParamGroup;
use crate::transforms::check_same_shape;

/// The Adam optimiser with optax's formulas (`optax.adam`: `scale_by_adam` followed by
/// `scale_by_learning_rate`), one moment estimate per trainable value.
///
/// For step `t = 1, 2, …` and gradient `g`:
/// `mu = (1 - b1) g + b1 mu`, `nu = (1 - b2) g² + b2 nu`,
/// `mu_hat = mu / (1 - b1^t)`, `nu_hat = nu / (1 - b2^t)`,
/// `update = -lr · mu_hat / (sqrt(nu_hat + eps_root) + eps)`, `params = params + update`.
/// The moments start at zero and take the shape (keys and lengths) of the first gradient;
/// later calls must keep it.
///
/// ```
/// use huxley::{Adam, ParamGroup};
/// # fn main() -> huxley::Result<()> {
/// // Minimise (x - 3)²: gradient 2 (x - 3).
/// let mut params = vec![ParamGroup { key: "x".to_string(), values: vec![0.0] }];
/// let mut adam = Adam::new(0.1)?;
/// for _ in 0..500 {
///     let grad = vec![ParamGroup { key: "x".to_string(), values: vec![2.0 * (params[0].values[0] - 3.0)] }];
///     adam.step(&mut params, &grad)?;
/// }
/// assert!((params[0].values[0] - 3.0).abs() < 1e-3);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Adam {
    learning_rate: f64,
    b1: f64,
    b2: f64,
    eps: f64,
    eps_root: f64,
    count: u64,
    mu: Vec<ParamGroup<f64>>,
    nu: Vec<ParamGroup<f64>>,
}

impl Adam {
    /// Adam with optax's defaults: `b1 = 0.9`, `b2 = 0.999`, `eps = 1e-8`, `eps_root = 0`.
    pub fn new(learning_rate: f64) -> Result<Self> {
        Self::with_options(learning_rate, 0.9, 0.999, 1e-8, 0.0)
    }

    /// Adam with every hyperparameter given (optax's `adam(learning_rate, b1, b2, eps,
    /// eps_root)`). The learning rate must be finite, `b1` and `b2` in `[0, 1)`, `eps` and
    /// `eps_root` finite and ≥ 0.
    pub fn with_options(
        learning_rate: f64,
        b1: f64,
        b2: f64,
        eps: f64,
        eps_root: f64,
    ) -> Result<Self> {
        let bad = |name: &str, value: f64, requirement: &'static str| Error::InvalidValue {
            name: name.to_string(),
            value,
            requirement,
            location: "Adam".into(),
        };
        if !learning_rate.is_finite() {
            return Err(bad("learning_rate", learning_rate, "finite"));
        }
        for (name, b) in [("b1", b1), ("b2", b2)] {
            if !(0.0..1.0).contains(&b) {
                return Err(bad(name, b, "in [0, 1)"));
            }
        }
        for (name, e) in [("eps", eps), ("eps_root", eps_root)] {
            if !(e.is_finite() && e >= 0.0) {
                return Err(bad(name, e, "finite and >= 0"));
            }
        }
        Ok(Adam {
            learning_rate,
            b1,
            b2,
            eps,
            eps_root,
            count: 0,
            mu: vec![],
            nu: vec![],
        })
    }

    /// Number of steps taken.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The learning rate.
    pub fn learning_rate(&self) -> f64 {
        self.learning_rate
    }

    /// Changes the learning rate (e.g. for a schedule); the moments are kept.
    pub fn set_learning_rate(&mut self, learning_rate: f64) -> Result<()> {
        if !learning_rate.is_finite() {
            return Err(Error::InvalidValue {
                name: "learning_rate".into(),
                value: learning_rate,
                requirement: "finite",
                location: "Adam".into(),
            });
        }
        self.learning_rate = learning_rate;
        Ok(())
    }

    /// First-moment estimates (`mu`), empty before the first step.
    pub fn first_moments(&self) -> &[ParamGroup<f64>] {
        &self.mu
    }

    /// Second-moment estimates (`nu`), empty before the first step.
    pub fn second_moments(&self) -> &[ParamGroup<f64>] {
        &self.nu
    }

    /// Forgets the moments and the step count (optax's `init`).
    pub fn reset(&mut self) {
        self.count = 0;
        self.mu.clear();
        self.nu.clear();
    }

    /// The updates for gradient `grads` (optax's `update`), advancing the moments; add them to
    /// the parameters ([`Adam::step`] does both). A gradient of another shape than the first
    /// one, or a non-finite gradient, is an error and changes nothing.
    pub fn updates(&mut self, grads: &[ParamGroup<f64>]) -> Result<Vec<ParamGroup<f64>>> {
        if self.count == 0 {
            self.mu = zeros_like(grads);
            self.nu = zeros_like(grads);
        }
        check_same_shape(&self.mu, grads, "Adam gradient")?;
        for g in grads {
            if let Some((i, &x)) = g.values.iter().enumerate().find(|(_, x)| !x.is_finite()) {
                return Err(Error::InvalidValue {
                    name: g.key.clone(),
                    value: x,
                    requirement: "finite",
                    location: format!("gradient value {i} given to Adam"),
                });
            }
        }
        self.count += 1;
        let t = self.count as f64;
        let (b1, b2) = (self.b1, self.b2);
        let bc1 = 1.0 - b1.powf(t);
        let bc2 = 1.0 - b2.powf(t);
        let step_size = -self.learning_rate;
        let mut out = Vec::with_capacity(grads.len());
        for ((g, mu), nu) in grads.iter().zip(&mut self.mu).zip(&mut self.nu) {
            let values = g
                .values
                .iter()
                .zip(&mut mu.values)
                .zip(&mut nu.values)
                .map(|((&g, m), v)| {
                    *m = (1.0 - b1) * g + b1 * *m;
                    *v = (1.0 - b2) * (g * g) + b2 * *v;
                    let m_hat = *m / bc1;
                    let v_hat = *v / bc2;
                    step_size * (m_hat / ((v_hat + self.eps_root).sqrt() + self.eps))
                })
                .collect();
            out.push(ParamGroup {
                key: g.key.clone(),
                values,
            });
        }
        Ok(out)
    }

    /// One optimisation step: `params += updates(grads)` (optax's `update` then
    /// `apply_updates`). `grads` must have the keys and lengths of `params`.
    pub fn step(
        &mut self,
        params: &mut [ParamGroup<f64>],
        grads: &[ParamGroup<f64>],
    ) -> Result<()> {
        check_same_shape(params, grads, "Adam gradient")?;
        if self.count > 0 {
            check_same_shape(&self.mu, grads, "Adam gradient")?;
        }
        let updates = self.updates(grads)?;
        for (p, u) in params.iter_mut().zip(&updates) {
            for (x, d) in p.values.iter_mut().zip(&u.values) {
                *x += d;
            }
        }
        Ok(())
    }
}

fn zeros_like(groups: &[ParamGroup<f64>]) -> Vec<ParamGroup<f64>> {
    groups
        .iter()
        .map(|g| ParamGroup {
            key: g.key.clone(),
            values: vec![0.0; g.values.len()],
        })
        .collect()
}
