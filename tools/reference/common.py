"""Shared helpers for the Jaxley reference-data generators.

Importing this module configures JAX (float64, CPU) *before* Jaxley is imported,
so every generator must import it before `jaxley`.
"""

import json
import math
import os

import jax

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_platform_name", "cpu")

import numpy as np  # noqa: E402

import jaxley as jx  # noqa: E402

DELTA_T = 0.025
VOLTAGE_SOLVER = "jaxley.dhs"

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DATA_DIR = os.path.join(REPO_ROOT, "tests", "data")

# Keep every JSON file below this size (bytes).
MAX_BYTES = 1_500_000


def _clean(x):
    """Python float, or None for NaN (JSON has no NaN)."""
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, float) and math.isinf(x):
        raise ValueError("infinite value in reference data")
    return x


def _clean_nested(obj):
    if isinstance(obj, list):
        return [_clean_nested(o) for o in obj]
    return _clean(obj)


def to_list(x):
    """Array-like -> (nested) list of Python floats, NaN -> None."""
    arr = np.asarray(x, dtype=np.float64)
    return _clean_nested(arr.tolist())


def to_float(x):
    return _clean(float(np.asarray(x, dtype=np.float64)))


def states_to_json(states):
    """Dict of arrays (insertion order kept) -> dict of lists."""
    return {key: to_list(val) for key, val in states.items()}


def recordings_of(module):
    """`module.recordings` as a list of {"state", "rec_index"} in order."""
    recs = module.recordings
    return [
        {"state": str(s), "rec_index": int(i)}
        for s, i in zip(recs["state"].to_list(), recs["rec_index"].to_list())
    ]


def write_json(filename, payload):
    path = os.path.join(DATA_DIR, filename)
    os.makedirs(DATA_DIR, exist_ok=True)
    text = json.dumps(payload, allow_nan=False)
    if len(text) > MAX_BYTES:
        raise RuntimeError(f"{filename} would be {len(text)} bytes > {MAX_BYTES}")
    with open(path, "w") as f:
        f.write(text)
        f.write("\n")
    print(f"wrote {path} ({len(text)} bytes)")
    return path


def jaxley_version():
    return jx.__version__
