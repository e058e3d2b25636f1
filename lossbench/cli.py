"""The ``lossbench`` command: a thin dispatcher that imports a subcommand only when used.

``lossbench --help``, ``--version`` and ``list`` never import torch; ``run`` hands
its arguments to the Hydra app unchanged, so every Hydra flag and override works.
"""

from __future__ import annotations

import importlib
import os
import sys

from lossbench import __version__

# name -> (module with a ``main(argv) -> int``, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("lossbench.app", "train and evaluate; Hydra overrides, -m (multirun), --cfg, --help"),
    "list": ("lossbench.registry", "the losses, datasets, models and optimizers that exist"),
    "check": ("lossbench.check", "gradients, extremes, reductions of a loss: check loss=NAME ..."),
    "report": ("lossbench.report.cli", "aggregate sweeps: tables, tests vs baseline, plots"),
}

USAGE = """usage: lossbench [--help] [--version] COMMAND [ARGS ...]

Design a loss for imbalanced, long-tailed or time-series data, and prove it helps.

commands:
{commands}

examples:
  lossbench run                                   # default experiment, prints a result table
  lossbench run loss=asymmetric loss.class_weights=[0.5,2.0] optimizer=rmsprop
  lossbench run -m loss=ce,asymmetric seed=0,1,2  # a sweep: one job per combination
  lossbench report outputs/multirun/DATE/TIME     # rebuild a sweep's report; merge several
  lossbench list losses
  lossbench check loss=focal loss.gamma=0.5          # gradients, extremes, reductions
  lossbench run --help                            # Hydra's help: config groups and overrides
"""


def _usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = [f"  {name.ljust(width)}  {text}" for name, (_, text) in COMMANDS.items()]
    return USAGE.format(commands="\n".join(lines))


def _one_thread_env() -> None:
    """One BLAS/OpenMP thread per job unless the user chose otherwise.

    On small shared CPUs two threads in one process were measured 7-30x slower
    than one; parallelism comes from running jobs side by side.
    """
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ.setdefault(var, "1")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``lossbench`` console script."""
    args = sys.argv[1:] if argv is None else list(argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0
    if args[0] == "--version":
        print(f"lossbench {__version__}")
        return 0
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(
            f"error: unknown command {name!r}; choose from: {', '.join(COMMANDS)}", file=sys.stderr
        )
        return 2
    if name == "run":
        _one_thread_env()
    module = importlib.import_module(COMMANDS[name][0])
    return int(module.main(rest) or 0)
