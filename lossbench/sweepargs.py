"""Multirun overrides of a swept group's keys, made to compose (a Hydra limitation).

Hydra composes a multirun's config once with the sweep overrides left out before it
launches the jobs, so in ``lossbench run -m loss=focal,class_balanced loss.gamma=1``
the plain override ``loss.gamma=1`` is applied to the *default* loss (``ce``), which
has no ``gamma``, and the whole sweep stops ("Could not override 'loss.gamma'"), though
every job would accept it. A one-element sweep (``loss.gamma=choice(1)``) is left out
of that composition like the group's own sweep and reaches each job as the same
``loss.gamma=1`` override, so :func:`sweep_safe` rewrites such overrides; everything
else on the command line is passed on unchanged.
"""

from __future__ import annotations

from lossbench.schema import GROUPS

MULTIRUN_FLAGS = ("-m", "--multirun")


def sweep_safe(argv: list[str]) -> list[str]:
    """``argv`` with each plain override of a key inside a swept config group (``loss.X=V``
    beside ``loss=a,b``) written as the one-element sweep ``loss.X=choice(V)``."""
    if not any(a in MULTIRUN_FLAGS for a in argv):
        return argv
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import OverrideType

    parser = OverridesParser.create()
    parsed = {}
    for i, arg in enumerate(argv):
        if arg.startswith("-") or "=" not in arg:
            continue
        try:
            parsed[i] = parser.parse_override(arg)
        except Exception:  # not an override (a flag's value); Hydra reports real mistakes
            continue
    swept = {
        o.key_or_group
        for o in parsed.values()
        if o.is_sweep_override() and o.key_or_group in GROUPS and o.package is None
    }
    out = list(argv)
    for i, o in parsed.items():
        group = o.key_or_group.split(".", 1)[0]
        if (
            group in swept
            and "." in o.key_or_group
            and o.type == OverrideType.CHANGE
            and not o.is_sweep_override()
            and o.package is None
        ):
            out[i] = f"{o.key_or_group}=choice({o.get_value_element_as_str()})"
    return out
