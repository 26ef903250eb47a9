//! The backward sweep split by nodes over threads, for the models the local reverse mode covers
//! (see [`super::local`]) with backward Euler or Crank–Nicolson.
//!
//! Each thread owns a part of the nodes: it runs the forward half (update partials and currents)
//! and the finishing half (the pull-back through the mechanisms) of every step at its nodes, in
//! containers of its own. The calling thread (part 0) also solves the transposed cable equation,
//! the one stage that couples the nodes, alone. What crosses between cores per step is what that
//! solve couples: the rows of the other parts' nodes, which each part writes at their
//! elimination positions (see [`Rows`]), and λ back. (The pipelined sweep of
//! [`super::sweep::pipelined`], which finishes one step on one core while it prepares the next
//! on another, moves every prepared array across, about 130 KB per step on the benchmark cell:
//! in the minutes when this project's VM placed its two cores far apart, its gradient took
//! twice as long; the split one about 20 % longer.)
//!
//! Per step `t`, from the last: part 0 solves once every part has prepared `t` and finished
//! `t + 1`; then every part finishes `t` and prepares `t − 1`. The other parts prepare `t − 1`
//! while part 0 solves `t`; part 0's share of the nodes balances the two (see [`SHARE0`]).
//! Every node's operations are those of the serial sweep in the same order, and every value is
//! accumulated by one part: the gradient is the same to the last bit.

use super::local::{LocalPrep, LocalTargets, LocalVjp};
use super::step_vjp::{Plan, Prepared, lock};
use super::sweep::{AbortOnPanic, Reverse, SweepStates};
use crate::compile::Compiled;
use crate::dynamics::step_adjoint::{TreeAdjoint, VoltageAdjoint};
use crate::error::{Error, Result};
use crate::externals::Externals;
use crate::parallel::Bell;
use crate::solver::explicit::branchpoint_voltages_of;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, RwLock};

/// Part 0's share of the nodes when every state is stored: it also solves the transposed cable
/// equation (about a sixth of a step's work on two threads, the rows already assembled) while
/// the others prepare the next step. (Two threads, the benchmark cell on the Xeon, the split
/// sweep's parallel section, best of ten, three alternating rounds: 14.0–14.5 ms with 42 %,
/// 13.7–14.0 with 45 %, 13.9–14.3 with 48 %.)
const SHARE0: f64 = 0.45;
/// ... and when part 1 also recomputes a state of the segment below per step (checkpointing;
/// 55–75 % were within the VM's noise).
const SHARE0_RECOMPUTING: f64 = 0.65;

/// At most this many parts (threads), whatever the pool offers. Part 0's solve is about a
/// quarter of its time here, so with shares balanced for two parts (see [`SHARE0`]) more parts
/// would only add exchanges; a third could pay with part 0's share cut, not measurable on this
/// two-core machine.
const MAX_PARTS: usize = 2;

/// One part of the nodes: its local reverse mode and containers.
struct Part {
    lv: LocalVjp,
    needs: Needs,
    /// Prepared steps: `t` in `sets[t % 2]`.
    sets: [Mutex<LocalPrep>; 2],
    /// The flat cotangent of `x_t` in `lam[t % 2]`; correct at this part's entries.
    lam: [Mutex<Vec<f64>>; 2],
    /// Cotangents of the parameters (per key and node) and of `1/Cm`; at this part's nodes.
    data: Mutex<Vec<f64>>,
    inv_cm: Mutex<Vec<f64>>,
    /// The voltages per node of the states it prepared, and scratch.
    volts: Mutex<Volts>,
    /// The voltage stage's cotangents at its nodes, and the tree coefficients' there.
    adj: Mutex<VoltageAdjoint>,
    tree: Mutex<TreeAdjoint>,
}

/// The voltages per node a part needs: at its nodes (the mechanisms read them) and at their
/// parents (the tree coefficients' cotangents read them); a branchpoint's computed from the
/// compartments around it, as [`crate::solver::explicit::branchpoint_voltages`] does, in the
/// same order. The other nodes' entries of its arrays are stale and never read.
struct Needs {
    /// Runs of compartments: (first entry of `v` in the flat state, first node, length).
    runs: Vec<(usize, usize, usize)>,
    /// The branchpoints among those nodes that get a voltage, and the edges into them, in
    /// edge order.
    bps: Vec<u32>,
    bp_edges: Vec<u32>,
    /// Its nodes and their parents, ascending.
    parents: Vec<u32>,
}

impl Needs {
    /// What the part of the nodes `r` needs; `v_entries`, the nodes of `v`'s entries in the
    /// flat state.
    fn new(c: &Compiled, v_entries: &[u32], r: Range<usize>) -> Needs {
        let n = c.n_nodes();
        let (edges, is_comp) = (&c.graph.edges, &c.graph.is_comp);
        let mut at = vec![false; n];
        for i in r {
            at[i] = true;
            at[c.hines.parent_node[i] as usize] = true;
        }
        let parents: Vec<u32> = (0..n as u32).filter(|&i| at[i as usize]).collect();
        let bps: Vec<u32> = (c.bp_with_parent.iter().copied())
            .filter(|&b| at[b as usize])
            .collect();
        let mut is_bp = vec![false; n];
        for &b in &bps {
            is_bp[b as usize] = true;
        }
        let bp_edges: Vec<u32> = (c.bp_edges.iter().copied())
            .filter(|&e| is_bp[edges[e as usize].sink])
            .collect();
        // The compartments among those nodes, and the neighbours of those branchpoints.
        let mut comp: Vec<bool> = (0..n).map(|i| at[i] && is_comp[i]).collect();
        for &e in &bp_edges {
            comp[edges[e as usize].source] = true;
        }
        let mut runs: Vec<(usize, usize, usize)> = Vec::new();
        for (j, &i) in v_entries.iter().enumerate() {
            let i = i as usize;
            if !comp[i] {
                continue;
            }
            match runs.last_mut() {
                Some((j0, i0, len)) if *j0 + *len == j && *i0 + *len == i => *len += 1,
                _ => runs.push((j, i, 1)),
            }
        }
        Needs {
            runs,
            bps,
            bp_edges,
            parents,
        }
    }

    /// The voltages of the flat state `x` it needs, into `v` (per node); `num`, `den` scratch.
    fn voltages(&self, plan: &Plan, x: &[f64], v: &mut [f64], num: &mut [f64], den: &mut [f64]) {
        let xv = plan.flat_voltages(x);
        for &(j, i, len) in &self.runs {
            v[i..i + len].copy_from_slice(&xv[j..j + len]);
        }
        let c = plan.compiled();
        branchpoint_voltages_of(c, &self.bp_edges, &self.bps, plan.axial(), v, num, den);
    }
}

/// The rows of the transposed voltage solve per elimination position, of step `t` in
/// `[t % 2]`: every part writes the diagonals of its nodes when it prepares `t`, and their
/// right-hand sides when it finishes `t + 1`; part 0 then solves them in place. So the rows
/// cross between cores once, as part 0's solve reads them, and no gather runs on part 0.
struct Rows {
    /// `[diagonals, right-hand sides][t % 2]`, each `n` long, into `_mem`.
    at: [[*mut f64; 2]; 2],
    n: usize,
    _mem: Vec<Vec<f64>>,
}

// SAFETY: the arrays are written only through `Rows`' methods, whose callers guarantee that
// no two threads touch the same positions at once.
unsafe impl Sync for Rows {}

impl Rows {
    fn new(plan: &Plan) -> Rows {
        let n = plan.compiled().n_nodes();
        let mut mem: Vec<Vec<f64>> = (0..4).map(|_| vec![0.0; n]).collect();
        let mut p = mem.iter_mut().map(|m| m.as_mut_ptr());
        let mut next = || p.next().expect("four arrays");
        let at = [[next(), next()], [next(), next()]];
        Rows { at, n, _mem: mem }
    }

    /// Step `t`'s diagonals and right-hand sides.
    fn diagonals(&self, t: usize) -> *mut f64 {
        self.at[0][t % 2]
    }

    /// Writes step `t`'s right-hand sides of the nodes `nodes` from the cotangent `w` of
    /// `x_{t+1}` (flat; `scale` times the voltages', zero at branchpoints).
    ///
    /// # Safety
    /// No other thread touches the positions of `nodes` of step `t`'s rows meanwhile.
    unsafe fn write_rhs(&self, plan: &Plan, t: usize, nodes: Range<usize>, w: &[f64]) {
        let (c, r) = (plan.compiled(), self.at[1][t % 2]);
        let pos = &c.hines.pos;
        let dl = &plan.utils().layout;
        let (entries, off) = (&dl.entries[plan.kv()], dl.offsets[plan.kv()]);
        let scale = plan.rhs_scale();
        assert!(
            pos.len() == self.n && nodes.end <= self.n,
            "nodes out of range"
        );
        // One pass over the nodes, with the next compartment's entry at hand.
        let mut j = entries.partition_point(|&i| (i as usize) < nodes.start);
        let mut next = entries.get(j).map_or(usize::MAX, |&i| i as usize);
        for i in nodes {
            let x = if i == next {
                j += 1;
                next = entries.get(j).map_or(usize::MAX, |&i| i as usize);
                scale * w[off + j - 1]
            } else {
                0.0
            };
            // SAFETY: `pos` is a permutation of 0..n; the caller's guarantee.
            unsafe { *r.add(pos[i] as usize) = x };
        }
    }

    /// Step `t`'s rows, to solve.
    ///
    /// # Safety
    /// No other thread touches step `t`'s rows meanwhile.
    #[allow(clippy::mut_from_ref)]
    unsafe fn rows(&self, t: usize) -> (&mut [f64], &mut [f64]) {
        let [d, r] = [self.at[0][t % 2], self.at[1][t % 2]];
        // SAFETY: each points at `n` values; the caller's guarantee.
        unsafe {
            (
                std::slice::from_raw_parts_mut(d, self.n),
                std::slice::from_raw_parts_mut(r, self.n),
            )
        }
    }
}

/// Per-node arrays of a part: the voltages of `x_t` in `hist[t % 3]` (the branchpoints'
/// computed), and scratch.
struct Volts {
    hist: [Vec<f64>; 3],
    num: Vec<f64>,
    den: Vec<f64>,
    v_sol: Vec<f64>,
    wn: Vec<f64>,
}

/// Where the threads are, in steps counted from the end (step `t` is `steps − t`).
struct Progress {
    /// Per part: where it waits (part 0 for the others' progress, the others for its solve).
    bells: Vec<Bell>,
    /// Per part: the last step prepared, and finished.
    prepared: Vec<AtomicUsize>,
    finished: Vec<AtomicUsize>,
    /// The last step whose voltage stage part 0 has solved.
    solved: AtomicUsize,
    abort: AtomicBool,
}

/// The parts' containers of a split sweep, made before it (while the forward run steps, on
/// its spare thread: their allocations and first touches cost about 0.3 ms on the benchmark
/// cell) and filled with the sweep's starting values when it begins.
pub(crate) struct Parts {
    parts: Vec<Part>,
    threads: usize,
    recomputing: bool,
}

impl Parts {
    /// The containers of a split sweep of `plan` over `threads` threads, whose sweep
    /// recomputes states (checkpointing) or not.
    pub(crate) fn new(plan: &Plan, threads: usize, recomputing: bool) -> Result<Parts> {
        let c = plan.compiled();
        let n = c.n_nodes();
        let share0 = if recomputing {
            SHARE0_RECOMPUTING
        } else {
            SHARE0
        };
        let dl = &plan.utils().layout;
        let kv = plan.kv();
        let dim = plan.utils().len();
        let pbar = plan.param_adjoint();
        let parts = ranges(n, threads.min(MAX_PARTS), share0)
            .into_iter()
            .map(|r| {
                let lv = plan.local_part(r.clone()).ok_or_else(|| {
                    Error::Unsupported("a split sweep without the local reverse mode".into())
                })?;
                Ok(Part {
                    needs: Needs::new(c, &dl.entries[kv], r),
                    adj: Mutex::new(VoltageAdjoint::new(c)),
                    tree: Mutex::new(pbar.tree.clone()),
                    sets: [Mutex::new(lv.prep(c)), Mutex::new(lv.prep(c))],
                    lv,
                    lam: [vec![0.0; dim], vec![0.0; dim]].map(Mutex::new),
                    data: Mutex::new(pbar.data.clone()),
                    inv_cm: Mutex::new(pbar.inv_cm.clone()),
                    volts: Mutex::new(Volts {
                        hist: std::array::from_fn(|_| vec![0.0; n]),
                        num: vec![0.0; n],
                        den: vec![0.0; n],
                        v_sol: vec![0.0; n],
                        wn: vec![0.0; n],
                    }),
                })
            })
            .collect::<Result<_>>()?;
        Ok(Parts {
            parts,
            threads,
            recomputing,
        })
    }

    /// Whether they are those of a sweep over `threads` threads that recomputes or not.
    fn fits(&self, threads: usize, recomputing: bool) -> bool {
        (self.threads, self.recomputing) == (threads, recomputing)
    }

    /// The parts with the sweep's starting values: the cotangents after the last step (done
    /// serially, in `rev`), which every part then accumulates at its nodes, and the voltages
    /// of `x_{steps−1}`, which `prep` started from.
    fn filled(self, rev: &Reverse<'_>, prep: &Prepared, steps: usize) -> Vec<Part> {
        let mut parts = self.parts;
        for part in &mut parts {
            let lam = part.lam[(steps - 1) % 2]
                .get_mut()
                .unwrap_or_else(|e| e.into_inner());
            lam.copy_from_slice(rev.lam);
            let pbar = &rev.fin.pbar;
            let mine = |m: &mut Mutex<Vec<f64>>, src: &[f64]| {
                m.get_mut()
                    .unwrap_or_else(|e| e.into_inner())
                    .copy_from_slice(src)
            };
            mine(&mut part.data, &pbar.data);
            mine(&mut part.inv_cm, &pbar.inv_cm);
            let tree = part.tree.get_mut().unwrap_or_else(|e| e.into_inner());
            for (dst, src) in [
                (&mut tree.h_lower, &pbar.tree.h_lower),
                (&mut tree.h_upper, &pbar.tree.h_upper),
                (&mut tree.h_gsum, &pbar.tree.h_gsum),
                (&mut tree.axial, &pbar.tree.axial),
            ] {
                dst.copy_from_slice(src);
            }
            let volts = part.volts.get_mut().unwrap_or_else(|e| e.into_inner());
            for h in &mut volts.hist {
                prep.copy_voltages(h);
            }
        }
        parts
    }
}

/// Node ranges of `threads` parts of `n` nodes: part 0 with `share0` of them, the others equal.
fn ranges(n: usize, threads: usize, share0: f64) -> Vec<Range<usize>> {
    let n0 = ((n as f64 * share0).round() as usize).clamp(1, n - (threads - 1));
    let rest = n - n0;
    // Part p ≥ 1 ends at `bound(p)`; part 0 at n0.
    let bound = |p: usize| n0 + rest * p / (threads - 1);
    std::iter::once(0..n0)
        .chain((1..threads).map(|p| bound(p - 1)..bound(p)))
        .collect()
}

/// Whether the sweep of `plan` splits over `threads` threads: the local reverse mode with new
/// voltages from the next state, and at least two nodes per part.
pub(crate) fn applies(plan: &Plan, threads: usize) -> bool {
    threads > 1 && plan.splittable() && plan.compiled().n_nodes() >= 2 * threads.min(MAX_PARTS)
}

/// The backward sweep from step `steps − 1` down to 0, with `prep` prepared at step
/// `steps − 1`, split by nodes over `threads` threads, at most [`MAX_PARTS`] (the calling
/// thread and threads of its own; see the module documentation), in the containers `parts` if
/// they were made ahead ([`Parts::new`]; made here otherwise). Leaves in `rev` what the serial
/// sweep leaves.
#[allow(clippy::too_many_arguments)]
pub(crate) fn sweep(
    plan: &Plan,
    prep: &Prepared,
    rev: &mut Reverse<'_>,
    states: &SweepStates<'_>,
    ext: &Externals<f64>,
    steps: usize,
    threads: usize,
    parts: Option<Parts>,
) -> Result<()> {
    if steps == 0 {
        return Ok(());
    }
    // The last step serially, as the serial sweep does (its new voltages come from a solve).
    rev.step(plan, prep, ext, steps - 1)?;
    if steps == 1 {
        return Ok(());
    }
    let c = plan.compiled();
    let n = c.n_nodes();
    let parts = match parts {
        Some(p) if p.fits(threads, states.recomputes()) => p,
        _ => Parts::new(plan, threads, states.recomputes())?,
    };
    let parts = parts.filled(rev, prep, steps);
    let dl = &plan.utils().layout;
    let kv = plan.kv();
    let (v_entries, v_off) = (&dl.entries[kv], dl.offsets[kv]);
    // The entries of `v` in the flat state at the nodes `r`.
    let v_range = |r: &Range<usize>| {
        v_entries.partition_point(|&i| (i as usize) < r.start)
            ..v_entries.partition_point(|&i| (i as usize) < r.end)
    };
    let pr = Progress {
        bells: parts.iter().map(|_| Bell::new()).collect(),
        prepared: parts.iter().map(|_| AtomicUsize::new(0)).collect(),
        finished: parts.iter().map(|_| AtomicUsize::new(1)).collect(),
        solved: AtomicUsize::new(1),
        abort: AtomicBool::new(false),
    };
    // The right-hand sides of the first solve (step steps − 2), from the last step's cotangent.
    let rows = Rows::new(plan);
    // SAFETY: no other thread yet.
    unsafe { rows.write_rhs(plan, steps - 2, 0..n, rev.lam) };
    let failed = {
        let error: Mutex<Option<Error>> = Mutex::new(None);
        let fail = |e: Error| {
            lock(&error).get_or_insert(e);
            pr.abort.store(true, Ordering::Release);
            pr.bells.iter().for_each(Bell::ring);
        };
        // λ of part 0's solve.
        let solved = RwLock::new(VoltageAdjoint::new(c));
        let add_rec = rev.add_rec;
        // Prepares step `t` at part `p`.
        let prepare = |p: usize, t: usize| -> Result<()> {
            let part = &parts[p];
            {
                let mut volts = lock(&part.volts);
                let Volts { hist, num, den, .. } = &mut *volts;
                let mut lp = lock(&part.sets[t % 2]);
                states.with(t, |x| {
                    let v_bp = &mut hist[t % 3];
                    part.needs.voltages(plan, x, v_bp, num, den);
                    plan.prepare_part(&part.lv, &mut lp, x, ext.at(t), v_bp)
                })?;
                // SAFETY: the positions of its nodes, of step t's rows: part 0 solves them
                // after this part has prepared t (`prepared`, below), and had solved the
                // previous rows there (t + 2) before this part finished t + 2 and so before
                // it prepares t.
                unsafe {
                    plan.transpose_diagonal(lp.fwd_lin(), part.lv.nodes(), rows.diagonals(t))
                };
            }
            pr.prepared[p].store(steps - t, Ordering::Release);
            pr.bells[0].ring();
            Ok(())
        };
        // Finishes step `t` at part `p` (after part 0's solve of it).
        let finish = |p: usize, t: usize| {
            let part = &parts[p];
            {
                let (w, mut out) = (lock(&part.lam[(t + 1) % 2]), lock(&part.lam[t % 2]));
                let (mut data, mut inv_cm) = (lock(&part.data), lock(&part.inv_cm));
                let mut adj = lock(&part.adj);
                {
                    let mut volts = lock(&part.volts);
                    let Volts {
                        hist, v_sol, wn, ..
                    } = &mut *volts;
                    // The voltages' output cotangents at its nodes, from its cotangent.
                    let (r, vr) = (part.lv.nodes(), v_range(&part.lv.nodes()));
                    for j in vr {
                        wn[v_entries[j] as usize] = w[v_off + j];
                    }
                    let (v_new, v_old) = (&hist[(t + 1) % 3], &hist[t % 3]);
                    plan.terms_split(
                        solved.read().unwrap_or_else(|e| e.into_inner()).lambda(),
                        v_new,
                        v_old,
                        v_sol,
                        wn,
                        r,
                        &part.needs.parents,
                        &mut adj,
                        &mut lock(&part.tree),
                    );
                }
                plan.finish_part(
                    &part.lv,
                    &mut lock(&part.sets[t % 2]),
                    &adj,
                    ext.at(t),
                    &w,
                    &mut LocalTargets {
                        out: &mut out,
                        data: &mut data,
                        inv_cm: &mut inv_cm,
                    },
                );
                add_rec(&mut out, t);
                // SAFETY: the positions of its nodes, of step t − 1's rows: part 0 solves
                // them after this part has finished t (`finished`, below), and solved the
                // previous rows there (t + 1) before this part finishes t.
                if t > 0 {
                    unsafe { rows.write_rhs(plan, t - 1, part.lv.nodes(), &out) };
                }
            }
            pr.finished[p].store(steps - t, Ordering::Release);
            pr.bells[0].ring();
        };
        // Part 0's solve of step `t`'s voltage stage.
        let solve = |t: usize| {
            let mut adj = solved.write().unwrap_or_else(|e| e.into_inner());
            // SAFETY: every part has written its rows of step t (`prepared`, `finished`) and
            // writes them again only after this solve (`solved`).
            let (d, r) = unsafe { rows.rows(t) };
            plan.solve_split(d, r, &mut adj);
            drop(adj);
            pr.solved.store(steps - t, Ordering::Release);
            for bell in &pr.bells[1..] {
                bell.ring();
            }
        };
        let helper = |p: usize| {
            let _guard = AbortOnPanic(&pr.abort);
            let aborted = || pr.abort.load(Ordering::Acquire);
            if let Err(e) = prepare(p, steps - 2) {
                return fail(e);
            }
            for t in (0..steps - 1).rev() {
                // Step t − 1 while part 0 solves step t.
                if t > 0
                    && let Err(e) = prepare(p, t - 1)
                {
                    return fail(e);
                }
                pr.bells[p]
                    .wait_until(|| pr.solved.load(Ordering::Acquire) >= steps - t || aborted());
                if aborted() {
                    return;
                }
                finish(p, t);
                if p == 1
                    && let Err(e) = states.advance(t)
                {
                    return fail(e);
                }
            }
        };
        std::thread::scope(|sc| {
            for p in 1..parts.len() {
                let helper = &helper;
                sc.spawn(move || helper(p));
            }
            let _guard = AbortOnPanic(&pr.abort);
            let aborted = || pr.abort.load(Ordering::Acquire);
            for t in (0..steps - 1).rev() {
                if t == steps - 2
                    && let Err(e) = prepare(0, t)
                {
                    return fail(e);
                }
                let ready = |p: usize| {
                    pr.prepared[p].load(Ordering::Acquire) >= steps - t
                        && pr.finished[p].load(Ordering::Acquire) >= steps - t - 1
                };
                pr.bells[0].wait_until(|| (1..parts.len()).all(ready) || aborted());
                if aborted() {
                    return;
                }
                solve(t);
                finish(0, t);
                if t > 0
                    && let Err(e) = prepare(0, t - 1)
                {
                    return fail(e);
                }
            }
        });
        error.into_inner().unwrap_or_else(|e| e.into_inner())
    };
    if let Some(e) = failed {
        return Err(e);
    }
    // Every part's values at its nodes: the cotangent of x_0 and the parameters'.
    let dl = &plan.utils().layout;
    let pbar = &mut rev.fin.pbar;
    for part in &parts {
        let r = part.lv.nodes();
        let lam = lock(&part.lam[0]);
        for (k, entries) in dl.entries.iter().enumerate() {
            let j0 = entries.partition_point(|&i| (i as usize) < r.start);
            let j1 = entries.partition_point(|&i| (i as usize) < r.end);
            let f = dl.offsets[k];
            rev.lam[f + j0..f + j1].copy_from_slice(&lam[f + j0..f + j1]);
        }
        let data = lock(&part.data);
        for k in 0..c.params.len() {
            let f = c.params.offset(k);
            pbar.data[f + r.start..f + r.end].copy_from_slice(&data[f + r.start..f + r.end]);
        }
        pbar.inv_cm[r.clone()].copy_from_slice(&lock(&part.inv_cm)[r.clone()]);
        let tree = lock(&part.tree);
        pbar.tree.h_gsum[r.clone()].copy_from_slice(&tree.h_gsum[r.clone()]);
        pbar.tree.h_lower[r.clone()].copy_from_slice(&tree.h_lower[r.clone()]);
        pbar.tree.h_upper[r.clone()].copy_from_slice(&tree.h_upper[r]);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parts cover the nodes in order, part 0 with its share, the others equal, each with at
    /// least one node.
    #[test]
    fn parts_cover_the_nodes_with_part_0_taking_its_share() {
        assert_eq!(ranges(1000, 2, 0.35), vec![0..350, 350..1000]);
        assert_eq!(ranges(1000, 3, 0.55), vec![0..550, 550..775, 775..1000]);
        assert_eq!(ranges(4, 2, 0.0), vec![0..1, 1..4]);
        assert_eq!(ranges(4, 4, 0.9), vec![0..1, 1..2, 2..3, 3..4]);
    }
}
