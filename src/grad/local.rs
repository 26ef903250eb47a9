//! The local stages of a step by reverse mode, per compartment, for models of channels with
//! independent states (e.g. Hodgkin–Huxley cells, Pospischil's channels): in place of the dual-number passes of
//! [`super::passes`], one `f64` forward run of the local stages and the update's partials
//! ([`crate::mechanisms::Mechanism::update_partials`]) before the cotangent is known, and one
//! sweep over each mechanism's compartments that pulls the cotangent back through the currents,
//! their linearisation and the updates ([`crate::mechanisms::Mechanism::current_vjp`]).
//!
//! Per compartment, with `k = 1000 / Cm`, the stages give the voltage solve
//! `lin = k Σ g` and `cst = k Σ (g v − I) + I_ext / Cm`, summed over the channels, where `I` is
//! a channel's current at the updated states and `g` its finite-difference slope. So the
//! cotangents `λ_lin`, `λ_cst` of the solve's terms reach each channel as
//! `ḡ = k (λ_lin + λ_cst v)` and `Ī = −k λ_cst`, the voltage directly as `λ_cst lin`, and
//! `1/Cm` as `(λ_lin lin + λ_cst cst) Cm`.

use crate::compile::{Chunk, Compiled};
use crate::dynamics::DynamicStateUtils;
use crate::dynamics::step_adjoint::VoltageAdjoint;
use crate::externals::ExternalsAt;
use crate::mechanisms::vjp::{PartialsArgs, StateVjpArgs, Vars, VarsMut};
use crate::state::{AllParams, AllStates};
use crate::step;

/// Which models the local reverse mode covers, and its index maps: for the whole model, or for
/// a part of its nodes (see [`super::split`]).
pub(crate) struct LocalVjp {
    /// The mechanisms at the nodes it covers.
    mechs: Vec<LocalMech>,
    /// Index of `v` among the dynamic keys.
    kv: usize,
    /// What the chain rule to the trainables reads (see [`Wanted`]).
    wanted: Wanted,
    /// The nodes it covers, and their entries of `v` in the flat state.
    nodes: std::ops::Range<usize>,
    v_entries: std::ops::Range<usize>,
    /// For a part of the model: the chunk of its nodes, whose currents it computes.
    chunk: Option<Chunk>,
}

/// Which cotangents the chain rule to the trainable and `data_set` values reads: the others
/// are not accumulated (the dual-number passes run only for those parameters, too).
#[derive(Clone, Debug, Default)]
pub(crate) struct Wanted {
    /// The cotangent of `1/Cm` (the capacitance is trained or set).
    pub inv_cm: bool,
    /// Per key of `all_params` (empty: every key).
    pub params: Vec<bool>,
}

impl Wanted {
    /// Whether the cotangent of the parameter key `k` is wanted.
    fn param(&self, k: usize) -> bool {
        self.params.get(k).copied().unwrap_or(true)
    }
}

/// One mechanism's compartments and where its variables live.
struct LocalMech {
    /// Index into `Compiled::mechs`.
    mi: usize,
    nodes: Vec<usize>,
    /// The first node, if the nodes are consecutive: the kernels then read and write the
    /// model's arrays in place; otherwise through the buffers.
    start: Option<usize>,
    /// Offsets (see [`Vars`]) of the states in the flat state (where each state's dynamic key
    /// holds it at the mechanism's nodes, in order); of the states and the parameters
    /// in the buffers; of one variable at the start of a buffer.
    flat: Vec<usize>,
    own_s: Vec<usize>,
    own_p: Vec<usize>,
    /// Of the parameter partials in their buffer (none if the update reads no parameter).
    own_dp: Vec<usize>,
    own_1: [usize; 1],
    /// For consecutive nodes: offsets of the voltage (and other per-node arrays), of the states
    /// in the state store and of the parameters in the parameter store.
    at_node: [usize; 1],
    at_s: Vec<usize>,
    at_p: Vec<usize>,
    /// Per parameter: whether its cotangent is wanted (see [`Wanted`]).
    p_keep: Vec<bool>,
}

/// The buffers of one step's local reverse mode: the forward run's states and, per mechanism,
/// the update partials (filled before the cotangent is known) and, for mechanisms on scattered
/// nodes, copies of their variables.
pub(crate) struct LocalPrep {
    pub s: AllStates<f64>,
    bufs: Vec<MechBufs>,
    /// Per node: the cotangents of the current and slope of every channel there.
    i_bar: Vec<f64>,
    g_bar: Vec<f64>,
    /// Per node: the cotangent of the voltage at the start of the step.
    v_bar: Vec<f64>,
}

impl LocalPrep {
    /// The forward run's slopes of the voltage solve, per node.
    pub(crate) fn fwd_lin(&self) -> &[f64] {
        &self.s.ws.lin[..self.v_bar.len()]
    }
}

/// One mechanism's buffers: the partials (`S` variables each), and for scattered nodes the
/// gathered voltages, parameters, updated states and cotangents (empty otherwise).
struct MechBufs {
    ds_dv: Vec<f64>,
    ds_ds: Vec<f64>,
    ds_dp: Vec<f64>,
    v: Vec<f64>,
    p: Vec<f64>,
    s_new: Vec<f64>,
    i_bar: Vec<f64>,
    g_bar: Vec<f64>,
    p_bar: Vec<f64>,
    v_bar: Vec<f64>,
}

/// Where [`LocalVjp::finish`] writes.
pub(crate) struct LocalTargets<'a> {
    /// `(∂x_{n+1}/∂x_n)ᵀ w`, flat (every entry is written).
    pub out: &'a mut [f64],
    /// Cotangents of `all_params.data` and `inv_cm` (added to).
    pub data: &'a mut [f64],
    pub inv_cm: &'a mut [f64],
}

impl LocalMech {
    /// The offsets of a variable group in the model's arrays (`at`) for consecutive nodes, else
    /// in the buffers (`own`).
    fn off<'a>(&self, at: &'a [usize], own: &'a [usize]) -> &'a [usize] {
        if self.start.is_some() { at } else { own }
    }

    /// `dst[j] = src[node j]`.
    fn gather(&self, dst: &mut [f64], src: &[f64]) {
        dst.iter_mut()
            .zip(&self.nodes)
            .for_each(|(d, &i)| *d = src[i]);
    }

    /// `dst[node j] = src[j]`.
    fn scatter(&self, dst: &mut [f64], src: &[f64]) {
        src.iter().zip(&self.nodes).for_each(|(&x, &i)| dst[i] = x);
    }

    /// `dst[node j] += src[j]`.
    fn scatter_add(&self, dst: &mut [f64], src: &[f64]) {
        src.iter().zip(&self.nodes).for_each(|(&x, &i)| dst[i] += x);
    }
}

impl LocalVjp {
    /// The local reverse mode of the step, if the model is one it covers: channels only (no
    /// pump, synapse or mechanism that sets the voltage), each with independent states; no
    /// clamp; every dynamic key is `v` or the state of one mechanism on all of its nodes.
    /// `wanted`: the cotangents it accumulates.
    pub(crate) fn new(
        c: &Compiled,
        utils: &DynamicStateUtils,
        kv: usize,
        wanted: Wanted,
    ) -> Option<LocalVjp> {
        Self::for_nodes(c, utils, kv, wanted, 0..c.n_nodes())
    }

    /// [`LocalVjp::new`] for the nodes `range` only: the partials, currents and pull-back at
    /// those nodes, with containers that hold the other nodes' values only where the model
    /// couples them (the voltages).
    pub(crate) fn for_nodes(
        c: &Compiled,
        utils: &DynamicStateUtils,
        kv: usize,
        wanted: Wanted,
        range: std::ops::Range<usize>,
    ) -> Option<LocalVjp> {
        if !c.syns.is_empty() || c.sets_voltage {
            return None;
        }
        if c.externals.series.iter().any(|s| s.key_id != usize::MAX) {
            return None;
        }
        let dl = &utils.layout;
        let mut owned = vec![false; dl.keys.len()];
        owned[kv] = true;
        let mut mechs = Vec::with_capacity(c.mechs.len());
        for (mi, m) in c.mechs.iter().enumerate() {
            let info = m.mech.info();
            if m.target != 0 || !info.independent_states {
                return None;
            }
            let (nodes, start): (Vec<usize>, _) = match &m.nodes {
                crate::compile::NodeSet::Range(a, len) => ((*a..a + len).collect(), Some(*a)),
                crate::compile::NodeSet::List(l) => (l.iter().map(|&i| i as usize).collect(), None),
            };
            let mut keys = Vec::with_capacity(m.state_off.len());
            for &off in &m.state_off {
                let k = (0..dl.keys.len()).find(|&k| c.states.offset(dl.all_key[k]) == off)?;
                let same = dl.entries[k].len() == nodes.len()
                    && dl.entries[k]
                        .iter()
                        .zip(&nodes)
                        .all(|(&e, &i)| e as usize == i);
                if owned[k] || !same {
                    return None;
                }
                owned[k] = true;
                keys.push(k);
            }
            // The mechanism's compartments in `range`: `nodes[j0..j1]`.
            let j0 = nodes.partition_point(|&i| i < range.start);
            let j1 = nodes.partition_point(|&i| i < range.end);
            if j0 == j1 {
                continue;
            }
            let nodes = nodes[j0..j1].to_vec();
            let (len, a) = (nodes.len(), start.map_or(0, |a| a + j0));
            mechs.push(LocalMech {
                mi,
                start: start.map(|_| a),
                flat: keys.iter().map(|&k| dl.offsets[k] + j0).collect(),
                own_s: (0..keys.len()).map(|k| k * len).collect(),
                own_p: (0..m.param_off.len()).map(|k| k * len).collect(),
                own_dp: match info.update_reads_params {
                    true => (0..keys.len() * m.param_off.len())
                        .map(|k| k * len)
                        .collect(),
                    false => Vec::new(),
                },
                own_1: [0],
                at_node: [a],
                at_s: m.state_off.iter().map(|&o| o + a).collect(),
                at_p: m.param_off.iter().map(|&o| o + a).collect(),
                p_keep: (m.param_off.iter())
                    .map(|&o| c.params.key_at(o).is_none_or(|k| wanted.param(k)))
                    .collect(),
                nodes,
            });
        }
        // Any other dynamic key (a current a mechanism reads, an ion) is not covered.
        let ev = &dl.entries[kv];
        let v_entries = ev.partition_point(|&i| (i as usize) < range.start)
            ..ev.partition_point(|&i| (i as usize) < range.end);
        let whole = range == (0..c.n_nodes());
        owned.iter().all(|&o| o).then(|| LocalVjp {
            mechs,
            kv,
            wanted,
            chunk: (!whole).then(|| c.chunk_of(range.clone())),
            nodes: range,
            v_entries,
        })
    }

    /// Whether the cotangent of `1/Cm` is wanted.
    pub(crate) fn wanted(&self) -> &Wanted {
        &self.wanted
    }

    /// The nodes it covers.
    pub(crate) fn nodes(&self) -> std::ops::Range<usize> {
        self.nodes.clone()
    }

    /// A set of buffers.
    pub(crate) fn prep(&self, c: &Compiled) -> LocalPrep {
        let n = c.n_nodes();
        let bufs = self
            .mechs
            .iter()
            .map(|lm| {
                let m = &c.mechs[lm.mi];
                let len = lm.nodes.len();
                let (ns, np) = (m.state_off.len() * len, m.param_off.len() * len);
                // Copies for scattered nodes only.
                let (l1, ls, lp) = match lm.start {
                    Some(_) => (0, 0, 0),
                    None => (len, ns, np),
                };
                MechBufs {
                    ds_dv: vec![0.0; ns],
                    ds_ds: vec![0.0; ns],
                    ds_dp: vec![0.0; lm.own_dp.len() * len],
                    v: vec![0.0; l1],
                    p: vec![0.0; lp],
                    s_new: vec![0.0; ls],
                    i_bar: vec![0.0; l1],
                    g_bar: vec![0.0; l1],
                    p_bar: vec![0.0; lp],
                    v_bar: vec![0.0; l1],
                }
            })
            .collect();
        let mut s = AllStates::from_data(c, vec![f64::NAN; c.states.total_len()]);
        // The updated states come from the partials: the forward run computes the currents only.
        s.ws.update_mask = Some(vec![false; c.mechs.len()]);
        LocalPrep {
            s,
            bufs,
            i_bar: vec![0.0; n],
            g_bar: vec![0.0; n],
            v_bar: vec![0.0; n],
        }
    }

    /// Before the cotangent is known, at the state `x` (flat; `v_bp`: its voltages per node
    /// with the branchpoints'): every mechanism's update partials, and the forward run of the
    /// currents in `f64` (which gives the voltage solve its terms).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn prepare(
        &self,
        c: &Compiled,
        lp: &mut LocalPrep,
        x: &[f64],
        v_bp: &[f64],
        params: &AllParams<f64>,
        ext: ExternalsAt<'_, f64>,
        dt: f64,
    ) {
        // The voltages at its nodes (the currents read no others); the mechanisms' states are
        // written updated, below.
        let r = self.nodes.clone();
        lp.s.data[r.clone()].copy_from_slice(&v_bp[r]);
        for (lm, b) in self.mechs.iter().zip(&mut lp.bufs) {
            let m = &c.mechs[lm.mi];
            let s = Vars {
                data: x,
                off: &lm.flat,
            };
            let (ds_dv, ds_ds, ds_dp) = (
                VarsMut {
                    data: &mut b.ds_dv,
                    off: &lm.own_s,
                },
                VarsMut {
                    data: &mut b.ds_ds,
                    off: &lm.own_s,
                },
                VarsMut {
                    data: &mut b.ds_dp,
                    off: &lm.own_dp,
                },
            );
            let len = lm.nodes.len();
            // Consecutive nodes: read and write the model's arrays in place; otherwise copies.
            let contiguous = lm.start.is_some();
            if !contiguous {
                lm.gather(&mut b.v, v_bp);
                for (k, &off) in m.param_off.iter().enumerate() {
                    lm.gather(&mut b.p[k * len..(k + 1) * len], &params.data[off..]);
                }
            }
            m.mech.update_partials(&mut PartialsArgs {
                len,
                dt,
                v: Vars {
                    data: if contiguous { v_bp } else { &b.v },
                    off: lm.off(&lm.at_node, &lm.own_1),
                },
                s,
                p: Vars {
                    data: if contiguous { &params.data } else { &b.p },
                    off: lm.off(&lm.at_p, &lm.own_p),
                },
                s_new: VarsMut {
                    data: if contiguous {
                        &mut lp.s.data
                    } else {
                        &mut b.s_new
                    },
                    off: lm.off(&lm.at_s, &lm.own_s),
                },
                ds_dv,
                ds_ds,
                ds_dp,
            });
            if !contiguous {
                for (k, &off) in m.state_off.iter().enumerate() {
                    lm.scatter(&mut lp.s.data[off..], &b.s_new[k * len..(k + 1) * len]);
                }
            }
        }
        let mut ws = step::take_workspace(c, &mut lp.s);
        match &self.chunk {
            Some(ch) => step::pre_solve_chunk(c, ch, &mut lp.s, params, ext, dt, &mut ws),
            None => step::pre_solve(c, &mut lp.s, params, ext, dt, &mut ws),
        }
        lp.s.ws = ws;
        let r = self.nodes.clone();
        debug_assert!(
            lp.s.data[r.clone()]
                .iter()
                .zip(&v_bp[r])
                .all(|(a, b)| a == b)
        );
    }

    /// With the voltage stage's cotangents `adj` and the step's output cotangent `w` (flat):
    /// the step's vector–Jacobian product through the local stages.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn finish(
        &self,
        c: &Compiled,
        utils: &DynamicStateUtils,
        lp: &mut LocalPrep,
        params: &AllParams<f64>,
        adj: &VoltageAdjoint,
        w: &[f64],
        t: &mut LocalTargets<'_>,
    ) {
        let dl = &utils.layout;
        let n = c.n_nodes();
        let LocalPrep {
            s: fwd,
            bufs,
            i_bar,
            g_bar,
            v_bar,
        } = lp;
        // The forward stage's arrays: the voltages and the voltage solve's terms.
        let (v_old, lin, cst) = (&fwd.data[..n], &fwd.ws.lin[..n], &fwd.ws.cst[..n]);
        for i in self.nodes.clone() {
            let (l, cb) = (adj.lin[i], adj.cst[i]);
            let k = 1000.0 * params.inv_cm[i];
            g_bar[i] = k * (l + cb * v_old[i]);
            i_bar[i] = -k * cb;
            v_bar[i] = adj.v[i] + cb * lin[i];
        }
        // `1/Cm` scales the terms of compartments (branchpoints have none).
        let v_entries = &dl.entries[self.kv][self.v_entries.clone()];
        for &i in v_entries.iter().filter(|_| self.wanted.inv_cm) {
            let i = i as usize;
            let (l, cb) = (adj.lin[i], adj.cst[i]);
            t.inv_cm[i] += (l * lin[i] + cb * cst[i]) / params.inv_cm[i];
        }
        for (lm, b) in self.mechs.iter().zip(bufs.iter_mut()) {
            let m = &c.mechs[lm.mi];
            let len = lm.nodes.len();
            let ds_dp = Vars {
                data: &b.ds_dp,
                off: &lm.own_dp,
            };
            let (w, ds_dv, ds_ds) = (
                Vars {
                    data: w,
                    off: &lm.flat,
                },
                Vars {
                    data: &b.ds_dv,
                    off: &lm.own_s,
                },
                Vars {
                    data: &b.ds_ds,
                    off: &lm.own_s,
                },
            );
            let s_bar = VarsMut {
                data: &mut *t.out,
                off: &lm.flat,
            };
            let contiguous = lm.start.is_some();
            if !contiguous {
                lm.gather(&mut b.i_bar, i_bar);
                lm.gather(&mut b.g_bar, g_bar);
                b.p_bar.fill(0.0);
                b.v_bar.fill(0.0);
            }
            let node = lm.off(&lm.at_node, &lm.own_1);
            let per_node = |arr, buf| Vars {
                data: if contiguous { arr } else { buf },
                off: node,
            };
            m.mech.state_vjp(&mut StateVjpArgs {
                len,
                v: per_node(&fwd.data, &b.v),
                s_new: Vars {
                    data: if contiguous { &fwd.data } else { &b.s_new },
                    off: lm.off(&lm.at_s, &lm.own_s),
                },
                ds_dv,
                ds_ds,
                ds_dp,
                p: Vars {
                    data: if contiguous { &params.data } else { &b.p },
                    off: lm.off(&lm.at_p, &lm.own_p),
                },
                w,
                i_bar: per_node(i_bar, &b.i_bar),
                g_bar: per_node(g_bar, &b.g_bar),
                s_bar,
                p_bar: VarsMut {
                    data: if contiguous {
                        &mut *t.data
                    } else {
                        &mut b.p_bar
                    },
                    off: lm.off(&lm.at_p, &lm.own_p),
                },
                p_keep: &lm.p_keep,
                v_bar: VarsMut {
                    data: if contiguous {
                        &mut *v_bar
                    } else {
                        &mut b.v_bar
                    },
                    off: node,
                },
            });
            if !contiguous {
                for (k, &off) in m.param_off.iter().enumerate() {
                    if lm.p_keep[k] {
                        lm.scatter_add(&mut t.data[off..], &b.p_bar[k * len..(k + 1) * len]);
                    }
                }
                lm.scatter_add(v_bar, &b.v_bar);
            }
        }
        let out_v = &mut t.out[dl.range(self.kv)][self.v_entries.clone()];
        for (o, &i) in out_v.iter_mut().zip(v_entries) {
            *o = v_bar[i as usize];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::*;

    /// Which models the local reverse mode covers: channels with independent states, without
    /// clamps, pumps or synapses.
    #[test]
    fn local_reverse_mode_covers_independent_channels_only() -> Result<()> {
        fn covered(module: &Module) -> Result<bool> {
            let utils = build_dynamic_state_utils(module)?;
            let kv = utils.layout.key("v").expect("v");
            Ok(LocalVjp::new(&utils.c, &utils, kv, Wanted::default()).is_some())
        }
        let base = || -> Result<Cell> {
            let mut cell = Cell::new(&Branch::new(&Compartment::new(), 2)?, &[-1, 0, 0])?;
            cell.insert(HH)?;
            cell.branch(1)?.insert(Leak)?.insert(CaL)?;
            cell.branch(0)?.comp(0)?.stimulate(&[0.1; 10]);
            Ok(cell)
        };
        assert!(covered(&Module::from(base()?))?);
        // Na's update reads its parameter `vt`: covered too.
        let mut na = base()?;
        na.branch(2)?.insert(Na)?;
        assert!(covered(&Module::from(na))?);
        // A pump makes the calcium current and concentration states.
        let mut pump = base()?;
        pump.branch(1)?.insert(CaPump)?;
        assert!(!covered(&Module::from(pump))?);
        // A clamped state or voltage.
        let mut clamp = base()?;
        clamp.branch(2)?.comp(1)?.clamp("HH_m", &[0.3; 10])?;
        assert!(!covered(&Module::from(clamp))?);
        let mut vclamp = base()?;
        vclamp.branch(2)?.comp(1)?.clamp("v", &[-60.0; 10])?;
        assert!(!covered(&Module::from(vclamp))?);
        // Synapses.
        let mut net = Network::new(&[base()?, base()?])?;
        let pre = net.cell(0)?.branch(0)?.loc(0.0)?.selection();
        let post = net.cell(1)?.branch(1)?.loc(0.0)?.selection();
        connect(&mut net, &pre, &post, IonotropicSynapse)?;
        assert!(!covered(&Module::from(net))?);
        Ok(())
    }
}
