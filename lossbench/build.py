"""Build components (dataset, model, loss, optimizer) from their config nodes.

Any ``_target_`` works, lossbench's or the user's own. Training-set statistics
reach a constructor only if it declares a parameter of that name, so a new loss
asks for what it needs and nothing else has to change. Mistakes become a
one-line :class:`ConfigError` naming the config key.
"""

from __future__ import annotations

import inspect
from typing import Any

from hydra.errors import InstantiationException
from hydra.utils import get_object, instantiate
from omegaconf import DictConfig, OmegaConf

from lossbench.errors import ConfigError

META_KEYS = ("_tasks_",)


def tasks_of(node: DictConfig) -> tuple[str, ...]:
    """The data families a loss or model declares with ``_tasks_`` (empty = any)."""
    return tuple(node.get("_tasks_") or ())


def _params(node: DictConfig) -> dict[str, Any]:
    params = OmegaConf.to_container(node, resolve=True)
    for key in META_KEYS:
        params.pop(key, None)
    return params


def _accepted(target: Any, context: dict[str, Any]) -> dict[str, Any]:
    try:
        sig = inspect.signature(target)
    except (TypeError, ValueError):
        return {}
    return {k: v for k, v in context.items() if k in sig.parameters}


def build(key: str, node: DictConfig, **context: Any) -> Any:
    """Instantiate ``node`` (the config at ``key``), passing the ``context`` it accepts.

    Values set in the config take precedence over context values.
    """
    params = _params(node)
    target_path = params.get("_target_")
    if not target_path:
        raise ConfigError(f"{key} has no _target_: name the class or function to build")
    try:
        target = get_object(target_path)
    except Exception as exc:
        raise ConfigError(f"{key}._target_={target_path} cannot be imported: {exc}") from None
    extra = {k: v for k, v in _accepted(target, context).items() if k not in params}
    try:
        return instantiate(params, **extra)
    except InstantiationException as exc:
        cause = exc.__cause__ or exc
        raise ConfigError(f"{key} ({target_path}): {_first_line(cause)}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
