"""A user's plain ``nn.Module`` as a lossbench model (``model=custom``): built from the data's
shapes, several seeds batched with torch.func where that is exact, one after another
(visibly) where it is not; every seed's record equals its single run."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn

from lossbench.models import MemberModel, PlainMembers
from tests.conftest import FAST, read_metrics

BOOKKEEPING = ("overrides", "seeds", "wall_time_s", "job_wall_time_s", "versions", "config_hash")

USER_NETS = '''
import torch
from torch import nn


class LNNet(nn.Module):
    """Linear - LayerNorm - GELU - Linear, sized by the data."""

    def __init__(self, in_features, out_features, width=16):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(in_features, width), nn.LayerNorm(width), nn.GELU(),
            nn.Linear(width, out_features),
        )

    def forward(self, x):
        return self.net(x)


class Branchy(nn.Module):
    """Data-dependent control flow: cannot run under vmap."""

    def __init__(self, in_features, out_features):
        super().__init__()
        self.a = nn.Linear(in_features, out_features)
        self.b = nn.Linear(in_features, out_features)

    def forward(self, x):
        if x.sum() > 0:
            return self.a(x)
        return self.b(x)
'''


def _computed(record: dict) -> dict:
    return {k: v for k, v in record.items() if k not in BOOKKEEPING}


def _write_nets(where: Path, module: str) -> None:
    (where / f"{module}.py").write_text(textwrap.dedent(USER_NETS))


def _batched_vs_single(cli, tmp_path: Path, module: str, target: str, extra=()):
    _write_nets(tmp_path, module)
    args = ["model=custom", f"model._target_={module}.{target}", *FAST, *extra]
    proc = cli("run", "seeds=3", *args, "hydra.run.dir=batch")
    cli("run", "-m", "seed=0,1,2", *args, "hydra.sweep.dir=sep")
    singles = {
        read_metrics(p.parent)["seed"]: p.parent for p in (tmp_path / "sep").rglob("m*.json")
    }
    assert sorted(singles) == [0, 1, 2]
    batched = {s: read_metrics(tmp_path / "batch" / f"seed_{s}") for s in singles}
    return proc, batched, {s: read_metrics(d) for s, d in singles.items()}, singles


def test_plain_module_seeds_batched_equal_single_runs(cli, tmp_path):
    """Linear-LayerNorm-GELU-Linear, seeds=3 in one vmapped model == three single runs, bit
    for bit (metrics and history)."""
    proc, batched, single, dirs = _batched_vs_single(cli, tmp_path, "nets_ln", "LNNet")
    for s in single:
        assert batched[s]["status"] == "completed"
        assert not any("one after another" in w for w in batched[s]["warnings"])
        assert "one after another" not in proc.stderr
        assert _computed(batched[s]) == _computed(single[s]), s
        history = (tmp_path / "batch" / f"seed_{s}" / "history.csv").read_text()
        assert history == (dirs[s] / "history.csv").read_text()
    assert len({b["metrics"]["balanced_accuracy"] for b in batched.values()}) > 1


def test_module_that_cannot_be_vmapped_trains_one_after_another_and_says_so(cli, tmp_path):
    proc, batched, single, _ = _batched_vs_single(cli, tmp_path, "nets_branch", "Branchy")
    assert "one after another" in proc.stderr + proc.stdout
    for s in single:
        note = batched[s]["warnings"][0]
        assert "one after another" in note and "vmap" in note
        assert batched[s]["warnings"][1:] == single[s]["warnings"]  # one seed: nothing to batch
        same = {k: v for k, v in _computed(batched[s]).items() if k != "warnings"}
        assert same == {k: v for k, v in _computed(single[s]).items() if k != "warnings"}


def test_parameters_of_another_model_are_one_line_exit_2(cli, tmp_path):
    _write_nets(tmp_path, "nets_leak")
    proc = cli("run", "model._target_=nets_leak.LNNet", *FAST, check=False)
    assert proc.returncode == 2
    err = proc.stderr.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1
    assert "model.hidden_sizes" in err and "model=custom" in err


def test_custom_without_target_and_wrong_param_are_one_line(cli, tmp_path):
    _write_nets(tmp_path, "nets_bad")
    proc = cli("run", "model=custom", *FAST, check=False)
    assert proc.returncode == 2 and "model._target_" in proc.stderr
    proc = cli(
        "run",
        "model=custom",
        "model._target_=nets_bad.LNNet",
        "+model.depth=3",
        *FAST,
        check=False,
    )
    assert proc.returncode == 2 and "model.depth" in proc.stderr
    assert "Traceback" not in proc.stderr


# -- the wrapper itself ------------------------------------------------------


def _ln(in_features=6, out_features=3):
    return nn.Sequential(
        nn.Linear(in_features, 8), nn.LayerNorm(8), nn.GELU(), nn.Linear(8, out_features)
    )


def _bn():
    return nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))


def _drop():
    return nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Dropout(0.3), nn.Linear(8, 3))


def _train(model, x, steps=3):
    opt = torch.optim.Adam(model.parameters(), lr=0.05, fused=True)
    model.train()
    for _ in range(steps):
        out = model(x)
        for p in model.parameters():
            p.grad = None
        out.square().mean(dim=(1, 2)).sum().backward()
        opt.step()
    return model


@pytest.mark.parametrize(("factory", "mode"), [(_ln, "vmap"), (_bn, "loop"), (_drop, "loop")])
def test_member_k_equals_its_single_seed_model_after_training(factory, mode):
    seeds = [0, 1, 2]
    x = torch.randn(3, 32, 6, generator=torch.Generator().manual_seed(0))
    big = _train(PlainMembers(factory, seeds, [6]), x)
    assert big.mode == mode and isinstance(big, MemberModel)
    big.eval()
    out = big(x)
    for k, seed in enumerate(seeds):
        single = _train(PlainMembers(factory, [seed], [6]), x[k : k + 1]).eval()
        assert torch.equal(single(x[k : k + 1])[0], out[k])
        for a, b in zip(single.member_state(0), big.member_state(k), strict=True):
            assert torch.equal(a, b)
    assert not torch.equal(out[0], out[1])  # different seeds, different members


def test_members_use_the_modules_own_init_under_their_seed():
    from lossbench.models.functional import seeded_module

    model = PlainMembers(_ln, [4, 9], [6])
    for k, seed in enumerate([4, 9]):
        own = seeded_module(_ln, seed)
        for a, b in zip(own.parameters(), model.member_state(k), strict=False):
            assert torch.equal(a.detach(), b)


def test_batchnorm_vmaps_with_per_member_running_stats_when_forced():
    """Forced vmap of a BatchNorm module: running statistics update per member; results
    agree with the single runs to float32 rounding (not bitwise: the batched kernel
    reduces differently)."""
    x = torch.randn(2, 32, 6, generator=torch.Generator().manual_seed(0))
    big = PlainMembers(_bn, [0, 1], [6], batching="vmap")
    assert big.mode == "vmap"
    big.train()
    big(x)
    for k in range(2):
        single = PlainMembers(_bn, [k], [6], batching="loop").train()
        single(x[k : k + 1])
        for a, b in zip(single.member_state(0), big.member_state(k), strict=True):
            torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6)


def test_auto_says_why_batchnorm_is_not_vmapped():
    model = PlainMembers(_bn, [0, 1], [6])
    assert model.mode == "loop"
    (note,) = model.warnings
    assert "BatchNorm" in note and "_batching_=vmap" in note


@pytest.mark.parametrize("batching", ["vmap", "loop"])
def test_state_round_trip_and_head_views(batching):
    model = PlainMembers(_ln, [0, 1], [6], batching=batching)
    x = torch.randn(2, 5, 6)
    before = model(x)
    saved = model.member_state(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    model.load_member_state(1, saved)
    after = model(x)
    assert torch.equal(after[1], before[1]) and not torch.allclose(after[0], before[0])
    head = model.classifier_head()
    assert head.weight.shape == (2, 3, 8) and head.bias.shape == (2, 3)
    with torch.no_grad():
        head.weight.zero_()
        head.bias.fill_(2.0)
    assert torch.equal(model(x), torch.full((2, 5, 3), 2.0))
    from lossbench.seeding import generator

    head.reset_member(0, generator(0, "init"))
    assert head.weight[0].abs().sum() > 0 and head.weight[1].abs().sum() == 0
    assert (
        PlainMembers(lambda: nn.Sequential(nn.Linear(6, 3), nn.ReLU()), [0], [6]).classifier_head()
        is None
    )


def test_wrong_output_shape_and_failed_forced_vmap_are_one_line(cli, tmp_path):
    _write_nets(tmp_path, "nets_shape")
    proc = cli(
        "run",
        "model=custom",
        "model._target_=nets_shape.LNNet",
        "+model.width=4",
        "dataset=imbalanced_multiclass",
        "trainer.epochs=1",
        "trainer.progress=false",
        check=False,
    )
    assert proc.returncode == 0, proc.stderr  # out_features follows the data: fine
    (tmp_path / "nets_out.py").write_text(
        "from torch import nn\n"
        "class Five(nn.Linear):\n"
        "    def __init__(self, in_features):\n"
        "        super().__init__(in_features, 5)\n"
    )
    proc = cli("run", "model=custom", "model._target_=nets_out.Five", *FAST, check=False)
    assert proc.returncode == 2 and "expected [64, 2]" in proc.stderr
    proc = cli(
        "run",
        "model=custom",
        "model._target_=nets_shape.Branchy",
        "model._batching_=vmap",
        *FAST,
        check=False,
    )
    assert proc.returncode == 2 and "model._batching_=vmap" in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    proc = cli("run", "+model._batching_=loop", *FAST, check=False)  # model=mlp: stacked
    assert proc.returncode == 2 and "stacks its seeds itself" in proc.stderr


def test_loop_mode_head_is_stacked_on_request_and_trains_exactly():
    """The classifier of loop-mode members becomes one stacked [K, C, D] parameter when a
    Head is asked for; member state keeps its order, and training after it still gives
    each member its single run."""
    x = torch.randn(3, 32, 6, generator=torch.Generator().manual_seed(0))
    big = PlainMembers(_bn, [0, 1, 2], [6])
    before = big.member_state(1)
    head = big.classifier_head()
    assert big.mode == "loop" and head.weight.shape == (3, 3, 8)
    assert all(torch.equal(a, b) for a, b in zip(before, big.member_state(1), strict=True))
    _train(big, x).eval()
    for k in range(3):
        single = PlainMembers(_bn, [k], [6])
        single.classifier_head()
        _train(single, x[k : k + 1]).eval()
        assert torch.equal(single(x[k : k + 1])[0], big(x)[k])


def test_forced_vmap_of_dropout_gives_each_member_its_own_masks():
    """``_batching_=vmap`` on a dropout module: vmap(randomness="different"), so members
    with equal weights still drop different units (not their single runs' masks)."""
    model = PlainMembers(_drop, [0, 0], [6], batching="vmap")
    assert model.mode == "vmap" and model.random
    x = torch.ones(2, 64, 6)
    out = model.train()(x)
    assert not torch.equal(out[0], out[1])
    model.eval()
    assert torch.equal(model(x)[0], model(x)[1])  # same seed, no dropout at eval


def test_the_examples_model_runs_by_target_and_by_yaml(tmp_path):
    from tests.conftest import REPO, run_cli

    quick = ["trainer.epochs=1", "trainer.progress=false", "dataset.n_samples=300"]
    run_cli(
        ["run", "model=custom", "model._target_=examples.my_model.Net", "+model.width=8",
         "seeds=2", *quick, f"hydra.run.dir={tmp_path / 'a'}"],
        REPO,
    )  # fmt: skip
    run_cli(
        ["run", "--config-dir", "examples/configs", "model=ln_mlp", *quick,
         f"hydra.run.dir={tmp_path / 'b'}"],
        REPO,
    )  # fmt: skip
    a, b = read_metrics(tmp_path / "a" / "seed_0"), read_metrics(tmp_path / "b")
    assert a["status"] == b["status"] == "completed" and b["choices"]["model"] == "ln_mlp"
