"""Decoupled training (Kang et al. 2020): τ-normalisation identities, cRT re-trains only
the classifier, batched members equal single runs, one-line errors; and the report
compares re-sampling / cRT / τ-norm rows with plain ce."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from lossbench.errors import ConfigError
from lossbench.experiment import build_experiment
from lossbench.models.contract import Head
from lossbench.report import Options, make_report
from lossbench.training import decouple
from tests.conftest import read_metrics
from tests.inprocess import composed, run_inprocess

FAST = ["dataset=digits_lt", "trainer.epochs=4", "trainer.progress=false"]


def _weight(seed: int = 0) -> torch.Tensor:
    w = torch.randn(3, 5, 7, generator=torch.Generator().manual_seed(seed))
    w[1, 2] = 0.0  # a zero class row
    return w


def test_tau_zero_is_a_no_op_and_one_gives_unit_rows():
    w = _weight()
    assert torch.equal(decouple.tau_normalised(w, 0.0), w)
    unit = decouple.tau_normalised(w, 1.0)
    norms = np.linalg.norm(unit.double().numpy(), axis=-1)
    expected = np.ones_like(norms)
    expected[1, 2] = 0.0  # a zero row stays zero (no 0/0)
    np.testing.assert_allclose(norms, expected, rtol=1e-6)
    # directions unchanged: unit rows are w / ||w|| (numpy reference)
    ref = w.double().numpy() / np.maximum(np.linalg.norm(w.double().numpy(), axis=-1), 1e-300)[
        ..., None
    ]
    np.testing.assert_allclose(unit.double().numpy(), ref, rtol=1e-6, atol=1e-7)


def test_tau_half_scales_each_row_by_its_norm_to_the_power():
    w = _weight(1)
    half = decouple.tau_normalised(w, 0.5).double().numpy()
    n = np.linalg.norm(w.double().numpy(), axis=-1)
    np.testing.assert_allclose(
        np.linalg.norm(half, axis=-1), np.where(n > 0, np.sqrt(n), 0.0), rtol=1e-6
    )


def test_tau_norm_applied_restores_the_weights_bitwise():
    weight = torch.nn.Parameter(_weight())
    bias = torch.nn.Parameter(torch.randn(3, 5))
    head = Head(weight.transpose(1, 2).transpose(1, 2), bias, [weight, bias], None)
    before_w, before_b = weight.detach().clone(), bias.detach().clone()
    with decouple.tau_norm_applied(head, 1.0):
        assert not torch.equal(weight.detach(), before_w)
        assert torch.equal(bias.detach(), before_b)  # the bias is kept
    assert torch.equal(weight.detach(), before_w)
    with decouple.tau_norm_applied(head, 0.0):
        assert torch.equal(weight.detach(), before_w)


def _experiment(extra: list[str], seeds: list[int]):
    cfg, choices = composed([*FAST, *extra])
    return build_experiment(cfg, seeds, choices)


def test_crt_changes_only_the_last_layer():
    exp = _experiment(["trainer.crt_epochs=3", "model.dropout=0.1"], [0, 1])
    model, head = exp.trainer.model, exp.head
    results = exp.trainer.fit()
    for k, r in enumerate(results):
        exp.trainer.load_member_state(k, r.state)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    head_ids = {id(p) for p in head.params}
    buffers = {n: b.clone() for n, b in model.named_buffers()}
    decouple.retrain_classifier(exp.trainer, results, head, exp.decoupling, exp.optimizer_node)
    for k, r in enumerate(results):
        exp.trainer.load_member_state(k, r.state)  # what the evaluation loads
    changed = []
    for name, p in model.named_parameters():
        assert p.requires_grad, name  # unfrozen again
        if id(p) in head_ids:
            changed.append(not torch.equal(p.detach(), before[name]))
        else:
            assert torch.equal(p.detach(), before[name]), name  # bitwise unchanged
    assert changed and all(changed)
    for name, b in model.named_buffers():
        assert torch.equal(b, buffers[name]), name
    for r in results:
        assert r.crt["epochs_run"] == 3 and 1 <= r.crt["best_epoch"] <= 3
        assert [row["crt_epoch"] for row in r.history[-3:]] == [1, 2, 3]
        assert [row["epoch"] for row in r.history[-3:]] == [5, 6, 7]


def test_crt_and_tau_norm_members_equal_single_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = [*FAST, "trainer.crt_epochs=3", "eval.tau_norm=0.5", "sampler=sqrt"]
    run_inprocess(["seeds=2", *args], tmp_path / "job")
    for seed in (0, 1):
        run_inprocess([*args, f"seed={seed}"], tmp_path / f"single_{seed}")
        batched = read_metrics(tmp_path / "job" / f"seed_{seed}")
        alone = read_metrics(tmp_path / f"single_{seed}")
        for key in ("metrics", "val_metrics", "best_epoch", "crt_best_epoch", "crt_best_value"):
            assert batched[key] == alone[key], (seed, key)
        assert batched["crt_epochs_run"] == 3
        history = (tmp_path / "job" / f"seed_{seed}" / "history.csv").read_text()
        assert history == (tmp_path / f"single_{seed}" / "history.csv").read_text()
        assert history.splitlines()[0].endswith("crt_epoch")


def test_tau_norm_changes_the_evaluation_not_the_training(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_inprocess([*FAST, "trainer.evaluate=last"], tmp_path / "plain")
    run_inprocess([*FAST, "trainer.evaluate=last", "eval.tau_norm=1"], tmp_path / "tau")
    plain, tau = read_metrics(tmp_path / "plain"), read_metrics(tmp_path / "tau")
    plain_h = (tmp_path / "plain" / "history.csv").read_text().splitlines()
    tau_h = (tmp_path / "tau" / "history.csv").read_text().splitlines()
    # same training (train and validation losses of the raw model), other scores
    assert [r.split(",")[:3] for r in plain_h] == [r.split(",")[:3] for r in tau_h]
    assert plain["metrics"] != tau["metrics"]
    assert plain["config_hash"] != tau["config_hash"]


def test_decoupling_needs_a_linear_head_and_classification():
    class NoHead:
        def classifier_head(self):
            return None

    opts = decouple.Decoupling(crt_epochs=5, crt_sampler="class_balanced", tau=0.0)
    with pytest.raises(ConfigError, match=r"trainer.crt_epochs needs a model whose last layer"):
        decouple.check(opts, NoHead(), "classification", {"model": "mine"})
    tau = decouple.Decoupling(crt_epochs=0, crt_sampler="class_balanced", tau=1.0)
    with pytest.raises(ConfigError, match=r"set eval.tau_norm=0"):
        decouple.check(tau, NoHead(), "classification", {})
    off = decouple.Decoupling(crt_epochs=0, crt_sampler="class_balanced", tau=0.0)
    assert decouple.check(off, NoHead(), "classification", {}) is None


def test_decoupling_errors_are_one_line_exit_2(cli):
    for args, text in [
        (["dataset=diabetes", "loss=mse", "trainer.crt_epochs=3"], "trainer.crt_epochs"),
        ([*FAST, "trainer.crt_epochs=3", "trainer.crt_sampler=balanced"], "choose one of"),
        ([*FAST, "trainer.crt_epochs=-1"], "trainer.crt_epochs must be"),
        ([*FAST, "eval.tau_norm=-1"], "eval.tau_norm must be"),
    ]:
        bad = cli("run", *args, "trainer.progress=false", check=False)
        lines = [line for line in bad.stderr.splitlines() if line.strip()]
        assert bad.returncode == 2 and len(lines) == 1 and text in lines[0], bad.stderr


# -- the report: methods around a loss are compared with plain ce ----------------------


def _record(root: Path, name: str, loss: str, sampler: str | None, seed: int, value: float,
            overrides: tuple[str, ...] = ()) -> None:
    where = root / name / f"seed_{seed}"
    where.mkdir(parents=True)
    choices = {"dataset": "lt", "model": "mlp", "loss": loss, "optimizer": "adam"}
    if sampler is not None:  # None: a record written before samplers existed
        choices["sampler"] = sampler
    record = {
        "status": "completed",
        "seed": seed,
        "choices": choices,
        "overrides": [f"loss={loss}", *([f"sampler={sampler}"] if sampler else []), *overrides],
        "task": "classification",
        "metrics": {"balanced_accuracy": value},
        "val_metrics": {},
    }
    (where / "metrics.json").write_text(json.dumps(record))


def test_report_compares_sampling_crt_and_tau_norm_rows_with_plain_ce(tmp_path):
    rng = np.random.default_rng(0)
    for seed in range(5):
        base = 0.6 + 0.02 * rng.normal()
        _record(tmp_path, "ce", "ce", None, seed, base)  # old record: no sampler
        _record(tmp_path, "cb", "ce", "class_balanced", seed, base + 0.05 + 0.003 * rng.normal())
        _record(tmp_path, "crt", "ce", "none", seed, base + 0.04 + 0.003 * rng.normal(),
                ("trainer.crt_epochs=50",))
        _record(tmp_path, "tau", "ce", "none", seed, base + 0.03 + 0.003 * rng.normal(),
                ("eval.tau_norm=1",))
        _record(tmp_path, "la", "logit_adjusted", "class_balanced", seed, base + 0.01)
    report = make_report([tmp_path], tmp_path / "out", Options(plots=False))
    df = report.summary.df.set_index("config")
    assert set(df.index) == {
        "ce",
        "ce + class_balanced sampling",
        "ce + cRT (50 ep)",
        "ce + τ-norm τ=1",
        "logit_adjusted + class_balanced sampling",
    }, df.index
    assert df.loc["ce", "verdict"] == "baseline"
    for config in ("ce + class_balanced sampling", "ce + cRT (50 ep)", "ce + τ-norm τ=1"):
        assert df.loc[config, "baseline"] == "ce" and df.loc[config, "verdict"] == "win"
        assert df.loc[config, "n_pairs"] == 5
    assert df.loc["logit_adjusted + class_balanced sampling", "baseline"] == "ce"
    csv = (tmp_path / "out" / "results.csv").read_text().splitlines()
    assert "sampler" in csv[0].split(",")


def test_a_plain_module_in_loop_mode_trains_its_classifier_in_the_main_phase(tmp_path):
    """In loop mode the first ``classifier_head()`` moves the members' last Linear into
    stacked parameters: the main optimizer must hold those, or the classifier would stay
    at its initialisation until cRT."""
    path = tmp_path / "digits.npz"
    from sklearn.datasets import load_digits

    digits = load_digits()
    np.savez(path, x=digits.images[:, None].astype("float32"), y=digits.target)
    exp = _experiment(
        ["dataset=npz", f"dataset.path={path}", "model=cnn", "trainer.crt_epochs=1"], [0, 1]
    )
    assert exp.trainer.model.mode == "loop"  # BatchNorm: one member after another
    optimized = {id(p) for g in exp.trainer.optimizer.param_groups for p in g["params"]}
    assert all(id(p) in optimized for p in exp.head.params)
    before = [p.detach().clone() for p in exp.head.params]
    exp.trainer.fit()
    assert all(not torch.equal(p.detach(), b) for p, b in zip(exp.head.params, before, strict=True))
