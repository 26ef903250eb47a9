//! Derivatives of one step of the flat-state map: Jacobian–vector products, vector–Jacobian
//! products and dense Jacobians.

use super::step_adjoint::{VoltageAdjoint, VoltageStage, dual_pass, voltage_adjoint};
use super::{DynamicStateUtils, DynamicStates};
use crate::error::{Error, Result};
use crate::externals::{Externals, ExternalsAt};
use crate::integrate::StepFn;
use crate::scalar::Dual64;
use crate::solver::{Solver, VoltageSolver};
use crate::state::{AllParams, AllStates};
use crate::step;
use nalgebra::{DMatrix, DVector};

/// One step `x_{n+1} = F(x_n)` of the flat-state map, linearised at `x_n`
/// (see [`DynamicStateUtils::linearize`]).
///
/// - [`Linearization::jvp`]: `J v`, by pushing dual numbers through the same generic step code as
///   the `f64` simulation;
/// - [`Linearization::jacobian`]: the dense `J`, one JVP per column;
/// - [`Linearization::vjp`]: `Jᵀ w` without forming `J`: the adjoint of the implicit voltage solve
///   is a Hines elimination of the transposed tree matrix, and every other stage of the step is
///   local to a compartment, so its small Jacobian (from dual numbers, computed once and stored)
///   is transposed compartment by compartment.
pub struct Linearization {
    utils: DynamicStateUtils,
    solver: Solver,
    voltage_solver: VoltageSolver,
    dt: f64,
    x: Vec<f64>,
    x_next: DVector<f64>,
    params: AllParams<f64>,
    params_dual: AllParams<Dual64>,
    ext: Externals<f64>,
    dual_states: AllStates<Dual64>,
    dual_dyn: DynamicStates<Dual64>,
    /// Voltages entering the linear solve's bilinear term (v_new for backward Euler, v_half for
    /// Crank–Nicolson), per node.
    v_sol: Vec<f64>,
    /// Voltages at the start of the step, per node.
    v_old: Vec<f64>,
    /// The voltage constant term (divided by Cm) of the forward step, per node.
    cst_v: Vec<f64>,
    tape: Option<Tape>,
    /// The whole-step adjoint of [`crate::value_and_grad`], for steps the tape does not describe
    /// (synapses, mechanisms that write the voltage).
    step_adjoint: Option<crate::grad::step_vjp::StepAdjoint>,
}

/// Local Jacobians of the stages before the voltage solve: for every input key (a dynamic key,
/// `v` included) and every output (each non-`v` dynamic key, then the voltage slope and constant),
/// the derivative at every node.
struct Tape {
    /// Dynamic-key indices of the outputs that are states (every dynamic key but `v`).
    out_keys: Vec<usize>,
    /// `jac[(input * (out_keys.len() + 2) + output) * n_nodes + node]`.
    jac: Vec<f64>,
    /// The voltage slope (divided by Cm) at every node.
    lin_v: Vec<f64>,
}

impl DynamicStateUtils {
    /// Linearises one step of the flat-state map at `x` (performs that step; see
    /// [`Linearization`]).
    ///
    /// ```
    /// use huxley::{Branch, Cell, Compartment, Externals, HH, Solver, VoltageSolver};
    /// use huxley::{build_dynamic_state_utils, build_init_and_step_fn};
    /// # fn main() -> huxley::Result<()> {
    /// let mut cell = Cell::new(&Branch::new(&Compartment::new(), 2)?, &[-1, 0, 0])?;
    /// cell.insert(HH)?;
    /// let (init_fn, step_fn) = build_init_and_step_fn(&cell, VoltageSolver::Hines, Solver::BwdEuler)?;
    /// let utils = build_dynamic_state_utils(&cell)?;
    /// let (states, params) = init_fn.init::<f64>(&[], None, None, 0.025)?;
    /// let x = utils.flatten(&utils.remove_observables(&states)?)?;
    /// let mut lin = utils.linearize(&step_fn, x.as_slice(), &params, Externals::none().at(0), 0.025)?;
    /// let j = lin.jacobian()?;
    /// let w = nalgebra::DVector::from_element(x.len(), 1.0);
    /// let jt_w = lin.vjp(&w)?;
    /// assert!((j.transpose() * &w - jt_w).norm() < 1e-10 * j.norm());
    /// # Ok(()) }
    /// ```
    pub fn linearize(
        &self,
        step_fn: &StepFn,
        x: &[f64],
        all_params: &AllParams<f64>,
        ext: ExternalsAt<'_, f64>,
        delta_t: f64,
    ) -> Result<Linearization> {
        if step_fn.compiled().states.fingerprint != self.c.states.fingerprint {
            return Err(Error::LayoutMismatch(
                "step function of another model than these utilities".into(),
            ));
        }
        crate::error::check_positive("delta_t", delta_t, || "linearize".into())?;
        let ext = ext.to_owned();
        let dynamic = self.unflatten(x)?;
        let mut s = AllStates::from_data(&self.c, vec![f64::NAN; self.c.states.total_len()]);
        self.scatter(&dynamic, all_params, &mut s)?;
        let n = self.c.n_nodes();
        let v_old = s.data[..n].to_vec();
        // The forward step, stage by stage, to keep the voltages of the linear solve.
        let (solver, vsolver) = (step_fn.solver(), step_fn.voltage_solver());
        let mut ws = step::take_workspace(&self.c, &mut s);
        step::pre_solve(&self.c, &mut s, all_params, ext.at(0), delta_t, &mut ws);
        let cst_v = ws.cst[..n].to_vec();
        step::solve_voltage(
            &self.c, solver, vsolver, &mut s, all_params, delta_t, &mut ws,
        )?;
        let v_sol = match solver {
            Solver::CrankNicolson => s.data[..n]
                .iter()
                .zip(&v_old)
                .map(|(a, b)| 0.5 * (a + b))
                .collect(),
            _ => s.data[..n].to_vec(),
        };
        step::clamp_voltage(&mut s, ext.at(0));
        s.ws = ws;
        let x_next = self.flatten(&self.remove_observables(&s)?)?;
        let params_dual = all_params.cast::<Dual64>();
        let dual_states = AllStates::from_data(
            &self.c,
            vec![Dual64::from(f64::NAN); self.c.states.total_len()],
        );
        let dual_dyn = DynamicStates {
            layout: self.layout.clone(),
            data: vec![Dual64::from(0.0); self.len()],
        };
        Ok(Linearization {
            utils: self.clone(),
            solver,
            voltage_solver: vsolver,
            dt: delta_t,
            x: x.to_vec(),
            x_next,
            params: all_params.clone(),
            params_dual,
            ext,
            dual_states,
            dual_dyn,
            v_sol,
            v_old,
            cst_v,
            tape: None,
            step_adjoint: None,
        })
    }
}

impl Linearization {
    /// The state the step was linearised at.
    pub fn x(&self) -> &[f64] {
        &self.x
    }

    /// `F(x)`: the state after the step.
    pub fn x_next(&self) -> &DVector<f64> {
        &self.x_next
    }

    /// Dimension of the flat state.
    pub fn dim(&self) -> usize {
        self.x.len()
    }

    /// `J v`: the derivative of `F` at `x` in direction `v`, by one step with dual numbers.
    pub fn jvp(&mut self, v: &DVector<f64>) -> Result<DVector<f64>> {
        self.check_len(v.len(), "tangent")?;
        for ((d, &x), &e) in self.dual_dyn.data.iter_mut().zip(&self.x).zip(v.iter()) {
            *d = Dual64::new(x, e);
        }
        self.utils
            .scatter(&self.dual_dyn, &self.params_dual, &mut self.dual_states)?;
        step::step(
            &self.utils.c,
            self.solver,
            self.voltage_solver,
            &crate::Parallelism::Serial,
            &mut self.dual_states,
            &self.params_dual,
            self.ext.at(0),
            self.dt,
        )?;
        self.utils
            .remove_observables_into(&self.dual_states, &mut self.dual_dyn)?;
        Ok(DVector::from_iterator(
            self.dim(),
            self.dual_dyn.data.iter().map(|d| d.eps),
        ))
    }

    /// The dense Jacobian `∂F/∂x` (one JVP per column).
    pub fn jacobian(&mut self) -> Result<DMatrix<f64>> {
        let n = self.dim();
        let mut j = DMatrix::zeros(n, n);
        let mut e = DVector::zeros(n);
        for col in 0..n {
            e[col] = 1.0;
            let c = self.jvp(&e)?;
            j.set_column(col, &c);
            e[col] = 0.0;
        }
        Ok(j)
    }

    /// `Jᵀ w` without forming `J` (every solver). The first call computes
    /// and stores the local Jacobians of the compartments (one dual-number pass per dynamic key);
    /// later calls reuse them and cost about one transposed tree solve plus a small product per
    /// compartment. Models with synapses or mechanisms that write the voltage use the whole-step
    /// adjoint of [`crate::value_and_grad`] instead (dual-number passes through the step);
    /// with ion diffusion (or exponential Euler with those) the product goes through the dense
    /// Jacobian (one JVP per state; fine for small models).
    pub fn vjp(&mut self, w: &DVector<f64>) -> Result<DVector<f64>> {
        self.check_len(w.len(), "cotangent")?;
        let c = &self.utils.c;
        let nonlocal = !c.syns.is_empty() || c.sets_voltage;
        if !c.diffused.is_empty() || (nonlocal && self.solver == Solver::ExpEuler) {
            // A diffused ion is solved on the tree, and the whole-step adjoint below has no
            // exponential Euler: the product goes through the dense Jacobian.
            let j = self.jacobian()?;
            return Ok(j.transpose() * w);
        }
        if nonlocal {
            // Synapses couple compartments of different cells, and a mechanism that writes the
            // voltage changes the voltage the solve starts from: the local tape below does not
            // describe these steps; the whole-step adjoint of the gradients does.
            if self.step_adjoint.is_none() {
                self.step_adjoint = Some(crate::grad::step_vjp::StepAdjoint::new(
                    self.utils.clone(),
                    self.solver,
                    self.voltage_solver,
                    self.dt,
                    self.params.clone(),
                    &[],
                    crate::Parallelism::Serial,
                )?);
            }
            let sa = self.step_adjoint.as_mut().expect("built above");
            let mut out = vec![0.0; self.x.len()];
            sa.vjp(&self.x, self.ext.at(0), w.as_slice(), &mut out)?;
            return Ok(DVector::from_vec(out));
        }
        if self.tape.is_none() {
            self.tape = Some(self.record_tape()?);
        }
        let tape = self.tape.as_ref().expect("recorded");
        let c = &self.utils.c;
        let dl = &self.utils.layout;
        let n = c.n_nodes();
        let nk = dl.keys.len();
        // Cotangents per key and node.
        let mut wn = vec![0.0; nk * n];
        for k in 0..nk {
            for (&x, &node) in w.as_slice()[dl.range(k)].iter().zip(&dl.entries[k]) {
                wn[k * n + node as usize] = x;
            }
        }
        let kv = dl
            .keys
            .binary_search_by(|k| k.as_str().cmp("v"))
            .expect("v is dynamic");
        let mut w_v = wn[kv * n..(kv + 1) * n].to_vec();
        for s in self.ext.series.iter().filter(|s| s.key_id == 0) {
            for &node in &s.nodes {
                w_v[node as usize] = 0.0; // a clamped voltage does not depend on anything
            }
        }
        // The adjoint of the voltage stage: cotangents of v_old (directly), of the slope and of
        // the constant of the linearised currents.
        let adj = self.voltage_adjoint(&w_v, &tape.lin_v)?;
        let n_out = tape.out_keys.len() + 2;
        let nl = tape.out_keys.len();
        let mut out = DVector::zeros(self.dim());
        for kin in 0..nk {
            for (slot, &node) in dl.range(kin).zip(&dl.entries[kin]) {
                let i = node as usize;
                let jac = |o: usize| tape.jac[(kin * n_out + o) * n + i];
                let mut acc = 0.0;
                for (o, &ko) in tape.out_keys.iter().enumerate() {
                    acc += jac(o) * wn[ko * n + i];
                }
                acc += jac(nl) * adj.lin[i] + jac(nl + 1) * adj.cst[i];
                if kin == kv {
                    acc += adj.v[i];
                }
                out[slot] = acc;
            }
        }
        Ok(out)
    }

    /// Cotangents of `v_old`, `lin` and `cst` given the cotangent `w` of the new voltage.
    fn voltage_adjoint(&self, w: &[f64], lin: &[f64]) -> Result<VoltageAdjoint> {
        let c = &self.utils.c;
        let mut adj = VoltageAdjoint::new(c);
        let stage = VoltageStage {
            c,
            solver: self.solver,
            dt: self.dt,
            params: &self.params,
            lin,
            cst: &self.cst_v,
            v_sol: &self.v_sol,
            v_old: &self.v_old,
        };
        voltage_adjoint(&stage, w, &mut adj, None)?;
        Ok(adj)
    }

    /// One dual-number pass per dynamic key through the local stages of the step.
    fn record_tape(&mut self) -> Result<Tape> {
        let c = self.utils.c.clone();
        let dl = self.utils.layout.clone();
        let n = c.n_nodes();
        let kv = dl
            .keys
            .binary_search_by(|k| k.as_str().cmp("v"))
            .expect("v is dynamic");
        let out_keys: Vec<usize> = (0..dl.keys.len()).filter(|&k| k != kv).collect();
        let n_out = out_keys.len() + 2;
        let mut jac = vec![0.0; dl.keys.len() * n_out * n];
        let mut lin_v = vec![0.0; n];
        for kin in 0..dl.keys.len() {
            dual_pass(
                &self.utils,
                &self.x,
                &dl.range(kin).collect::<Vec<_>>(),
                &self.params_dual,
                self.ext.at(0),
                self.dt,
                &mut self.dual_dyn,
                &mut self.dual_states,
            )?;
            let ws = &self.dual_states.ws;
            for (o, &ko) in out_keys.iter().enumerate() {
                let src = &self.dual_states.data[dl.states.range(dl.all_key[ko])];
                let dst = &mut jac[(kin * n_out + o) * n..(kin * n_out + o + 1) * n];
                for &node in &dl.entries[ko] {
                    dst[node as usize] = src[node as usize].eps;
                }
            }
            let o = out_keys.len();
            for (i, (l, cst)) in ws.lin[..n].iter().zip(&ws.cst[..n]).enumerate() {
                jac[(kin * n_out + o) * n + i] = l.eps;
                jac[(kin * n_out + o + 1) * n + i] = cst.eps;
                lin_v[i] = l.re;
            }
        }
        Ok(Tape {
            out_keys,
            jac,
            lin_v,
        })
    }

    fn check_len(&self, len: usize, what: &str) -> Result<()> {
        if len != self.dim() {
            return Err(Error::LengthMismatch {
                what: format!("{what} vector"),
                expected: self.dim(),
                got: len,
            });
        }
        Ok(())
    }
}
