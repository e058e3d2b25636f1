"""The member-model contract (lossbench.models.contract) on the built-in stacked models."""

import torch

from lossbench.models import MLP, MemberModel
from lossbench.seeding import generator


def test_mlp_meets_the_contract_and_state_round_trips():
    model = MLP(5, 3, hidden_sizes=(4,), seeds=[0, 1])
    assert isinstance(model, MemberModel)
    x = torch.randn(2, 6, 5)
    before = model(x)
    saved = model.member_state(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    model.load_member_state(1, saved)
    after = model(x)
    assert torch.equal(after[1], before[1])
    assert not torch.allclose(after[0], before[0])


def test_head_is_a_view_of_the_output_layer():
    model = MLP(5, 3, hidden_sizes=(4,), seeds=[0, 1])
    head = model.classifier_head()
    assert head.weight.shape == (2, 3, 4) and head.bias.shape == (2, 3)
    x = torch.randn(2, 6, 5)
    with torch.no_grad():
        head.weight.zero_()
        head.bias.fill_(2.0)
    assert torch.equal(model(x), torch.full((2, 6, 3), 2.0))
    last = model.layers[-1]
    assert all(p is q for p, q in zip(head.params, [last.weight, last.bias], strict=True))
    head.reset_member(0, generator(0, "init"))
    assert head.weight[0].abs().sum() > 0 and head.weight[1].abs().sum() == 0
