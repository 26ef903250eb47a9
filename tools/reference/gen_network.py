"""Reference traces from Jaxley for networks, synapses, point neurons and ion diffusion.

Writes tests/data/net_<case>.json. Run with
    /work/venv/bin/python tools/reference/gen_network.py [case ...]
(no arguments: all cases). See tools/reference/README.md for the file format.
"""

import sys
import warnings

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

import numpy as np
import pandas as pd

import jaxley as jx
from jaxley.channels import HH, Leak
from jaxley.channels.non_capacitive.adex import AdEx
from jaxley.channels.non_capacitive.izhikevich import Izhikevich
from jaxley.channels.non_capacitive.rate import Rate
from jaxley.channels.non_capacitive.spike import Fire
from jaxley.connect import connect, connectivity_matrix_connect, fully_connect
from jaxley.integrate import build_init_and_step_fn
from jaxley.pumps import CaNernstReversal, CaPump
from jaxley.channels import CaL
from jaxley.synapses import (
    IonotropicSynapse,
    TanhConductanceSynapse,
    TanhRateSynapse,
    TestSynapse,
)

warnings.filterwarnings("ignore")

GENERATOR = "tools/reference/gen_network.py"


def record_via_base(module, view, state):
    """Append a recording row {rec_index: node index, state} to `module.recordings` (Jaxley's
    `record` only accepts states of mechanisms present in the view)."""
    new = pd.DataFrame(np.asarray(view._nodes_in_view), columns=["rec_index"])
    new["state"] = state
    module.base.recordings = pd.concat([module.base.recordings, new])


def simulate(module, t_max, solver="bwd_euler"):
    return jx.integrate(
        module,
        delta_t=DELTA_T,
        t_max=t_max,
        solver=solver,
        voltage_solver=VOLTAGE_SOLVER,
    )


def edges_of(net):
    e = net.edges
    if len(e) == 0:
        return []
    return [
        {
            "type": str(t),
            "index_within_type": int(w),
            "pre_index": int(a),
            "post_index": int(b),
        }
        for t, w, a, b in zip(
            e["type"], e["index_within_type"], e["pre_index"], e["post_index"]
        )
    ]


def payload(case, net, t_max, solver="bwd_euler", extra_states=False):
    traces = np.asarray(simulate(net, t_max, solver), dtype=np.float64)
    if np.isnan(traces).any():
        print(f"WARNING: {case}: NaN in traces")
    net.to_jax()
    init_fn, _ = build_init_and_step_fn(net, voltage_solver=VOLTAGE_SOLVER, solver=solver)
    all_states, all_params = init_fn(net.get_parameters(), delta_t=DELTA_T)
    out = {
        "generator": GENERATOR,
        "jaxley_version": jaxley_version(),
        "case": case,
        "delta_t": DELTA_T,
        "t_max": t_max,
        "solver": solver,
        "voltage_solver": VOLTAGE_SOLVER,
        "n_nodes": int(len(all_states["v"])),
        "n_steps": int(traces.shape[1] - 1),
        "state_keys": list(all_states.keys()),
        "param_keys": [k for k in all_params.keys() if k != "axial_conductances"],
        "edges": edges_of(net) if hasattr(net, "edges") else [],
        "recordings": recordings_of(net),
        "traces": to_list(traces),
    }
    if extra_states:
        out["initial_states"] = states_to_json(all_states)
    vmax = np.nanmax(traces[[i for i, r in enumerate(out["recordings"]) if r["state"] == "v"]])
    print(f"{case}: {traces.shape[0]} traces x {traces.shape[1]}, max v {vmax:.2f}")
    return out


def case_chain3():
    """Three HH cells in a chain, IonotropicSynapse between distal and proximal sites."""
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
    net.cell(0).branch(0).comp(0).stimulate(jx.step_current(1.0, 4.0, 0.4, DELTA_T, 40.0))
    for c in range(3):
        net.cell(c).branch(0).comp(0).record("v", verbose=False)
        net.cell(c).branch(2).comp(0).record("v", verbose=False)
    net.IonotropicSynapse.record("IonotropicSynapse_s", verbose=False)
    net.IonotropicSynapse.record("i_IonotropicSynapse", verbose=False)
    net.cell(2).branch(0).comp(0).record("HH_m", verbose=False)
    write_json("net_chain3.json", payload("chain3", net, 40.0, extra_states=True))


def build_mixed5():
    cell = jx.Cell(jx.Branch(jx.Compartment(), ncomp=3), parents=[-1, 0])
    net = jx.Network([cell for _ in range(5)])
    net.insert(HH())
    net.cell([1, 3]).insert(Leak())
    fully_connect(net.cell([0, 1]), net.cell([0, 1, 2]), TestSynapse())
    fully_connect(net.cell([3, 4]), net.cell([2, 3, 4]), IonotropicSynapse())
    net.set("TestSynapse_gC", 0.02)
    net.set("IonotropicSynapse_gS", 0.015)
    net.TestSynapse.edge(2).set("TestSynapse_gC", 0.04)
    net.IonotropicSynapse.edge(4).set("IonotropicSynapse_gS", 0.03)
    net.IonotropicSynapse.edge(0).set("IonotropicSynapse_s", 0.5)
    net.cell(0).branch(0).comp(0).stimulate(jx.step_current(1.0, 3.0, 0.3, DELTA_T, 40.0))
    net.cell(4).branch(1).comp(2).stimulate(jx.step_current(10.0, 3.0, 0.3, DELTA_T, 40.0))
    return net


def case_mixed5():
    """Five cells; TestSynapse from cells 0-1 to 0-2, IonotropicSynapse from 3-4 to 2-4."""
    net = build_mixed5()
    for c in range(5):
        net.cell(c).branch(0).comp(0).record("v", verbose=False)
    net.cell(2).branch(1).comp(2).record("v", verbose=False)
    for e in [0, 2, 4]:
        net.TestSynapse.edge(e).record("TestSynapse_c", verbose=False)
    for e in [0, 3, 5]:
        net.IonotropicSynapse.edge(e).record("IonotropicSynapse_s", verbose=False)
    net.TestSynapse.edge(3).record("i_TestSynapse", verbose=False)
    write_json("net_mixed5.json", payload("mixed5", net, 25.0, extra_states=True))


def case_mixed5_cn():
    net = build_mixed5()
    for c in range(5):
        net.cell(c).branch(0).comp(0).record("v", verbose=False)
    write_json(
        "net_mixed5_cn.json", payload("mixed5_cn", net, 20.0, solver="crank_nicolson")
    )


def case_tanh():
    """Rate neurons coupled by TanhRateSynapse (matrix) and TanhConductanceSynapse."""
    net = jx.Network([jx.Cell() for _ in range(4)])
    net.insert(Rate())
    net.cell(2).set("Rate_tau", 3.0)
    matrix = np.array(
        [
            [False, True, True, False],
            [True, False, False, True],
            [False, True, False, True],
            [True, False, True, False],
        ]
    )
    connectivity_matrix_connect(
        net.cell("all"), net.cell("all"), TanhRateSynapse(), matrix
    )
    fully_connect(net.cell([0]), net.cell([1, 3]), TanhConductanceSynapse())
    gs = [0.002, -0.003, 0.004, 0.001, -0.002, 0.003, 0.0015, -0.001]
    net.TanhRateSynapse.set("TanhRateSynapse_gS", 0.0)
    for i, g in enumerate(gs):
        net.TanhRateSynapse.edge(i).set("TanhRateSynapse_gS", g)
    net.set("TanhRateSynapse_x_offset", 0.0)
    net.set("TanhRateSynapse_slope", 0.5)
    net.set("TanhConductanceSynapse_gS", 0.0005)
    net.set("TanhConductanceSynapse_x_offset", 0.0)
    net.set("TanhConductanceSynapse_e_syn", 2.0)
    for c, v in enumerate([1.0, -0.5, 0.3, 0.0]):
        net.cell(c).set("v", v)
    net.cell(0).stimulate(jx.step_current(1.0, 3.0, 0.002, DELTA_T, 20.0))
    for c in range(4):
        net.cell(c).record("v", verbose=False)
    net.TanhRateSynapse.record("i_TanhRateSynapse", verbose=False)
    net.TanhConductanceSynapse.record("i_TanhConductanceSynapse", verbose=False)
    write_json("net_tanh.json", payload("tanh", net, 20.0))


def case_izhikevich():
    net = jx.Network([jx.Cell() for _ in range(3)])
    net.insert(Izhikevich())
    net.cell(1).set("Izhikevich_a", 0.1)
    net.cell(2).set("Izhikevich_d", 2.0)
    net.init_states()
    fully_connect(net.cell([0]), net.cell([1, 2]), IonotropicSynapse())
    net.set("IonotropicSynapse_gS", 0.01)
    net.cell(0).stimulate(jx.step_current(2.0, 40.0, 0.01, DELTA_T, 60.0))
    for c in range(3):
        net.cell(c).record("v", verbose=False)
        net.cell(c).record("Izhikevich_u", verbose=False)
    write_json("net_izhikevich.json", payload("izhikevich", net, 60.0))


def case_adex():
    net = jx.Network([jx.Cell() for _ in range(2)])
    net.insert(AdEx(surrogate_warning=False))
    net.set("AdEx_b", 5.0)
    net.cell(1).set("capacitance", 2.0)
    connect(net.cell(0).branch(0).comp(0), net.cell(1).branch(0).comp(0), IonotropicSynapse())
    net.set("IonotropicSynapse_gS", 0.05)
    net.cell(0).stimulate(jx.step_current(1.0, 30.0, 0.3, DELTA_T, 40.0))
    for c in range(2):
        net.cell(c).record("v", verbose=False)
        net.cell(c).record("AdEx_w", verbose=False)
        net.cell(c).record("AdEx_spikes", verbose=False)
    write_json("net_adex.json", payload("adex", net, 40.0))


def case_fire():
    net = jx.Network([jx.Cell() for _ in range(3)])
    net.insert(Leak())
    net.insert(Fire())
    net.set("Leak_gLeak", 1e-3)
    net.set("Leak_eLeak", -70.0)
    fully_connect(net.cell([0, 1]), net.cell([1, 2]), TestSynapse())
    net.set("TestSynapse_gC", 0.005)
    net.cell(0).stimulate(jx.step_current(1.0, 30.0, 0.02, DELTA_T, 40.0))
    for c in range(3):
        net.cell(c).record("v", verbose=False)
        net.cell(c).record("Fire_spikes", verbose=False)
    net.TestSynapse.record("TestSynapse_c", verbose=False)
    write_json("net_fire.json", payload("fire", net, 40.0))


def build_diffusion():
    cell = jx.Cell(jx.Branch(jx.Compartment(), ncomp=3), parents=[-1, 0, 0])
    cell.insert(HH())
    cell.branch(0).insert(CaL())
    cell.branch(0).insert(CaPump())
    cell.branch(0).insert(CaNernstReversal())
    cell.branch(1).insert(CaNernstReversal())
    cell.set("CaL_gCaL", 2e-3)
    cell.diffuse("CaCon_i")
    cell.set("axial_diffusion_CaCon_i", 2e-3)
    cell.branch(1).set("axial_diffusion_CaCon_i", 5e-3)
    cell.branch(2).set("radius", 0.6)
    cell.branch(0).comp(0).stimulate(jx.step_current(1.0, 20.0, 0.05, DELTA_T, 30.0))
    for b in range(3):
        cell.branch(b).comp(0).record("v", verbose=False)
        record_via_base(cell, cell.branch(b).comp(2), "CaCon_i")
    cell.branch(0).comp(1).record("CaCon_i", verbose=False)
    cell.branch(1).comp(0).record("eCa", verbose=False)
    return cell


def case_diffusion():
    cell = build_diffusion()
    out = payload("diffusion", cell, 30.0)
    cell.to_jax()
    init_fn, _ = build_init_and_step_fn(cell, voltage_solver=VOLTAGE_SOLVER)
    _, all_params = init_fn(cell.get_parameters())
    out["axial_conductances_ca"] = to_list(all_params["axial_conductances"]["CaCon_i"])
    write_json("net_diffusion.json", out)


def case_diffusion_cn():
    cell = build_diffusion()
    write_json(
        "net_diffusion_cn.json",
        payload("diffusion_cn", cell, 15.0, solver="crank_nicolson"),
    )


CASES = {
    "chain3": case_chain3,
    "mixed5": case_mixed5,
    "mixed5_cn": case_mixed5_cn,
    "tanh": case_tanh,
    "izhikevich": case_izhikevich,
    "adex": case_adex,
    "fire": case_fire,
    "diffusion": case_diffusion,
    "diffusion_cn": case_diffusion_cn,
}


def main(argv):
    names = argv or list(CASES)
    for name in names:
        print(f"--- {name}")
        CASES[name]()


if __name__ == "__main__":
    main(sys.argv[1:])
