"""The declared config schema (lossbench/schema.py): a fuzz test over every key.

Every root key of configs/config.yaml and every parameter of every packaged option
gets invalid values generated from its own rule (wrong type, out of range, NaN/inf)
plus an unknown sibling key; each must raise a ConfigError whose message names the
key. Every packaged option and preset must validate cleanly. In-process, no training.
"""

from __future__ import annotations

import copy
import functools
import math
from pathlib import Path
from typing import Any

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from lossbench import schema
from lossbench.errors import ConfigError
from lossbench.registry import config_dir

GROUPS = ("dataset", "model", "loss", "optimizer", "sampler")
CSV_FILL = {"path": "data.csv", "target": "y"}


def composed(*overrides: str) -> dict[str, Any]:
    """The job config of ``lossbench run OVERRIDES`` as a plain dict (a fresh copy)."""
    return copy.deepcopy(_composed(overrides))


@functools.cache
def _composed(overrides: tuple[str, ...]) -> dict[str, Any]:
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose("config", overrides=list(overrides))
    tree = OmegaConf.to_container(cfg, resolve=False)
    if tree["dataset"].get("path") == "???":
        tree["dataset"].update(CSV_FILL)
    return tree


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (config_dir() / group).glob("*.yaml"))


def leaves(tree: dict[str, Any], prefix: str = "") -> list[str]:
    out = []
    for key, value in tree.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict):
            out += leaves(value, full + ".")
        else:
            out.append(full)
    return out


def put(tree: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    tree = copy.deepcopy(tree)
    node = tree
    *parents, last = key.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
    return tree


def invalid_values(rule: schema.Rule) -> list[Any]:
    """Values no constraint of ``rule`` accepts, generated from the rule itself."""
    out = []
    for constraint in rule:
        for value in constraint.invalid_examples():
            try:
                schema.check_value("k", value, rule)
            except ConfigError:
                out.append(value)
    return out


def expect_error(tree: dict[str, Any], key: str, choices: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as err:
        schema.validate(tree, choices=choices or {})
    message = str(err.value)
    assert key in message, f"{key!r} not named in: {message}"
    assert "\n" not in message
    return message


@pytest.fixture(scope="module")
def default() -> dict[str, Any]:
    return composed()


# -- the table covers the config -------------------------------------------------


def test_every_root_key_of_config_yaml_has_a_rule(default):
    root = {k: v for k, v in default.items() if k not in ("hydra", *GROUPS)}
    missing = [k for k in leaves(root) if k not in schema.ROOT]
    assert not missing, f"add rules to lossbench/schema.py ROOT for: {missing}"


@pytest.mark.slow  # a sweep or a subprocess: seconds
def test_default_config_and_every_option_validate_cleanly():
    schema.validate(composed(), choices={})
    for group in GROUPS:
        for name in options(group):
            extra = ["dataset=sine"] if group == "model" and name in ("gru", "cnn1d") else []
            tree = composed(f"{group}={name}", *extra)
            if group == "loss" and name == "custom":
                tree["loss"]["_target_"] = "lossbench.losses.CrossEntropyLoss"
            schema.validate(tree, choices={group: name})


@pytest.mark.parametrize("preset", [p.stem for p in (config_dir() / "experiment").glob("*.yaml")])
def test_every_preset_validates(preset):
    schema.validate(composed(f"+experiment={preset}"), choices={})


# -- fuzz: root keys -----------------------------------------------------------


def test_fuzz_every_root_key(default):
    checked = 0
    for key, rule in schema.ROOT.items():
        values = invalid_values(rule)
        assert values, f"no invalid values generated for {key}"
        for value in values:
            expect_error(put(default, key, value), key)
            checked += 1
    assert checked >= 3 * len(schema.ROOT)


def test_fuzz_unknown_key_in_every_block(default):
    for block in schema.ROOT_BLOCKS:
        for key in [k for k in schema.ROOT if k.startswith(block + ".")]:
            typo = key + "x"
            message = expect_error(put(default, typo, 1), typo)
            assert f"did you mean {key}?" in message


def test_unknown_key_names_the_nearest():
    message = expect_error(put(composed(), "trainer.epoch", 5), "trainer.epoch")
    assert message == "trainer.epoch is not a key; did you mean trainer.epochs?"
    expect_error(put(composed(), "trainer.device", "cuda"), "trainer.device")
    expect_error(put(composed(), "seeed", 3), "seeed")


def test_a_root_variable_used_by_an_interpolation_is_not_a_typo():
    """``+w=2 loss.class_weights=[1,${w}]``: the Optuna idiom of the README."""
    from omegaconf import OmegaConf

    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose("config", ["loss=asymmetric", "+w=2.0", "loss.class_weights=[1.0,${w}]"])
    schema.validate(cfg, choices={})
    OmegaConf.set_struct(cfg, False)
    unused = OmegaConf.merge(cfg, {"ww": 3})
    with pytest.raises(ConfigError, match="ww is not a key"):
        schema.validate(unused, choices={})


def test_a_group_of_the_users_own_at_the_root_is_not_a_typo():
    schema.validate(put(composed(), "logger", {"uri": "x"}), choices={})


# -- fuzz: parameters of every option ----------------------------------------------


def _param_cases(group: str, name: str) -> list[tuple[str, Any]]:
    """(key, bad value) pairs for every parameter of option ``group=name``."""
    extra = ["dataset=sine"] if group == "model" and name in ("gru", "cnn1d") else []
    tree = composed(f"{group}={name}", *extra)
    node = tree[group]
    target = schema._signature(
        __import__("lossbench.build").build.import_target(group, node["_target_"])
    )
    cases: list[tuple[str, Any]] = []
    for param, value in node.items():
        if param in schema.META_KEYS:
            continue
        key = f"{group}.{param}"
        cases += [(key, math.nan), (key, math.inf), (key, -math.inf)]
        rule = schema.PARAMS.get(key)
        if rule is None and target is not None and param in target.parameters:
            rule = schema.constraint_of(target.parameters[param].annotation)
        if rule is not None:
            cases += [(key, v) for v in invalid_values(rule)]
        if isinstance(value, list) and value and isinstance(value[0], int | float):
            cases.append((key, [math.nan, *value[1:]]))
    cases.append((f"{group}.{next(iter(k for k in node if not k.startswith('_')), 'x')}zz", 1))
    return cases


@pytest.mark.parametrize(
    "group,name",
    [(g, n) for g in GROUPS for n in options(g) if not (g == "loss" and n == "custom")],
)
def test_fuzz_every_option_parameter(group, name):
    extra = ["dataset=sine"] if group == "model" and name in ("gru", "cnn1d") else []
    base = composed(f"{group}={name}", *extra)
    for key, value in _param_cases(group, name):
        expect_error(put(base, key, value), key.split("[")[0], {group: name})


# -- the fault cases of issue 11 ---------------------------------------------------


@pytest.mark.parametrize(
    "key,value",
    [
        ("loss.gamma", math.nan),
        ("optimizer.lr", math.inf),
        ("optimizer.lr", "abc"),
        ("optimizer.lr", 0),
        ("dataset.val_size", 0),
        ("eval.posthoc_tau", -3),
        ("eval.posthoc_tau", "abc"),
        ("trainer.patience", True),
        ("report.alpha", -1),
        ("report.alpha", "abc"),
        ("trainer.num_threads", 0),
        ("seed", "abc"),
        ("seed", math.nan),
        ("seed", None),
        ("loss.reduction", "none"),
    ],
)
def test_issue_cases(key, value):
    base = composed("loss=focal") if key.startswith("loss.") else composed()
    expect_error(put(base, key, value), key, {"loss": "focal"})


def test_class_weights_nan_names_the_element():
    base = composed("loss=asymmetric")
    message = expect_error(put(base, "loss.class_weights", [math.nan, 1.0]), "loss.class_weights")
    assert "loss.class_weights[0]" in message


def test_val_size_message_is_about_val_size():
    message = expect_error(put(composed(), "dataset.val_size", 0), "dataset.val_size")
    assert "test_size" not in message


@pytest.mark.parametrize(
    "spelling,expected",
    [
        (True, True),
        ("false", False),
        ("False", False),
        ("no", False),
        ("off", False),
        ("yes", True),
        ("on", True),
        (0, False),
        (1, True),
        ("0", False),
    ],
)
def test_booleans_are_normalised_never_truthy(spelling, expected):
    for key in ("trainer.fail_on_nan", "report.plots", "report.resume", "trainer.progress"):
        cfg = OmegaConf.create(put(composed(), key, spelling))
        schema.validate(cfg, choices={})
        assert OmegaConf.select(cfg, key) is expected


def test_a_truthy_string_is_not_a_boolean():
    expect_error(put(composed(), "trainer.fail_on_nan", "nope"), "trainer.fail_on_nan")


def test_group_typo_names_the_nearest_parameter():
    message = expect_error(
        put(composed("loss=focal"), "loss.gama", 2), "loss.gama", {"loss": "focal"}
    )
    assert "did you mean loss.gamma?" in message


def test_replaced_target_without_custom_says_use_loss_custom(tmp_path, monkeypatch):
    (tmp_path / "my_loss_mod.py").write_text(
        "import torch\n\ndef my_loss(pred, target):\n"
        "    return torch.nn.functional.cross_entropy(pred, target)\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    tree = put(composed(), "loss._target_", "my_loss_mod.my_loss")
    message = expect_error(tree, "loss.", {"loss": "ce"})
    assert "use loss=custom loss._target_=my_loss_mod.my_loss" in message


def test_missing_mandatory_value_is_one_line():
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose("config", overrides=["dataset=csv"])
    with pytest.raises(ConfigError, match=r"dataset\.(path|target) is required"):
        schema.validate(cfg, choices={})


@pytest.mark.parametrize(
    "target", ["os.rename", "builtins.exec", "subprocess.run", "shutil.rmtree"]
)
def test_standard_library_targets_are_refused(target):
    tree = put(composed("loss=custom"), "loss._target_", target)
    expect_error(tree, "loss._target_", {"loss": "custom"})


def test_reexported_standard_library_function_is_refused(tmp_path, monkeypatch):
    (tmp_path / "sneaky_mod.py").write_text("from os import rename as my_loss\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    from lossbench.build import import_target

    with pytest.raises(ConfigError, match="refused"):
        import_target("loss", "sneaky_mod.my_loss")


def test_a_user_module_named_like_the_standard_library_is_not_refused(tmp_path):
    from lossbench.build import is_stdlib_module

    assert is_stdlib_module("os") and is_stdlib_module("builtins")
    assert not is_stdlib_module("lossbench.losses") and not is_stdlib_module("torch.optim")
    assert Path(__file__).name  # a name such as test.py in the user's dir: see is_stdlib_module


def test_validate_accepts_splits_and_stats_options(default):
    for value in (None, 3, [0, 1, 2]):
        schema.validate(put(default, "splits", value), choices={})
    for key, value in (("report.test", "wilcoxon"), ("report.correction", "none")):
        schema.validate(put(default, key, value), choices={})
    expect_error(put(default, "splits", [1, 1]), "splits")
    expect_error(put(default, "splits", 0), "splits")
