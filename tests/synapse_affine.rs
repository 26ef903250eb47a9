//! Synapse updates computed once per pre-synaptic node (`Synapse::PRE_AFFINE`) give exactly the
//! numbers of the update computed edge by edge: the built-in synapses against copies of
//! themselves that do not declare it, in simulations and in gradients.

mod common;

use common::MeanSq;
use huxley::grad::{Checkpointing, GradOptions, Gradient};
use huxley::mechanisms::Var;
use huxley::synapses::Synapse;
use huxley::*;
use nalgebra::DMatrix;

/// A synapse with the same name, variables and equations as `Y`, updated edge by edge.
#[derive(Clone)]
struct PerEdge<Y>(Y);

impl<Y: Synapse<P, S>, const P: usize, const S: usize> Synapse<P, S> for PerEdge<Y> {
    fn name(&self) -> &str {
        self.0.name()
    }
    fn params(&self) -> [Var; P] {
        self.0.params()
    }
    fn states(&self) -> [Var; S] {
        self.0.states()
    }
    #[inline(always)]
    fn update_states<T: Scalar>(&self, s: &mut [T; S], p: &[T; P], v_pre: T, v_post: T, dt: T) {
        self.0.update_states(s, p, v_pre, v_post, dt)
    }
    #[inline(always)]
    fn compute_current<T: Scalar>(&self, s: &[T; S], p: &[T; P], v_pre: T, v_post: T) -> T {
        self.0.compute_current(s, p, v_pre, v_post)
    }
}

/// HH cells firing tonically, fully connected by both built-in exponential-Euler synapse
/// types (every cell a pre-synaptic node of `n − 1` edges per type), either as they are or
/// wrapped in [`PerEdge`].
fn net(n_cells: usize, per_edge: bool) -> Result<Network> {
    let branch = Branch::new(&Compartment::new(), 2)?;
    let mut cell = Cell::new(&branch, &[-1, 0, 0])?;
    cell.insert(HH)?;
    cell.set("HH_eLeak", -30.0)?;
    let mut net = Network::new(&vec![cell; n_cells])?;
    let all = net.all().selection();
    if per_edge {
        fully_connect(&mut net, &all, &all, PerEdge(IonotropicSynapse))?;
        fully_connect(&mut net, &all, &all, PerEdge(TestSynapse))?;
    } else {
        fully_connect(&mut net, &all, &all, IonotropicSynapse)?;
        fully_connect(&mut net, &all, &all, TestSynapse)?;
    }
    net.set("IonotropicSynapse_gS", 2e-3)?;
    net.set("TestSynapse_gC", 1e-3)?;
    for c in 0..n_cells {
        net.cell(c)?.branch(2)?.comp(1)?.record("v")?;
    }
    for e in [0, 7] {
        net.synapse("IonotropicSynapse")?
            .edge(e)?
            .record("IonotropicSynapse_s")?;
        net.synapse("TestSynapse")?
            .edge(e)?
            .record("TestSynapse_c")?;
    }
    Ok(net)
}

fn same_bits(a: &DMatrix<f64>, b: &DMatrix<f64>) -> bool {
    a.shape() == b.shape()
        && a.iter()
            .zip(b.iter())
            .all(|(x, y)| x.to_bits() == y.to_bits())
}

#[test]
fn shared_coefficients_give_the_per_edge_trajectory_bit_for_bit() -> Result<()> {
    let o = IntegrateOptions::t_max(10.0);
    let shared = integrate(&*net(12, false)?, &o)?.recordings;
    let per_edge = integrate(&*net(12, true)?, &o)?.recordings;
    assert!(same_bits(&shared, &per_edge));
    // The cells fire and the synapses open: the comparison is not between resting states.
    assert!(shared.rows(0, 12).max() > 0.0);
    let s = shared.row(12);
    assert!(s.max() - s.min() > 0.1, "the synapse state moves");
    Ok(())
}

#[test]
fn edges_with_their_own_threshold_fall_back_to_per_edge_updates() -> Result<()> {
    // One edge's `v_th` differs: the coefficients are no longer the same for every edge of a
    // pre-synaptic node, and must not be shared.
    let o = IntegrateOptions::t_max(10.0);
    let mut results = Vec::new();
    for per_edge in [false, true] {
        let mut net = net(12, per_edge)?;
        net.synapse("IonotropicSynapse")?
            .edge(7)?
            .set("IonotropicSynapse_v_th", -60.0)?;
        results.push(integrate(&net, &o)?.recordings);
    }
    assert!(same_bits(&results[0], &results[1]));
    // And the changed edge behaves differently from its neighbour of the same pre-synaptic
    // node (the state recorded for edge 0), so the test would see a shared threshold.
    let uniform = integrate(&*net(12, false)?, &o)?.recordings;
    assert!(!same_bits(
        &results[0].rows(14, 1).into(),
        &uniform.rows(14, 1).into()
    ));
    Ok(())
}

fn flat(g: &Gradient) -> Vec<f64> {
    g.params
        .iter()
        .flat_map(|p| p.values.iter().copied())
        .collect()
}

#[test]
fn gradients_through_shared_coefficients_equal_the_per_edge_ones() -> Result<()> {
    // Trainable: one shared `gS` and `v_th` for the type, and the thresholds of two single
    // edges (a seed on some edges only makes a parameter non-uniform inside the adjoint).
    let mut grads = Vec::new();
    for per_edge in [false, true] {
        let mut net = net(5, per_edge)?;
        net.synapse("IonotropicSynapse")?
            .make_trainable("IonotropicSynapse_gS", None)?;
        net.synapse("TestSynapse")?
            .make_trainable("TestSynapse_gC", None)?;
        for e in [3, 11] {
            net.synapse("IonotropicSynapse")?
                .edge(e)?
                .make_trainable("IonotropicSynapse_v_th", None)?;
        }
        let o = IntegrateOptions::t_max(5.0);
        let params = net.get_parameters();
        let all = GradOptions {
            checkpointing: Checkpointing::All,
        };
        let g = value_and_grad(&net, &o, &params, None, &MeanSq, &all)?;
        let fwd = value_and_grad_forward(&net, &o, &params, None, &MeanSq)?;
        grads.push((g, fwd));
    }
    let ((shared, shared_fwd), (per_edge, per_edge_fwd)) = (&grads[0], &grads[1]);
    assert_eq!(shared.value.to_bits(), per_edge.value.to_bits());
    assert_eq!(flat(shared), flat(per_edge));
    assert_eq!(flat(shared_fwd), flat(per_edge_fwd));
    assert!(flat(shared).iter().all(|g| g.is_finite() && *g != 0.0));
    Ok(())
}
