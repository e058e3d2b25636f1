"""Forecasting models: member k of a K-member model is exactly the 1-member model of seed k,
and the batched layers compute what torch.nn.GRU / torch.nn.Conv1d compute."""

from __future__ import annotations

import pytest
import torch

from lossbench.models import GRU, MLP, CNN1d, Linear
from lossbench.models.sequence import StackedConv1d, StackedGRULayer

SEEDS = [0, 1, 2]
# B >= 16: below that, CPU batched GEMM (MKL) may pick another kernel for K > 1 than for
# K = 1 and results differ by ~1 ulp (measured for the core MLP too); see the tiny-batch test.
L, D, H, B = 12, 2, 4, 32


def _make(cls, seeds, length=L, channels=D):
    kwargs = {"input_shape": [length, channels]} if cls in (GRU, CNN1d) else {}
    if cls is GRU:
        kwargs["num_layers"] = 2
    return cls(length * channels, H, seeds=seeds, **kwargs)


CASES = [(cls, B, L, D) for cls in (GRU, CNN1d, MLP, Linear)]
CASES += [(cls, 46, 10, 1) for cls in (GRU, CNN1d)]  # nile-sized univariate windows


@pytest.mark.parametrize(("cls", "batch", "length", "channels"), CASES)
def test_member_k_equals_single_seed_model_outputs_and_gradients(cls, batch, length, channels):
    x = torch.randn(batch, length, channels, generator=torch.Generator().manual_seed(0))
    target = torch.randn(batch, H, generator=torch.Generator().manual_seed(1))
    stacked = _make(cls, SEEDS, length, channels)
    out = stacked(x.expand(len(SEEDS), *x.shape))
    assert out.shape == (len(SEEDS), batch, H)
    sum(((out[k] - target) ** 2).mean() for k in range(len(SEEDS))).backward()
    for k, seed in enumerate(SEEDS):
        single = _make(cls, [seed], length, channels)
        out1 = single(x.unsqueeze(0))
        ((out1[0] - target) ** 2).mean().backward()
        assert torch.equal(out1[0], out[k].detach())
        for p_stack, p_single in zip(stacked.parameters(), single.parameters(), strict=True):
            assert torch.equal(p_stack.detach()[k], p_single.detach()[0])
            assert torch.equal(p_stack.grad[k], p_single.grad[0])


@pytest.mark.parametrize("cls", [GRU, CNN1d])
def test_tiny_batch_members_agree_to_rounding(cls):
    x = torch.randn(3, L, D, generator=torch.Generator().manual_seed(0))
    out = _make(cls, SEEDS)(x.expand(len(SEEDS), *x.shape))
    for k, seed in enumerate(SEEDS):
        single = _make(cls, [seed])(x.unsqueeze(0))[0]
        torch.testing.assert_close(out[k], single, rtol=1e-6, atol=1e-7)


def test_different_seeds_give_different_members():
    model = _make(GRU, [0, 1])
    assert not torch.equal(model.head.weight[0], model.head.weight[1])


def test_gru_layer_matches_torch_gru():
    torch.manual_seed(0)
    ref = torch.nn.GRU(D, 7, batch_first=True).double()
    layer = StackedGRULayer(D, 7, 1).double()
    with torch.no_grad():
        layer.w_ih[0].copy_(ref.weight_ih_l0.T)
        layer.w_hh[0].copy_(ref.weight_hh_l0.T)
        layer.b_ih[0, 0].copy_(ref.bias_ih_l0)
        layer.b_hh[0, 0].copy_(ref.bias_hh_l0)
    x = torch.randn(B, L, D, dtype=torch.float64)
    expected, _ = ref(x)
    torch.testing.assert_close(layer(x.unsqueeze(0))[0], expected, rtol=1e-12, atol=1e-12)


def test_conv_matches_torch_conv1d():
    torch.manual_seed(0)
    ks, c_in, c_out = 5, 3, 4
    ref = torch.nn.Conv1d(c_in, c_out, ks, padding=ks // 2).double()
    conv = StackedConv1d(c_in, c_out, ks, 1).double()
    weight, bias = conv.linear.live()  # the stored tensors carry padding columns
    with torch.no_grad():
        # stacked weight row t * c_in + c  <->  Conv1d weight[:, c, t]
        weight[0].copy_(ref.weight.permute(2, 1, 0).reshape(ks * c_in, c_out))
        bias[0, 0].copy_(ref.bias)
    x = torch.randn(B, L, c_in, dtype=torch.float64)
    expected = ref(x.transpose(1, 2)).transpose(1, 2)
    torch.testing.assert_close(conv(x.unsqueeze(0))[0], expected, rtol=1e-12, atol=1e-12)


def test_univariate_default_shape_and_bad_shape():
    model = GRU(L, H, seeds=[0])
    assert model(torch.randn(1, B, L)).shape == (1, B, H)
    with pytest.raises(ValueError, match="input_shape"):
        CNN1d(L * D, H, input_shape=[L, D + 1])
    with pytest.raises(ValueError, match="kernel_size"):
        CNN1d(L, H, kernel_size=4)
