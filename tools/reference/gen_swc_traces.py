"""Reference traces of SWC cells: Jaxley's `read_swc`, HH, a somatic current step.

Writes tests/data/swc_traces_<case>.json. Run with
    /work/venv/bin/python tools/reference/gen_swc_traces.py [case ...]
(no arguments: all cases; about 2 minutes, most of it Jaxley reading the L5PC file).
See tools/reference/README.md for the file format.
"""

import os
import sys
import tempfile
import time

import common  # noqa: F401  (configures JAX: float64 + CPU; must come first)
from common import DELTA_T, VOLTAGE_SOLVER, jaxley_version, recordings_of, to_list, write_json

import numpy as np

import jaxley as jx
from jaxley.channels import HH

GENERATOR = "tools/reference/gen_swc_traces.py"
MORPH_DIR = os.environ.get(
    "HUXLEY_MORPHOLOGIES",
    os.path.abspath(os.path.join(common.REPO_ROOT, "..", "shared", "morphologies")),
)
T_MAX = 20.0
I_DELAY, I_DUR = 1.0, 10.0
AXIAL_RESISTIVITY = 100.0  # Ohm cm, set everywhere (Jaxley's default 5000 decouples branches)

# case -> (file, ncomp, stimulus amplitude (nA), set_ncomp calls [(branch, ncomp)],
#          per-group settings [(group, key, value)])
CASES = {
    "ca1_n120": ("morph_ca1_n120.swc", 3, 2.0, [], []),
    "l5pc_with_axon": (
        "morph_l5pc_with_axon.swc",
        2,
        2.0,
        [],
        [("apical", "HH_gNa", 0.06), ("axon", "axial_resistivity", 50.0)],
    ),
    # Re-discretised with set_ncomp after an ncomp=1 read (SWC branches are re-cut from
    # their traced points).
    "ca1_n120_set_ncomp": (
        "morph_ca1_n120.swc",
        1,
        1.0,
        [(0, 3), (1, 4), (5, 2), (40, 5), (154, 3)],
        [],
    ),
}


def first_branch_of(cell, group):
    nodes = cell.nodes
    return int(nodes.loc[nodes[group], "global_branch_index"].min())


def last_branch_of(cell, group):
    nodes = cell.nodes
    return int(nodes.loc[nodes[group], "global_branch_index"].max())


def run_case(name):
    fname, ncomp, amp, set_ncomps, settings = CASES[name]
    path = os.path.join(MORPH_DIR, fname)
    t0 = time.time()
    cell = jx.read_swc(path, ncomp=ncomp)
    read_seconds = time.time() - t0
    for b, k in set_ncomps:
        cell.branch(b).set_ncomp(k)
    cell.insert(HH())
    cell.set("axial_resistivity", AXIAL_RESISTIVITY)
    for group, key, value in settings:
        getattr(cell, group).set(key, value)

    soma = first_branch_of(cell, "soma")
    # (branch, loc) of every recording: the soma, then distal tips of each group present,
    # then the middle of a long-numbered branch.
    sites = [(soma, 0.5)]
    for group in ["basal", "apical", "axon"]:
        if group in cell.group_names:
            sites.append((first_branch_of(cell, group), 1.0))
            sites.append((last_branch_of(cell, group), 1.0))
    sites.append((cell.total_nbranches // 2, 0.5))
    for b, x in sites:
        cell.branch(b).loc(x).record("v")

    current = jx.step_current(I_DELAY, I_DUR, amp, DELTA_T, T_MAX)
    cell.branch(soma).loc(0.5).stimulate(current)
    traces = np.asarray(
        jx.integrate(cell, t_max=T_MAX, delta_t=DELTA_T, voltage_solver=VOLTAGE_SOLVER)
    )
    spikes = [int(np.sum((tr[1:] >= 0.0) & (tr[:-1] < 0.0))) for tr in traces]
    print(f"{name}: read {read_seconds:.1f} s, {cell.total_nbranches} branches, "
          f"{len(cell.nodes)} comps, spikes per site {spikes}, "
          f"soma peak {traces[0].max():.2f} mV")
    payload = {
        "generator": GENERATOR,
        "jaxley_version": jaxley_version(),
        "case": name,
        "file": fname,
        "ncomp": ncomp,
        "set_ncomp": [[b, k] for b, k in set_ncomps],
        "settings": [[g, k, v] for g, k, v in settings],
        "axial_resistivity": AXIAL_RESISTIVITY,
        "stimulus": {"branch": soma, "loc": 0.5, "i_delay": I_DELAY, "i_dur": I_DUR,
                     "i_amp": amp},
        "delta_t": DELTA_T,
        "t_max": T_MAX,
        "n_comps": int(len(cell.nodes)),
        "sites": [[b, x] for b, x in sites],
        "recordings": recordings_of(cell),
        "spikes": spikes,
        "traces": to_list(traces),
    }
    write_json(f"swc_traces_{name}.json", payload)


def run_cell_set_ncomp():
    """set_ncomp on a cell built from compartments (cylinders), with a group and a voltage
    that differs within a re-discretised branch (Jaxley averages it)."""
    cell = jx.Cell(jx.Branch(jx.Compartment(), 4), parents=[-1, 0, 0, 1])
    cell.insert(HH())
    cell.branch(1).set("radius", 0.5)
    cell.branch(2).set("length", 20.0)
    cell.branch(3).set("capacitance", 2.0)
    cell.branch(2).comp(0).set("v", -60.0)
    cell.branch(1).add_to_group("oblique")
    cell.branch(0).set_ncomp(2)
    cell.branch(1).set_ncomp(6)
    cell.branch(2).set_ncomp(3)
    cell.oblique.set("HH_gNa", 0.2)
    cell.set("axial_resistivity", 500.0)
    cell.record("v")
    current = jx.step_current(1.0, 3.0, 0.2, DELTA_T, T_MAX)
    cell.branch(0).loc(0.0).stimulate(current)
    traces = np.asarray(
        jx.integrate(cell, t_max=T_MAX, delta_t=DELTA_T, voltage_solver=VOLTAGE_SOLVER)
    )
    spikes = [int(np.sum((tr[1:] >= 0.0) & (tr[:-1] < 0.0))) for tr in traces]
    print(f"cell_set_ncomp: ncomp per branch {list(cell.ncomp_per_branch)}, spikes {spikes}")
    nodes = cell.nodes
    payload = {
        "generator": GENERATOR,
        "jaxley_version": jaxley_version(),
        "case": "cell_set_ncomp",
        "ncomp_per_branch": [int(n) for n in cell.ncomp_per_branch],
        "columns": {
            c: to_list(nodes[c].to_numpy())
            for c in ["radius", "length", "area", "volume", "resistive_load_in",
                      "resistive_load_out", "capacitance", "axial_resistivity", "v",
                      "HH_gNa"]
        },
        "oblique": [int(i) for i in np.flatnonzero(nodes["oblique"].to_numpy())],
        "delta_t": DELTA_T,
        "t_max": T_MAX,
        "recordings": recordings_of(cell),
        "spikes": spikes,
        "traces": to_list(traces),
    }
    write_json("swc_traces_cell_set_ncomp.json", payload)


ZERO_TIP_SWC = """# soma, a dendrite whose tip has radius 0, a second dendrite, an axon
1 1 0 0 0 6 -1
2 1 6 0 0 6 1
3 3 12 0 0 1.5 2
4 3 40 5 0 1.0 3
5 3 80 10 0 0.5 4
6 3 120 10 0 0.0 5
7 3 40 -5 0 1.0 3
8 3 90 -20 0 0.8 7
9 2 -6 0 0 1.0 1
10 2 -100 0 0 0.5 9
"""


def run_zero_radius_tip():
    """An SWC cell with a zero-radius tip read with min_radius: the tip compartment's distal
    resistive load is infinite (no axial current through its far end)."""
    with tempfile.NamedTemporaryFile("w", suffix=".swc", delete=False) as f:
        f.write(ZERO_TIP_SWC)
        path = f.name
    cell = jx.read_swc(path, ncomp=3, min_radius=0.5)
    os.unlink(path)
    cell.insert(HH())
    cell.set("axial_resistivity", AXIAL_RESISTIVITY)
    cell.record("v")
    current = jx.step_current(I_DELAY, I_DUR, 0.5, DELTA_T, T_MAX)
    cell.branch(0).loc(0.5).stimulate(current)
    traces = np.asarray(
        jx.integrate(cell, t_max=T_MAX, delta_t=DELTA_T, voltage_solver=VOLTAGE_SOLVER)
    )
    spikes = [int(np.sum((tr[1:] >= 0.0) & (tr[:-1] < 0.0))) for tr in traces]
    loads = cell.nodes[["resistive_load_in", "resistive_load_out"]].to_numpy()
    infinite = [[int(c), int(side)] for c, side in zip(*np.nonzero(np.isinf(loads)))]
    print(f"zero_radius_tip: {len(cell.nodes)} comps, infinite loads (comp, in/out) at "
          f"{infinite}, spikes {spikes}")
    payload = {
        "generator": GENERATOR,
        "jaxley_version": jaxley_version(),
        "case": "zero_radius_tip",
        "swc": ZERO_TIP_SWC,
        "ncomp": 3,
        "min_radius": 0.5,
        "axial_resistivity": AXIAL_RESISTIVITY,
        "stimulus": {"branch": 0, "loc": 0.5, "i_delay": I_DELAY, "i_dur": I_DUR,
                     "i_amp": 0.5},
        "infinite_loads": infinite,
        "delta_t": DELTA_T,
        "t_max": T_MAX,
        "recordings": recordings_of(cell),
        "spikes": spikes,
        "traces": to_list(traces),
    }
    write_json("swc_traces_zero_radius_tip.json", payload)


def main(argv):
    names = argv or list(CASES) + ["cell_set_ncomp", "zero_radius_tip"]
    for name in names:
        if name == "zero_radius_tip":
            run_zero_radius_tip()
        elif name == "cell_set_ncomp":
            run_cell_set_ncomp()
        else:
            run_case(name)


if __name__ == "__main__":
    main(sys.argv[1:])
