"""The plain-language reading under each table: what the numbers say, one line each.

``focal: no detectable difference from ce on balanced_accuracy (Δ +0.004, p_holm 0.61;
smallest detectable Δ at n=5: 0.021)``. The first line says which variation the tests
cover: seeds of one data split (training noise only) or several splits.
"""

from __future__ import annotations

import math

import pandas as pd

from lossbench.report.summary import Options


def _g(x: float, sign: bool = False) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    return f"{x:+.3g}" if sign else f"{x:.3g}"


def _p(x: float) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.2g}"


def coverage_line(part: pd.DataFrame) -> str:
    """Which replicates the headline tests of one table ran over, in words."""
    tested = part[part["unit"].isin(["seed", "split"])]
    if tested.empty:
        return ""
    spans = list(dict.fromkeys(tested["tested_over"]))
    units = set(tested["unit"])
    what = []
    if "seed" in units:
        what.append("seeds of one data split cover training noise only")
    if "split" in units:
        what.append("tests on per-split means cover data-split and training variation")
    return f"Tested over {' / '.join(spans)}: {'; '.join(what)}."


def comparison_line(r: pd.Series, options: Options) -> str:
    """One configuration's headline comparison in words ('' for the baseline itself)."""
    holm = options.correction == "holm"
    cfg, base, m, v = r["config"], r["baseline"], r["metric"], str(r["verdict"])
    p_name, p = ("p_holm", r["p_holm"]) if holm else ("p", r["p_value"])
    if v == "baseline":
        return ""
    if v in ("no baseline", "no metrics"):
        return f"{cfg}: not compared ({v})"
    if v.startswith("no test"):
        return f"{cfg}: not tested against {base} on {m} ({v[len('no test: ') :]})"
    if v in ("win", "loss"):
        word = "better" if v == "win" else "worse"
        return (
            f"{cfg}: {word} than {base} on {m} (Δ {_g(r['delta'], True)}, {p_name} {_p(p)}, "
            f"d_z {_g(r['d_z'], True)})"
        )
    n = int(r["n_pairs"])
    mde = r["mde"]
    if isinstance(mde, float) and math.isinf(mde):
        smallest = f"no Δ is detectable at n={n} with this test"
    else:
        smallest = f"smallest detectable Δ at n={n}: {_g(mde)}"
    return (
        f"{cfg}: no detectable difference from {base} on {m} "
        f"(Δ {_g(r['delta'], True)}, {p_name} {_p(p)}; {smallest})"
    )


def reading(part: pd.DataFrame, options: Options) -> list[str]:
    """The lines under one table: the coverage, then every non-baseline configuration."""
    lines = [coverage_line(part)]
    lines += [comparison_line(r, options) for _, r in part.iterrows()]
    return [line for line in lines if line]
