"""Reference data for the dynamic-state utilities (Jaxley's
`jaxley.utils.dynamics.build_dynamic_state_utils`).

Writes tests/data/dynamics_<case>.json. Run with
    /work/venv/bin/python tools/reference/gen_dynamics.py [case ...]
(no arguments: all cases). See tools/reference/README.md for the file format.
"""

import sys

import common  # noqa: F401  (configures JAX: float64 + CPU; must come first)
from common import DELTA_T, jaxley_version, to_float, to_list, write_json

import jax
import jax.numpy as jnp
import numpy as np
from jax import jacfwd

import jaxley as jx
from jaxley.channels import HH, CaL, Leak
from jaxley.integrate import build_init_and_step_fn
from jaxley.pumps import CaPump
from jaxley.utils.dynamics import build_dynamic_state_utils

GENERATOR = "tools/reference/gen_dynamics.py"


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def header(case):
    return {
        "generator": GENERATOR,
        "jaxley_version": jaxley_version(),
        "case": case,
        "delta_t": DELTA_T,
        "solver": "bwd_euler",
        "voltage_solver": "jaxley.dhs",
    }


def make_step_dynamics(step_fn, add_observables, remove_observables, flatten, unflatten):
    """`step_dynamics` exactly as in example 2 of the documentation page."""

    def step_dynamics(dynamic_states, all_params, externals, external_inds, delta_t):
        all_states = add_observables(unflatten(dynamic_states), all_params, delta_t)
        all_states = step_fn(
            all_states, all_params, externals, external_inds, delta_t=delta_t
        )
        dynamic_states = flatten(remove_observables(all_states))
        return dynamic_states

    return step_dynamics


def layout_fields(dyn_tree):
    keys = list(dyn_tree.keys())
    return {
        "keys": keys,
        "key_lengths": [int(np.asarray(dyn_tree[k]).size) for k in keys],
    }


def jacobian_rows(jac):
    return to_list(np.asarray(jac, dtype=np.float64))


# ---------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------


def case_example2():
    """Example 2 of the documentation page, verbatim."""
    comp = jx.Compartment()
    branch = jx.Branch(comp, 2)
    cell = jx.Cell(branch, parents=[-1, 0, 0])
    cell.insert(Leak())
    params = cell.get_parameters()

    externals = cell.externals.copy()
    external_inds = cell.external_inds.copy()

    init_fn, step_fn = build_init_and_step_fn(cell)
    remove_observables, add_observables, flatten, unflatten = (
        build_dynamic_state_utils(cell)
    )

    all_states, all_params = init_fn(params)
    all_states_keys = list(all_states.keys())
    full_v_len = int(len(all_states["v"]))
    dyn_tree = remove_observables(all_states)
    dynamic_states = flatten(dyn_tree)

    step_dynamics = make_step_dynamics(
        step_fn, add_observables, remove_observables, flatten, unflatten
    )
    x1 = step_dynamics(dynamic_states, all_params, externals, external_inds, DELTA_T)
    jacobian = jacfwd(step_dynamics)(
        dynamic_states, all_params, externals, external_inds, delta_t=DELTA_T
    )

    payload = header("example2")
    payload.update(layout_fields(dyn_tree))
    payload.update(
        {
            "all_states_keys": all_states_keys,
            "full_v_len": full_v_len,
            "x0": to_list(dynamic_states),
            "x1": to_list(x1),
            "jacobian": jacobian_rows(jacobian),
        }
    )
    print("example2: keys", payload["keys"], "len", len(payload["x0"]))
    write_json("dynamics_example2.json", payload)


def case_hh_one_branch():
    cell = jx.Cell(jx.Branch(jx.Compartment(), 3), parents=[-1, 0, 0])
    cell.insert(Leak())
    cell.branch(1).insert(HH())
    cell.set("v", -60.0)
    cell.init_states()
    # Perturb off equilibrium.
    cell.branch(0).comp(0).set("v", -50.0)
    cell.branch(1).comp(2).set("HH_m", 0.3)

    params = cell.get_parameters()
    externals = cell.externals.copy()
    external_inds = cell.external_inds.copy()

    init_fn, step_fn = build_init_and_step_fn(cell)
    remove_observables, add_observables, flatten, unflatten = (
        build_dynamic_state_utils(cell)
    )
    all_states, all_params = init_fn(params)
    all_states_keys = list(all_states.keys())
    full_v_len = int(len(all_states["v"]))
    dyn_tree = remove_observables(all_states)
    x0 = flatten(dyn_tree)

    step_dynamics = make_step_dynamics(
        step_fn, add_observables, remove_observables, flatten, unflatten
    )
    x = x0
    trajectory = [x0]
    for _ in range(10):
        x = step_dynamics(x, all_params, externals, external_inds, DELTA_T)
        trajectory.append(x)
    jacobian = jacfwd(step_dynamics)(
        x0, all_params, externals, external_inds, delta_t=DELTA_T
    )

    payload = header("hh_one_branch")
    payload.update(layout_fields(dyn_tree))
    payload.update(
        {
            "all_states_keys": all_states_keys,
            "full_v_len": full_v_len,
            "x0": to_list(x0),
            "x1": to_list(trajectory[1]),
            "x10": to_list(trajectory[10]),
            "trajectory": to_list(jnp.stack(trajectory)),
            "jacobian": jacobian_rows(jacobian),
        }
    )
    print(
        "hh_one_branch: keys",
        payload["keys"],
        payload["key_lengths"],
        "full_v_len",
        full_v_len,
    )
    write_json("dynamics_hh_one_branch.json", payload)


def case_example3():
    """Example 3 of the documentation page, verbatim, plus gradients."""
    cell = jx.Cell()
    cell.insert(Leak())
    t_max = 3.0
    delta_t = 0.025

    cell.record()
    cell.stimulate(jx.step_current(0, 1, 2, delta_t, t_max))

    rec_inds = cell.recordings.rec_index.to_numpy()
    rec_states = cell.recordings.state.to_numpy()
    externals = cell.externals.copy()
    external_inds = cell.external_inds.copy()

    cell.make_trainable("radius")
    params = cell.get_parameters()

    init_fn, step_fn = build_init_and_step_fn(cell)
    remove_observables, add_observables, flatten, unflatten = (
        build_dynamic_state_utils(cell)
    )

    def init_dynamics(params, param_state):
        all_states, all_params = init_fn(params, None, param_state)
        recordings = [
            jnp.asarray(
                [
                    all_states[rec_state][rec_ind]
                    for rec_state, rec_ind in zip(rec_states, rec_inds)
                ]
            )
        ]
        dynamic_states = flatten(remove_observables(all_states))
        return dynamic_states, all_params, recordings

    def step_dynamics(dynamic_states, all_params, externals, external_inds):
        all_states = add_observables(unflatten(dynamic_states), all_params, 0.025)
        all_states = step_fn(
            all_states, all_params, externals, external_inds, delta_t=delta_t
        )
        recs = jnp.asarray(
            [
                all_states[rec_state][rec_ind]
                for rec_state, rec_ind in zip(rec_states, rec_inds)
            ]
        )
        dynamic_states = flatten(remove_observables(all_states))
        return dynamic_states, recs

    def simulate(params, param_state_value):
        param_state = cell.data_set("Leak_gLeak", param_state_value, None)
        cell.to_jax()
        dynamic_states, all_params, recordings = init_dynamics(params, param_state)
        steps = int(t_max / delta_t)
        for step in range(steps):
            externals_now = {}
            for key in externals.keys():
                externals_now[key] = externals[key][:, step]
            dynamic_states, recs = step_dynamics(
                dynamic_states, all_params, externals_now, external_inds
            )
            recordings.append(recs)
        return jnp.stack(recordings, axis=0).T

    def loss_fn(params, param_state_value):
        return jnp.mean(simulate(params, param_state_value))

    loss = loss_fn(params, 1e-4)
    grad_params = jax.grad(loss_fn)(params, 1e-4)
    grad_gleak = jax.grad(loss_fn, argnums=1)(params, 1e-4)
    recordings = simulate(params, 1e-4)

    payload = header("example3")
    payload.update(
        {
            "t_max": t_max,
            "n_steps": int(t_max / delta_t),
            "stimulus": {"i_delay": 0, "i_dur": 1, "i_amp": 2, "t_max": t_max},
            "radius": to_list(params[0]["radius"]),
            "Leak_gLeak": 1e-4,
            "loss": to_float(loss),
            "grad_radius": to_float(grad_params[0]["radius"][0]),
            "grad_gLeak": to_float(grad_gleak),
            "recordings": to_list(recordings),
        }
    )
    print(
        f"example3: loss={payload['loss']!r} grad_radius={payload['grad_radius']!r} "
        f"grad_gLeak={payload['grad_gLeak']!r} n_samples={recordings.shape}"
    )
    write_json("dynamics_example3.json", payload)


def case_ca_drift():
    """Plain step_fn loop vs the dynamics utils when a current (i_Ca) is a state."""
    cell = jx.Cell(jx.Branch(jx.Compartment(), 2), parents=[-1, 0, 0])
    cell.insert(Leak())
    cell.insert(CaL())
    cell.insert(CaPump())
    cell.set("v", -40.0)
    cell.branch(0).comp(0).stimulate(jx.step_current(0.0, 5.0, 0.1, DELTA_T, 5.0))

    params = cell.get_parameters()
    cell.to_jax()
    externals = cell.externals.copy()
    external_inds = cell.external_inds.copy()

    init_fn, step_fn = build_init_and_step_fn(cell)
    remove_observables, add_observables, flatten, unflatten = (
        build_dynamic_state_utils(cell)
    )
    all_states, all_params = init_fn(params)
    dyn_tree = remove_observables(all_states)
    x0 = flatten(dyn_tree)

    n_steps = 100

    # (a) plain loop over step_fn on the full all_states.
    states = dict(all_states)
    traj_plain = [x0]
    for step in range(n_steps):
        ext_now = {key: externals[key][:, step] for key in externals.keys()}
        states = step_fn(states, all_params, ext_now, external_inds, delta_t=DELTA_T)
        traj_plain.append(flatten(remove_observables(states)))

    # (b) unflatten -> add_observables -> step_fn -> remove_observables -> flatten.
    step_dynamics = make_step_dynamics(
        step_fn, add_observables, remove_observables, flatten, unflatten
    )
    x = x0
    traj_utils = [x0]
    for step in range(n_steps):
        ext_now = {key: externals[key][:, step] for key in externals.keys()}
        x = step_dynamics(x, all_params, ext_now, external_inds, DELTA_T)
        traj_utils.append(x)

    x_plain = np.asarray(traj_plain[-1])
    x_utils = np.asarray(traj_utils[-1])
    ca_plain = np.asarray(unflatten(jnp.asarray(x_plain))["CaCon_i"])
    ca_utils = np.asarray(unflatten(jnp.asarray(x_utils))["CaCon_i"])
    rel = float(np.max(np.abs(ca_utils - ca_plain) / np.abs(ca_plain)))
    print(f"ca_drift: max relative CaCon_i difference after {n_steps} steps = {rel:.4%}")

    payload = header("ca_drift")
    payload.update(layout_fields(dyn_tree))
    payload.update(
        {
            "n_steps": n_steps,
            "all_states_keys": list(all_states.keys()),
            "x0": to_list(x0),
            "x100_plain": to_list(x_plain),
            "x100_utils": to_list(x_utils),
            "traj_plain": to_list(jnp.stack(traj_plain)),
            "traj_utils": to_list(jnp.stack(traj_utils)),
            "CaCon_i_plain": to_list(ca_plain),
            "CaCon_i_utils": to_list(ca_utils),
            "max_rel_diff_CaCon_i": rel,
            "rel_diff_definition": "max over compartments of |utils - plain| / |plain|",
        }
    )
    write_json("dynamics_ca_drift.json", payload)


CASES = {
    "example2": case_example2,
    "hh_one_branch": case_hh_one_branch,
    "example3": case_example3,
    "ca_drift": case_ca_drift,
}


def main(argv):
    names = argv or list(CASES)
    for name in names:
        print(f"--- {name}")
        CASES[name]()


if __name__ == "__main__":
    main(sys.argv[1:])
