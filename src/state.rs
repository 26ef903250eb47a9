//! Named containers: `all_states` and `all_params`, as Jaxley has them (name → array over nodes,
//! branchpoints included), stored as one contiguous buffer plus a shared layout.

use crate::compile::{Compiled, KeyKind, Layout};
use crate::error::{Error, Result};
use crate::scalar::Scalar;
use std::sync::Arc;

/// Every state of a simulation (Jaxley's `all_states`): `v`, every mechanism state and every
/// membrane current, one value per node (compartments and branchpoints).
///
/// Where Jaxley writes placeholders this container holds meaning: NaN where a mechanism is absent
/// and in the branchpoint rows of everything but `v`; `v` at a branchpoint is the branchpoint's
/// voltage (the conductance-weighted mean of its neighbours).
#[derive(Clone, Debug)]
pub struct AllStates<T> {
    pub(crate) layout: Arc<Layout>,
    pub(crate) data: Vec<T>,
    pub(crate) ws: Workspace<T>,
}

/// Every parameter of a simulation (Jaxley's `all_params`): the compartment geometry, the
/// mechanism parameters (one value per node), and what is derived from them once (the axial
/// conductances and the coefficients of the voltage solver).
#[derive(Clone, Debug)]
pub struct AllParams<T> {
    pub(crate) layout: Arc<Layout>,
    pub(crate) data: Vec<T>,
    /// Axial conductance of every graph edge (1/ms, already divided by the sink's capacitance),
    /// Jaxley's `axial_conductances["v"]`.
    pub(crate) axial: Vec<T>,
    /// Per Hines position: conductance of row `node`, column `parent`.
    pub(crate) h_lower: Vec<T>,
    /// Per Hines position: conductance of row `parent`, column `node`.
    pub(crate) h_upper: Vec<T>,
    /// Per Hines position: sum of the conductances into the node.
    pub(crate) h_gsum: Vec<T>,
    /// Per node: `1 / capacitance` (0 at branchpoints).
    pub(crate) inv_cm: Vec<T>,
    /// Per diffused ion (in `diffuse` order): axial conductances of every graph edge (Jaxley's
    /// `axial_conductances[ion]`), and the Hines coefficients (lower, upper, sum) per position.
    pub(crate) ion_axial: Vec<Vec<T>>,
    pub(crate) ion_hines: Vec<[Vec<T>; 3]>,
    /// Exponential-Euler transition matrix and the time step it was built for.
    pub(crate) exp_euler: Option<(f64, nalgebra::DMatrix<T>)>,
    /// Per compiled mechanism, per parameter: whether it has one value on all the mechanism's
    /// nodes (the kernels then broadcast it instead of loading an array).
    pub(crate) uniform: Vec<Vec<bool>>,
    /// Per mechanism: the node where its uniform parameters are read.
    pub(crate) uniform_node: Vec<usize>,
    /// Per synapse type: whether the parameters its affine update reads
    /// ([`crate::Synapse::PRE_AFFINE_PARAMS`]) have one value on all its edges, so that the
    /// coefficients can be computed per pre-synaptic node.
    pub(crate) syn_affine: Vec<bool>,
    /// The model these parameters belong to (to recompute what is derived after `set`).
    pub(crate) compiled: Arc<Compiled>,
}

/// Scratch arrays of the step, allocated once per state container.
#[derive(Clone, Debug)]
pub(crate) struct Workspace<T> {
    pub v_old: Vec<T>,
    /// Per target (v, pumped ions), `targets × n_nodes` (target-major): slope and constant of
    /// the linearised currents.
    pub lin: Vec<T>,
    pub cst: Vec<T>,
    /// Per membrane current, `currents × n_nodes`: its sum over mechanisms.
    pub cur: Vec<T>,
    /// Hines: diagonal, right-hand side, solution in elimination order.
    pub d: Vec<T>,
    pub r: Vec<T>,
    /// Extra vectors for solvers (exponential Euler, Crank–Nicolson, sparse LU, ion diffusion).
    pub tmp: Vec<T>,
    pub tmp2: Vec<T>,
    /// External current density per node (µA/cm²); zero between steps.
    pub iext: Vec<T>,
    /// Voltages of the pre-synaptic nodes (see `Compiled::pre_nodes`), gathered before the
    /// synapses run.
    pub v_pre: Vec<T>,
    /// Coefficients of the affine synapse updates per pre-synaptic node (see
    /// `CompiledSyn::affine_off`), computed before the synapses run.
    pub pre_affine: Vec<T>,
    /// Per chunk: whether the voltages it solved are all finite.
    pub chunk_finite: Vec<bool>,
    /// Set by the step when it knows that every voltage is finite (saves `integrate` a pass).
    pub v_finite: bool,
    pub lu: crate::solver::sparse_lu::LuCache,
    /// Derivative parts given to the gathered pre-synaptic voltages (`None`: they keep those of
    /// the voltages they are gathered from). Set by the adjoint's dual-number passes, which
    /// differentiate with respect to pre-synaptic voltages separately.
    pub pre_eps: Option<Vec<f64>>,
    /// Per compiled mechanism: whether the step runs it (`None`: all). Set by the adjoint's
    /// dual-number passes: a pass only needs the mechanisms its seed reaches (and those that
    /// give them their inputs); the others would only add zero derivatives.
    pub mech_mask: Option<Vec<bool>>,
    /// The same for the state updates alone, if they differ (`None`: as `mech_mask`). The
    /// adjoint's passes that differentiate through the currents alone skip every update; the
    /// pass that differentiates the updates of independent states skips every current.
    pub update_mask: Option<Vec<bool>>,
    /// Per membrane current slot (`Compiled::currents`): whether the step resets it and writes it
    /// into the states (`None`: all). Set by the adjoint's passes: a slot that no running
    /// mechanism writes and that the pass does not read keeps stale values, which nothing reads.
    pub current_mask: Option<Vec<bool>>,
}

impl<T> Default for Workspace<T> {
    fn default() -> Self {
        Workspace {
            v_old: vec![],
            lin: vec![],
            cst: vec![],
            cur: vec![],
            d: vec![],
            r: vec![],
            tmp: vec![],
            tmp2: vec![],
            iext: vec![],
            v_pre: vec![],
            pre_affine: vec![],
            chunk_finite: vec![],
            v_finite: false,
            lu: Default::default(),
            pre_eps: None,
            mech_mask: None,
            update_mask: None,
            current_mask: None,
        }
    }
}

impl<T: Scalar> Workspace<T> {
    pub(crate) fn new(c: &Compiled) -> Self {
        let n = c.n_nodes();
        let z = |k: usize| vec![T::zero(); k];
        Workspace {
            v_old: z(n),
            lin: z(c.targets.len() * n),
            cst: z(c.targets.len() * n),
            cur: z(c.currents.len() * n),
            d: z(n),
            r: z(n),
            tmp: z(n),
            tmp2: z(n),
            iext: z(n),
            v_pre: z(c.pre_nodes.len()),
            pre_affine: z(c.pre_affine_len),
            chunk_finite: vec![false; c.chunks.len()],
            v_finite: false,
            lu: Default::default(),
            pre_eps: None,
            mech_mask: None,
            update_mask: None,
            current_mask: None,
        }
    }

    /// A zeroed workspace of the same shape in another scalar type.
    fn zeros_like<U: Scalar>(&self) -> Workspace<U> {
        let z = |x: &Vec<T>| vec![U::zero(); x.len()];
        Workspace {
            v_old: z(&self.v_old),
            lin: z(&self.lin),
            cst: z(&self.cst),
            cur: z(&self.cur),
            d: z(&self.d),
            r: z(&self.r),
            tmp: z(&self.tmp),
            tmp2: z(&self.tmp2),
            iext: z(&self.iext),
            v_pre: z(&self.v_pre),
            pre_affine: z(&self.pre_affine),
            chunk_finite: vec![false; self.chunk_finite.len()],
            v_finite: false,
            lu: Default::default(),
            pre_eps: None,
            mech_mask: None,
            update_mask: None,
            current_mask: None,
        }
    }

    /// Bytes held by the scratch arrays.
    pub(crate) fn bytes(&self) -> usize {
        let len = self.v_old.len()
            + self.lin.len()
            + self.cst.len()
            + self.cur.len()
            + self.d.len()
            + self.r.len()
            + self.tmp.len()
            + self.tmp2.len()
            + self.iext.len()
            + self.v_pre.len()
            + self.pre_affine.len();
        len * std::mem::size_of::<T>()
    }
}

fn key_error(layout: &Layout, key: &str, what: &str) -> Error {
    Error::UnknownName {
        name: key.to_string(),
        context: format!("not a key of {what}; keys: {}", layout.names.join(", ")),
    }
}

macro_rules! named_container {
    ($ty:ident, $what:literal) => {
        impl<T: Scalar> $ty<T> {
            /// Key names in order.
            pub fn keys(&self) -> &[String] {
                &self.layout.names
            }
            /// The layout (names, defined nodes).
            pub fn layout(&self) -> &Arc<Layout> {
                &self.layout
            }
            /// Whether `key` exists.
            pub fn contains(&self, key: &str) -> bool {
                self.layout.index.contains_key(key)
            }
            /// The array of `key`, one value per node.
            pub fn get(&self, key: &str) -> Result<&[T]> {
                let k = self
                    .layout
                    .position(key)
                    .ok_or_else(|| key_error(&self.layout, key, $what))?;
                Ok(&self.data[self.layout.range(k)])
            }
            /// `(key, array)` pairs in order.
            pub fn iter(&self) -> impl Iterator<Item = (&str, &[T])> {
                self.layout
                    .names
                    .iter()
                    .enumerate()
                    .map(move |(k, name)| (name.as_str(), &self.data[self.layout.range(k)]))
            }
            /// Number of nodes (length of every array).
            pub fn n_nodes(&self) -> usize {
                self.layout.n
            }
            /// All values, key after key.
            pub fn as_slice(&self) -> &[T] {
                &self.data
            }
            pub(crate) fn check_layout(&self, layout: &Arc<Layout>) -> Result<()> {
                if Arc::ptr_eq(&self.layout, layout)
                    || self.layout.fingerprint == layout.fingerprint
                {
                    Ok(())
                } else {
                    Err(Error::LayoutMismatch(format!(
                        "{} built for another model (layout {} vs {})",
                        $what, self.layout.id, layout.id
                    )))
                }
            }
        }
    };
}
named_container!(AllStates, "all_states");
named_container!(AllParams, "all_params");

impl<T: Scalar> AllStates<T> {
    /// The array of `key`, mutably.
    pub fn get_mut(&mut self, key: &str) -> Result<&mut [T]> {
        let k = self
            .layout
            .position(key)
            .ok_or_else(|| key_error(&self.layout, key, "all_states"))?;
        let r = self.layout.range(k);
        Ok(&mut self.data[r])
    }

    pub(crate) fn from_data(c: &Compiled, data: Vec<T>) -> Self {
        AllStates {
            layout: c.states.clone(),
            data,
            ws: Workspace::new(c),
        }
    }

    /// The same states in another scalar type (real parts for dual → f64, zero derivatives for
    /// f64 → dual).
    pub fn cast<U: Scalar>(&self) -> AllStates<U> {
        AllStates {
            layout: self.layout.clone(),
            data: self.data.iter().map(|x| U::from(x.re())).collect(),
            ws: self.ws.zeros_like(),
        }
    }

    /// The value of `key` at `node`.
    pub fn value(&self, key: &str, node: usize) -> Result<T> {
        let a = self.get(key)?;
        a.get(node).copied().ok_or(Error::IndexOutOfRange {
            what: "node",
            index: node,
            len: a.len(),
        })
    }

    /// Whether key `key` is an observable current: a membrane current that no mechanism reads,
    /// or a synapse current.
    pub fn is_observable_current(&self, key: &str) -> bool {
        self.layout.position(key).is_some_and(|k| {
            matches!(
                self.layout.kinds[k],
                KeyKind::Current { read: false } | KeyKind::SynapseCurrent
            )
        })
    }
}

impl<T: Scalar> AllParams<T> {
    /// Jaxley's `axial_conductances["v"]`: one conductance per graph edge (see
    /// [`crate::compile::Graph::edges`]), in 1/ms, already divided by the sink's capacitance.
    /// For edges into a branchpoint it is the relative weight `1/(Ra·r_half)`.
    pub fn axial_conductances(&self) -> &[T] {
        &self.axial
    }

    /// Replaces the array of parameter `key` (one value per node; branchpoint entries are
    /// ignored) and recomputes what is derived from the parameters: axial conductances, solver
    /// coefficients and, for exponential Euler, the transition matrix. Setting `radius` or
    /// `length` does not change area, volume or resistive loads (set those too if wanted; Jaxley's
    /// `all_params` behaves the same).
    pub fn set(&mut self, key: &str, values: &[T]) -> Result<()> {
        let k = self
            .layout
            .position(key)
            .ok_or_else(|| key_error(&self.layout, key, "all_params"))?;
        let r = self.layout.range(k);
        if values.len() != r.len() {
            return Err(Error::LengthMismatch {
                what: format!("values of `{key}`"),
                expected: r.len(),
                got: values.len(),
            });
        }
        let c = self.compiled.clone();
        let old = self.data[r.clone()].to_vec();
        for &node in self.layout.defined(k) {
            self.data[r.start + node as usize] = values[node as usize];
        }
        if let Err(e) = crate::integrate::check_geometry(&c, self) {
            self.data[r].copy_from_slice(&old);
            return Err(e);
        }
        crate::integrate::derive(&c, self);
        if let Some((dt, _)) = self.exp_euler {
            self.exp_euler = Some((
                dt,
                crate::solver::exp_euler::transition_matrix(&c, &self.axial, dt),
            ));
        }
        Ok(())
    }

    /// Jaxley's `axial_conductances[ion]` of a diffused ion: one value per graph edge (1/ms;
    /// `D/((r_a + r_b)·volume)` between compartments, `D/r` into a branchpoint), or `None` if
    /// the ion is not diffused.
    pub fn ion_axial_conductances(&self, ion: &str) -> Option<&[T]> {
        let key = format!("axial_diffusion_{ion}");
        let k = self.layout.position(&key)?;
        let i = self.layout.names[..k]
            .iter()
            .filter(|n| n.starts_with("axial_diffusion_"))
            .count();
        self.ion_axial.get(i).map(|x| x.as_slice())
    }

    /// The same parameters in another scalar type.
    pub fn cast<U: Scalar>(&self) -> AllParams<U> {
        let c = |v: &Vec<T>| v.iter().map(|x| U::from(x.re())).collect::<Vec<U>>();
        AllParams {
            layout: self.layout.clone(),
            data: c(&self.data),
            axial: c(&self.axial),
            h_lower: c(&self.h_lower),
            h_upper: c(&self.h_upper),
            h_gsum: c(&self.h_gsum),
            inv_cm: c(&self.inv_cm),
            ion_axial: self.ion_axial.iter().map(c).collect(),
            ion_hines: self
                .ion_hines
                .iter()
                .map(|[a, b, d]| [c(a), c(b), c(d)])
                .collect(),
            exp_euler: self
                .exp_euler
                .as_ref()
                .map(|(dt, m)| (*dt, m.map(|x| U::from(x.re())))),
            uniform: self.uniform.clone(),
            uniform_node: self.uniform_node.clone(),
            syn_affine: self.syn_affine.clone(),
            compiled: self.compiled.clone(),
        }
    }
}
