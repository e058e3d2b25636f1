"""What options exist: read straight from the YAML files of each config group.

One option is one YAML file, so listing a group is listing its files; the first
comment line of a file is its one-line description, and a loss or model may
declare the data families it fits with the ``_tasks_`` key. Reading YAML keeps
``lossbench list`` free of torch.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import yaml

from lossbench.evaluation.registry import TASKS  # noqa: F401  (re-exported: the data families)

GROUPS = ("losses", "datasets", "models", "optimizers", "samplers")
GROUP_DIRS = {
    "losses": "loss",
    "datasets": "dataset",
    "models": "model",
    "optimizers": "optimizer",
    "samplers": "sampler",
}


@dataclass(frozen=True)
class Option:
    """One selectable option of a config group, as its YAML file describes it."""

    group: str
    name: str
    description: str
    tasks: tuple[str, ...]


def config_dir() -> Path:
    """The directory of the Hydra configs: ``configs/`` beside the package in a checkout,
    else the copy inside the installed package (``lossbench/configs/``, see setup.py)."""
    package = Path(__file__).resolve().parent
    checkout = package.parent / "configs"
    if (checkout / "config.yaml").is_file():
        return checkout
    return package / "configs"


def _describe(path: Path) -> tuple[str, tuple[str, ...]]:
    text = path.read_text(encoding="utf-8")
    description = ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("# @package"):
            continue
        if stripped.startswith("#"):
            description = stripped.lstrip("#").strip()
            break
        if stripped:
            break
    data = yaml.safe_load(text) or {}
    node = data.get("optimizer", data) if isinstance(data, dict) else {}
    tasks = node.get("_tasks_") or data.get("_tasks_") or ()
    return description, tuple(tasks)


def options(group: str) -> list[Option]:
    """All options of ``group`` (one of GROUPS), sorted by name."""
    folder = config_dir() / GROUP_DIRS[group]
    found = []
    for path in sorted(folder.glob("*.yaml")):
        description, tasks = _describe(path)
        found.append(Option(group, path.stem, description, tasks))
    return found


def main(argv: list[str]) -> int:
    """``lossbench list [losses|datasets|models|optimizers]``: one line per option."""
    from rich.table import Table

    from lossbench.log import show

    log = logging.getLogger(__name__)
    wanted = argv or list(GROUPS)
    unknown = [g for g in wanted if g not in GROUPS]
    if unknown:
        log.error(f"error: unknown group {unknown[0]!r}; choose from: {', '.join(GROUPS)}")
        return 2
    for group in wanted:
        table = Table(title=f"{group} ({GROUP_DIRS[group]}=NAME)", title_justify="left")
        table.add_column("name", style="bold cyan")
        if group in ("losses", "models", "samplers"):
            table.add_column("data")
        table.add_column("description")
        for opt in options(group):
            row = [opt.name]
            if group in ("losses", "models", "samplers"):
                row.append(", ".join(opt.tasks) or "any")
            table.add_row(*row, opt.description)
        show(log, table)
    return 0
