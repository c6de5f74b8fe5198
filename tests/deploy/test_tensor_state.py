"""plugins/deploy/tensor_state.py: a snapshot notices every kind of edit a cached plan must
follow, and nothing else."""
import torch
from torch import nn

from plugins.deploy.tensor_state import TensorSlots


def fresh():
    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(2, 3, 1), nn.BatchNorm2d(3))
    return m, TensorSlots(m.modules())


def test_unchanged_after_reads_and_forwards():
    m, snap = fresh()
    m.eval()
    with torch.no_grad():
        m(torch.randn(1, 2, 4, 4))
        float(m[0].weight.sum())
    assert snap.unchanged()


def test_each_edit_is_seen():
    # (an edit through ``.data`` bumps no version counter and is not seen: documented)
    edits = [
        lambda m: torch.no_grad()(lambda: m[0].weight.add_(1))(),  # in place
        lambda m: m[1].load_state_dict(m[1].state_dict()),     # copies in place
        lambda m: setattr(m[0], 'weight', nn.Parameter(m[0].weight.detach().clone())),
        lambda m: m[1].register_buffer('extra', torch.zeros(1)),
        lambda m: setattr(m[0], 'bias', None),
        lambda m: m[1].train()(torch.randn(2, 3, 2, 2)),  # running statistics update
    ]
    for edit in edits:
        m, snap = fresh()
        edit(m)
        assert not snap.unchanged(), edit
