"""Reference traces from Jaxley for the core simulator of huxley.

Writes tests/data/core_<case>.json. Run with
    /work/venv/bin/python tools/reference/gen_core.py [case ...]
(no arguments: all cases). See tools/reference/README.md for the file format.
"""

import math
import sys

import common  # noqa: F401  (configures JAX: float64 + CPU; must come first)
from common import (
    DELTA_T,
    VOLTAGE_SOLVER,
    jaxley_version,
    recordings_of,
    states_to_json,
    to_list,
    write_json,
)

import jax.numpy as jnp
import numpy as np
import pandas as pd

import jaxley as jx
from jaxley.channels import HH, CaL, CaT, K, Km, Leak, Na
from jaxley.integrate import build_init_and_step_fn
from jaxley.pumps import CaNernstReversal, CaPump

GENERATOR = "tools/reference/gen_core.py"


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def init_all(module):
    """`init_fn(module.get_parameters())` exactly as a user would call it."""
    module.to_jax()
    init_fn, step_fn = build_init_and_step_fn(module, voltage_solver=VOLTAGE_SOLVER)
    all_states, all_params = init_fn(module.get_parameters())
    return all_states, all_params, step_fn


def record_via_base(module, view, state):
    """Append a recording row {rec_index: node index, state} to `module.recordings`."""
    new = pd.DataFrame(np.asarray(view._nodes_in_view), columns=["rec_index"])
    new["state"] = state
    module.base.recordings = pd.concat([module.base.recordings, new])


def n_nodes_of(module):
    all_states, _, _ = init_all(module)
    return int(len(all_states["v"]))


def simulate(module, t_max, solver="bwd_euler"):
    kwargs = {} if t_max is None else {"t_max": t_max}
    return jx.integrate(
        module,
        delta_t=DELTA_T,
        solver=solver,
        voltage_solver=VOLTAGE_SOLVER,
        **kwargs,
    )


def base_payload(case, module, traces, t_max, solver="bwd_euler"):
    traces = np.asarray(traces, dtype=np.float64)
    if np.isnan(traces).any():
        print(f"WARNING: {case}: NaN in traces")
    return {
        "generator": GENERATOR,
        "jaxley_version": jaxley_version(),
        "case": case,
        "delta_t": DELTA_T,
        "t_max": t_max,
        "solver": solver,
        "voltage_solver": VOLTAGE_SOLVER,
        "n_nodes": n_nodes_of(module),
        "n_steps": int(traces.shape[1] - 1),
        "recordings": recordings_of(module),
        "traces": to_list(traces),
    }


# ---------------------------------------------------------------------------
# Model builders (shared by several cases)
# ---------------------------------------------------------------------------


def build_cell_mixed():
    cell = jx.Cell(jx.Branch(jx.Compartment(), ncomp=2), parents=[-1, 0, 0, 1, 1])
    cell.branch(0).insert(HH())
    for b in [1, 2]:
        cell.branch(b).insert(Na())
        cell.branch(b).insert(K())
        cell.branch(b).insert(Leak())
    cell.branch(3).insert(HH())
    cell.branch(3).insert(Leak())
    cell.branch(4).insert(Leak())
    cell.branch(4).set("Leak_gLeak", 2e-4)
    cell.branch(1).set("axial_resistivity", 1000.0)
    cell.branch(2).set("length", 20.0)
    cell.branch(3).set("capacitance", 2.0)
    cell.branch(0).comp(0).stimulate(jx.step_current(1.0, 3.0, 0.1, DELTA_T, 30.0))
    for b in range(5):
        for c in range(2):
            cell.branch(b).comp(c).record("v")
    cell.branch(1).comp(1).record("Na_m")
    cell.branch(1).comp(1).record("i_K")
    cell.branch(3).comp(0).record("i_HH")
    cell.branch(4).comp(1).record("i_Leak")
    return cell


def build_solver_cell():
    cell = jx.Cell(jx.Branch(jx.Compartment(), ncomp=3), parents=[-1, 0, 0])
    cell.insert(HH())
    cell.branch(1).set("radius", 0.5)
    cell.branch(2).set("radius", 2.0)
    cell.set("length", 30.0)
    cell.set("axial_resistivity", 500.0)
    cell.branch(0).comp(0).stimulate(jx.step_current(1.0, 2.0, 0.2, DELTA_T, 10.0))
    for b in range(3):
        for c in range(3):
            cell.branch(b).comp(c).record("v")
    return cell


# ---------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------


def case_comp_hh():
    comp = jx.Compartment()
    comp.insert(HH())
    comp.stimulate(jx.step_current(1.0, 2.0, 0.02, DELTA_T, 20.0))
    for state in ["v", "HH_m", "HH_h", "HH_n", "i_HH"]:
        comp.record(state)
    t_max = 20.0
    traces = simulate(comp, t_max)
    write_json("core_comp_hh.json", base_payload("comp_hh", comp, traces, t_max))


def case_branch4_radius():
    branch = jx.Branch(jx.Compartment(), ncomp=4)
    branch.insert(HH())
    for i, r in enumerate([0.5, 1.0, 1.5, 2.0]):
        branch.comp(i).set("radius", r)
    branch.comp(0).stimulate(jx.step_current(1.0, 2.0, 0.05, DELTA_T, 20.0))
    for i in range(4):
        branch.comp(i).record("v")
    branch.comp(3).record("HH_m")
    t_max = 20.0
    traces = simulate(branch, t_max)
    write_json(
        "core_branch4_radius.json",
        base_payload("branch4_radius", branch, traces, t_max),
    )


def case_cell_mixed():
    cell = build_cell_mixed()
    t_max = 30.0
    traces = simulate(cell, t_max)
    payload = base_payload("cell_mixed", cell, traces, t_max)

    _, all_params, _ = init_all(cell)
    keys = [
        "radius",
        "length",
        "axial_resistivity",
        "capacitance",
        "area",
        "volume",
        "resistive_load_in",
        "resistive_load_out",
    ]
    payload["all_params"] = {k: to_list(all_params[k]) for k in keys}
    payload["axial_conductances_v"] = to_list(all_params["axial_conductances"]["v"])
    edges = cell._comp_edges[["source", "sink", "type", "ordered"]]
    payload["comp_edges_columns"] = ["source", "sink", "type", "ordered"]
    payload["comp_edges"] = [[int(x) for x in row] for row in edges.to_numpy()]
    payload["branchpoint_node_indices"] = [int(i) for i in cell._branchpoints.index]
    write_json("core_cell_mixed.json", payload)


def case_pospischil_ca():
    cell = jx.Cell(jx.Branch(jx.Compartment(), ncomp=3), parents=[-1, 0, 0])
    for channel in [Leak(), Na(), K(), Km(), CaL(), CaT()]:
        cell.insert(channel)
    cell.branch(0).insert(CaPump())
    cell.branch(1).insert(CaPump())
    cell.insert(CaNernstReversal())

    v0 = -65.0
    cell.set("v", v0)
    cell.init_states()
    # Jaxley's own `init_state` of Km and CaT does not give the steady state:
    # overwrite with the true fixed points at v0.
    km_p_inf = 1.0 / (1.0 + math.exp(-0.1 * (v0 + 35.0)))
    vx = 2.0
    cat_u_inf = 1.0 / (1.0 + math.exp((v0 + vx + 81.0) / 4.0))
    cell.set("Km_p", km_p_inf)
    cell.set("CaT_u", cat_u_inf)
    cell.branch(2).set("CaCon_e", 3.0)

    cell.branch(0).comp(0).stimulate(jx.step_current(2.0, 20.0, 0.2, DELTA_T, 50.0))
    cell.branch(0).comp(0).record("v")
    cell.branch(1).comp(2).record("v")
    cell.branch(2).comp(1).record("v")
    cell.branch(0).comp(0).record("CaCon_i")
    cell.branch(2).comp(1).record("CaCon_i")
    cell.branch(0).comp(0).record("eCa")
    cell.branch(0).comp(0).record("i_Ca")
    cell.branch(1).comp(0).record("CaL_q")
    cell.branch(0).comp(0).record("Km_p")
    cell.branch(0).comp(0).record("CaT_u")
    # Jaxley 0.14 cannot record a pump current through a view (a View's
    # `membrane_current_names` lists channels only), so append the row exactly
    # as `View.record` would.
    record_via_base(cell, cell.branch(1).comp(1), "i_CaPump")
    cell.branch(2).comp(2).record("i_K")

    t_max = 50.0
    traces = simulate(cell, t_max)
    payload = base_payload("pospischil_ca", cell, traces, t_max)
    payload["Km_p_init"] = km_p_inf
    payload["CaT_u_init"] = cat_u_inf

    all_states, all_params, _ = init_all(cell)
    payload["initial_states_keys"] = list(all_states.keys())
    payload["initial_states"] = states_to_json(all_states)
    # `eCa` is both a channel parameter (CaL, CaT) and a state (CaNernstReversal);
    # the channels read the *parameter*, i.e. the value frozen at init.
    payload["all_params_eCa"] = to_list(all_params["eCa"])
    write_json("core_pospischil_ca.json", payload)


def case_solvers():
    t_max = 10.0
    for solver in ["bwd_euler", "crank_nicolson", "fwd_euler", "exp_euler"]:
        cell = build_solver_cell()
        traces = simulate(cell, t_max, solver=solver)
        arr = np.asarray(traces)
        if not np.all(np.isfinite(arr)):
            print(f"WARNING: solver {solver} produced non-finite values!")
        else:
            print(f"solver {solver}: finite, v range [{arr.min():.4f}, {arr.max():.4f}]")
        case = f"solver_{solver}"
        write_json(f"core_{case}.json", base_payload(case, cell, traces, t_max, solver))


# Quoted from tests/jaxley_identical/test_basic_modules.py (every 20th sample).
GOLDEN = {
    "comp": [
        -70.0, -66.53085703, -50.08343917, -20.4930498, 32.6178327, 2.57004029,
        -26.19517261, -50.50027566, -72.97019524, -75.69907171, -75.58874436,
    ],
    "branch2": [
        -70.0, -66.53085703, -56.84345977, -47.34841899, -32.63377325, 30.99759112,
        8.03521283, -21.81119545, -45.8401624, -70.88960656, -75.66123707,
    ],
    "simple_cell": [
        -70.0, -66.53085703217415, -61.30007495702876, -57.72869617299199,
        -57.907984804456134, -56.54785861252702, -54.63372123466727,
        -51.29073832791313, -41.84338223543283, 12.629557592604355,
        16.375747329556404,
    ],
}


def case_golden():
    """The golden traces of Jaxley's tests/jaxley_identical/test_basic_modules.py.

    As in that test file, `integrate` is called WITHOUT t_max: the number of steps
    is the stimulus length, len(step_current(..., t_max=5)) = int(5 // 0.025) + 2
    = 201, so traces have 202 samples.
    """

    def current():
        return jx.step_current(
            i_delay=0.5, i_dur=1.0, i_amp=0.02, delta_t=DELTA_T, t_max=5.0
        )

    comp = jx.Compartment()
    comp.insert(HH())
    comp.record()
    comp.stimulate(current())

    branch = jx.Branch([jx.Compartment()] * 2)
    branch.insert(HH())
    branch.loc(0.0).record()
    branch.loc(0.0).stimulate(current())

    cell = jx.Cell([jx.Branch([jx.Compartment()] * 2)] * 3, [-1, 0, 0])
    cell.insert(HH())
    cell.branch(1).loc(0.0).record()
    cell.branch(1).loc(0.0).stimulate(current())

    modules = {"comp": comp, "branch2": branch, "simple_cell": cell}
    descriptions = {
        "comp": "Compartment() with HH; record v, stimulate.",
        "branch2": "Branch([Compartment()]*2) with HH; loc(0.0) record and stimulate.",
        "simple_cell": (
            "Cell([Branch([Compartment()]*2)]*3, parents=[-1,0,0]) with HH; "
            "branch(1).loc(0.0) record and stimulate."
        ),
    }
    payload = {
        "generator": GENERATOR,
        "jaxley_version": jaxley_version(),
        "case": "golden",
        "delta_t": DELTA_T,
        "t_max": 5.0,
        "t_max_passed_to_integrate": None,
        "stimulus": {"i_delay": 0.5, "i_dur": 1.0, "i_amp": 0.02, "t_max": 5.0},
        "solver": "bwd_euler",
        "voltage_solver": VOLTAGE_SOLVER,
        "golden_every_kth_sample": 20,
        "modules": {},
    }
    worst = 0.0
    for name, module in modules.items():
        traces = np.asarray(simulate(module, t_max=None), dtype=np.float64)
        err = float(np.max(np.abs(traces[0, ::20] - np.asarray(GOLDEN[name]))))
        worst = max(worst, err)
        status = "OK" if err <= 1e-8 else "MISMATCH"
        print(f"golden {name}: max |diff| at every 20th sample = {err:.3e} {status}")
        payload["modules"][name] = {
            "description": descriptions[name],
            "n_nodes": n_nodes_of(module),
            "n_steps": int(traces.shape[1] - 1),
            "recordings": recordings_of(module),
            "traces": to_list(traces),
            "golden_values": GOLDEN[name],
            "max_abs_diff_to_golden": err,
        }
    payload["max_abs_diff_to_golden"] = worst
    write_json("core_golden.json", payload)


def case_step_loop():
    cell = build_cell_mixed()
    cell.to_jax()
    externals = cell.externals.copy()
    external_inds = cell.external_inds.copy()
    init_fn, step_fn = build_init_and_step_fn(cell, voltage_solver=VOLTAGE_SOLVER)
    all_states, all_params = init_fn(cell.get_parameters())
    initial_keys = list(all_states.keys())
    # `step_fn` writes into the dict it is given: serialise the initial state now.
    initial_json = states_to_json(all_states)

    n_steps = 40
    states = dict(all_states)
    for step in range(n_steps):
        externals_now = {key: externals[key][:, step] for key in externals.keys()}
        states = step_fn(states, all_params, externals_now, external_inds, delta_t=DELTA_T)

    # Sanity check against `integrate` (column 40 = after 40 steps).
    traces = np.asarray(simulate(cell, 30.0))
    rec_v = [
        float(states[s][i])
        for s, i in zip(cell.recordings["state"], cell.recordings["rec_index"])
    ]
    diff = np.max(np.abs(np.asarray(rec_v) - traces[:, n_steps]))
    print(f"step_loop: max |step_fn loop - integrate| after {n_steps} steps = {diff:.3e}")

    payload = {
        "generator": GENERATOR,
        "jaxley_version": jaxley_version(),
        "case": "step_loop",
        "model": "cell_mixed",
        "delta_t": DELTA_T,
        "solver": "bwd_euler",
        "voltage_solver": VOLTAGE_SOLVER,
        "n_nodes": int(len(all_states["v"])),
        "n_steps": n_steps,
        "states_keys": list(states.keys()),
        "initial_states_keys": initial_keys,
        "initial_states": initial_json,
        "states_after_40_steps": states_to_json(states),
        "max_abs_diff_to_integrate_column_40": float(diff),
    }
    write_json("core_step_loop.json", payload)


CASES = {
    "comp_hh": case_comp_hh,
    "branch4_radius": case_branch4_radius,
    "cell_mixed": case_cell_mixed,
    "pospischil_ca": case_pospischil_ca,
    "solvers": case_solvers,
    "golden": case_golden,
    "step_loop": case_step_loop,
}


def main(argv):
    names = argv or list(CASES)
    for name in names:
        print(f"--- {name}")
        CASES[name]()


if __name__ == "__main__":
    main(sys.argv[1:])
