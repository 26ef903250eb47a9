"""Reference gradients from Jaxley: `jax.grad` of a loss over `jx.integrate`.

Writes tests/data/grad_<case>.json. Run with
    /work/venv/bin/python tools/reference/gen_gradients.py [case ...]
(no arguments: all cases). See tools/reference/README.md for the file format.

Every case also computes central finite differences of the loss (float64, relative
step 1e-6 per parameter) as a sanity check of `jax.grad`, writes them as `grads_fd`
and prints the largest relative difference.
"""

import sys
import time
import warnings

import common  # noqa: F401  (configures JAX: float64 + CPU; must come first)
from common import (
    DELTA_T,
    VOLTAGE_SOLVER,
    jaxley_version,
    recordings_of,
    to_float,
    to_list,
    write_json,
)

import jax
import jax.numpy as jnp
import numpy as np

import jaxley as jx
from jaxley.channels import HH
from jaxley.connect import connect
from jaxley.synapses import IonotropicSynapse

from gen_network import edges_of  # the same rows as the network reference files

warnings.filterwarnings("ignore")

GENERATOR = "tools/reference/gen_gradients.py"
FD_REL_STEP = 1e-6
V_TARGET = -65.0


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def header(case, solver, t_max):
    return {
        "generator": GENERATOR,
        "jaxley_version": jaxley_version(),
        "case": case,
        "delta_t": DELTA_T,
        "t_max": t_max,
        "solver": solver,
        "voltage_solver": VOLTAGE_SOLVER,
    }


def loss_of_traces(traces):
    return jnp.mean((traces + 65.0) ** 2)


def params_to_json(module, params):
    """`get_parameters()` list -> [{"key", "values", "indices"}] in order.

    `indices` are the node indices (for synapse parameters: edge indices within the
    synapse type) that each value controls, from `indices_set_by_trainables`."""
    out = []
    for group, inds in zip(params, module.indices_set_by_trainables):
        ((key, val),) = group.items()
        out.append(
            {
                "key": key,
                "values": to_list(val),
                "indices": np.asarray(inds).astype(int).tolist(),
            }
        )
    return out


def grads_to_json(params, grads):
    out = []
    for p, g in zip(params, grads):
        ((key, _),) = p.items()
        out.append({"key": key, "values": to_list(g[key])})
    return out


def central_fd(loss_jit, params):
    """Central finite differences of `loss_jit(params)` for every scalar parameter,
    with step h = FD_REL_STEP * |p|. Same structure as `params`."""
    out = []
    for gi, group in enumerate(params):
        ((key, val),) = group.items()
        val = np.asarray(val, dtype=np.float64)
        fd = np.zeros_like(val)
        for j in range(val.size):
            h = FD_REL_STEP * abs(float(val.flat[j]))
            plus = [dict(g) for g in params]
            minus = [dict(g) for g in params]
            vp = val.copy()
            vm = val.copy()
            vp.flat[j] += h
            vm.flat[j] -= h
            plus[gi] = {key: jnp.asarray(vp)}
            minus[gi] = {key: jnp.asarray(vm)}
            lp = float(loss_jit(plus))
            lm = float(loss_jit(minus))
            fd.flat[j] = (lp - lm) / (vp.flat[j] - vm.flat[j])
        out.append({key: fd})
    return out


def compare(case, params, grads, fd):
    """Print and return the max relative difference |grad - fd| / max(|fd|, tiny)."""
    worst = 0.0
    for p, g, f in zip(params, grads, fd):
        ((key, _),) = p.items()
        ga = np.asarray(g[key], dtype=np.float64)
        fa = np.asarray(f[key], dtype=np.float64)
        rel = np.abs(ga - fa) / np.maximum(np.abs(fa), 1e-300)
        worst = max(worst, float(rel.max()))
        print(f"  {case} {key}:")
        for j in range(ga.size):
            print(f"    [{j}] grad {ga.flat[j]: .10e}  fd {fa.flat[j]: .10e}  rel {rel.flat[j]:.2e}")
    print(f"  {case}: max relative |jax.grad - FD| / |FD| = {worst:.3e}")
    return worst


def spikes_of(trace, dt):
    """Times (ms) of upward crossings of 0 mV (sample index * dt)."""
    trace = np.asarray(trace)
    idx = np.nonzero((trace[:-1] < 0.0) & (trace[1:] >= 0.0))[0] + 1
    return [float(i * dt) for i in idx]


def run_params_case(case, module, t_max, solver, description, extra=None):
    """Trainable-parameter case: loss, jax.grad, FD, traces -> JSON."""
    params = module.get_parameters()

    def simulate(params):
        return jx.integrate(
            module,
            params=params,
            delta_t=DELTA_T,
            t_max=t_max,
            solver=solver,
            voltage_solver=VOLTAGE_SOLVER,
        )

    def loss_fn(params):
        return loss_of_traces(simulate(params))

    t0 = time.time()
    traces = np.asarray(jax.jit(simulate)(params), dtype=np.float64)
    loss_jit = jax.jit(loss_fn)
    loss = loss_jit(params)
    grads = jax.jit(jax.grad(loss_fn))(params)
    t1 = time.time()
    fd = central_fd(loss_jit, params)
    t2 = time.time()
    finite = bool(np.isfinite(traces).all())
    print(
        f"{case}: traces {traces.shape}, finite {finite}, loss {float(loss)!r}, "
        f"max v {np.nanmax(traces):.2f} (grad {t1 - t0:.1f} s, FD {t2 - t1:.1f} s)"
    )
    worst = compare(case, params, grads, fd)

    out = header(case, solver, t_max)
    out.update(
        {
            "description": description,
            "n_nodes": int(len(module.nodes)) + int(len(module._branchpoints)),
            "n_steps": int(traces.shape[1] - 1),
            "recordings": recordings_of(module),
        }
    )
    if extra:
        out.update(extra)
    out.update(
        {
            "loss_definition": "mean((traces + 65.0)**2) over all recordings and all "
            "n_steps + 1 samples (column 0 included)",
            "params": params_to_json(module, params),
            "loss": to_float(loss),
            "grads": grads_to_json(params, grads),
            "fd_rel_step": FD_REL_STEP,
            "grads_fd": grads_to_json(params, fd),
            "max_rel_diff_grad_fd": worst,
            "finite": finite,
            "spikes": [spikes_of(tr, DELTA_T) for tr in traces],
            "traces": to_list(traces),
        }
    )
    return out


# ---------------------------------------------------------------------------
# grad_hh_cell (+ _cn, _fe)
# ---------------------------------------------------------------------------

HH_CELL_T_MAX = 5.0

HH_CELL_DESCRIPTION = (
    "branch = jx.Branch(jx.Compartment(), ncomp=2); "
    "cell = jx.Cell(branch, parents=[-1, 0, 0, 1, 1]); cell.insert(HH()); "
    "for b in range(5): cell.branch(b).set('length', 10.0 + 5.0*b); "
    "cell.branch(b).set('radius', 1.0 - 0.1*b); "
    "cell.branch(0).comp(0).stimulate(jx.step_current(i_delay=0.5, i_dur=2.0, "
    "i_amp=0.2, delta_t=0.025, t_max=5.0)); "
    "record v at branch(0).comp(0), branch(3).comp(1), branch(4).comp(1); "
    "other parameters Jaxley defaults (axial_resistivity 5000, capacitance 1)"
)
HH_CELL_TRAINABLES = (
    "cell.branch('all').make_trainable('HH_gNa'); "
    "cell.branch('all').make_trainable('radius') "
    "(one value per branch each, 10 parameters)"
)


def build_hh_cell():
    branch = jx.Branch(jx.Compartment(), ncomp=2)
    cell = jx.Cell(branch, parents=[-1, 0, 0, 1, 1])
    cell.insert(HH())
    for b in range(5):
        cell.branch(b).set("length", 10.0 + 5.0 * b)
        cell.branch(b).set("radius", 1.0 - 0.1 * b)
    cell.branch(0).comp(0).stimulate(
        jx.step_current(i_delay=0.5, i_dur=2.0, i_amp=0.2, delta_t=DELTA_T, t_max=5.0)
    )
    cell.branch(0).comp(0).record("v", verbose=False)
    cell.branch(3).comp(1).record("v", verbose=False)
    cell.branch(4).comp(1).record("v", verbose=False)
    return cell


def hh_cell_case(case, solver, t_max):
    cell = build_hh_cell()
    cell.branch("all").make_trainable("HH_gNa", verbose=False)
    cell.branch("all").make_trainable("radius", verbose=False)
    description = HH_CELL_DESCRIPTION + "; trainables: " + HH_CELL_TRAINABLES
    if t_max != HH_CELL_T_MAX:
        description += f"; t_max {t_max} (the stimulus is truncated to t_max)"
    out = run_params_case(
        case,
        cell,
        t_max,
        solver,
        description,
        extra={
            "stimulus": {
                "node": 0,
                "i_delay": 0.5,
                "i_dur": 2.0,
                "i_amp": 0.2,
                "t_max": 5.0,
            },
            "lengths": [10.0 + 5.0 * b for b in range(5)],
            "radii": [1.0 - 0.1 * b for b in range(5)],
        },
    )
    write_json(f"grad_{case}.json", out)
    return out


def case_hh_cell():
    hh_cell_case("hh_cell", "bwd_euler", HH_CELL_T_MAX)


def case_hh_cell_cn():
    hh_cell_case("hh_cell_cn", "crank_nicolson", HH_CELL_T_MAX)


def case_hh_cell_fe():
    # fwd_euler is stable for this model at dt 0.025 (the default axial resistivity of
    # 5000 ohm cm couples compartments weakly), so the full t_max of 5 ms is used. The
    # run is checked for finiteness below.
    out = hh_cell_case("hh_cell_fe", "fwd_euler", HH_CELL_T_MAX)
    if not out["finite"]:
        raise RuntimeError("fwd_euler run is not finite; reduce t_max")


# ---------------------------------------------------------------------------
# grad_net3
# ---------------------------------------------------------------------------

NET3_T_MAX = 5.0


def build_net3(gs_override=None):
    """The network of `case_chain3` in gen_network.py (branch `net`), with a 0.5 nA
    stimulus over 0.5-3.0 ms into cell 0 and t_max 5. `gs_override`: set gS of both
    edges to this value after the chain3 set-up."""
    cell = jx.Cell(jx.Branch(jx.Compartment(), ncomp=2), parents=[-1, 0, 0])
    net = jx.Network([cell for _ in range(3)])
    net.insert(HH())
    for a, b in [(0, 1), (1, 2)]:
        connect(
            net.cell(a).branch(1).loc(1.0),
            net.cell(b).branch(2).loc(0.0),
            IonotropicSynapse(),
        )
    net.set("IonotropicSynapse_gS", 0.03)
    net.IonotropicSynapse.edge(1).set("IonotropicSynapse_gS", 0.05)
    net.IonotropicSynapse.edge(1).set("IonotropicSynapse_e_syn", -5.0)
    net.cell(1).set("radius", 0.8)
    if gs_override is not None:
        net.set("IonotropicSynapse_gS", gs_override)
    net.cell(0).branch(0).comp(0).stimulate(
        jx.step_current(0.5, 2.5, 0.5, DELTA_T, NET3_T_MAX)
    )
    for c in range(3):
        net.cell(c).branch(0).comp(0).record("v", verbose=False)
    return net


def net3_make_trainable(net):
    net.IonotropicSynapse.edge("all").make_trainable("IonotropicSynapse_gS", verbose=False)
    try:
        net.cell("all").branch(0).make_trainable("HH_gNa", verbose=False)
        return "net.cell('all').branch(0).make_trainable('HH_gNa')"
    except Exception as err:  # noqa: BLE001
        print(f"net3: cell('all').branch(0).make_trainable failed: {err!r}")
        net.cell("all").make_trainable("HH_gNa", verbose=False)
        return "net.cell('all').make_trainable('HH_gNa')"


def case_net3():
    # Does a spike reach cell 1 within 5 ms with the chain3 conductances?
    gs_override = None
    probe = build_net3()
    traces = np.asarray(jx.integrate(probe, delta_t=DELTA_T, t_max=NET3_T_MAX))
    spikes = [spikes_of(tr, DELTA_T) for tr in traces]
    print(f"net3 probe (chain3 gS): spikes per cell {spikes}")
    if not spikes[1]:
        gs_override = 0.1
        print("net3: no spike in cell 1 within 5 ms; gS of both edges raised to 0.1")
    # Where do the spikes of cells 1 and 2 come from? Same network without the
    # stimulus, and with gS = 0 on both edges.
    nostim = build_net3(gs_override)
    nostim.delete_stimuli()
    tr_nostim = np.asarray(jx.integrate(nostim, delta_t=DELTA_T, t_max=NET3_T_MAX))
    tr_gs0 = np.asarray(
        jx.integrate(build_net3(0.0), delta_t=DELTA_T, t_max=NET3_T_MAX)
    )
    probe_info = {
        "spikes_chain3_gS": spikes,
        "spikes_without_stimulus": [spikes_of(tr, DELTA_T) for tr in tr_nostim],
        "spikes_gS_zero": [spikes_of(tr, DELTA_T) for tr in tr_gs0],
    }
    print(f"net3 probe: {probe_info}")

    net = build_net3(gs_override)
    gna_call = net3_make_trainable(net)
    params = net.get_parameters()
    n_gna = int(np.asarray(params[1]["HH_gNa"]).size)
    print(f"net3: trainables via {gna_call}; {n_gna} HH_gNa values")

    description = (
        "cell = jx.Cell(jx.Branch(jx.Compartment(), ncomp=2), parents=[-1, 0, 0]); "
        "net = jx.Network([cell for _ in range(3)]); net.insert(HH()); "
        "for (a, b) in [(0, 1), (1, 2)]: connect(net.cell(a).branch(1).loc(1.0), "
        "net.cell(b).branch(2).loc(0.0), IonotropicSynapse()); "
        "net.set('IonotropicSynapse_gS', 0.03); "
        "net.IonotropicSynapse.edge(1).set('IonotropicSynapse_gS', 0.05); "
        "net.IonotropicSynapse.edge(1).set('IonotropicSynapse_e_syn', -5.0); "
        "net.cell(1).set('radius', 0.8); "
        + (
            f"net.set('IonotropicSynapse_gS', {gs_override}); "
            if gs_override is not None
            else ""
        )
        + "net.cell(0).branch(0).comp(0).stimulate(jx.step_current(0.5, 2.5, 0.5, "
        "0.025, 5.0)); record v at cell(c).branch(0).comp(0) for c = 0, 1, 2; "
        "trainables: net.IonotropicSynapse.edge('all').make_trainable("
        f"'IonotropicSynapse_gS'); {gna_call}"
    )
    out = run_params_case(
        "net3",
        net,
        NET3_T_MAX,
        "bwd_euler",
        description,
        extra={
            "edges": edges_of(net),
            "stimulus": {
                "node": 0,
                "i_delay": 0.5,
                "i_dur": 2.5,
                "i_amp": 0.5,
                "t_max": NET3_T_MAX,
            },
            "gS_raised_to": gs_override,
            "spike_probe": probe_info,
            "hh_gna_trainable_call": gna_call,
        },
    )
    write_json("grad_net3.json", out)


# ---------------------------------------------------------------------------
# grad_data_set
# ---------------------------------------------------------------------------


def case_data_set():
    cell = build_hh_cell()
    t_max = HH_CELL_T_MAX
    gk0, r0 = 0.036, 0.8

    def loss_fn(gk, radius):
        param_state = cell.data_set("HH_gK", gk, None)
        param_state = cell.data_set("radius", radius, param_state)
        traces = jx.integrate(
            cell,
            param_state=param_state,
            delta_t=DELTA_T,
            t_max=t_max,
            voltage_solver=VOLTAGE_SOLVER,
        )
        return loss_of_traces(traces), traces

    loss_jit = jax.jit(lambda gk, r: loss_fn(gk, r)[0])
    loss, traces = jax.jit(loss_fn)(gk0, r0)
    traces = np.asarray(traces, dtype=np.float64)
    g_gk, g_r = jax.jit(jax.grad(lambda gk, r: loss_fn(gk, r)[0], argnums=(0, 1)))(
        gk0, r0
    )

    fd = {}
    for name, base in [("HH_gK", gk0), ("radius", r0)]:
        h = FD_REL_STEP * abs(base)
        if name == "HH_gK":
            lp, lm = loss_jit(base + h, r0), loss_jit(base - h, r0)
        else:
            lp, lm = loss_jit(gk0, base + h), loss_jit(gk0, base - h)
        fd[name] = (float(lp) - float(lm)) / ((base + h) - (base - h))
    grads = {"HH_gK": float(g_gk), "radius": float(g_r)}
    worst = 0.0
    for k in grads:
        rel = abs(grads[k] - fd[k]) / abs(fd[k])
        worst = max(worst, rel)
        print(f"  data_set {k}: grad {grads[k]: .10e}  fd {fd[k]: .10e}  rel {rel:.2e}")
    print(f"data_set: loss {float(loss)!r}, max relative |jax.grad - FD| / |FD| = {worst:.3e}")

    out = header("data_set", "bwd_euler", t_max)
    out.update(
        {
            "description": HH_CELL_DESCRIPTION
            + "; no trainables; param_state = cell.data_set('HH_gK', gk, None); "
            "param_state = cell.data_set('radius', radius, param_state) (whole cell, "
            "one scalar each, broadcast to every compartment); "
            "jx.integrate(cell, param_state=param_state, delta_t=0.025, t_max=5.0); "
            "gradients with respect to the two scalars at gk = 0.036, radius = 0.8",
            "n_nodes": int(len(cell.nodes)) + int(len(cell._branchpoints)),
            "n_steps": int(traces.shape[1] - 1),
            "recordings": recordings_of(cell),
            "loss_definition": "mean((traces + 65.0)**2) over all recordings and all "
            "n_steps + 1 samples (column 0 included)",
            "data_set": {"HH_gK": gk0, "radius": r0},
            "loss": to_float(loss),
            "grads": grads,
            "fd_rel_step": FD_REL_STEP,
            "grads_fd": fd,
            "max_rel_diff_grad_fd": worst,
            "traces": to_list(traces),
        }
    )
    write_json("grad_data_set.json", out)


CASES = {
    "hh_cell": case_hh_cell,
    "hh_cell_cn": case_hh_cell_cn,
    "hh_cell_fe": case_hh_cell_fe,
    "net3": case_net3,
    "data_set": case_data_set,
}


def main(argv):
    names = argv or list(CASES)
    t0 = time.time()
    for name in names:
        print(f"--- {name}")
        CASES[name]()
    print(f"total {time.time() - t0:.1f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
