//! The dual-number passes of one backward step: which inputs each pass seeds, and how its
//! derivatives are contracted with the output cotangents and attributed back to the inputs.
//!
//! The local stages of a step (mechanisms, currents, pumped ions, synapses) map, per node,
//! inputs at that node to outputs at that node — except synapses, whose outputs (their states,
//! per edge, and their current at the post-synaptic node) also depend on the pre-synaptic
//! voltage, their own states and their parameters. So:
//! - a node key (a dynamic state or a parameter over nodes) is seeded on all nodes at once, with
//!   the pre-synaptic voltages detached: every output at node i (and every synapse state of an
//!   edge ending at i) belongs to the input at i;
//! - a synapse key (state or parameter) is seeded on a set of edges with distinct post-synaptic
//!   nodes (edges coloured by post node), so each output belongs to exactly one edge;
//! - pre-synaptic voltages are seeded on sets of pre-synaptic nodes such that no post-synaptic
//!   node receives from two of them.

use crate::compile::{Compiled, CompiledMech, KeyKind};
use crate::dynamics::DynamicStateUtils;
use crate::dynamics::step_adjoint::VoltageAdjoint;
use crate::error::{Error, Result};
use crate::scalar::Dual64;
use crate::state::{AllParams, AllStates};
use std::ops::Range;

/// `len` consecutive entries starting at `src` that map to consecutive positions starting at
/// `dst`: index maps stored as runs, so that copies through them are plain slice loops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Run {
    pub src: usize,
    pub dst: usize,
    pub len: usize,
}

/// Position in the state store (`AllStates::data`) of every entry of the flat dynamic state.
pub(crate) fn flat_positions(utils: &DynamicStateUtils) -> Vec<usize> {
    let dl = &utils.layout;
    (0..dl.keys.len())
        .flat_map(|k| {
            let off = dl.states.offset(dl.all_key[k]);
            dl.entries[k].iter().map(move |&i| off + i as usize)
        })
        .collect()
}

/// The runs of the map `j ↦ map[j]`.
pub(crate) fn runs(map: impl IntoIterator<Item = usize>) -> Vec<Run> {
    runs_of(map.into_iter().enumerate())
}

/// The runs of the pairs `(j, m)`, in the order given: `j ↦ m` where `j` and `m` both grow by
/// one, merged.
pub(crate) fn runs_of(pairs: impl IntoIterator<Item = (usize, usize)>) -> Vec<Run> {
    let mut out: Vec<Run> = Vec::new();
    for (j, m) in pairs {
        match out.last_mut() {
            Some(r) if r.src + r.len == j && r.dst + r.len == m => r.len += 1,
            _ => out.push(Run {
                src: j,
                dst: m,
                len: 1,
            }),
        }
    }
    out
}

/// Whether a pass can give dynamic key `ko` a derivative part (see [`Pass::changed`]).
fn changes(changed: &Option<Vec<bool>>, ko: usize) -> bool {
    changed.as_ref().is_none_or(|l| l[ko])
}

/// What one pass seeds.
#[derive(Clone, Debug)]
pub(crate) enum PassSeed {
    /// A dynamic node key on all its entries (its index and range in the flat state).
    NodeState(usize, Range<usize>),
    /// A parameter over nodes (its range in `all_params.data`).
    NodeParam(Range<usize>),
    /// `inv_cm`.
    InvCm,
    /// A synapse state key of type `y` on the given entries (edges within the type).
    EdgeState {
        key: usize,
        y: usize,
        edges: Vec<u32>,
    },
    /// A synapse parameter of type `y` (its range in `all_params.data`) on the given edges.
    EdgeParam {
        range: Range<usize>,
        y: usize,
        edges: Vec<u32>,
    },
    /// The pre-synaptic voltages of some slots of `Compiled::pre_nodes`: per slot whether it is
    /// seeded, and per node the seeded slot it receives from (`u32::MAX`: none).
    PreSlots { seeded: Vec<bool>, from: Vec<u32> },
    /// The states of mechanisms with independent states, all at once (see [`super::compress::Compression`]);
    /// never combined.
    Diagonal,
}

/// The buffers of one dual-number pass.
pub(crate) struct Pass {
    pub seed: PassSeed,
    /// The flat state entries the pass seeds.
    pub seed_idx: Vec<usize>,
    /// Parameters with the pass's seed (`None`: the shared unseeded ones).
    pub params: Option<AllParams<Dual64>>,
    pub states: AllStates<Dual64>,
    /// Per node: Σ over the node's outputs of ∂output/∂seed · cotangent(output).
    pub acc: Vec<f64>,
    /// Per synapse type and edge: the same over the edge's states.
    pub acc_edge: Vec<Vec<f64>>,
    /// For a pass that starts after the state updates (see [`super::compress`]): what it takes from
    /// the diagonal pass.
    pub after_update: Option<super::compress::AfterUpdate>,
    /// Per dynamic key, whether the pass can give it a derivative part (`None`: every key):
    /// the seeded key, the states of the mechanisms whose update runs, the currents and ion
    /// targets of those whose current runs, the voltage where a mechanism sets it, and synapse
    /// states.
    /// Only these are contracted: the other outputs have a zero derivative part.
    pub changed: Option<Vec<bool>>,
    /// The copy of the flat state into the pass's states, restricted to the live keys — those
    /// the pass can change or its mechanisms read (`None`: the whole flat state); the others
    /// are never read and keep a zero derivative part.
    pub copy_runs: Option<Vec<Run>>,
    /// The derivative parts [`Pass::contract`] reads, packed by [`Pass::extract`] right after
    /// the pass (while they are in the cache of the thread that ran it): those of the voltage
    /// terms `lin` and `cst`, then of every changed node key at its entries, in key order.
    /// Half the bytes of the dual numbers, read in order by the finishing thread.
    pub jac: Vec<f64>,
}

/// The model's synapse structure as the passes need it.
pub(crate) struct SynInfo {
    /// Per dynamic key: its synapse type, if it is a synapse state.
    pub key_type: Vec<Option<usize>>,
    /// Per synapse type: post-synaptic node and pre-synaptic slot of every edge.
    pub post: Vec<Vec<u32>>,
    pub pre_slot: Vec<Vec<u32>>,
    /// Per pre-synaptic slot: its node.
    pub pre_node: Vec<usize>,
    /// Per dynamic key: its nodes (`DynamicLayout::entries`) as runs of consecutive nodes.
    pub node_runs: Vec<Vec<Run>>,
}

impl SynInfo {
    pub(crate) fn new(c: &Compiled, utils: &DynamicStateUtils, kv: usize) -> Result<SynInfo> {
        let dl = &utils.layout;
        let key_type: Vec<Option<usize>> = dl
            .all_key
            .iter()
            .map(|&k| {
                if c.states.kinds[k] != KeyKind::SynapseState {
                    return None;
                }
                let off = c.states.offset(k);
                c.syns.iter().position(|y| y.state_off.contains(&off))
            })
            .collect();
        for (k, t) in key_type.iter().enumerate() {
            if t.is_some()
                && dl.entries[k]
                    .iter()
                    .enumerate()
                    .any(|(j, &e)| e as usize != j)
            {
                return Err(Error::Unsupported(
                    "the adjoint of a synapse state kept on part of its edges".into(),
                ));
            }
        }
        let pre_node = c
            .pre_nodes
            .iter()
            .map(|&node| {
                dl.entries[kv]
                    .binary_search(&node)
                    .map(|_| node as usize)
                    .map_err(|_| {
                        Error::Unsupported(format!(
                            "the adjoint of a synapse whose pre-synaptic node {node} is not a \
                             compartment; use value_and_grad_forward"
                        ))
                    })
            })
            .collect::<Result<_>>()?;
        Ok(SynInfo {
            key_type,
            post: c.syns.iter().map(|y| y.post.clone()).collect(),
            pre_slot: c.syns.iter().map(|y| y.pre_slot.clone()).collect(),
            pre_node,
            node_runs: dl
                .entries
                .iter()
                .map(|e| runs(e.iter().map(|&i| i as usize)))
                .collect(),
        })
    }
}

/// Edges `0..post.len()` in groups with distinct post-synaptic nodes (greedy colouring).
fn colour_by_post(post: &[u32], n: usize) -> Vec<Vec<u32>> {
    let mut groups: Vec<(Vec<u32>, Vec<bool>)> = Vec::new();
    for (e, &p) in post.iter().enumerate() {
        let p = p as usize;
        match groups.iter_mut().find(|g| !g.1[p]) {
            Some(g) => {
                g.1[p] = true;
                g.0.push(e as u32);
            }
            None => {
                let mut used = vec![false; n];
                used[p] = true;
                groups.push((vec![e as u32], used));
            }
        }
    }
    groups.into_iter().map(|g| g.0).collect()
}

/// Pre-synaptic slots in groups such that no post-synaptic node receives from two slots of a
/// group.
fn colour_pre_slots(c: &Compiled) -> Vec<Vec<u32>> {
    let n = c.n_nodes();
    let mut posts: Vec<Vec<usize>> = vec![Vec::new(); c.pre_nodes.len()];
    for y in &c.syns {
        for (&s, &p) in y.pre_slot.iter().zip(&y.post) {
            posts[s as usize].push(p as usize);
        }
    }
    // Per group: the slot each post-synaptic node receives from.
    let mut groups: Vec<(Vec<u32>, Vec<u32>)> = Vec::new();
    for (s, ps) in posts.iter().enumerate() {
        let s32 = s as u32;
        let fits = |owner: &Vec<u32>| ps.iter().all(|&p| owner[p] == u32::MAX || owner[p] == s32);
        let gi = match groups.iter().position(|g| fits(&g.1)) {
            Some(gi) => gi,
            None => {
                groups.push((Vec::new(), vec![u32::MAX; n]));
                groups.len() - 1
            }
        };
        let g = &mut groups[gi];
        g.0.push(s32);
        for &p in ps {
            g.1[p] = s32;
        }
    }
    groups.into_iter().map(|g| g.0).collect()
}

/// The mechanisms a pass has to run (`None`: all): those whose update or current reads
/// something its seed reaches, and, so that they see the real values of their inputs, the
/// mechanisms that write those inputs. Seeds reach a state by being it, or by being read by an
/// update that writes it (updates run in order, currents after all updates); a parameter
/// reaches the mechanisms that read it; synapse seeds reach none. The others would only add
/// zero derivatives — in a cell with many channels most of each pass. Pumps of one ion run
/// together (the ion's implicit Euler step divides by their summed slope), and a pass seeding
/// `inv_cm`, which multiplies the summed currents, runs every mechanism. Mechanisms are taken
/// as wholes over all their nodes; one that writes the voltage makes every pass run
/// everything.
pub(crate) fn mechanisms_reached(
    c: &Compiled,
    utils: &DynamicStateUtils,
    seed: &PassSeed,
) -> Option<Vec<bool>> {
    // `inv_cm` scales the summed currents, so its derivative needs all of them.
    if c.sets_voltage || matches!(seed, PassSeed::InvCm) {
        return None;
    }
    let mechs = &c.mechs;
    // What a mechanism reads: its states (own and shared), the membrane voltage (every update
    // is given it), the state its current acts on (`v` or an ion), its parameters.
    let v = c.states.offset(c.targets[0]);
    let target = |m: &CompiledMech| c.states.offset(c.targets[m.target]);
    let reads_state =
        |m: &CompiledMech, o: usize| o == v || m.state_off.contains(&o) || target(m) == o;
    let (mut reached, param) = match seed {
        PassSeed::NodeState(k, _) => (vec![c.states.offset(utils.layout.all_key[*k])], None),
        PassSeed::NodeParam(r) => (Vec::new(), Some(r.start)),
        _ => (Vec::new(), None),
    };
    let reads_seeded = |m: &CompiledMech, reached: &[usize]| {
        reached.iter().any(|&o| reads_state(m, o))
            || param.is_some_and(|p| m.param_off.contains(&p))
    };
    let mut on = vec![false; mechs.len()];
    for (i, m) in mechs.iter().enumerate() {
        if reads_seeded(m, &reached) {
            on[i] = true;
            reached.extend(&m.state_off);
        }
    }
    for (i, m) in mechs.iter().enumerate() {
        on[i] |= reads_seeded(m, &reached);
    }
    // Writers of what the running mechanisms read, and the other pumps of a running pump's
    // ion, until nothing changes.
    // (Target 0 is `v`.)
    let same_ion = |a: &CompiledMech, b: &CompiledMech| a.target != 0 && a.target == b.target;
    let mut changed = true;
    while changed {
        changed = false;
        for i in 0..mechs.len() {
            if !on[i] {
                continue;
            }
            for j in 0..mechs.len() {
                if !on[j]
                    && (mechs[j]
                        .state_off
                        .iter()
                        .any(|&o| reads_state(&mechs[i], o))
                        || same_ion(&mechs[i], &mechs[j]))
                {
                    on[j] = true;
                    changed = true;
                }
            }
        }
    }
    Some(on)
}

/// Every pass of a backward step.
pub(crate) fn seeds(
    c: &Compiled,
    utils: &DynamicStateUtils,
    syn: &SynInfo,
    node_params: &[usize],
    edge_params: &[(usize, usize)],
    inv_cm: bool,
) -> Vec<PassSeed> {
    let dl = &utils.layout;
    let n = c.n_nodes();
    let mut out = Vec::new();
    for k in 0..dl.keys.len() {
        match syn.key_type[k] {
            None => out.push(PassSeed::NodeState(k, dl.range(k))),
            Some(y) => {
                // Entries of a synapse state are the edges of its type, in order.
                let post: Vec<u32> = dl.entries[k]
                    .iter()
                    .map(|&e| syn.post[y][e as usize])
                    .collect();
                for group in colour_by_post(&post, n) {
                    out.push(PassSeed::EdgeState {
                        key: k,
                        y,
                        edges: group,
                    });
                }
            }
        }
    }
    out.extend(
        node_params
            .iter()
            .map(|&k| PassSeed::NodeParam(c.params.range(k))),
    );
    if inv_cm {
        out.push(PassSeed::InvCm);
    }
    for &(k, y) in edge_params {
        for group in colour_by_post(&syn.post[y], n) {
            out.push(PassSeed::EdgeParam {
                range: c.params.range(k),
                y,
                edges: group,
            });
        }
    }
    if !c.syns.is_empty() {
        for slots in colour_pre_slots(c) {
            let mut seeded = vec![false; c.pre_nodes.len()];
            for &s in &slots {
                seeded[s as usize] = true;
            }
            let mut from = vec![u32::MAX; n];
            for y in &c.syns {
                for (&s, &p) in y.pre_slot.iter().zip(&y.post) {
                    if seeded[s as usize] {
                        from[p as usize] = s;
                    }
                }
            }
            out.push(PassSeed::PreSlots { seeded, from });
        }
    }
    out
}

impl Pass {
    /// A pass with its buffers. `all_mechanisms`: run every mechanism (the pass whose real
    /// parts stand for the step's); otherwise only those the seed reaches.
    pub(crate) fn new(
        c: &Compiled,
        utils: &DynamicStateUtils,
        seed: PassSeed,
        params_dual: &AllParams<Dual64>,
        all_mechanisms: bool,
    ) -> Pass {
        let dl = &utils.layout;
        let params = match &seed {
            PassSeed::NodeParam(r) => {
                let mut p = params_dual.clone();
                p.data[r.clone()].iter_mut().for_each(|x| x.eps = 1.0);
                Some(p)
            }
            PassSeed::InvCm => {
                let mut p = params_dual.clone();
                p.inv_cm.iter_mut().for_each(|x| x.eps = 1.0);
                Some(p)
            }
            PassSeed::EdgeParam { range, edges, .. } => {
                let mut p = params_dual.clone();
                for &e in edges {
                    p.data[range.start + e as usize].eps = 1.0;
                }
                // Seeding some edges may make a parameter non-uniform.
                p.syn_affine = crate::integrate::syn_affine(c, &p);
                Some(p)
            }
            _ => None,
        };
        let mut states =
            AllStates::from_data(c, vec![Dual64::from(f64::NAN); c.states.total_len()]);
        if !c.syns.is_empty() {
            // Pre-synaptic voltages are differentiated by their own passes.
            let mut eps = vec![0.0; c.pre_nodes.len()];
            if let PassSeed::PreSlots { seeded, .. } = &seed {
                for (e, &on) in eps.iter_mut().zip(seeded) {
                    *e = if on { 1.0 } else { 0.0 };
                }
            }
            states.ws.pre_eps = Some(eps);
        }
        if !all_mechanisms {
            states.ws.mech_mask = mechanisms_reached(c, utils, &seed);
        }
        let seed_idx = match &seed {
            PassSeed::NodeState(_, r) => r.clone().collect(),
            PassSeed::EdgeState { key, edges, .. } => edges
                .iter()
                .map(|&e| dl.offsets[*key] + e as usize)
                .collect(),
            _ => Vec::new(),
        };
        Pass {
            seed,
            seed_idx,
            params,
            states,
            acc: vec![0.0; c.n_nodes()],
            acc_edge: c.syns.iter().map(|y| vec![0.0; y.post.len()]).collect(),
            after_update: None,
            changed: None,
            copy_runs: None,
            jac: Vec::with_capacity(
                2 * c.n_nodes() + utils.layout.entries.iter().map(Vec::len).sum::<usize>(),
            ),
        }
    }

    /// Restricts the pass to its live keys (see [`Pass::copy_runs`]), once its masks are final: `v`,
    /// the seeded key, the states, targets and currents of the mechanisms it runs (updates or
    /// currents), and every synapse state. `flat_pos`: data position of each flat entry.
    pub(crate) fn limit_to_live(
        &mut self,
        c: &Compiled,
        utils: &DynamicStateUtils,
        syn: &SynInfo,
        flat_pos: &[usize],
    ) {
        let ws = &self.states.ws;
        let Some(mech) = ws.mech_mask.as_deref() else {
            return; // every mechanism runs
        };
        let dl = &utils.layout;
        let off = |key: usize| c.states.offset(key);
        // Mechanisms whose update or current runs.
        let running: Vec<bool> = (0..c.mechs.len())
            .map(|i| mech[i] || ws.update_mask.as_deref().is_some_and(|u| u[i]))
            .collect();
        let mut read = vec![off(c.targets[0])];
        if let PassSeed::NodeState(k, _) = &self.seed {
            read.push(off(dl.all_key[*k]));
        }
        for (m, _) in c.mechs.iter().zip(&running).filter(|(_, on)| **on) {
            read.extend(&m.state_off);
            read.push(off(c.targets[m.target]));
            read.push(off(c.currents[m.current]));
        }
        let live: Vec<bool> = (0..dl.keys.len())
            .map(|ko| syn.key_type[ko].is_some() || read.contains(&off(dl.all_key[ko])))
            .collect();
        // Current slots: those a running mechanism writes, and live dynamic keys (a step
        // overwrites them, so their derivative part is the writers', zero if none runs).
        let current_mask: Vec<bool> = c
            .currents
            .iter()
            .enumerate()
            .map(|(slot, &key)| {
                c.mechs
                    .iter()
                    .zip(&running)
                    .any(|(m, &on)| on && m.current == slot)
                    || (0..dl.keys.len()).any(|ko| live[ko] && dl.all_key[ko] == key)
            })
            .collect();
        // A pass that starts after the updates takes its mechanism's states from the diagonal
        // pass: copying them from the state first would be overwritten.
        let from_diag = |pos: usize| {
            self.after_update
                .as_ref()
                .is_some_and(|au| au.copy.iter().any(|r| r.contains(&pos)))
        };
        let runs = runs_of(
            (0..dl.keys.len())
                .filter(|&ko| live[ko])
                .flat_map(|ko| dl.range(ko))
                .map(|j| (j, flat_pos[j]))
                .filter(|&(_, pos)| !from_diag(pos)),
        );
        // Keys the pass can change.
        let updates = ws.update_mask.as_deref().unwrap_or(mech);
        let mut written = Vec::new();
        for (i, m) in c.mechs.iter().enumerate() {
            if updates[i] {
                written.extend(&m.state_off);
            }
            if mech[i] {
                // An ion's concentration advances with its currents; the voltage only in the
                // solve, after the passes.
                if m.target != 0 {
                    written.push(off(c.targets[m.target]));
                }
                written.push(off(c.currents[m.current]));
            }
        }
        let changed = (0..dl.keys.len())
            .map(|ko| {
                let key = dl.all_key[ko];
                live[ko]
                    && (syn.key_type[ko].is_some()
                        || matches!(&self.seed, PassSeed::NodeState(k, _) if *k == ko)
                        || (key == c.targets[0] && c.sets_voltage)
                        || written.contains(&off(key)))
            })
            .collect();
        self.changed = Some(changed);
        self.copy_runs = Some(runs);
        self.states.ws.current_mask = Some(current_mask);
    }

    /// A pass that starts after the updates (see [`super::compress::Compression`]).
    pub(crate) fn after_update(mut self, au: super::compress::AfterUpdate, c: &Compiled) -> Pass {
        self.states.ws.update_mask = Some(vec![false; c.mechs.len()]);
        self.after_update = Some(au);
        self
    }

    /// The diagonal pass: seeds the flat-state entries `seed_idx` and runs the updates of the
    /// mechanisms `updates`, and no current.
    pub(crate) fn diagonal(
        c: &Compiled,
        utils: &DynamicStateUtils,
        seed_idx: Vec<usize>,
        updates: Vec<bool>,
        params_dual: &AllParams<Dual64>,
    ) -> Pass {
        let mut p = Pass::new(c, utils, PassSeed::Diagonal, params_dual, false);
        p.states.ws.mech_mask = Some(vec![false; c.mechs.len()]);
        p.states.ws.update_mask = Some(updates);
        p.seed_idx = seed_idx;
        p
    }

    /// Right after the pass: packs the derivative parts that [`Pass::contract`] reads into
    /// [`Pass::jac`] (no allocation: its capacity covers every key).
    pub(crate) fn extract(&mut self, utils: &DynamicStateUtils, syn: &SynInfo) {
        let dl = &utils.layout;
        let n = utils.c.n_nodes();
        let ws = &self.states.ws;
        let jac = &mut self.jac;
        jac.clear();
        jac.extend(ws.lin[..n].iter().map(|x| x.eps));
        jac.extend(ws.cst[..n].iter().map(|x| x.eps));
        for ko in 0..dl.keys.len() {
            if !changes(&self.changed, ko) || syn.key_type[ko].is_some() {
                continue;
            }
            let src = &self.states.data[dl.states.range(dl.all_key[ko])];
            for r in &syn.node_runs[ko] {
                jac.extend(src[r.dst..r.dst + r.len].iter().map(|x| x.eps));
            }
        }
    }

    /// After the pass: `acc` and `acc_edge` from the output cotangents (`wn`: per node key and
    /// node; `w`: flat, for the synapse states; `vbar`: per node, of the voltage after the
    /// mechanism updates, which the voltage solve and the synapses read).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn contract(
        &mut self,
        utils: &DynamicStateUtils,
        syn: &SynInfo,
        kv: usize,
        adj: &VoltageAdjoint,
        wn: &[f64],
        w: &[f64],
        vbar: &[f64],
    ) {
        let dl = &utils.layout;
        let n = utils.c.n_nodes();
        let (lin, rest) = self.jac.split_at(n);
        let (cst, mut rest) = rest.split_at(n);
        let (al, ac) = (&adj.lin[..n], &adj.cst[..n]);
        for i in 0..n {
            self.acc[i] = lin[i] * al[i] + cst[i] * ac[i];
        }
        for a in &mut self.acc_edge {
            a.fill(0.0);
        }
        for ko in 0..dl.keys.len() {
            if !changes(&self.changed, ko) {
                continue; // no derivative part
            }
            match syn.key_type[ko] {
                None => {
                    let wk = if ko == kv {
                        vbar
                    } else {
                        &wn[ko * n..(ko + 1) * n]
                    };
                    for r in &syn.node_runs[ko] {
                        let nodes = r.dst..r.dst + r.len;
                        let (eps, later) = rest.split_at(r.len);
                        rest = later;
                        let (acc, wk) = (&mut self.acc[nodes.clone()], &wk[nodes]);
                        for ((a, &d), &w) in acc.iter_mut().zip(eps).zip(wk) {
                            *a += d * w;
                        }
                    }
                }
                Some(y) => {
                    let src = &self.states.data[dl.states.range(dl.all_key[ko])];
                    let wk = &w[dl.range(ko)];
                    for (&e, &we) in dl.entries[ko].iter().zip(wk) {
                        let e = e as usize;
                        self.acc_edge[y][e] += src[e].eps * we;
                    }
                }
            }
        }
        debug_assert!(rest.is_empty(), "packed as extract packs");
    }
}

/// Where the contracted derivatives of the passes go.
pub(crate) struct Targets<'a> {
    /// `(∂x_{n+1}/∂x_n)ᵀ w`, flat.
    pub out: &'a mut [f64],
    /// Cotangents of `all_params.data` and `inv_cm`.
    pub data: &'a mut [f64],
    pub inv_cm: &'a mut [f64],
    /// Scratch of length `n_nodes`.
    pub post_sum: &'a mut [f64],
    /// Per node: cotangent of the pre-synaptic voltage gathered there.
    pub vpre_bar: &'a mut [f64],
}

/// Adds one pass's derivatives to their inputs.
pub(crate) fn combine(pass: &Pass, utils: &DynamicStateUtils, syn: &SynInfo, t: &mut Targets<'_>) {
    let dl = &utils.layout;
    // Synapse-state derivatives of a node seed belong to the edge's post-synaptic node.
    t.post_sum.fill(0.0);
    for (y, a) in pass.acc_edge.iter().enumerate() {
        for (&p, &x) in syn.post[y].iter().zip(a) {
            t.post_sum[p as usize] += x;
        }
    }
    let node_total = |i: usize, post_sum: &[f64]| pass.acc[i] + post_sum[i];
    match &pass.seed {
        PassSeed::NodeState(kin, r) => {
            for (slot, &node) in r.clone().zip(&dl.entries[*kin]) {
                let i = node as usize;
                t.out[slot] = node_total(i, t.post_sum);
            }
        }
        PassSeed::NodeParam(r) => {
            for (i, g) in t.data[r.clone()].iter_mut().enumerate() {
                *g += node_total(i, t.post_sum);
            }
        }
        PassSeed::InvCm => {
            for (i, g) in t.inv_cm.iter_mut().enumerate() {
                *g += node_total(i, t.post_sum);
            }
        }
        PassSeed::EdgeState { key, y, edges } => {
            for &e in edges {
                let e = e as usize;
                let post = syn.post[*y][e] as usize;
                t.out[dl.offsets[*key] + e] = pass.acc_edge[*y][e] + pass.acc[post];
            }
        }
        PassSeed::EdgeParam { range, y, edges } => {
            for &e in edges {
                let e = e as usize;
                let post = syn.post[*y][e] as usize;
                t.data[range.start + e] += pass.acc_edge[*y][e] + pass.acc[post];
            }
        }
        PassSeed::Diagonal => {}
        PassSeed::PreSlots { seeded, from } => {
            // Each post-synaptic node receives from at most one seeded slot.
            for y in 0..syn.post.len() {
                for (&s, &x) in syn.pre_slot[y].iter().zip(&pass.acc_edge[y]) {
                    if seeded[s as usize] {
                        t.vpre_bar[syn.pre_node[s as usize]] += x;
                    }
                }
            }
            for (i, &s) in from.iter().enumerate() {
                if s != u32::MAX {
                    t.vpre_bar[syn.pre_node[s as usize]] += pass.acc[i];
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::*;

    /// Independent channels (Leak, Na, K, CaL) and a calcium group coupled through shared states
    /// (CaPump on branch 0, CaNernstReversal).
    fn calcium_cell() -> Result<Cell> {
        let mut cell = Cell::new(&Branch::new(&Compartment::new(), 2)?, &[-1, 0, 0])?;
        cell.insert(Leak)?.insert(Na)?.insert(K)?.insert(CaL)?;
        cell.branch(0)?.insert(CaPump)?;
        cell.insert(CaNernstReversal)?;
        Ok(cell)
    }

    /// The keys a pass copies in and contracts: `v`, its seed, and the states, targets and
    /// currents of the mechanisms it runs; the copy runs cover exactly those keys' entries.
    #[test]
    fn passes_copy_and_contract_only_their_live_keys() -> Result<()> {
        let cell = calcium_cell()?;
        let (init_fn, _) = build_init_and_step_fn(&cell, VoltageSolver::Hines, Solver::BwdEuler)?;
        let utils = build_dynamic_state_utils(&cell)?;
        let c = utils.c.clone();
        let dl = &utils.layout;
        let kv = dl.keys.iter().position(|x| x == "v").expect("v");
        let syn = SynInfo::new(&c, &utils, kv)?;
        let (_, p) = init_fn.init::<f64>(&[], None, None, 0.025)?;
        let pd = p.cast::<Dual64>();
        let flat_pos = flat_positions(&utils);
        let masked = |seed: PassSeed| {
            let mut pass = Pass::new(&c, &utils, seed, &pd, false);
            pass.limit_to_live(&c, &utils, &syn, &flat_pos);
            pass
        };
        let live = |seed: PassSeed| -> Vec<String> {
            let pass = masked(seed);
            let Some(runs) = &pass.copy_runs else {
                return dl.keys.clone();
            };
            // The copy covers whole keys' flat entries, each once, and nothing else.
            let mut covered: Vec<usize> = runs
                .iter()
                .flat_map(|r| {
                    assert_eq!(
                        flat_pos[r.src..r.src + r.len],
                        (r.dst..r.dst + r.len).collect::<Vec<_>>()[..]
                    );
                    r.src..r.src + r.len
                })
                .collect();
            covered.sort_unstable();
            let copied: Vec<usize> = (0..dl.keys.len())
                .filter(|&k| dl.range(k).any(|j| covered.binary_search(&j).is_ok()))
                .collect();
            let expected: Vec<usize> = copied.iter().flat_map(|&k| dl.range(k)).collect();
            assert_eq!(covered, expected);
            copied.iter().map(|&k| dl.keys[k].clone()).collect()
        };
        let state = |key: &str| {
            let k = dl.keys.iter().position(|x| x == key).expect(key);
            PassSeed::NodeState(k, dl.range(k))
        };
        assert_eq!(live(state("Na_h")), ["Na_h", "Na_m", "v"]);
        // A pass after the updates takes Na's states from the diagonal pass: it copies only `v`.
        let na_keys = ["Na_m", "Na_h"].map(|k| c.states.position(k).expect(k));
        let au = crate::grad::compress::AfterUpdate {
            copy: na_keys.iter().map(|&k| c.states.range(k)).collect(),
            state_seed: true,
        };
        let mut pass = Pass::new(&c, &utils, state("Na_h"), &pd, false).after_update(au, &c);
        pass.limit_to_live(&c, &utils, &syn, &flat_pos);
        let copied: Vec<usize> = pass
            .copy_runs
            .iter()
            .flatten()
            .flat_map(|r| r.src..r.src + r.len)
            .collect();
        assert_eq!(copied, dl.range(kv).collect::<Vec<_>>());
        // The keys contracted: those the pass can change. After the updates, the seed alone;
        // with Na's update, both its states (not `v`, which only the solve changes).
        let names = |on: &[bool]| -> Vec<String> {
            (0..dl.keys.len())
                .filter(|&k| on[k])
                .map(|k| dl.keys[k].clone())
                .collect()
        };
        assert_eq!(names(pass.changed.as_deref().expect("masked")), ["Na_h"]);
        let changed = |seed: PassSeed| match masked(seed).changed {
            Some(on) => names(&on),
            None => dl.keys.clone(),
        };
        assert_eq!(changed(state("Na_h")), ["Na_h", "Na_m"]);
        assert_eq!(changed(state("v")), dl.keys);
        // Current slots reset and written back: those of the running mechanisms only.
        let slots = |seed: PassSeed| -> Vec<String> {
            let mask = masked(seed).states.ws.current_mask.expect("a masked pass");
            c.currents
                .iter()
                .zip(mask)
                .filter(|(_, on)| *on)
                .map(|(&key, _)| c.states.names[key].clone())
                .collect()
        };
        assert_eq!(slots(state("Na_h")), ["i_Na"]);
        assert_eq!(slots(state("K_n")), ["i_K"]);
        assert_eq!(live(state("K_n")), ["K_n", "v"]);
        let gna = c.params.range(c.params.position("Na_gNa").expect("Na_gNa"));
        assert_eq!(live(PassSeed::NodeParam(gna)), ["Na_h", "Na_m", "v"]);
        // The calcium group: the pump's and the reversal's states and the current they read.
        let ca = live(state("CaCon_i"));
        assert!(ca.iter().any(|k| k == "CaCon_i") && ca.iter().any(|k| k == "v"));
        assert!(
            !ca.iter()
                .any(|k| k.starts_with("Na_") || k.starts_with("K_"))
        );
        // The voltage reaches every mechanism: every key.
        assert_eq!(live(state("v")), dl.keys);
        Ok(())
    }

    #[test]
    fn runs_of_an_index_map() {
        let r = |src, dst, len| Run { src, dst, len };
        assert_eq!(
            runs([0, 1, 2, 5, 6, 9, 3]),
            [r(0, 0, 3), r(3, 5, 2), r(5, 9, 1), r(6, 3, 1)]
        );
        assert!(runs([]).is_empty());
    }

    /// Which mechanisms each state and parameter pass runs, on a cell with independent channels
    /// and a calcium group coupled through shared states.
    #[test]
    fn passes_run_only_the_mechanisms_their_seed_reaches() -> Result<()> {
        let cell = calcium_cell()?;
        let utils = build_dynamic_state_utils(&cell)?;
        let c = utils.c.clone();
        let names: Vec<&str> = c
            .mechs
            .iter()
            .map(|m| m.mech.info().name.as_str())
            .collect();
        assert_eq!(
            names,
            ["Leak", "Na", "K", "CaL", "CaPump", "CaNernstReversal"]
        );
        let dl = &utils.layout;
        let ran = |seed: PassSeed| -> Vec<&str> {
            match mechanisms_reached(&c, &utils, &seed) {
                None => names.clone(),
                Some(on) => names
                    .iter()
                    .zip(on)
                    .filter(|(_, on)| *on)
                    .map(|(n, _)| *n)
                    .collect(),
            }
        };
        let state = |key: &str| {
            let k = dl.keys.iter().position(|x| x == key).expect(key);
            PassSeed::NodeState(k, dl.range(k))
        };
        // An independent channel's gate reaches that channel only.
        assert_eq!(ran(state("Na_h")), ["Na"]);
        assert_eq!(ran(state("K_n")), ["K"]);
        // The voltage reaches every channel (and the pump, which reads the calcium current).
        assert_eq!(ran(state("v")).len(), names.len());
        // Calcium: the pump and the reversal read it (CaL reads `eCa` as a parameter, as in
        // Jaxley, not the reversal's state).
        assert_eq!(ran(state("CaCon_i")), ["CaPump", "CaNernstReversal"]);
        // The calcium current reaches the pump; the pump's ion state brings in the reversal,
        // which writes it too.
        assert_eq!(ran(state("i_Ca")), ["CaPump", "CaNernstReversal"]);
        // A parameter reaches the mechanisms that read it.
        let param = |key: &str| {
            let k = c.params.position(key).expect(key);
            PassSeed::NodeParam(c.params.range(k))
        };
        assert_eq!(ran(param("Leak_gLeak")), ["Leak"]);
        // The capacitance scales every current; synapse seeds reach no mechanism.
        assert_eq!(ran(PassSeed::InvCm), names);
        let none = PassSeed::PreSlots {
            seeded: vec![],
            from: vec![],
        };
        assert!(ran(none).is_empty());
        Ok(())
    }
}
