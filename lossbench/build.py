"""Build components (dataset, model, loss, optimizer) from their config nodes.

Any ``_target_`` works, lossbench's or the user's own; a module is looked up on
``sys.path`` and then in the current directory (as ``python -m`` would). A loss
may also be a plain function ``f(pred, target, **params)``: it is wrapped into a
loss module with its config params bound (:class:`lossbench.losses.function.FunctionLoss`).
Training-set statistics reach a constructor (or loss function) only if it
declares a parameter of that name, so a new loss asks for what it needs and
nothing else has to change. A loss whose config holds other loss configs (the
``terms`` of ``combined``) receives them built the same way, statistics included,
after a check that each term fits the data. Mistakes become a one-line
:class:`ConfigError` naming the config key.
"""

from __future__ import annotations

import inspect
import logging
import os
import sys
import sysconfig
from functools import cache
from pathlib import Path
from typing import Any

from hydra.errors import InstantiationException
from hydra.utils import get_object, instantiate
from omegaconf import DictConfig, OmegaConf

from lossbench.errors import ConfigError

META_KEYS = ("_tasks_", "_batching_")
# What a model's constructor may declare to be given by the data.
CONTEXT_KEYS = ("in_features", "out_features", "input_shape")
# Targets are called with the user's config values as arguments: an object of Python's
# standard library (os.rename, subprocess.run, shutil.rmtree, builtins.exec, ...) is
# never a component and would run with arbitrary arguments, so it is refused, whether
# it would be called through Hydra's instantiate or as a loss *function*.


@cache
def _stdlib_dirs() -> tuple[Path, ...]:
    paths = sysconfig.get_paths()
    return tuple(Path(paths[k]).resolve() for k in ("stdlib", "platstdlib") if k in paths)


def is_stdlib_module(name: str) -> bool:
    """True if module ``name`` is Python's own (built in, or a file of the standard library);
    a user's module that merely shares a standard name (``test.py``) is not."""
    top = name.split(".", 1)[0]
    if top not in sys.stdlib_module_names and top != "builtins":
        return False
    module = sys.modules.get(top)
    file = getattr(module, "__file__", None) if module is not None else None
    if file is None:
        return True  # built into the interpreter (builtins, posix, sys) or not imported
    path = Path(file).resolve()
    return any(path.is_relative_to(d) for d in _stdlib_dirs())


def tasks_of(node: DictConfig) -> tuple[str, ...]:
    """The data families a loss or model declares with ``_tasks_`` (empty = any)."""
    return tuple(node.get("_tasks_") or ())


def _params(node: DictConfig | dict) -> dict[str, Any]:
    if isinstance(node, DictConfig):
        params = OmegaConf.to_container(node, resolve=True)
    else:
        params = {
            k: OmegaConf.to_container(v, resolve=True) if OmegaConf.is_config(v) else v
            for k, v in dict(node).items()
        }
    for key in META_KEYS:
        params.pop(key, None)
    return params


def _accepted(target: Any, context: dict[str, Any]) -> dict[str, Any]:
    try:
        sig = inspect.signature(target)
    except (TypeError, ValueError):
        return {}
    return {k: v for k, v in context.items() if k in sig.parameters}


def import_target(key: str, target_path: Any) -> Any:
    """The object ``_target_`` names; also found in the current directory.

    Refuses objects of Python's standard library (see ``is_stdlib_module``).
    """
    if not target_path or target_path == "???":
        raise ConfigError(
            f"{key}._target_ is not set: name the class or function to build, "
            f"e.g. {key}._target_=mypkg.losses.MyLoss"
        )
    if not isinstance(target_path, str):
        raise ConfigError(f"{key}._target_ must be a dotted name such as mypkg.losses.MyLoss")
    try:
        return _checked(key, target_path, _locate(target_path))
    except ConfigError:
        raise
    except Exception as exc:
        first = exc
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.append(cwd)
        try:
            obj = _locate(target_path)
        except Exception:
            pass
        else:
            return _checked(key, target_path, obj)
    raise ConfigError(
        f"{key}._target_={target_path} cannot be imported: "
        + " ".join(line.strip() for line in str(first).splitlines() if line.strip())
    ) from None


def _checked(key: str, target_path: str, obj: Any) -> Any:
    """``obj``, unless it is an object of Python's standard library."""
    module = getattr(obj, "__module__", None) or ""
    if is_stdlib_module(module or target_path):
        raise ConfigError(
            f"{key}._target_={target_path} is refused: it is Python's "
            f"{module or target_path.rsplit('.', 1)[0]}.{getattr(obj, '__name__', '?')}, "
            "not a component; name a class or function of lossbench, torch or your own code"
        )
    return obj


def _locate(path: str) -> Any:
    """``hydra.utils.get_object`` without its error log (the caller reports one line)."""
    log = logging.getLogger("hydra.utils")
    disabled, log.disabled = log.disabled, True
    try:
        return get_object(path)
    finally:
        log.disabled = disabled


def task_of_stats(context: dict[str, Any]) -> str | None:
    """The data family the training statistics come from (None if they do not say)."""
    if context.get("class_counts") is not None:
        return "classification"
    targets = context.get("train_targets")
    if targets is None:
        return None
    import torch

    return "regression" if torch.as_tensor(targets).ndim == 1 else "forecast"


def _is_node(value: Any) -> bool:
    return isinstance(value, dict) and "_target_" in value


def _build_nested(key: str, params: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    """Build (and remove from ``params``) the loss configs nested in a loss's config: a
    value that is one loss config, or a mapping or list of them."""
    task = task_of_stats(context)

    def one(sub: str, node: dict[str, Any]) -> Any:
        fits = tuple(node.get("_tasks_") or ())
        if task and fits and task not in fits:
            raise ConfigError(f"{sub} fits {'/'.join(fits)} data, not {task} data")
        return build(sub, node, **context)

    built: dict[str, Any] = {}
    for name, value in list(params.items()):
        if _is_node(value):
            built[name] = one(f"{key}.{name}", value)
        elif isinstance(value, dict) and value and all(map(_is_node, value.values())):
            built[name] = {k: one(f"{key}.{name}.{k}", v) for k, v in value.items()}
        elif isinstance(value, list) and value and all(map(_is_node, value)):
            built[name] = [one(f"{key}.{name}[{i}]", v) for i, v in enumerate(value)]
        else:
            continue
        del params[name]
    return built


def build(key: str, node: DictConfig | dict, **context: Any) -> Any:
    """Instantiate ``node`` (the config at ``key``), passing the ``context`` it accepts.

    Values set in the config take precedence over context values. Inside a loss, nested
    loss configs are built first, with the same context (see :func:`_build_nested`).
    """
    params = _params(node)
    target_path = params.get("_target_")
    target = import_target(key, target_path)
    extra = {k: v for k, v in _accepted(target, context).items() if k not in params}
    if key.split(".")[0] == "loss":
        nested = _build_nested(key, params, context)
        if nested:
            extra.update(nested)
            params["_convert_"] = "all"  # plain dicts and lists of the built terms
    if key.split(".")[0] == "loss":
        from lossbench.losses.function import FunctionLoss, is_loss_function

        if is_loss_function(target):
            params.pop("_target_")
            try:
                return FunctionLoss(target, **params, **extra)
            except ValueError as exc:
                raise ConfigError(f"{key} ({target_path}): {_first_line(exc)}") from None
    try:
        return instantiate(params, **extra)
    except InstantiationException as exc:
        cause = exc.__cause__ or exc
        if key == "dataset" and isinstance(cause, ConfigError):
            raise ConfigError(str(cause)) from None  # it names the dataset key or file itself
        raise ConfigError(f"{key} ({target_path}): {_first_line(cause)}") from None


def accepts_seeds(target: Any) -> bool:
    """True for a member model that builds its K members itself (declares ``seeds``)."""
    try:
        return "seeds" in inspect.signature(target).parameters
    except (TypeError, ValueError):
        return False


def build_model(node: DictConfig | dict, seeds: list[int], **context: Any) -> Any:
    """The member model ``node`` describes, with one member per seed.

    A target that declares ``seeds`` (lossbench's stacked models) is built once with
    them. Any other target is a plain ``nn.Module`` (the user's own): it is built once
    per seed, with the ``context`` (``in_features``, ``out_features``, ``input_shape``)
    its constructor declares plus the config's parameters, and the K copies are batched
    by :class:`~lossbench.models.functional.PlainMembers` (``_batching_``: auto, vmap,
    loop). A parameter the constructor does not take is a one-line ConfigError.
    """
    from torch import nn

    from lossbench.models.functional import BATCHING, PlainMembers

    params = _params(node)
    target_path = params.get("_target_")
    target = import_target("model", target_path)
    _check_model_params(target, target_path, params)
    batching = node.get("_batching_") or "auto"
    if accepts_seeds(target):
        if batching != "auto":
            raise ConfigError(
                f"model._batching_={batching} applies to plain nn.Modules; {target_path} "
                "stacks its seeds itself (remove model._batching_)"
            )
        return build("model", node, seeds=seeds, **context)
    if batching not in BATCHING:
        raise ConfigError(
            f"model._batching_={batching} is not one of {', '.join(BATCHING)} "
            "(auto: vmap where the module allows it)"
        )
    extra = {k: v for k, v in _accepted(target, context).items() if k not in params}

    def factory() -> Any:
        try:
            module = instantiate(params, **extra)
        except InstantiationException as exc:
            cause = exc.__cause__ or exc
            raise ConfigError(f"model ({target_path}): {_first_line(cause)}") from None
        if not isinstance(module, nn.Module):
            raise ConfigError(
                f"model._target_={target_path} built a {type(module).__name__}, not a "
                "torch.nn.Module; name a module class (or a function returning one)"
            )
        return module

    input_shape = context.get("input_shape") or [context["in_features"]]
    try:
        return PlainMembers(
            factory,
            seeds,
            input_shape,
            batching=batching,
            name=target_path,
            out_features=context.get("out_features"),
            announce=not str(target_path).startswith("lossbench."),
        )
    except ConfigError:
        raise
    except Exception as exc:  # the module fails on a sample of the data's shape
        raise ConfigError(
            f"model ({target_path}) fails on a batch of input shape [B, "
            f"{', '.join(map(str, input_shape))}]: {type(exc).__name__}: {_first_line(exc)}"
        ) from None


def _check_model_params(target: Any, target_path: str, params: dict[str, Any]) -> None:
    """Every config parameter must be one the target's constructor takes."""
    try:
        sig = inspect.signature(target)
    except (TypeError, ValueError):
        return
    if any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        return
    for name in params:
        if name.startswith("_") and name.endswith("_"):
            continue
        if name not in sig.parameters or name == "seeds":
            takes = ", ".join(
                p for p in sig.parameters if p not in ("self", "seeds", *CONTEXT_KEYS)
            )
            raise ConfigError(
                f"model.{name} is not a parameter of {target_path} (it takes: "
                f"{takes or 'no parameters'}); for a model of your own use model=custom "
                f"model._target_={target_path} and set its parameters with +model.NAME=VALUE"
            )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
