//! Observe: the dynamic-state utilities (Jaxley's `build_dynamic_state_utils`).
//!
//! A simulation step is a map `x_{n+1} = F(x_n)` on the **true ODE states** `x`: the voltage of
//! every compartment and every mechanism state where the mechanism exists. `all_states` carries
//! more — branchpoint voltages (which follow from the compartments), membrane currents (which
//! follow from the states) and NaN padding. [`DynamicStateUtils`] converts between the two:
//!
//! - [`DynamicStateUtils::remove_observables`]: `all_states` → only the true states;
//! - [`DynamicStateUtils::add_observables`]: back, with branchpoint voltages and currents
//!   recomputed;
//! - [`DynamicStateUtils::flatten`] / [`DynamicStateUtils::unflatten`]: to and from one flat
//!   vector, keys in sorted byte order (`CaCon_i` < `HH_h` < `eCa` < `i_Ca` < `v`), entries in
//!   ascending node order — Jaxley's `ravel_pytree` order.
//!
//! A current that a mechanism reads (e.g. `i_Ca`, read by `CaPump`) is a true state and is kept as
//! it is — never recomputed — so that stepping through `unflatten → add_observables → step →
//! remove_observables → flatten` reproduces the plain step loop bit for bit (Jaxley's does not:
//! it recomputes `i_Ca` at the new voltage).
//!
//! The masks (which entries of which array are true states) are index lists computed once.
//! [`Linearization`] gives Jacobian–vector products (dual numbers through the step),
//! vector–Jacobian products (transposed tree solve and local Jacobians) and dense Jacobians of
//! one step.

mod linearize;
pub(crate) mod step_adjoint;

pub use linearize::Linearization;

use crate::compile::{Compiled, KeyKind, Layout};
use crate::error::{Error, Result};
use crate::integrate::StepFn;
use crate::model::Module;
use crate::scalar::Scalar;
use crate::solver::explicit::branchpoint_voltages;
use crate::state::{AllParams, AllStates};
use crate::step;
use nalgebra::DVector;
use std::sync::Arc;

/// Which entries of `all_states` are true states, and where they go in the flat vector.
#[derive(Debug)]
pub(crate) struct DynLayout {
    /// Layout of the `all_states` this was built for.
    pub(crate) states: Arc<Layout>,
    /// Dynamic keys, sorted.
    pub(crate) keys: Vec<String>,
    /// Per dynamic key: its position in `all_states`.
    pub(crate) all_key: Vec<usize>,
    /// Per dynamic key: the entries (node indices) of its `all_states` array that are kept.
    pub(crate) entries: Vec<Vec<u32>>,
    /// Per dynamic key: its entries as runs of consecutive nodes `(first node, length)`, so
    /// that moving states between the flat vector and `all_states` copies slices (a cell's
    /// compartments are one run) instead of going through the entries one by one.
    pub(crate) runs: Vec<Vec<(usize, usize)>>,
    /// Per dynamic key: its offset in the flat vector; plus the total length at the end.
    pub(crate) offsets: Vec<usize>,
}

impl DynLayout {
    fn new(c: &Compiled) -> DynLayout {
        let states = c.states.clone();
        let mut keys: Vec<(String, usize)> = states
            .names
            .iter()
            .enumerate()
            .filter(|(k, _)| {
                !matches!(
                    states.kinds[*k],
                    KeyKind::Current { read: false } | KeyKind::SynapseCurrent
                )
            })
            .map(|(k, name)| (name.clone(), k))
            .collect();
        keys.sort();
        let is_comp = &c.graph.is_comp;
        let entries: Vec<Vec<u32>> = keys
            .iter()
            .map(|(_, k)| {
                let defined = states.defined(*k).iter().copied();
                if states.kinds[*k] == KeyKind::SynapseState {
                    // One entry per synapse of the type, kept whole.
                    defined.collect()
                } else {
                    defined.filter(|&node| is_comp[node as usize]).collect()
                }
            })
            .collect();
        let mut offsets = vec![0];
        for e in &entries {
            offsets.push(offsets.last().unwrap() + e.len());
        }
        let runs = entries.iter().map(|e| runs_of(e)).collect();
        DynLayout {
            states,
            all_key: keys.iter().map(|k| k.1).collect(),
            keys: keys.into_iter().map(|k| k.0).collect(),
            entries,
            runs,
            offsets,
        }
    }

    /// Copies the entries of dynamic key `k` from its `all_states` array `src` into `dst` (its
    /// part of the flat vector).
    #[inline]
    pub(crate) fn gather_key<T: Copy>(&self, k: usize, src: &[T], dst: &mut [T]) {
        let mut o = 0;
        for &(a, len) in &self.runs[k] {
            dst[o..o + len].copy_from_slice(&src[a..a + len]);
            o += len;
        }
    }

    /// Copies `src` (key `k`'s part of the flat vector) into the entries of its `all_states`
    /// array `dst`.
    #[inline]
    pub(crate) fn scatter_key<T: Copy>(&self, k: usize, src: &[T], dst: &mut [T]) {
        let mut o = 0;
        for &(a, len) in &self.runs[k] {
            dst[a..a + len].copy_from_slice(&src[o..o + len]);
            o += len;
        }
    }

    /// Copies the flat vector `x` into the entries of every dynamic key in `all_states`'
    /// data `dst`.
    pub(crate) fn scatter_all<T: Copy>(&self, x: &[T], dst: &mut [T]) {
        for k in 0..self.entries.len() {
            self.scatter_key(
                k,
                &x[self.range(k)],
                &mut dst[self.states.range(self.all_key[k])],
            );
        }
    }

    /// The index of dynamic key `name` (the keys are sorted).
    pub(crate) fn key(&self, name: &str) -> Option<usize> {
        self.keys.binary_search_by(|k| k.as_str().cmp(name)).ok()
    }

    /// Length of the flat vector.
    pub(crate) fn len(&self) -> usize {
        *self.offsets.last().unwrap()
    }

    pub(crate) fn range(&self, k: usize) -> std::ops::Range<usize> {
        self.offsets[k]..self.offsets[k + 1]
    }
}

/// Ascending node indices as runs of consecutive nodes `(first, length)`.
fn runs_of(nodes: &[u32]) -> Vec<(usize, usize)> {
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for &node in nodes {
        let node = node as usize;
        match runs.last_mut() {
            Some((a, len)) if *a + *len == node => *len += 1,
            _ => runs.push((node, 1)),
        }
    }
    runs
}

/// The true ODE states of a simulation, by name (Jaxley's dynamic-states pytree): keys in sorted
/// order, each with the values at the nodes where it is a true state, in ascending node order.
#[derive(Clone, Debug)]
pub struct DynamicStates<T> {
    pub(crate) layout: Arc<DynLayout>,
    pub(crate) data: Vec<T>,
}

impl<T: Scalar> DynamicStates<T> {
    /// Key names, sorted.
    pub fn keys(&self) -> &[String] {
        &self.layout.keys
    }
    /// The values of `key`.
    pub fn get(&self, key: &str) -> Result<&[T]> {
        let k = self.position(key)?;
        Ok(&self.data[self.layout.range(k)])
    }
    /// The values of `key`, mutably.
    pub fn get_mut(&mut self, key: &str) -> Result<&mut [T]> {
        let k = self.position(key)?;
        let r = self.layout.range(k);
        Ok(&mut self.data[r])
    }
    /// The node index of every value of `key`.
    pub fn nodes(&self, key: &str) -> Result<&[u32]> {
        let k = self.position(key)?;
        Ok(&self.layout.entries[k])
    }
    /// `(key, values)` pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[T])> {
        self.layout
            .keys
            .iter()
            .enumerate()
            .map(|(k, name)| (name.as_str(), &self.data[self.layout.range(k)]))
    }
    /// Total number of values (the length of the flat vector).
    pub fn len(&self) -> usize {
        self.data.len()
    }
    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
    fn position(&self, key: &str) -> Result<usize> {
        self.layout
            .keys
            .binary_search_by(|k| k.as_str().cmp(key))
            .map_err(|_| Error::UnknownName {
                name: key.to_string(),
                context: format!(
                    "not a dynamic state; dynamic states are {}",
                    self.layout.keys.join(", ")
                ),
            })
    }
}

/// Converts between `all_states`, the true ODE states and a flat vector (Jaxley's
/// `build_dynamic_state_utils`). Build it with [`build_dynamic_state_utils`].
///
/// ```
/// use huxley::{Cell, Leak, Solver, VoltageSolver, build_dynamic_state_utils, build_init_and_step_fn};
/// # fn main() -> huxley::Result<()> {
/// let mut cell = Cell::default();
/// cell.insert(Leak)?;
/// let (init_fn, _) = build_init_and_step_fn(&cell, VoltageSolver::Hines, Solver::BwdEuler)?;
/// let utils = build_dynamic_state_utils(&cell)?;
/// let (all_states, all_params) = init_fn.init::<f64>(&cell.get_parameters(), None, None, 0.025)?;
/// let x = utils.flatten(&utils.remove_observables(&all_states)?)?;
/// assert_eq!(x.as_slice(), &[-70.0]); // one compartment: only its voltage is a true state
/// let back = utils.add_observables(&utils.unflatten(x.as_slice())?, &all_params, 0.025)?;
/// assert_eq!(back.keys(), all_states.keys()); // v and i_Leak
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct DynamicStateUtils {
    pub(crate) c: Arc<Compiled>,
    pub(crate) layout: Arc<DynLayout>,
}

/// Builds the dynamic-state utilities of `module` (compiles it; the utilities work with the
/// states of any init/step functions built from the same model).
pub fn build_dynamic_state_utils(module: &Module) -> Result<DynamicStateUtils> {
    Ok(DynamicStateUtils::from_compiled(Arc::new(Compiled::new(
        module,
    )?)))
}

impl DynamicStateUtils {
    /// The utilities of the model a step function was built from (no second compilation).
    pub fn for_step_fn(step_fn: &StepFn) -> DynamicStateUtils {
        DynamicStateUtils::from_compiled(step_fn.compiled().clone())
    }

    fn from_compiled(c: Arc<Compiled>) -> DynamicStateUtils {
        let layout = Arc::new(DynLayout::new(&c));
        DynamicStateUtils { c, layout }
    }

    /// The dynamic keys in flat order.
    pub fn keys(&self) -> &[String] {
        &self.layout.keys
    }

    /// Length of the flat state vector.
    pub fn len(&self) -> usize {
        self.layout.len()
    }

    /// Whether the flat state is empty.
    pub fn is_empty(&self) -> bool {
        self.layout.len() == 0
    }

    fn key_index(&self, key: &str) -> Result<usize> {
        self.layout
            .keys
            .binary_search_by(|k| k.as_str().cmp(key))
            .map_err(|_| Error::UnknownName {
                name: key.to_string(),
                context: format!(
                    "not a dynamic state; dynamic states are {}",
                    self.layout.keys.join(", ")
                ),
            })
    }

    /// The range of `key` in the flat vector.
    pub fn key_range(&self, key: &str) -> Result<std::ops::Range<usize>> {
        Ok(self.layout.range(self.key_index(key)?))
    }

    /// Node indices of the flat vector's entries of `key`.
    pub fn key_nodes(&self, key: &str) -> Result<&[u32]> {
        Ok(&self.layout.entries[self.key_index(key)?])
    }

    fn check_states<T: Scalar>(&self, s: &AllStates<T>) -> Result<()> {
        s.check_layout(&self.c.states).map_err(|_| {
            Error::LayoutMismatch(
                "all_states of another model than the one these utilities were built for".into(),
            )
        })
    }

    fn check_dynamic<T: Scalar>(&self, d: &DynamicStates<T>) -> Result<()> {
        if Arc::ptr_eq(&d.layout, &self.layout)
            || d.layout.states.fingerprint == self.c.states.fingerprint
        {
            Ok(())
        } else {
            Err(Error::LayoutMismatch(
                "dynamic states of another model than the one these utilities were built for"
                    .into(),
            ))
        }
    }

    /// Only the true ODE states of `all_states`: drops membrane currents that no mechanism reads,
    /// branchpoint entries and the NaN padding of states that exist on some compartments only.
    pub fn remove_observables<T: Scalar>(
        &self,
        all_states: &AllStates<T>,
    ) -> Result<DynamicStates<T>> {
        let mut out = DynamicStates {
            layout: self.layout.clone(),
            data: vec![T::zero(); self.layout.len()],
        };
        self.remove_observables_into(all_states, &mut out)?;
        Ok(out)
    }

    /// [`DynamicStateUtils::remove_observables`] into an existing container (no allocation).
    pub fn remove_observables_into<T: Scalar>(
        &self,
        all_states: &AllStates<T>,
        out: &mut DynamicStates<T>,
    ) -> Result<()> {
        self.check_dynamic(out)?;
        self.remove_observables_to(all_states, &mut out.data)
    }

    /// [`DynamicStateUtils::remove_observables_into`] a plain slice (of the flat length).
    pub(crate) fn remove_observables_to<T: Scalar>(
        &self,
        all_states: &AllStates<T>,
        out: &mut [T],
    ) -> Result<()> {
        self.check_states(all_states)?;
        assert_eq!(out.len(), self.len(), "a flat state's length");
        let dl = &self.layout;
        for k in 0..dl.entries.len() {
            let src = &all_states.data[dl.states.range(dl.all_key[k])];
            dl.gather_key(k, src, &mut out[dl.range(k)]);
        }
        Ok(())
    }

    /// The flat state of `all_states` as slices of it, in order (runs of consecutive nodes of
    /// each dynamic key): [`DynamicStateUtils::remove_observables_to`] without a copy.
    pub(crate) fn flat_runs<'a, T: Scalar>(
        &'a self,
        all_states: &'a AllStates<T>,
    ) -> Result<impl Iterator<Item = &'a [T]> + 'a> {
        self.check_states(all_states)?;
        Ok(self.all_runs(all_states))
    }

    /// [`DynamicStateUtils::flat_runs`] for states the caller has checked.
    pub(crate) fn all_runs<'a, T: Scalar>(
        &'a self,
        all_states: &'a AllStates<T>,
    ) -> impl Iterator<Item = &'a [T]> + 'a {
        (0..self.layout.entries.len()).flat_map(move |k| self.key_runs(k, all_states))
    }

    /// The part of dynamic key `k` in the flat state of `all_states` (checked by the caller) as
    /// slices of it, in order.
    pub(crate) fn key_runs<'a, T: Scalar>(
        &'a self,
        k: usize,
        all_states: &'a AllStates<T>,
    ) -> impl Iterator<Item = &'a [T]> + 'a {
        let dl = &self.layout;
        let src = &all_states.data[dl.states.range(dl.all_key[k])];
        dl.runs[k].iter().map(move |&(a, len)| &src[a..a + len])
    }

    /// `all_states` from true states: NaN padding restored, branchpoint voltages computed from
    /// their neighbours (the conductance-weighted mean), and the membrane currents that no
    /// mechanism reads recomputed from the states and voltages (a current that is a true state
    /// keeps the value given). `delta_t` is accepted for Jaxley's signature and not used.
    pub fn add_observables<T: Scalar>(
        &self,
        dynamic: &DynamicStates<T>,
        all_params: &AllParams<T>,
        delta_t: f64,
    ) -> Result<AllStates<T>> {
        let mut out =
            AllStates::from_data(&self.c, vec![T::from(f64::NAN); self.c.states.total_len()]);
        self.add_observables_into(dynamic, all_params, delta_t, &mut out)?;
        Ok(out)
    }

    /// [`DynamicStateUtils::add_observables`] into an existing `all_states` (no allocation).
    pub fn add_observables_into<T: Scalar>(
        &self,
        dynamic: &DynamicStates<T>,
        all_params: &AllParams<T>,
        _delta_t: f64,
        out: &mut AllStates<T>,
    ) -> Result<()> {
        self.scatter(dynamic, all_params, out)?;
        let mut ws = step::take_workspace(&self.c, out);
        step::compute_currents(&self.c, out, all_params, &mut ws, false);
        out.ws = ws;
        Ok(())
    }

    /// Writes the true states into `out` and sets the branchpoint voltages (the observable
    /// currents are left as they are).
    pub(crate) fn scatter<T: Scalar>(
        &self,
        dynamic: &DynamicStates<T>,
        all_params: &AllParams<T>,
        out: &mut AllStates<T>,
    ) -> Result<()> {
        self.check_dynamic(dynamic)?;
        self.check_states(out)?;
        all_params.check_layout(&self.c.params)?;
        self.layout.scatter_all(&dynamic.data, &mut out.data);
        let n = self.c.n_nodes();
        let mut ws = step::take_workspace(&self.c, out);
        branchpoint_voltages(
            &self.c,
            &all_params.axial,
            &mut out.data[..n],
            &mut ws.d,
            &mut ws.r,
        );
        out.ws = ws;
        Ok(())
    }

    /// Dynamic states from `(key, values)` pairs (as a Jaxley user would pass a dict): every
    /// dynamic key exactly once, each with one value per entry (see
    /// [`DynamicStateUtils::key_nodes`]).
    pub fn dynamic_states_from<T: Scalar, K: AsRef<str>>(
        &self,
        entries: impl IntoIterator<Item = (K, Vec<T>)>,
    ) -> Result<DynamicStates<T>> {
        let dl = &self.layout;
        let mut data = vec![T::zero(); dl.len()];
        let mut seen = vec![false; dl.keys.len()];
        for (key, values) in entries {
            let k = self.key_index(key.as_ref())?;
            if seen[k] {
                return Err(Error::LayoutMismatch(format!(
                    "dynamic state `{}` given twice",
                    key.as_ref()
                )));
            }
            let r = dl.range(k);
            if values.len() != r.len() {
                return Err(Error::LengthMismatch {
                    what: format!("values of dynamic state `{}`", key.as_ref()),
                    expected: r.len(),
                    got: values.len(),
                });
            }
            data[r].copy_from_slice(&values);
            seen[k] = true;
        }
        if let Some(k) = seen.iter().position(|s| !s) {
            return Err(Error::UnknownName {
                name: dl.keys[k].clone(),
                context: "a dynamic state missing from the given states".into(),
            });
        }
        Ok(DynamicStates {
            layout: dl.clone(),
            data,
        })
    }

    /// The true states as one flat vector (Jaxley's `ravel_pytree` order).
    pub fn flatten<T: Scalar>(&self, dynamic: &DynamicStates<T>) -> Result<DVector<T>> {
        self.check_dynamic(dynamic)?;
        Ok(DVector::from_column_slice(&dynamic.data))
    }

    /// The true states from a flat vector.
    pub fn unflatten<T: Scalar>(&self, x: &[T]) -> Result<DynamicStates<T>> {
        if x.len() != self.layout.len() {
            return Err(Error::LengthMismatch {
                what: "flat state vector".into(),
                expected: self.layout.len(),
                got: x.len(),
            });
        }
        Ok(DynamicStates {
            layout: self.layout.clone(),
            data: x.to_vec(),
        })
    }

    /// One step of the map `x_{n+1} = F(x_n)` on flat states (Jaxley's `step_dynamics`):
    /// `unflatten → add_observables → step_fn → remove_observables → flatten`.
    pub fn step_dynamics<T: Scalar, E: Scalar>(
        &self,
        step_fn: &StepFn,
        x: &[T],
        all_params: &AllParams<T>,
        ext: crate::ExternalsAt<'_, E>,
        delta_t: f64,
    ) -> Result<DVector<T>> {
        let mut s = self.add_observables(&self.unflatten(x)?, all_params, delta_t)?;
        step_fn.step(&mut s, all_params, ext, delta_t)?;
        self.flatten(&self.remove_observables(&s)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::*;

    /// Entries split into runs at every gap; moving a key through its runs puts each value at
    /// its entry's node and back.
    #[test]
    fn entries_become_runs_of_consecutive_nodes() -> crate::Result<()> {
        assert_eq!(runs_of(&[0, 1, 2, 5, 6, 9]), vec![(0, 3), (5, 2), (9, 1)]);
        assert_eq!(runs_of(&[4]), vec![(4, 1)]);
        assert!(runs_of(&[]).is_empty());
        // HH on branches 0 and 2 only: `HH_m` lives on two runs of compartments.
        let mut cell = Cell::new(&Branch::new(&Compartment::new(), 2)?, &[-1, 0, 0])?;
        cell.branch(0)?.insert(HH)?;
        cell.branch(2)?.insert(HH)?;
        let (init_fn, step_fn) =
            build_init_and_step_fn(&cell, VoltageSolver::Hines, Solver::BwdEuler)?;
        let utils = DynamicStateUtils::for_step_fn(&step_fn);
        let dl = &utils.layout;
        let k = utils.key_index("HH_m")?;
        assert_eq!(dl.entries[k], vec![0, 1, 4, 5]);
        assert_eq!(dl.runs[k], vec![(0, 2), (4, 2)]);
        let (mut s, _) = init_fn.init::<f64>(&[], None, None, 0.025)?;
        let m = s.get_mut("HH_m")?;
        for (i, x) in m.iter_mut().enumerate() {
            *x = i as f64;
        }
        let flat = utils.remove_observables(&s)?;
        assert_eq!(&flat.data[dl.range(k)], &[0.0, 1.0, 4.0, 5.0]);
        let mut back = vec![f64::NAN; 6];
        dl.scatter_key(k, &flat.data[dl.range(k)], &mut back);
        assert_eq!(back[..2], [0.0, 1.0]);
        assert!(back[2].is_nan() && back[3].is_nan());
        assert_eq!(back[4..], [4.0, 5.0]);
        Ok(())
    }
}
