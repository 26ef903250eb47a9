"""Reference data for the SWC morphology reader (Jaxley's `jx.read_swc`).

Writes tests/data/swc_<name>.json for every morphology in ../shared/morphologies
(relative to the repository root; override with the environment variable
HUXLEY_MORPHOLOGIES), plus tests/data/swc_random_trees.json (small random SWC
trees, read with several option sets: a differential test of the reader).

Run with
    /work/venv/bin/python tools/reference/gen_swc.py [name ...]
where a name is a morphology file stem (e.g. morph_minimal) or `random_trees`;
no arguments: everything. See tools/reference/README.md for the file format.
"""

import math
import os
import shutil
import sys
import tempfile
import time
import warnings

import common  # noqa: F401  (configures JAX: float64 + CPU; must come first)
from common import REPO_ROOT, jaxley_version, write_json

import numpy as np

import jaxley as jx

GENERATOR = "tools/reference/gen_swc.py"
MORPH_DIR = os.environ.get(
    "HUXLEY_MORPHOLOGIES",
    os.path.abspath(os.path.join(REPO_ROOT, "..", "shared", "morphologies")),
)
# Keep every swc_*.json below this size (bytes).
SWC_MAX_BYTES = 600_000
GEOMETRY_COLUMNS = [
    "radius",
    "length",
    "area",
    "volume",
    "resistive_load_in",
    "resistive_load_out",
    "x",
    "y",
    "z",
]
DEFAULT_OPTIONS = {
    "max_branch_len": None,
    "min_radius": None,
    "assign_groups": True,
    "ignore_swc_tracing_interruptions": True,
    "relevant_type_ids": None,
}


def floats(x):
    """Array-like -> list of Python floats at full precision (repr round-trips).

    +-inf and NaN are written as the strings "inf", "-inf", "nan" (JSON has none).
    """
    out = []
    for v in np.asarray(x, dtype=np.float64).reshape(-1).tolist():
        if math.isnan(v):
            out.append("nan")
        elif math.isinf(v):
            out.append("inf" if v > 0 else "-inf")
        else:
            out.append(v)
    return out


def variant(name, ncomp, **options):
    opts = dict(DEFAULT_OPTIONS)
    opts.update(options)
    return {"name": name, "ncomp": ncomp, "options": opts}


def standard_variants(stem):
    """The option sets read for each morphology."""
    vs = [variant("ncomp1", 1), variant("ncomp3", 3)]
    if stem == "morph_ca1_n120":
        vs += [
            variant("ncomp4", 4),
            variant("ncomp3_min_radius1", 3, min_radius=1.0),
            variant("ncomp1_relevant3", 1, relevant_type_ids=[3]),
            variant("ncomp1_interruptions", 1, ignore_swc_tracing_interruptions=False),
            variant("ncomp2_max_len100", 2, max_branch_len=100.0),
        ]
    if stem == "morph_l5pc_with_axon":
        vs += [
            variant("ncomp1_max_len300", 1, max_branch_len=300.0),
            variant("ncomp1_min_radius05", 1, min_radius=0.5),
        ]
    if stem == "morph_interrupted_soma":
        vs += [
            variant("ncomp1_interruptions", 1, ignore_swc_tracing_interruptions=False),
            variant("ncomp3_interruptions", 3, ignore_swc_tracing_interruptions=False),
        ]
    if stem == "morph_non_somatic_branchpoint":
        vs += [
            variant("ncomp1_relevant12", 1, relevant_type_ids=[1, 2]),
            variant("ncomp3_relevant12", 3, relevant_type_ids=[1, 2]),
        ]
    if stem == "morph_minimal":
        vs += [
            variant("ncomp2_relevant3", 2, relevant_type_ids=[3]),
            variant("ncomp2_no_groups", 2, assign_groups=False),
            variant("ncomp2_max_len1", 2, max_branch_len=1.0),
        ]
    if stem == "morph_variable_radiuses_within_branch":
        vs += [
            variant("ncomp3_min_radius03", 3, min_radius=0.3),
            variant("ncomp5_max_len50", 5, max_branch_len=50.0),
        ]
    if stem == "morph_variable_radiuses_multi_branch":
        vs += [variant("ncomp2_relevant01", 2, relevant_type_ids=[0, 1])]
    if stem == "morph_allen_485574832":
        vs += [variant("ncomp1_min_radius03", 1, min_radius=0.3)]
    return vs


# Branches (of the ncomp1 read) whose `set_ncomp` results are recorded, and the new
# ncomp values. Lets the Rust side test `compartmentalize` on Jaxley's stored xyzr.
SET_NCOMP = {
    "morph_ca1_n120": ([0, 1, 5, 40, 154], [2, 3, 5]),
    "morph_l5pc_with_axon": ([0, 3, 100, 323], [2, 4]),
    "morph_variable_radiuses_within_branch": ([0], [2, 3, 7]),
    "morph_variable_radiuses_multi_branch": ([0, 1, 2], [2, 4]),
    "morph_3_types_single_point_soma": ([0, 1, 2], [2, 3]),
    "morph_somatic_branchpoint": ([0, 1, 2, 3], [2, 3]),
}


def scan_swc_text(text):
    """Notes on SWC defects that Jaxley does not report (duplicate ids, many roots)."""
    seen, notes, roots = {}, [], []
    for lineno, line in enumerate(text.splitlines(), start=1):
        data = line.split("#", 1)[0].split()
        if not data:
            continue
        sid, parent = int(float(data[0])), int(float(data[6]))
        if sid in seen:
            notes.append(
                f"sample id {sid} appears twice (lines {seen[sid]} and {lineno}); "
                "networkx keeps the last definition, Jaxley reports nothing"
            )
        else:
            seen[sid] = lineno
        if parent == -1:
            roots.append(lineno)
    if len(roots) > 1:
        notes.append(f"{len(roots)} root samples (parent -1) at lines {roots}")
    return notes


def read_cell(path, ncomp, options):
    """jx.read_swc with warnings recorded. Returns (cell, seconds, warnings)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t0 = time.perf_counter()
        cell = jx.read_swc(path, ncomp=ncomp, **options)
        seconds = time.perf_counter() - t0
    messages = sorted(
        {
            str(w.message)
            for w in caught
            if not issubclass(w.category, (DeprecationWarning, FutureWarning))
            and "length 0" in str(w.message)
        }
    )
    return cell, seconds, messages


def describe_cell(cell):
    nodes = cell.nodes
    out = {
        "parents": [int(p) for p in np.asarray(cell.comb_parents)],
        "ncomp_per_branch": [int(n) for n in np.asarray(cell.ncomp_per_branch)],
        "nbranchpoints": int(len(cell._branchpoints)),
        "comps": {c: floats(nodes[c].to_numpy()) for c in GEOMETRY_COLUMNS},
        "groups": {
            g: [int(i) for i in np.flatnonzero(nodes[g].to_numpy())]
            for g in cell.group_names
        },
    }
    return out


def xyzr_list(xyzr):
    return [floats(row) for row in np.asarray(xyzr)]


def run_variant(path, v, record_xyzr):
    entry = {"name": v["name"], "ncomp": v["ncomp"], "options": v["options"]}
    try:
        cell, seconds, warns = read_cell(path, v["ncomp"], v["options"])
    except Exception as exc:  # recorded, not fatal
        entry["jaxley_error"] = f"{type(exc).__name__}: {exc}"
        print(f"    {v['name']}: Jaxley raised {entry['jaxley_error']}")
        return entry, None
    entry["read_seconds"] = seconds
    if v["name"] == "ncomp1":
        # A second read of the same file: JAX has then compiled `jnp.interp` for
        # every branch size already, which dominates the first read.
        entry["read_seconds_warm"] = read_cell(path, v["ncomp"], v["options"])[1]
    entry["warnings"] = warns
    entry.update(describe_cell(cell))
    if record_xyzr:
        entry["branch_xyzr"] = [xyzr_list(x) for x in cell.xyzr]
    print(
        f"    {v['name']}: {len(entry['parents'])} branches, "
        f"{len(entry['comps']['radius'])} comps, {seconds:.2f} s"
    )
    return entry, cell


def set_ncomp_cases(cell, branches, ncomps):
    """set_ncomp on single branches of `cell` (mutates it); one record per call."""
    cases = []
    for b in branches:
        xyzr = np.asarray(cell.xyzr[b]).copy()
        old_lengths = cell.nodes.loc[
            cell.nodes["global_branch_index"] == b, "length"
        ].to_numpy()
        for k in ncomps:
            cell.branch(b).set_ncomp(k)
            rows = cell.nodes[cell.nodes["global_branch_index"] == b]
            cases.append(
                {
                    "branch": int(b),
                    "ncomp": int(k),
                    "xyzr": xyzr_list(xyzr),
                    "total_length": float(np.sum(old_lengths)),
                    "comps": {
                        c: floats(rows[c].to_numpy())
                        for c in [
                            "radius",
                            "length",
                            "area",
                            "volume",
                            "resistive_load_in",
                            "resistive_load_out",
                        ]
                    },
                }
            )
            old_lengths = rows["length"].to_numpy()
    return cases


def case_morphology(stem):
    path = os.path.join(MORPH_DIR, stem + ".swc")
    with open(path) as f:
        text = f.read()
    n_samples = sum(1 for line in text.splitlines() if line.split("#", 1)[0].split())
    record_xyzr = n_samples <= 300
    payload = {
        "generator": GENERATOR,
        "jaxley_version": jaxley_version(),
        "file": stem + ".swc",
        "n_samples": n_samples,
        "jaxley_error": None,
        "variants": [],
    }
    notes = scan_swc_text(text)
    if notes:
        payload["jaxley_error"] = "Jaxley silently mishandles this file: " + "; ".join(
            notes
        )
        print("    note:", payload["jaxley_error"])
    for v in standard_variants(stem):
        entry, cell = run_variant(path, v, record_xyzr)
        payload["variants"].append(entry)
        if v["name"] == "ncomp1" and stem in SET_NCOMP and cell is not None:
            branches, ncomps = SET_NCOMP[stem]
            payload["set_ncomp"] = set_ncomp_cases(cell, branches, ncomps)
    return payload


# ---------------------------------------------------------------------------
# Random trees (differential test)
# ---------------------------------------------------------------------------


def random_tree_text(rng, index, zero_radii):
    """A small random SWC text. Valid tree; ids contain 1; exercises type changes,
    single-point somata, somatic branchpoints, unsorted ids, coincident points and
    (if `zero_radii`) radii of 0."""
    n = int(rng.integers(2, 18))
    kind = index % 4
    parents = [-1]
    for k in range(1, n):
        if rng.random() < 0.6:
            parents.append(k - 1)  # continue the current neurite
        else:
            parents.append(int(rng.integers(0, k)))
    types = [1]
    for k in range(1, n):
        p = parents[k]
        t = types[p]
        if kind == 0 and t == 1:
            t = int(rng.choice([2, 3, 4]))  # single-point soma
        elif rng.random() < 0.25:
            t = int(rng.choice([0, 1, 2, 3, 4, 7]))
        types.append(t)
    if kind == 3:
        types[0] = int(rng.choice([2, 3, 0]))
    xyz = [np.zeros(3)]
    for k in range(1, n):
        step = rng.normal(size=3) * rng.choice([0.5, 3.0, 10.0])
        if rng.random() < 0.015:
            step = np.zeros(3)  # coincident point
        xyz.append(xyz[parents[k]] + np.round(step, 3))
    radii = np.round(rng.uniform(0.1, 3.0, size=n), 3)
    if zero_radii:
        radii[rng.random(size=n) < 0.1] = 0.0
    # Ids: 1..n, optionally permuted (keeping the root as 1) so that parents can
    # have larger ids than their children (traced out of order).
    ids = list(range(1, n + 1))
    if kind == 2 and n > 2:
        rest = ids[1:]
        rng.shuffle(rest)
        ids = [1] + rest
    lines = []
    order = list(range(n))
    if kind == 2:
        order = sorted(order, key=lambda k: ids[k])
    for k in order:
        p = -1 if parents[k] < 0 else ids[parents[k]]
        x, y, z = (float(v) for v in xyz[k])
        lines.append(
            f"{ids[k]} {types[k]} {x:.3f} {y:.3f} {z:.3f} {radii[k]:.3f} {p}"
        )
    return "\n".join(lines) + "\n"


RANDOM_OPTIONS = [
    variant("ncomp1", 1),
    variant("ncomp2", 2),
    variant("ncomp3_interruptions", 3, ignore_swc_tracing_interruptions=False),
    variant("ncomp2_max_len8", 2, max_branch_len=8.0),
    variant("ncomp1_relevant13", 1, relevant_type_ids=[1, 3]),
    variant("ncomp2_min_radius05", 2, min_radius=0.5),
    variant("ncomp1_relevant_none", 1, relevant_type_ids=[]),
    variant("ncomp4_max_len3_interruptions", 4, max_branch_len=3.0,
            ignore_swc_tracing_interruptions=False),
]


def case_random_trees(n_trees=150, seed=20240611):
    rng = np.random.default_rng(seed)
    tmp_dir = tempfile.mkdtemp(prefix="gen_swc_")
    tmp = os.path.join(tmp_dir, "tree.swc")
    trees, n_err = [], 0
    for index in range(n_trees):
        v = RANDOM_OPTIONS[index % len(RANDOM_OPTIONS)]
        text = random_tree_text(rng, index, v["options"]["min_radius"] is not None)
        with open(tmp, "w") as f:
            f.write(text)
        try:
            cell, seconds, warns = read_cell(tmp, v["ncomp"], v["options"])
            entry = describe_cell(cell)
            if index % 2 == 0:  # keeps the file small
                entry["xyzr"] = [xyzr_list(x) for x in cell.xyzr]
            entry["jaxley_error"] = None
        except Exception as exc:
            n_err += 1
            entry = {"jaxley_error": f"{type(exc).__name__}: {exc}".splitlines()[0]}
        trees.append(
            {
                "index": index,
                "swc": text,
                "ncomp": v["ncomp"],
                "options": v["options"],
                **entry,
            }
        )
    shutil.rmtree(tmp_dir)
    print(f"    {n_trees} trees, Jaxley raised on {n_err}")
    return {
        "generator": GENERATOR,
        "jaxley_version": jaxley_version(),
        "seed": seed,
        "trees": trees,
    }


def write_checked(filename, payload):
    path = write_json(filename, payload)
    size = os.path.getsize(path)
    if size > SWC_MAX_BYTES:
        raise RuntimeError(f"{filename} is {size} bytes > {SWC_MAX_BYTES}")


def main(argv):
    # Warm-up read so that the recorded times do not include JAX compilation.
    read_cell(os.path.join(MORPH_DIR, "morph_minimal.swc"), 1, {})
    stems = sorted(
        f[:-4] for f in os.listdir(MORPH_DIR) if f.endswith(".swc")
    )
    names = argv or stems + ["random_trees"]
    for name in names:
        print(f"--- {name}")
        if name == "random_trees":
            write_checked("swc_random_trees.json", case_random_trees())
        else:
            if name not in stems:
                raise SystemExit(f"unknown morphology {name!r}; known: {stems}")
            write_checked(f"swc_{name}.json", case_morphology(name))


if __name__ == "__main__":
    main(sys.argv[1:])
