"""Where a job trains and in which precision: ``trainer.device`` and ``trainer.precision``.

``trainer.device``: ``cpu`` (the default: the results every test and published
number here were produced with), ``cuda`` (the current CUDA device), ``cuda:N``,
``mps`` (Apple silicon) or ``auto`` (``cuda`` when torch sees a GPU, else ``cpu``).
A device that is not there is a :class:`~lossbench.errors.ConfigError` raised before
any data is built, one line naming ``trainer.device`` and the fix.

``trainer.precision``: ``fp32`` (default), ``bf16`` or ``fp16`` (mixed precision,
Micikevicius et al. 2018): the model's forward pass runs under
:func:`torch.autocast` with that dtype while parameters, optimizer state and
gradients stay float32. The model's output is cast back to float32 before the
loss, so every loss computes in the precision its tests check (a log-sum-exp or
soft-DTW in bf16 would lose the accuracy its stable form was written for).
``fp16`` needs a loss scale (its 5-bit exponent underflows small gradients): a
:class:`torch.amp.GradScaler` on CUDA only. One scaler skips the optimizer step of
*every* parameter when any gradient overflows, so K members batched in one model
would skip each other's steps; with ``fp16`` the members of a job therefore train
one after another, each with its own scaler, exactly as its single run
(:func:`needs_own_scaler`). ``bf16`` has float32's exponent and needs no scaler.

Supported: ``fp32`` everywhere; ``bf16`` on CPU, on CUDA GPUs with bf16 support
(compute capability 8.0+: A100, H100, RTX 30xx and later) and on MPS where this
torch autocasts it; ``fp16`` on CUDA. Any other pair is a ConfigError before training.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch

from lossbench.errors import ConfigError
from lossbench.schema import ROOT, check_value

PRECISIONS: dict[str, torch.dtype | None] = {
    "fp32": None,
    "bf16": torch.bfloat16,
    "fp16": torch.float16,
}
CPU = torch.device("cpu")
_CUDA_FIX = (
    "use trainer.device=cpu (or auto), or install a CUDA build of torch, e.g. "
    "PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cu128 "
    "make run TORCH=torch==<version>+cu128"
)


def resolve_device(name: str) -> torch.device:
    """The torch device ``trainer.device=name`` means here; ConfigError if it is absent."""
    name = check_value("trainer.device", name, ROOT["trainer.device"])
    if name == "auto":
        return torch.device("cuda", torch.cuda.current_device()) if cuda_count() else CPU
    if name == "cpu":
        return CPU
    if name == "mps":
        if not mps_available():
            raise ConfigError(
                "trainer.device=mps: Apple's MPS backend is not available here (it needs "
                "Apple silicon, macOS 12.3+ and an MPS build of torch); use trainer.device=cpu"
            )
        return torch.device("mps")
    count = cuda_count()
    if count == 0:
        why = (
            f"this torch ({torch.__version__}) is a CPU-only build"
            if torch.version.cuda is None
            else "torch sees no CUDA GPU (driver, CUDA_VISIBLE_DEVICES)"
        )
        raise ConfigError(f"trainer.device={name}: {why}; {_CUDA_FIX}")
    index = int(name.split(":")[1]) if ":" in name else torch.cuda.current_device()
    if index >= count:
        raise ConfigError(
            f"trainer.device={name}: this machine has {count} CUDA device(s), "
            f"cuda:0..cuda:{count - 1}; choose one of them or trainer.device=cuda"
        )
    return torch.device("cuda", index)


def cuda_count() -> int:
    """CUDA devices torch can use (0 on a CPU-only build or without a driver)."""
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def check_precision(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of ``precision`` on ``device`` (None = fp32); ConfigError when
    ``device`` cannot train in it."""
    precision = check_value("trainer.precision", precision, ROOT["trainer.precision"])
    dtype = PRECISIONS[precision]
    if dtype is None:
        return None
    where = f"trainer.precision={precision} on trainer.device={device}"
    if precision == "fp16" and device.type != "cuda":
        raise ConfigError(
            f"{where}: fp16 needs a CUDA GPU's loss scaling (GradScaler); use "
            "trainer.precision=bf16 or fp32 here"
        )
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        name = torch.cuda.get_device_name(device)
        raise ConfigError(
            f"{where}: {name} has no bf16 support (compute capability < 8.0); use "
            "trainer.precision=fp16 or fp32"
        )
    if not torch.amp.autocast_mode.is_autocast_available(device.type):
        raise ConfigError(
            f"{where}: torch {torch.__version__} has no autocast for {device.type}; "
            "use trainer.precision=fp32"
        )
    return dtype


@dataclass(frozen=True)
class Placement:
    """Where and how a job computes: its device, precision name and autocast dtype."""

    device: torch.device = CPU
    precision: str = "fp32"

    @property
    def dtype(self) -> torch.dtype | None:
        return PRECISIONS[self.precision]

    @contextlib.contextmanager
    def autocast(self) -> Iterator[None]:
        """The model's forward pass in this precision (nothing at all for fp32)."""
        if self.dtype is None:
            yield
            return
        with torch.autocast(device_type=self.device.type, dtype=self.dtype):
            yield

    def scaler(self) -> torch.amp.GradScaler | None:
        """A fresh loss scaler for fp16 on CUDA, else None (fp32 and bf16 need none)."""
        if self.precision != "fp16":
            return None
        return torch.amp.GradScaler(self.device.type)


def placement(device: Any, precision: Any) -> Placement:
    """``trainer.device`` / ``trainer.precision`` checked and resolved (ConfigError if not
    possible here): what the trainer uses."""
    where = resolve_device(device)
    check_precision(precision, where)
    return Placement(where, precision)


def job_placement(cfg: Any) -> Placement:
    """The placement of a job config (its ``trainer`` block); ConfigError if impossible here."""
    trainer = cfg.get("trainer") or {}
    return placement(trainer.get("device", "cpu"), trainer.get("precision", "fp32"))


def describe(device: Any) -> str:
    """The device name a record states (``cpu``, ``cuda:0``, ``mps``): ``auto`` resolved;
    a name that does not resolve is returned as given (its job fails on it)."""
    try:
        return str(resolve_device(device))
    except ConfigError:
        return str(device)


def needs_own_scaler(precision: Any) -> bool:
    """True when each member needs its own training (fp16: one loss scaler per model)."""
    return precision == "fp16"


def to_device(obj: Any, device: torch.device) -> Any:
    """``obj.to(device)`` for a module (parameters and registered buffers); anything else
    (a plain-function loss) as is. A module the device cannot hold (float64 buffers on
    MPS, which has no float64) is a ConfigError naming ``trainer.device``."""
    if not isinstance(obj, torch.nn.Module):
        return obj
    try:
        return obj.to(device)
    except (TypeError, RuntimeError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(
            f"trainer.device={device}: {type(obj).__name__} cannot be moved there ({reason}); "
            "use trainer.device=cpu"
        ) from None
