//! External inputs: injected currents (`"i"`) and clamps, as time series (Jaxley's `externals`
//! and `external_inds`).

use crate::error::{Error, Result};
use crate::scalar::Scalar;

/// One external key: its nodes and a value per node and time point.
#[derive(Clone, Debug, PartialEq)]
pub struct ExternalSeries<T> {
    pub(crate) key: String,
    /// State key position for clamps; `usize::MAX` for the current `"i"`.
    pub(crate) key_id: usize,
    pub(crate) nodes: Vec<u32>,
    pub(crate) steps: usize,
    /// Time-major: `values[t * nodes.len() + j]`.
    pub(crate) values: Vec<T>,
}

impl<T: Scalar> ExternalSeries<T> {
    pub(crate) fn from_rows(key: &str, key_id: usize, rows: &[(usize, &[f64])]) -> Result<Self> {
        let steps = rows.first().map(|r| r.1.len()).unwrap_or(0);
        if let Some(bad) = rows.iter().find(|r| r.1.len() != steps) {
            return Err(Error::LengthMismatch {
                what: format!(
                    "time series of `{key}` at node {} (all series of one key must have equal length)",
                    bad.0
                ),
                expected: steps,
                got: bad.1.len(),
            });
        }
        let mut values = Vec::with_capacity(steps * rows.len());
        for t in 0..steps {
            values.extend(rows.iter().map(|r| T::from(r.1[t])));
        }
        Ok(ExternalSeries {
            key: key.to_string(),
            key_id,
            nodes: rows.iter().map(|r| r.0 as u32).collect(),
            steps,
            values,
        })
    }

    /// The key (`"i"` or a state name).
    pub fn key(&self) -> &str {
        &self.key
    }
    /// Node indices.
    pub fn nodes(&self) -> &[u32] {
        &self.nodes
    }
    /// Number of time points.
    pub fn steps(&self) -> usize {
        self.steps
    }
    /// Values at time point `t`, one per node.
    pub fn at(&self, t: usize) -> &[T] {
        let n = self.nodes.len();
        &self.values[t * n..(t + 1) * n]
    }
}

/// All external inputs of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct Externals<T> {
    pub(crate) layout_id: u64,
    pub(crate) series: Vec<ExternalSeries<T>>,
}

impl Externals<f64> {
    /// No external input (valid for any module and any scalar type of the step).
    pub fn none() -> Self {
        Externals {
            layout_id: 0,
            series: vec![],
        }
    }
}

impl<T: Scalar> Externals<T> {
    pub(crate) fn new(layout_id: u64, series: Vec<ExternalSeries<T>>) -> Self {
        Externals { layout_id, series }
    }

    /// Whether there is no external input.
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// The series, `"i"` first if present.
    pub fn series(&self) -> &[ExternalSeries<T>] {
        &self.series
    }

    /// Number of time points, if all series agree (`None` without series).
    pub fn steps(&self) -> Result<Option<usize>> {
        let Some(first) = self.series.first() else {
            return Ok(None);
        };
        if self.series.iter().any(|s| s.steps != first.steps) {
            let lens: Vec<String> = self
                .series
                .iter()
                .map(|s| format!("{}: {}", s.key, s.steps))
                .collect();
            return Err(Error::InconsistentExternals(lens.join(", ")));
        }
        Ok(Some(first.steps))
    }

    /// The inputs of time point `t` (for a step function).
    pub fn at(&self, t: usize) -> ExternalsAt<'_, T> {
        ExternalsAt { ext: self, t }
    }

    /// The same inputs in another scalar type.
    pub fn cast<U: Scalar>(&self) -> Externals<U> {
        Externals {
            layout_id: self.layout_id,
            series: self
                .series
                .iter()
                .map(|s| ExternalSeries {
                    key: s.key.clone(),
                    key_id: s.key_id,
                    nodes: s.nodes.clone(),
                    steps: s.steps,
                    values: s.values.iter().map(|v| U::from(v.re())).collect(),
                })
                .collect(),
        }
    }

    /// Inputs for exactly `steps` time points: currents are zero-padded or truncated, clamps are
    /// truncated (a clamp shorter than `steps` is an error), as Jaxley's `integrate` does.
    pub fn with_steps(&self, steps: usize) -> Result<Self> {
        let mut out = self.clone();
        for s in &mut out.series {
            let n = s.nodes.len();
            if s.steps < steps {
                if s.key != "i" {
                    return Err(Error::ClampTooShort {
                        state: s.key.clone(),
                        len: s.steps,
                        needed: steps,
                    });
                }
                s.values.resize(steps * n, T::zero());
            } else {
                s.values.truncate(steps * n);
            }
            s.steps = steps;
        }
        Ok(out)
    }
}

impl Externals<f64> {
    /// These inputs with the currents `extra` (node, current) injected after the module's own
    /// stimuli (Jaxley concatenates `data_stimuli` after the module's `externals["i"]`).
    pub(crate) fn with_extra_currents(
        &self,
        module_stimuli: &[crate::Stimulus],
        extra: &DataStimuli,
    ) -> Result<Self> {
        if extra.is_empty() {
            return Ok(self.clone());
        }
        let rows: Vec<(usize, &[f64])> = module_stimuli
            .iter()
            .chain(&extra.stimuli)
            .map(|s| (s.node, s.current.as_slice()))
            .collect();
        let current = ExternalSeries::from_rows("i", usize::MAX, &rows)?;
        let mut out = self.clone();
        match out.series.iter_mut().find(|s| s.key == "i") {
            Some(s) => *s = current,
            None => out.series.insert(0, current),
        }
        Ok(out)
    }
}

/// Currents given at run time instead of stored in the module (Jaxley's `data_stimuli`, built by
/// `data_stimulate`): made by [`crate::View::data_stimulate`] and passed to
/// [`crate::integrate_batch_stimuli`], which injects them on top of the module's own stimuli.
///
/// ```
/// use huxley::{Cell, DataStimuli, step_current};
/// # fn main() -> huxley::Result<()> {
/// let mut cell = Cell::default();
/// let i = step_current(1.0, 2.0, 0.1, 0.025, 5.0, 0.0);
/// let ds: DataStimuli = cell.branch(0)?.comp(0)?.data_stimulate(&i, None);
/// assert_eq!(ds.stimuli()[0].node, 0);
/// assert!(cell.stimuli().is_empty()); // the module itself is unchanged
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DataStimuli {
    pub(crate) stimuli: Vec<crate::Stimulus>,
}

impl DataStimuli {
    /// No current.
    pub fn new() -> Self {
        Self::default()
    }
    /// The currents, one per node, in order of `data_stimulate` calls.
    pub fn stimuli(&self) -> &[crate::Stimulus] {
        &self.stimuli
    }
    /// Number of stimulated nodes (a node stimulated twice counts twice).
    pub fn len(&self) -> usize {
        self.stimuli.len()
    }
    /// Whether there is no current.
    pub fn is_empty(&self) -> bool {
        self.stimuli.is_empty()
    }
}

/// External inputs at one time point.
#[derive(Clone, Copy, Debug)]
pub struct ExternalsAt<'a, T> {
    pub(crate) ext: &'a Externals<T>,
    pub(crate) t: usize,
}

impl<T: Scalar> ExternalsAt<'_, T> {
    /// These inputs as a series of one time point.
    pub fn to_owned(&self) -> Externals<T> {
        Externals {
            layout_id: self.ext.layout_id,
            series: self
                .ext
                .series
                .iter()
                .map(|s| ExternalSeries {
                    key: s.key.clone(),
                    key_id: s.key_id,
                    nodes: s.nodes.clone(),
                    steps: 1,
                    values: s.at(self.t).to_vec(),
                })
                .collect(),
        }
    }
}

/// Jaxley's `step_current`: `i_offset` everywhere and `i_amp` (nA) from
/// `int(i_delay / delta_t)` up to (excluding) `int((i_delay + i_dur) / delta_t)`, over
/// `int(t_max // delta_t) + 2` time points (with Python's floor division, so
/// `step_current(.., 0.025, 10.0)` has 401 points).
///
/// ```
/// let i = huxley::step_current(1.0, 2.0, 0.5, 0.025, 10.0, 0.0);
/// assert_eq!(i.len(), 401);
/// assert_eq!((i[39], i[40], i[119], i[120]), (0.0, 0.5, 0.5, 0.0));
/// ```
pub fn step_current(
    i_delay: f64,
    i_dur: f64,
    i_amp: f64,
    delta_t: f64,
    t_max: f64,
    i_offset: f64,
) -> Vec<f64> {
    let start = (i_delay / delta_t) as usize;
    let end = ((i_delay + i_dur) / delta_t) as usize;
    let steps = py_floordiv(t_max, delta_t) as usize + 2;
    let mut out = vec![i_offset; steps];
    for x in out.iter_mut().take(end.min(steps)).skip(start) {
        *x = i_amp;
    }
    out
}

/// Python's float floor division `a // b` (CPython's algorithm, so that `10 // 0.025 == 399`).
pub fn py_floordiv(a: f64, b: f64) -> f64 {
    let m = a % b;
    let mut div = (a - m) / b;
    if m != 0.0 && ((b < 0.0) != (m < 0.0)) {
        div -= 1.0;
    }
    if div != 0.0 {
        let floordiv = div.floor();
        if div - floordiv > 0.5 {
            floordiv + 1.0
        } else {
            floordiv
        }
    } else {
        0.0f64.copysign(a / b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floordiv_matches_python() {
        assert_eq!(py_floordiv(10.0, 0.025), 399.0);
        assert_eq!(py_floordiv(3.0, 0.025), 119.0);
        assert_eq!(py_floordiv(5.0, 0.025), 199.0);
        assert_eq!(py_floordiv(20.0, 0.025), 799.0);
        assert_eq!(py_floordiv(7.0, 2.0), 3.0);
        assert_eq!(py_floordiv(0.1, 0.025), 4.0);
    }

    #[test]
    fn step_current_window() {
        let i = step_current(0.0, 1.0, 2.0, 0.025, 3.0, 0.0);
        assert_eq!(i.len(), 121);
        assert_eq!(i.iter().filter(|&&x| x == 2.0).count(), 40);
        assert_eq!(i[0], 2.0);
    }
}
