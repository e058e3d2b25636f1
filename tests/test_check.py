"""``lossbench check``: passes good losses, fails broken ones with a non-zero exit."""

from __future__ import annotations

import pytest

from lossbench import check

BROKEN = '''
import torch


def log_of_softmax(pred, target):
    """Cross-entropy the seed's way: log of a probability, -inf once softmax saturates."""
    prob = torch.softmax(pred, dim=-1).gather(1, target[:, None]).squeeze(1)
    return -torch.log(prob)


def counts_errors(pred, target):
    """0/1 error: no gradient at all (argmax), only a constant times pred to run backward."""
    return (pred.argmax(dim=-1) != target).to(pred.dtype) + 0.0 * pred.sum(dim=-1)
'''


@pytest.fixture
def user_dir(tmp_path, monkeypatch):
    (tmp_path / "bad_losses.py").write_text(BROKEN)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_builtin_loss_passes_every_check(capsys):
    assert check.main(["loss=focal", "loss.gamma=0.5"]) == 0
    out = capsys.readouterr().out
    for name in ("differentiable", "finite at extremes", "perfect prediction", "reduction=none"):
        assert name in out
    assert "FAIL" not in out and "0 failed" in out


def test_regression_loss_checks_perfect_prediction_as_a_minimum(capsys):
    assert check.main(["loss=huber", "loss.delta=0.5"]) == 0
    out = capsys.readouterr().out
    assert "regression" in out and "forecast" in out and "L(y, y) = 0" in out


def test_log_of_softmax_fails_at_extreme_logits(user_dir, capsys):
    code = check.main(["loss=custom", "loss._target_=bad_losses.log_of_softmax"])
    out = capsys.readouterr().out
    assert code == 1
    row = next(line for line in out.splitlines() if "finite at extremes" in line)
    assert "FAIL" in row
    assert "differentiable" in out  # the other checks still ran


def test_non_differentiable_loss_fails(user_dir, capsys):
    assert check.main(["loss=custom", "loss._target_=bad_losses.counts_errors"]) == 1
    row = next(line for line in capsys.readouterr().out.splitlines() if "differentiable" in line)
    assert "FAIL" in row


def test_user_loss_from_examples_passes(capsys, monkeypatch):
    from tests.conftest import REPO

    monkeypatch.chdir(REPO)
    assert check.main(["--config-dir", "examples/configs", "loss=poly1"]) == 0
    assert "examples.my_loss.poly1_cross_entropy" in capsys.readouterr().out


def test_cli_exit_codes(cli):
    proc = cli("check", "loss=custom", check=False)
    assert proc.returncode == 2 and "loss._target_ is not set" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = cli("check", "loss=custom", "loss._target_=torch.nn.functional.l1_loss", check=False)
    # l1_loss as a classification loss: the table runs, and the failures give exit 1
    assert proc.returncode == 1 and "FAIL" in proc.stdout
