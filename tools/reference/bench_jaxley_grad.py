"""Jaxley timing: jit-compiled forward simulation and jax.grad of an HH tree cell.

Writes tools/reference/jaxley_grad_timing.json. Run with
    /work/venv/bin/python tools/reference/bench_jaxley_grad.py
on an otherwise idle machine. See tools/reference/README.md.

Model (per size): `parents = [-1] + [(i - 1) // 2 for i in range(1, n_branches)]`
(binary tree), `Cell(Branch(Compartment(), ncomp=8), parents)`, HH everywhere, Jaxley's
default radius 1, length 10, Ra 5000, capacitance 1; 0.2 nA over 1-11 ms into
branch(0).comp(0); v recorded at branch(0).comp(0) and branch(n_branches-1).comp(7);
`cell.branch("all").make_trainable("HH_gNa")`, `cell.branch("all").make_trainable("radius")`;
t_max 20, delta_t 0.025 (800 steps), bwd_euler, jaxley.dhs, checkpoint_lengths=None.
Loss: mean((traces + 65)**2).
"""

import json
import os
import platform
import statistics
import subprocess
import time

import common  # noqa: F401  (configures JAX: float64 + CPU; must come first)
from common import DELTA_T, VOLTAGE_SOLVER, jaxley_version, to_float, to_list

import jax
import jax.numpy as jnp
import numpy as np

import jaxley as jx
from jaxley.channels import HH

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "jaxley_grad_timing.json")
T_MAX = 20.0
NCOMP = 8
REPEATS = 5
SIZES = [125, 63]  # number of branches


def build(n_branches):
    parents = [-1] + [(i - 1) // 2 for i in range(1, n_branches)]
    cell = jx.Cell(jx.Branch(jx.Compartment(), ncomp=NCOMP), parents=parents)
    cell.insert(HH())
    cell.branch(0).comp(0).stimulate(jx.step_current(1.0, 10.0, 0.2, DELTA_T, T_MAX))
    cell.branch(0).comp(0).record("v", verbose=False)
    cell.branch(n_branches - 1).comp(NCOMP - 1).record("v", verbose=False)
    cell.branch("all").make_trainable("HH_gNa", verbose=False)
    cell.branch("all").make_trainable("radius", verbose=False)
    return cell


def time_fn(fn, arg):
    t0 = time.perf_counter()
    out = jax.block_until_ready(fn(arg))
    first = time.perf_counter() - t0
    runs = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(arg))
        runs.append(time.perf_counter() - t0)
    return out, {
        "first_call_s": first,
        "best_s": min(runs),
        "median_s": statistics.median(runs),
        "runs_s": runs,
    }


def bench(n_branches):
    cell = build(n_branches)
    params = cell.get_parameters()
    n_params = sum(int(np.asarray(v).size) for p in params for v in p.values())

    def simulate(params):
        return jx.integrate(
            cell,
            params=params,
            delta_t=DELTA_T,
            t_max=T_MAX,
            solver="bwd_euler",
            voltage_solver=VOLTAGE_SOLVER,
            checkpoint_lengths=None,
        )

    def loss_fn(params):
        return jnp.mean((simulate(params) + 65.0) ** 2)

    fwd = jax.jit(simulate)
    grad = jax.jit(jax.grad(loss_fn))
    loss_jit = jax.jit(loss_fn)

    traces, t_fwd = time_fn(fwd, params)
    grads, t_grad = time_fn(grad, params)
    loss = loss_jit(params)
    traces = np.asarray(traces)
    n_comps = int(len(cell.nodes))
    res = {
        "n_branches": n_branches,
        "ncomp_per_branch": NCOMP,
        "n_compartments": n_comps,
        "n_params": n_params,
        "n_steps": int(traces.shape[1] - 1),
        "recordings": [
            {"state": str(s), "rec_index": int(i)}
            for s, i in zip(cell.recordings["state"], cell.recordings["rec_index"])
        ],
        "forward": t_fwd,
        "grad": t_grad,
        "loss": to_float(loss),
        "max_v": [float(np.max(tr)) for tr in traces],
        "grads": [
            {k: to_list(g[k]) for k in g} for g in grads
        ],
    }
    print(
        f"{n_comps} compartments ({n_branches} branches, {n_params} params, "
        f"{res['n_steps']} steps), loss {float(loss):.6f}, max v {res['max_v']}"
    )
    for name, t in [("forward", t_fwd), ("grad", t_grad)]:
        print(
            f"  {name:8s} first call {t['first_call_s']:8.3f} s   best {t['best_s']:.4f} s"
            f"   median {t['median_s']:.4f} s"
        )
    return res


def cpuinfo(field):
    """First value of `field` in /proc/cpuinfo (None if absent)."""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.split(":", 1)[0].strip() == field:
                return line.split(":", 1)[1].strip()
    return None


def main():
    machine = {
        "nproc": int(subprocess.check_output(["nproc"]).decode().strip()),
        "cpu_model": cpuinfo("model name"),
        "cpu_mhz": cpuinfo("cpu MHz"),
        "cpu_cache_size": cpuinfo("cache size"),
        "cpu_has_avx512f": "avx512f" in (cpuinfo("flags") or "").split(),
        "jax_version": jax.__version__,
        "jaxlib_version": __import__("jaxlib").__version__,
        "jaxley_version": jaxley_version(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "jax_devices": [str(d) for d in jax.devices()],
        "loadavg_before": list(os.getloadavg()),
    }
    print(json.dumps(machine, indent=1))
    results = [bench(n) for n in SIZES]
    machine["loadavg_after"] = list(os.getloadavg())
    out = {
        "generator": "tools/reference/bench_jaxley_grad.py",
        "description": __doc__.strip(),
        "machine": machine,
        "settings": {
            "t_max": T_MAX,
            "delta_t": DELTA_T,
            "solver": "bwd_euler",
            "voltage_solver": VOLTAGE_SOLVER,
            "checkpoint_lengths": None,
            "dtype": "float64",
            "repeats": REPEATS,
            "timing": "time.perf_counter around fn(params) + jax.block_until_ready; "
            "first_call_s includes tracing and XLA compilation; best/median over the "
            "next REPEATS calls",
        },
        "results": results,
    }
    with open(OUT, "w") as f:
        json.dump(out, f, indent=1, allow_nan=False)
        f.write("\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
