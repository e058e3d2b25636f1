"""Multirun overrides of a swept group's keys, made to compose (a Hydra limitation).

Hydra composes a multirun's config once with the sweep overrides left out before it
launches the jobs, so in ``lossbench run -m loss=focal,class_balanced loss.gamma=1``
the plain override ``loss.gamma=1`` is applied to the *default* loss (``ce``), which
has no ``gamma``, and the whole sweep stops ("Could not override 'loss.gamma'"), though
every job would accept it. A one-element sweep (``loss.gamma=choice(1)``) is left out
of that composition like the group's own sweep and reaches each job as the same
``loss.gamma=1`` override, so :func:`sweep_safe` rewrites such overrides; everything
else on the command line is passed on unchanged. And where only some of the swept
options have the key (``loss=ce,focal loss.gamma=0.5,1,2``), :func:`tolerant_batches`
applies it to the jobs whose option has it.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

from lossbench.schema import GROUPS

log = logging.getLogger(__name__)

MULTIRUN_FLAGS = ("-m", "--multirun")


def _parse(text: str) -> Any | None:
    """``text`` as a Hydra ``Override``, or None when it is not one (a flag or its value)."""
    if text.startswith("-") or "=" not in text:
        return None
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        return OverridesParser.create().parse_override(text)
    except Exception:  # Hydra itself reports a real mistake
        return None


def _group_key(override: Any) -> str | None:
    """``loss.gamma`` for the plain (not ``+``/``++``/``~``, not swept) override
    ``loss.gamma=V`` of a key inside a config group; else None."""
    from hydra.core.override_parser.types import OverrideType

    key = override.key_or_group
    group, dot, _ = key.partition(".")
    plain = override.type == OverrideType.CHANGE and not override.is_sweep_override()
    return key if plain and dot and group in GROUPS and override.package is None else None


def sweep_safe(argv: list[str]) -> list[str]:
    """``argv`` with each plain override of a key inside a swept config group (``loss.X=V``
    beside ``loss=a,b``) written as the one-element sweep ``loss.X=choice(V)``."""
    if not any(a in MULTIRUN_FLAGS for a in argv):
        return argv
    parsed = {i: o for i, o in enumerate(map(_parse, argv)) if o is not None}
    swept = {
        o.key_or_group
        for o in parsed.values()
        if o.is_sweep_override() and o.key_or_group in GROUPS and o.package is None
    }
    out = list(argv)
    for i, o in parsed.items():
        key = _group_key(o)
        if key is not None and key.split(".", 1)[0] in swept:
            out[i] = f"{key}=choice({o.get_value_element_as_str()})"
    return out


# Hydra's message when a plain override names a key the composed config lacks.
_NOT_A_KEY = re.compile(r"Could not override '([^']+)'")


def _plain_key(text: str) -> str | None:
    """The group key a job's override ``text`` sets plainly (:func:`_group_key`), else None."""
    override = _parse(text)
    return None if override is None else _group_key(override)


def _applicable(load: Callable[[list[str]], Any], overrides: list[str]) -> tuple[list[str], Any]:
    """``overrides`` without the plain group-key overrides the job's options lack, and the
    exception each dropped key raised (by key); other composition errors propagate."""
    from hydra.errors import ConfigCompositionException

    kept = list(overrides)
    dropped: dict[str, Exception] = {}
    while True:
        try:
            load(kept)
            return kept, dropped
        except ConfigCompositionException as exc:
            match = _NOT_A_KEY.match(str(exc))
            key = match.group(1) if match else None
            if key is None or key in dropped or key not in [_plain_key(o) for o in kept]:
                raise
            dropped[key] = exc
            kept = [o for o in kept if _plain_key(o) != key]


@contextlib.contextmanager
def tolerant_batches() -> Iterator[None]:
    """In a multirun, a key that only some swept options have is applied where it exists.

    ``lossbench run -m loss=ce,focal loss.gamma=0.5,1,2`` crosses every loss with every
    gamma, but ``ce`` has no ``gamma``: Hydra's check of the batch would stop the whole
    sweep. Inside this context the check drops such an override from the jobs whose
    options lack the key (each said in one note line; their identical jobs then resume
    from the first), and edits the batch in place so the launcher runs what was checked.
    A key that no job of the batch has is still the error it was (a typo stays an error).
    Restored on exit.
    """
    try:
        from hydra.plugins.sweeper import Sweeper
    except ImportError:  # another Hydra layout: Hydra's own check
        yield
        return
    original = Sweeper.validate_batch_is_legal

    def validate_batch_is_legal(self: Any, batch: Any) -> None:
        context = getattr(self, "hydra_context", None)
        loader = context.config_loader if context is not None else self.config_loader
        master = self.config

        def load(overrides: list[str]) -> Any:
            return loader.load_sweep_config(master_config=master, sweep_overrides=overrides)

        applied: set[str] = set()
        failures: dict[str, Exception] = {}
        notes: dict[tuple[str, str], int] = {}
        for overrides in batch:
            kept, dropped = _applicable(load, list(overrides))
            applied.update(k for k in map(_plain_key, kept) if k)
            for key, exc in dropped.items():
                failures.setdefault(key, exc)
                group = key.split(".", 1)[0]
                choice = next((o for o in kept if o.split("=", 1)[0] == group), group)
                notes[(key, choice)] = notes.get((key, choice), 0) + 1
            if dropped:
                if not isinstance(overrides, list):
                    raise next(iter(dropped.values()))
                overrides[:] = kept
        for key, exc in failures.items():
            if key not in applied:
                raise exc
        if notes:
            from lossbench.log import setup

            setup()  # Hydra's sweep-level console handler: not a second copy of the notes
        for (key, choice), count in notes.items():
            jobs = "its job runs" if count == 1 else f"its {count} jobs run"
            log.warning("note: %s is not a key of %s: %s without it", key, choice, jobs)

    Sweeper.validate_batch_is_legal = validate_batch_is_legal  # type: ignore[method-assign]
    try:
        yield
    finally:
        Sweeper.validate_batch_is_legal = original  # type: ignore[method-assign]
