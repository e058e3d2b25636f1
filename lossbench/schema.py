"""The declared schema of the config: every key's type, range and message in one table.

Modelled on scikit-learn's parameter constraints (``sklearn.utils._param_validation``):
each key maps to a list of :class:`Constraint` objects and a value is valid if any of
them accepts it. :func:`validate` checks a composed job config against the table
*before any data is built*, so a mistake ends the run at once with one line naming
the key (``ConfigError``, exit 2) instead of after training or as a traceback.

What is checked:

* the root keys of ``configs/config.yaml`` (``seed``, ``seeds``, ``splits``,
  ``trainer.*``, ``eval.*``, ``report.*``) against :data:`ROOT`;
* the parameters of each group option (``dataset``, ``model``, ``loss``,
  ``optimizer``, ``sampler``): a key must be a parameter of the option's target (its constructor
  or function signature) or a key of its YAML file; a value must match the
  parameter's annotation where that is a plain type (``float``, ``int | None``,
  ``Sequence[float]``, ``Literal[...]``), and the ranges in :data:`PARAMS`;
* every number anywhere in a group must be finite (``loss.gamma=nan``,
  ``optimizer.lr=inf`` and ``loss.class_weights=[nan,1]`` are config errors, not
  "training diverged");
* an unknown key is rejected with the nearest valid name (``difflib``).

Booleans are real booleans or one of the usual spellings (true/false, yes/no, on/off,
1/0, any case), normalised in place to ``True``/``False``; never a truthy string.

Torch-free at import; checking a group's parameters imports its target (the job
imports it a moment later anyway).
"""

from __future__ import annotations

import difflib
import inspect
import math
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from lossbench.errors import ConfigError

TRUE_WORDS = ("true", "yes", "on", "1")
FALSE_WORDS = ("false", "no", "off", "0")
META_KEYS = ("_target_", "_partial_", "_tasks_", "_recursive_", "_convert_", "_args_")
GROUPS = ("dataset", "model", "loss", "optimizer", "sampler")
SEED_MAX = 2**32 - 1  # numpy's RandomState and scikit-learn's random_state accept [0, 2**32)


class Invalid(Exception):
    """Raised by :meth:`Constraint.normalise` for a value it does not accept."""


class Constraint:
    """One acceptable form of a value; ``describe`` says which, for the error message."""

    def normalise(self, value: Any) -> Any:
        """The value in its canonical form, or raise :class:`Invalid`."""
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    def invalid_examples(self) -> list[Any]:
        """Values this constraint rejects (for the fuzz test): wrong type, out of range."""
        return ["abc", {"a": 1}]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class Int(Constraint):
    """An integer (not a boolean) in ``[lo, hi]``."""

    lo: int | None = None
    hi: int | None = None

    def normalise(self, value: Any) -> Any:
        if not _is_int(value):
            raise Invalid
        if (self.lo is not None and value < self.lo) or (self.hi is not None and value > self.hi):
            raise Invalid
        return value

    def describe(self) -> str:
        if self.lo is not None and self.hi is not None:
            return f"an integer in [{self.lo}, {self.hi}]"
        if self.lo is not None:
            return f"an integer >= {self.lo}"
        if self.hi is not None:
            return f"an integer <= {self.hi}"
        return "an integer"

    def invalid_examples(self) -> list[Any]:
        out: list[Any] = ["abc", 1.5, True, float("nan")]
        if self.lo is not None:
            out.append(self.lo - 1)
        if self.hi is not None:
            out.append(self.hi + 1)
        return out


@dataclass(frozen=True)
class Real(Constraint):
    """A finite number (int or float, not a boolean) in the interval; ends open or closed."""

    lo: float | None = None
    hi: float | None = None
    closed: str = "both"  # both | left | right | neither

    def normalise(self, value: Any) -> Any:
        if not _is_real(value) or not math.isfinite(value):
            raise Invalid
        left = self.closed in ("both", "left")
        right = self.closed in ("both", "right")
        if self.lo is not None and (value < self.lo or (value == self.lo and not left)):
            raise Invalid
        if self.hi is not None and (value > self.hi or (value == self.hi and not right)):
            raise Invalid
        return value

    def describe(self) -> str:
        left = "[" if self.closed in ("both", "left") else "("
        right = "]" if self.closed in ("both", "right") else ")"
        if self.lo is not None and self.hi is not None:
            return f"a number in {left}{self.lo:g}, {self.hi:g}{right}"
        if self.lo is not None:
            return f"{'>=' if left == '[' else '>'} {self.lo:g}"
        if self.hi is not None:
            return f"{'<=' if right == ']' else '<'} {self.hi:g}"
        return "a finite number"

    def invalid_examples(self) -> list[Any]:
        out: list[Any] = ["abc", True, float("nan"), float("inf"), float("-inf")]
        if self.lo is not None:
            out.append(self.lo - 1)
            if self.closed not in ("both", "left"):
                out.append(self.lo)
        if self.hi is not None:
            out.append(self.hi + 1)
            if self.closed not in ("both", "right"):
                out.append(self.hi)
        return out


@dataclass(frozen=True)
class Bool(Constraint):
    """``True``/``False`` or a usual spelling of them (normalised); never any other string."""

    def normalise(self, value: Any) -> Any:
        if isinstance(value, bool):
            return value
        if _is_int(value) and value in (0, 1):
            return bool(value)
        if isinstance(value, str):
            word = value.strip().lower()
            if word in TRUE_WORDS:
                return True
            if word in FALSE_WORDS:
                return False
        raise Invalid

    def describe(self) -> str:
        return "true or false"

    def invalid_examples(self) -> list[Any]:
        return ["maybe", 2, 0.5, [True]]


@dataclass(frozen=True)
class Str(Constraint):
    """A non-empty string."""

    def normalise(self, value: Any) -> Any:
        if not isinstance(value, str) or not value.strip():
            raise Invalid
        return value

    def describe(self) -> str:
        return "a string"

    def invalid_examples(self) -> list[Any]:
        return ["", 3, [1, 2], {"a": 1}]


@dataclass(frozen=True)
class Options(Constraint):
    """One of a fixed set of strings."""

    choices: tuple[str, ...]

    def normalise(self, value: Any) -> Any:
        if not isinstance(value, str) or value not in self.choices:
            raise Invalid
        return value

    def describe(self) -> str:
        if len(self.choices) == 1:
            return repr(self.choices[0])
        return "one of " + ", ".join(self.choices)

    def invalid_examples(self) -> list[Any]:
        return ["no_such_option", 3, [1]]


@dataclass(frozen=True)
class NoneC(Constraint):
    """``null``."""

    def normalise(self, value: Any) -> Any:
        if value is not None:
            raise Invalid
        return value

    def describe(self) -> str:
        return "null"

    def invalid_examples(self) -> list[Any]:
        return []


@dataclass(frozen=True)
class ListOf(Constraint):
    """A list (or tuple) of items that each match ``item``; optionally distinct, a length."""

    item: Constraint
    min_len: int = 0
    distinct: bool = False
    length: int | None = None

    def normalise(self, value: Any) -> Any:
        if isinstance(value, str | bytes | Mapping) or not isinstance(value, Sequence):
            raise Invalid
        items = [self.item.normalise(v) for v in value]
        if len(items) < self.min_len or (self.length is not None and len(items) != self.length):
            raise Invalid
        if self.distinct and len(set(map(repr, items))) != len(items):
            raise Invalid
        return items

    def describe(self) -> str:
        what = "distinct " if self.distinct else ""
        size = f"{self.length} " if self.length is not None else ""
        nonempty = "a non-empty " if self.min_len and not size else "a "
        return f"{nonempty}list of {size}{what}items, each {self.item.describe()}"

    def invalid_examples(self) -> list[Any]:
        bad_items = [v for v in self.item.invalid_examples() if not isinstance(v, list)]
        out: list[Any] = ["abc", {"a": 1}, [bad_items[0]] if bad_items else "abc"]
        if self.min_len:
            out.append([])
        if self.distinct:
            good = _an_example(self.item)
            if good is not None:
                out.append([good, good])
        return out


def _an_example(c: Constraint) -> Any:
    """A value ``c`` accepts, if one of a few candidates does."""
    for candidate in (0, 1, 0.5, "x", True):
        try:
            return c.normalise(candidate)
        except Invalid:
            continue
    return None


Rule = tuple[Constraint, ...]
SEED = Int(0, SEED_MAX)
# seeds / splits: null = one; N = N consecutive values; or the values themselves.
REPLICATES: Rule = (NoneC(), Int(1), ListOf(SEED, min_len=1, distinct=True))

# The root of configs/config.yaml. A new key in config.yaml needs a rule here
# (tests/test_schema.py fails until it has one).
ROOT: dict[str, Rule] = {
    "seed": (SEED,),
    "seeds": REPLICATES,
    "splits": REPLICATES,
    "trainer.epochs": (Int(1),),
    "trainer.batch_size": (Int(1), Options(("full",))),
    "trainer.monitor": (Str(),),  # the metric itself is checked against the task's metrics
    "trainer.patience": (NoneC(), Int(1)),
    "trainer.evaluate": (Options(("best", "last")),),
    "trainer.progress": (Bool(),),
    "trainer.fail_on_nan": (Bool(),),
    "trainer.num_threads": (Int(1),),
    "eval.posthoc_tau": (Real(0.0),),
    "report.metric": (Str(),),
    "report.baseline": (Str(),),
    "report.alpha": (Real(0.0, 1.0, closed="neither"),),
    "report.plots": (Bool(),),
    "report.resume": (Bool(),),
    "report.resume_from": (ListOf(Str()), Str()),
    "report.test": (Options(("t", "wilcoxon")),),
    "report.correction": (Options(("holm", "none")),),
}
ROOT_BLOCKS = ("trainer", "eval", "report")

# Ranges of group parameters that hold whatever the option (target) is.
PARAMS: dict[str, Rule] = {
    "dataset.seed": (SEED,),
    "dataset.val_size": (Real(0.0, 1.0, closed="neither"),),
    "dataset.test_size": (Real(0.0, 1.0, closed="neither"),),
    "loss.reduction": (Options(("mean", "sum")),),  # training needs a scalar
    "optimizer.lr": (Real(0.0, closed="neither"),),
    "optimizer.weight_decay": (Real(0.0),),
    "optimizer.momentum": (Real(0.0),),
    "sampler.power": (Real(0.0, 1.0),),
    "sampler.k_neighbors": (Int(1),),
}


# Where the generated wording ("null or an integer >= 1 or a list of ...") reads worse.
MESSAGES: dict[str, str] = {
    "seeds": "null, a count >= 1 or a list of distinct integer seeds in [0, 2^32)",
    "splits": "null, a count >= 1 or a list of distinct integer data seeds in [0, 2^32)",
}


def _message(key: str, value: Any, rule: Rule) -> str:
    allowed = MESSAGES.get(key) or " or ".join(c.describe() for c in rule)
    return f"{key} must be {allowed}, got {_show(value)}"


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return str(value)


def check_value(key: str, value: Any, rule: Rule) -> Any:
    """``value`` normalised by the first constraint of ``rule`` that accepts it."""
    for constraint in rule:
        try:
            return constraint.normalise(value)
        except Invalid:
            continue
    raise ConfigError(_message(key, value, rule))


def did_you_mean(key: str, valid: Sequence[str]) -> str:
    """``"; did you mean trainer.epochs?"`` for the nearest valid name, or a list of them."""
    prefix, _, name = key.rpartition(".")
    near = difflib.get_close_matches(name, list(valid), n=1, cutoff=0.6)
    if near:
        return f"; did you mean {prefix + '.' if prefix else ''}{near[0]}?"
    return f"; valid keys: {', '.join(sorted(valid))}"


def _plain(cfg: Any) -> dict[str, Any]:
    """A plain dict of ``cfg`` (a DictConfig or a mapping), interpolations resolved."""
    try:
        from omegaconf import DictConfig, OmegaConf
    except ImportError:  # pragma: no cover - omegaconf is a dependency
        return dict(cfg)
    if isinstance(cfg, DictConfig):
        try:
            return OmegaConf.to_container(  # type: ignore[return-value]
                cfg, resolve=True, throw_on_missing=True
            )
        except Exception as exc:  # a missing mandatory value (???) or a bad interpolation
            raise ConfigError(_omegaconf_message(exc)) from None
    return dict(cfg)


def _omegaconf_message(exc: Exception) -> str:
    key = getattr(exc, "full_key", None)
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if type(exc).__name__ == "MissingMandatoryValue" and key:
        return f"{key} is required (its value is ???): set {key}=VALUE"
    return f"{key}: {first}" if key else first


def _set(cfg: Any, key: str, value: Any) -> None:
    """Write a normalised value back into ``cfg`` (a DictConfig or a dict)."""
    try:
        from omegaconf import DictConfig, OmegaConf, open_dict
    except ImportError:  # pragma: no cover
        DictConfig = ()  # noqa: N806
    if isinstance(cfg, DictConfig):
        readonly = OmegaConf.is_readonly(cfg)
        OmegaConf.set_readonly(cfg, False)
        try:
            with open_dict(cfg):
                OmegaConf.update(cfg, key, value, merge=False)
        finally:
            OmegaConf.set_readonly(cfg, readonly)
        return
    node = cfg
    *parents, last = key.split(".")
    for part in parents:
        node = node[part]
    node[last] = value


def _get(tree: Mapping[str, Any], key: str) -> tuple[bool, Any]:
    node: Any = tree
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _finite(key: str, value: Any) -> None:
    """Every number under ``value`` is finite; a ConfigError names the (indexed) key."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{key} must be a finite number, got {value}")
    if isinstance(value, str) and value.strip().lower() in ("nan", "inf", "-inf", "+inf"):
        raise ConfigError(f"{key} must be a finite number, got {value}")
    if isinstance(value, Mapping):
        for k, v in value.items():
            _finite(f"{key}.{k}", v)
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _finite(f"{key}[{i}]", v)


def _interpolated_names(cfg: Any) -> set[str]:
    """Root names that an interpolation in ``cfg`` refers to (``${w}``, ``${w.x}``)."""
    import re

    from omegaconf import DictConfig, OmegaConf

    if not isinstance(cfg, DictConfig):
        return set()
    text = OmegaConf.to_yaml(cfg, resolve=False)
    return set(re.findall(r"\$\{\s*([A-Za-z_][\w]*)", text))


def validate_root(cfg: Any, tree: Mapping[str, Any]) -> None:
    """The root keys: each against :data:`ROOT`; unknown keys in its blocks rejected."""
    for block in ROOT_BLOCKS:
        node = tree.get(block)
        if node is None:
            continue
        if not isinstance(node, Mapping):
            raise ConfigError(f"{block} must be a mapping of keys, got {_show(node)}")
        known = [k.split(".", 1)[1] for k in ROOT if k.startswith(block + ".")]
        for name in node:
            if name not in known:
                key = f"{block}.{name}"
                raise ConfigError(f"{key} is not a key{did_you_mean(key, known)}")
    roots = {k.split(".")[0] for k in ROOT} | set(GROUPS) | {"hydra"}
    used = _interpolated_names(cfg)
    for name, value in tree.items():
        # A mapping is another config group's node (``+logger=mlflow``, the user's own
        # groups); a plain value that an interpolation uses is the user's variable
        # (``+w=2 loss.class_weights=[1,${w}]``, the Optuna idiom); any other unknown
        # plain value at the root is a typo (``+seeed=3``).
        if name not in roots and not isinstance(value, Mapping) and name not in used:
            raise ConfigError(f"{name} is not a key{did_you_mean(name, sorted(roots))}")
    for key, rule in ROOT.items():
        present, value = _get(tree, key)
        if not present:
            continue
        normal = check_value(key, value, rule)
        if normal != value or type(normal) is not type(value):
            _set(cfg, key, normal)


# -- group options -------------------------------------------------------------


@cache
def _option_targets(group: str) -> dict[str, tuple[str, frozenset[str]]]:
    """Packaged options of ``group``: name -> (its ``_target_``, its YAML keys)."""
    import yaml

    from lossbench.registry import config_dir

    out = {}
    for path in sorted((config_dir() / group).glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if isinstance(data, dict) and group in data and isinstance(data[group], dict):
            data = data[group]  # a ``# @package _global_`` option (optimizer=gd)
        if isinstance(data, dict):
            out[path.stem] = (str(data.get("_target_")), frozenset(data))
    return out


def _yaml_keys_of_target(group: str, target: str) -> set[str]:
    keys: set[str] = set()
    for opt_target, opt_keys in _option_targets(group).values():
        if opt_target == target:
            keys |= opt_keys
    return keys


_NOT_FROM_YAML = object()  # an annotation no YAML value can satisfy (a Tensor, a Module)


def constraint_of(annotation: Any) -> Rule | None:
    """The rule a parameter annotation implies, or None if it is not a plain config type."""
    if annotation is inspect.Parameter.empty or annotation is Any:
        return None
    rule = _rule_of(annotation)
    if rule is None or rule is _NOT_FROM_YAML:
        return None
    return rule  # type: ignore[return-value]


def _rule_of(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is type(None) or annotation is None:
        return (NoneC(),)
    if annotation is bool:
        return (Bool(),)
    if annotation is int:
        return (Int(),)
    if annotation is float:
        return (Real(),)
    if annotation is str:
        return (Str(),)
    if origin is typing.Literal:
        if all(isinstance(a, str) for a in args):
            return (Options(tuple(args)),)
        return None
    if origin in (typing.Union, types.UnionType):
        parts: list[Constraint] = []
        for arg in args:
            sub = _rule_of(arg)
            if sub is None:
                return None  # an alternative we cannot check: do not check at all
            if sub is not _NOT_FROM_YAML:
                parts.extend(sub)
        return tuple(parts) if parts else _NOT_FROM_YAML
    if origin in (list, tuple, Sequence, typing.Sequence) or annotation in (list, tuple):
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            args = args[:1]
        if not args:
            return None
        if origin is tuple and len(args) > 1:
            subs = [_rule_of(a) for a in args]
            if any(s is None or s is _NOT_FROM_YAML for s in subs) or len(set(subs)) != 1:
                return None
            (item,) = subs[0] if len(subs[0]) == 1 else (None,)
            return (ListOf(item, length=len(args)),) if item is not None else None
        sub = _rule_of(args[0])
        if sub is None or sub is _NOT_FROM_YAML or len(sub) != 1:
            return None
        return (ListOf(sub[0]),)
    if isinstance(annotation, type):
        module = annotation.__module__.split(".")[0]
        if module == "torch" or callable(getattr(annotation, "forward", None)):
            return _NOT_FROM_YAML
    return None


def _signature(target: Any) -> inspect.Signature | None:
    for kwargs in ({"eval_str": True}, {}):
        try:
            return inspect.signature(target, **kwargs)
        except Exception:
            continue
    return None


def _describe_choice(group: str, choice: str | None, target: str) -> str:
    return f"{group}={choice} ({target})" if choice else f"{group} ({target})"


def validate_group(
    cfg: Any, group: str, node: Mapping[str, Any], choice: str | None = None
) -> None:
    """The parameters of one group option: known names, plain types, ranges, finite numbers."""
    if not isinstance(node, Mapping):
        raise ConfigError(f"{group} must be a config group (a mapping), got {_show(node)}")
    target_path = node.get("_target_")
    if not isinstance(target_path, str) or not target_path.strip():
        raise ConfigError(
            f"{group}._target_ is not set: name the class or function to build, "
            f"e.g. {group}._target_=mypkg.module.Name"
        )
    params = {k: v for k, v in node.items() if k not in META_KEYS}
    for key, value in params.items():
        _finite(f"{group}.{key}", value)
    for key, rule in PARAMS.items():
        g, _, name = key.partition(".")
        if g == group and name in params:
            normal = check_value(key, params[name], rule)
            if normal != params[name] or type(normal) is not type(params[name]):
                _set(cfg, key, normal)
    from lossbench.build import import_target  # checks the target's safety, one-line errors

    target = import_target(group, target_path)
    if group == "loss":
        from lossbench.losses.function import is_loss_function

        if is_loss_function(target):
            sig = _signature(target)
            _check_params(cfg, group, choice, target_path, params, sig, skip=2)
            return
    _check_params(cfg, group, choice, target_path, params, _signature(target), skip=0)


def _check_params(
    cfg: Any,
    group: str,
    choice: str | None,
    target_path: str,
    params: Mapping[str, Any],
    sig: inspect.Signature | None,
    skip: int,
) -> None:
    """Names against the signature (+ the option's YAML keys), values against annotations."""
    if sig is None:
        return
    plist = list(sig.parameters.values())[skip:]
    if group == "optimizer":  # a ``_partial_`` optimizer gets the parameters later
        plist = [p for p in plist if p.name not in ("params",)]
    named = {p.name: p for p in plist if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    open_kwargs = any(p.kind is p.VAR_KEYWORD for p in plist)
    yaml_keys = _yaml_keys_of_target(group, target_path) - set(META_KEYS)
    valid = sorted(set(named) | yaml_keys)
    for name in params:
        if name in named or name in yaml_keys or open_kwargs:
            continue
        key = f"{group}.{name}"
        if _target_was_replaced(group, choice, target_path):
            raise ConfigError(
                f"{key} is not a parameter of {target_path}: {group}._target_ replaced the "
                f"target of {group}={choice} but kept its parameters; use "
                f"{_custom_hint(group, target_path)}"
            )
        raise ConfigError(
            f"{key} is not a parameter of {_describe_choice(group, choice, target_path)}"
            + did_you_mean(key, valid)
        )
    for name, value in params.items():
        p = named.get(name)
        if p is None or f"{group}.{name}" in PARAMS:
            continue
        rule = constraint_of(p.annotation)
        if rule is None:
            continue
        normal = check_value(f"{group}.{name}", value, rule)
        if normal != value or type(normal) is not type(value):
            _set(cfg, f"{group}.{name}", normal)


def _target_was_replaced(group: str, choice: str | None, target_path: str) -> bool:
    """True if ``target_path`` is not the ``_target_`` of the packaged option ``choice``."""
    if not choice:
        return False
    found = _option_targets(group).get(choice)
    return found is not None and found[0] not in ("???", "None") and found[0] != target_path


def _custom_hint(group: str, target_path: str) -> str:
    if group == "loss":
        return f"loss=custom loss._target_={target_path} (parameters with +loss.NAME=VALUE)"
    return f"an option of {group} whose parameters match, or your own YAML in --config-dir"


def _choices_from_hydra() -> dict[str, str]:
    try:
        from hydra.core.hydra_config import HydraConfig

        return dict(HydraConfig.get().runtime.choices)
    except Exception:
        return {}


def validate(cfg: Any, choices: Mapping[str, str | None] | None = None) -> None:
    """Check the whole job config; raise :class:`ConfigError` naming the first bad key.

    ``cfg`` is the composed job config (a ``DictConfig`` or a plain dict); booleans
    are normalised in place. ``choices`` (group -> option name, as in Hydra's
    ``runtime.choices``) only sharpen messages; by default they are read from Hydra
    when a job is running.
    """
    tree = _plain(cfg)
    validate_root(cfg, tree)
    choices = dict(choices) if choices is not None else _choices_from_hydra()
    for group in GROUPS:
        if group in tree:
            validate_group(cfg, group, tree[group], choices.get(group))


def all_keys() -> list[str]:
    """Every root key with a rule (for tests and documentation)."""
    return list(ROOT)


def rule_for(key: str) -> Rule | None:
    """The rule of a root key or a group parameter range, if declared."""
    return ROOT.get(key) or PARAMS.get(key)
