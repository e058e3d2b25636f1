"""Optimizers step eagerly without importing ``torch._dynamo``, with torch's own results."""

from __future__ import annotations

import functools
import subprocess
import sys
import textwrap

import pytest
import torch

from lossbench.training import optim
from tests.conftest import REPO

# Every optimizer config the project ships, as (class, keyword arguments).
OPTIMIZERS = [
    (torch.optim.Adam, {"lr": 1e-3, "fused": True}),
    (torch.optim.Adam, {"lr": 1e-3}),
    (torch.optim.AdamW, {"lr": 1e-3, "weight_decay": 0.01, "fused": True}),
    (torch.optim.SGD, {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    (torch.optim.RMSprop, {"lr": 1e-2}),
    (torch.optim.Adagrad, {"lr": 1e-2}),
]

SCRIPT = textwrap.dedent(
    """
    import functools, sys, torch
    from lossbench.training.optim import make_optimizer
    torch.manual_seed(0)
    x, w0 = torch.randn(64, 7), torch.randn(7, 3)
    params = [torch.nn.Parameter(w0.clone())]
    opt = make_optimizer(functools.partial(torch.optim.Adam, lr=1e-2, fused=True), params)
    for _ in range(5):
        params[0].grad = None
        (x @ params[0]).square().mean().backward()
        opt.step()
    print("dynamo loaded:", "torch._dynamo" in sys.modules)
    ref = [torch.nn.Parameter(w0.clone())]
    ref_opt = torch.optim.Adam(ref, lr=1e-2, fused=True)
    for _ in range(5):
        ref_opt.zero_grad()
        (x @ ref[0]).square().mean().backward()
        ref_opt.step()
    print("bitwise equal:", torch.equal(params[0], ref[0]))
    """
)


@pytest.mark.slow  # a sweep or a subprocess: seconds
def test_no_dynamo_import_and_torch_results():
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, cwd=REPO, timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert "dynamo loaded: False" in out.stdout and "bitwise equal: True" in out.stdout


def _train(opt_factory, steps: int = 4) -> list[torch.Tensor]:
    torch.manual_seed(0)
    x = torch.randn(32, 5)
    params = [torch.nn.Parameter(torch.randn(5, 2)), torch.nn.Parameter(torch.randn(2))]
    opt = opt_factory(params)
    for _ in range(steps):
        for p in params:
            p.grad = None
        (x @ params[0] + params[1]).tanh().sum().backward()
        opt.step()
    return [p.detach().clone() for p in params]


@pytest.mark.parametrize(("cls", "kwargs"), OPTIMIZERS, ids=lambda v: getattr(v, "__name__", ""))
def test_eager_step_equals_torch_step(cls, kwargs, monkeypatch):
    # In this process torch._dynamo may be loaded already (then the eager step defers to
    # torch's); hide it so the eager path itself is compared with torch's own step.
    monkeypatch.delitem(sys.modules, "torch._dynamo", raising=False)
    monkeypatch.setattr(optim, "_has_hooks", lambda opt: False)
    ours = _train(lambda p: optim.make_optimizer(functools.partial(cls, **kwargs), p))
    monkeypatch.undo()
    theirs = _train(lambda p: cls(p, **kwargs))
    assert all(torch.equal(a, b) for a, b in zip(ours, theirs, strict=True))


def test_hooks_take_torch_path():
    params = [torch.nn.Parameter(torch.zeros(3))]
    opt = optim.make_optimizer(functools.partial(torch.optim.SGD, lr=0.1), params)
    calls = []
    opt.register_step_post_hook(lambda *a: calls.append(1))
    params[0].grad = torch.ones(3)
    opt.step()
    assert calls == [1] and torch.allclose(params[0], torch.full((3,), -0.1))
