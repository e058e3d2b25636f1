"""One record per (configuration, seed) when sweeps are merged.

A resumed sweep holds *copies* of the records it reused (``resumed_from`` names the
source), so ``lossbench report SWEEP SWEEP_RESUMED`` would count each reused seed
twice: n = 6 instead of 3 and a confidence interval ~sqrt(2) per doubling too narrow.
A replicate is identified by ``config_hash`` (the resolved config including
``dataset.seed``, i.e. the data split, and the code) plus ``seed``; of several
records of one replicate the original is kept (the one without ``resumed_from``,
else the first in path order). Records without a ``config_hash`` (failed before
their config could be read, or hand-written) are all kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any


def replicate_key(record: dict[str, Any]) -> tuple[str, str] | None:
    """``(config_hash, seed)`` of a record, or None if it has no hash."""
    digest = record.get("config_hash")
    if not digest:
        return None
    return str(digest), str(record.get("seed"))


def dedupe(
    files: Sequence[Path], records: Sequence[dict[str, Any]]
) -> tuple[list[Path], list[dict[str, Any]], int]:
    """Keep one record per replicate (see module docstring); also return how many went."""
    chosen: dict[tuple[str, str], int] = {}
    keep: list[int] = []
    for i, rec in enumerate(records):
        key = replicate_key(rec)
        if key is None:
            keep.append(i)
            continue
        j = chosen.get(key)
        if j is None:
            chosen[key] = i
            keep.append(i)
        elif records[j].get("resumed_from") and not rec.get("resumed_from"):
            keep[keep.index(j)] = i  # prefer the original over a resumed copy
            chosen[key] = i
    keep.sort()
    dropped = len(records) - len(keep)
    return [files[i] for i in keep], [records[i] for i in keep], dropped
