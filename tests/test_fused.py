"""The fused CPU layers and the half-turned network compute what the plain layers compute."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from neuralgae.core.nets import fused
from neuralgae.core.nets.efficientnet_lite import IMAGENET_STD, same_pad, turn_half
from neuralgae.core.nets.fused import conv_relu6, mbconv
from neuralgae.core.nets.memory import keep_freed_memory

needs_onednn = pytest.mark.skipif(not fused.FUSED_KERNEL, reason="this torch build has no oneDNN fused convolution")
CL = torch.channels_last


def _grad(f, x, seed=0):
    x = x.detach().requires_grad_(True)
    y = f(x)
    weights = torch.randn(y.shape, generator=torch.Generator().manual_seed(seed))
    (g,) = torch.autograd.grad((y * weights).sum(), x)
    return y.detach(), g


def _rel(a, b):
    return float((a - b).norm() / b.norm())


@needs_onednn
@pytest.mark.parametrize(
    "cin, cout, kernel, stride, groups",
    [(16, 96, 1, 1, 1), (96, 96, 3, 2, 96), (24, 24, 5, 1, 24), (40, 40, 5, 2, 40), (3, 32, 3, 2, 1)],
)
def test_fused_conv_relu6_equals_plain(cin, cout, kernel, stride, groups):
    g = torch.Generator().manual_seed(1)
    x = (torch.randn(1, cin, 33, 40, generator=g) * 3).contiguous(memory_format=CL)
    w, b = torch.randn(cout, cin // groups, kernel, kernel, generator=g), torch.randn(cout, generator=g)
    assert fused.fusable(x, w, b)
    y1, g1 = _grad(lambda t: conv_relu6(t, w, b, stride, groups), x)
    y2, g2 = _grad(lambda t: F.relu6(F.conv2d(t, w, b, stride, kernel // 2, 1, groups)), x)
    assert _rel(y1, y2) < 1e-6 and _rel(g1, g2) < 1e-6


@needs_onednn
@pytest.mark.parametrize("expand, stride, residual", [(True, 1, True), (True, 2, False), (False, 1, False)])
def test_fused_block_equals_plain(expand, stride, residual):
    g = torch.Generator().manual_seed(2)
    cin, mid, k = 8, (48 if expand else 8), 5
    cout = cin if residual else 12
    x = torch.randn(1, cin, 30, 27, generator=g).contiguous(memory_format=CL)
    ex = (torch.randn(mid, cin, 1, 1, generator=g), torch.randn(mid, generator=g)) if expand else None
    dw = (torch.randn(mid, 1, k, k, generator=g) * 0.3, torch.randn(mid, generator=g))
    pr = (torch.randn(cout, mid, 1, 1, generator=g) * 0.3, torch.randn(cout, generator=g))

    def plain(t):
        y = F.relu6(F.conv2d(t, *ex)) if expand else t
        y = F.conv2d(F.relu6(F.conv2d(y, dw[0], dw[1], stride, k // 2, 1, mid)), *pr)
        return t + y if residual else y

    y1, g1 = _grad(lambda t: mbconv(t, ex, dw, pr, stride, residual), x)
    y2, g2 = _grad(plain, x)
    assert _rel(y1, y2) < 1e-6 and _rel(g1, g2) < 1e-6


def test_trainable_weights_take_the_plain_path_and_get_gradients():
    w = torch.randn(4, 3, 3, 3, requires_grad=True)
    x = torch.rand(1, 3, 16, 16)
    assert not fused.fusable(x, w)
    conv_relu6(x, w, torch.zeros(4), 1, 1).sum().backward()
    assert w.grad is not None and w.grad.abs().sum() > 0


def _plain_block10(net, x):
    """block10 the textbook way: ImageNet normalisation, TF "same" padding by F.pad, NCHW, autograd."""

    def conv(t, layer, relu6):
        w = turn_half(layer.weight).contiguous()  # the network keeps its kernels turned
        t = F.conv2d(same_pad(t, layer.kernel, layer.stride), w, layer.bias, layer.stride, 0, 1, layer.groups)
        return F.relu6(t) if relu6 else t

    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    stem_w = turn_half(net.stem.weight) * std  # the std is folded into the stem's weights
    t = (x - net.mean) / std
    t = F.relu6(F.conv2d(same_pad(t, 3, 2), stem_w, net.stem.bias, 2))
    for block in net.blocks[:11]:
        y = conv(t, block.expand, True) if block.expand is not None else t
        y = conv(conv(y, block.depthwise, True), block.project, False)
        t = t + y if block.residual else y
    return t


@pytest.mark.parametrize("h, w", [(64, 64), (65, 63), (97, 130)])
def test_network_matches_the_textbook_definition(net, h, w):
    x = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(h))
    y1, g1 = _grad(lambda t: net.features(t, ["block10"])["block10"], x)
    y2, g2 = _grad(lambda t: _plain_block10(net, t), x)
    assert y1.shape == y2.shape
    assert _rel(y1, y2) < 1e-5
    assert _rel(g1, g2) < 1e-3  # float rounding can flip a ReLU6 at its edge, nothing more


def test_keep_freed_memory_is_idempotent():
    first = keep_freed_memory()
    assert keep_freed_memory() == first
    if sys.platform.startswith("linux"):
        libc = subprocess.run(["ldd", "--version"], capture_output=True, text=True)
        if "GLIBC" in (libc.stdout + libc.stderr).upper() or "GNU" in (libc.stdout + libc.stderr).upper():
            assert first is True


def test_network_without_fused_kernels_gives_the_same_dream_gradient(net, monkeypatch):
    """The plain fallback (GPUs, builds without oneDNN) computes what the fused path computes."""
    x = torch.rand(1, 3, 70, 90, generator=torch.Generator().manual_seed(5))
    y1, g1 = _grad(lambda t: net.features(t, ["block10"])["block10"], x)
    monkeypatch.setattr(fused, "FUSED_KERNEL", False)
    y2, g2 = _grad(lambda t: net.features(t, ["block10"])["block10"], x)
    assert _rel(y1, y2) < 1e-5 and _rel(g1, g2) < 1e-3
