"""EfficientNet-Lite's layers with hand-written backward passes for a frozen network on a CPU.

A dream step is a forward and backward pass whose cost is mostly moving
large activations through memory. Two things autograd cannot do save much
of it, with gradients for the image only (the weights are frozen):

- Convolution + ReLU6 in one pass: oneDNN applies the clamp as the
  convolution writes its output (a "post-op"), and the backward pass recovers
  the ReLU6 mask from the output itself, because ``0 < relu6(z) < 6`` exactly
  where ``0 < z < 6``. No pre-activation tensor is written or kept.
- A whole inverted-bottleneck block as one function: the gradients inside
  the block are its own, so the ReLU6 masks are applied to them in place and
  the residual is added in place, instead of writing a new tensor each time.

Each function computes exactly what the plain layers compute; the tests
compare values and gradients with them. Elsewhere (GPUs, builds without
oneDNN, float16) the plain layers run.

Depthwise gradients are computed as forward convolutions: with flipped
kernels at stride 1, and on the gradient spread onto the input's grid (zeros
between its pixels) at stride 2. oneDNN's backward kernels for depthwise
convolutions are slower, by a factor of six for bf16 at stride 2 (measured).
"""

from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn.functional as F

_aten = torch.ops.aten


@lru_cache(maxsize=None)
def fused_kernel_works(dtype: torch.dtype = torch.float32) -> bool:
    """Whether this torch build runs oneDNN's fused convolution in ``dtype``, and gets it right, on a tiny case."""
    try:
        if not (torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_convolution_pointwise")):
            return False  # pragma: no cover - builds without oneDNN
        x = torch.linspace(-8, 8, 2 * 5 * 5).view(1, 2, 5, 5).contiguous(memory_format=torch.channels_last)
        w = torch.linspace(-1, 1, 3 * 2 * 3 * 3).view(3, 2, 3, 3)
        b = torch.tensor([0.5, -0.5, 0.0])
        expected = F.relu6(F.conv2d(x, w, b, 2, 1))
        x, w, b = x.to(dtype), w.to(dtype), b.to(dtype)
        fused = torch.ops.mkldnn._convolution_pointwise(x, w, b, [1, 1], [2, 2], [1, 1], 1, "hardtanh", [0.0, 6.0], "")
        tolerance = 1e-5 if dtype == torch.float32 else 0.1
        return bool(torch.allclose(fused.float(), expected, atol=tolerance))
    except (AttributeError, RuntimeError, NotImplementedError):  # pragma: no cover - depends on the build
        return False


FUSED_KERNEL = fused_kernel_works(torch.float32)
FUSED_DTYPES = (torch.float32, torch.bfloat16)


def fusable(x: torch.Tensor, *weights: torch.Tensor | None) -> bool:
    """Whether the fused CPU functions apply: float32 or bf16 on a CPU with oneDNN, frozen weights."""
    return (
        FUSED_KERNEL
        and x.device.type == "cpu"
        and x.dtype in FUSED_DTYPES
        and (x.dtype == torch.float32 or fused_kernel_works(x.dtype))
        and not any(w is not None and w.requires_grad for w in weights)
    )


def depthwise_grad_input(grad: torch.Tensor, weight: torch.Tensor, stride: int, shape: tuple[int, int]) -> torch.Tensor:
    """Input gradient of a depthwise convolution (padding ``kernel // 2``) as a forward convolution.

    ``shape`` is the input's (height, width). At stride 1 it is the
    convolution of ``grad`` with the flipped kernels; at stride 2, the same
    on ``grad`` spread onto the input's grid with zeros in between.
    """
    p = weight.shape[-1] // 2
    flipped = weight.flip(-2, -1)
    channels = weight.shape[0]
    if stride == 2:
        n, c, h, w = grad.shape
        spread = grad.new_zeros((n, 2 * h, 2 * w, c)).permute(0, 3, 1, 2)  # channels-last, like grad
        spread[:, :, ::2, ::2] = grad
        grad = spread
    out = F.conv2d(grad, flipped, None, 1, p, 1, channels)
    return out[:, :, : shape[0], : shape[1]]


def _conv_relu6_forward(x, weight, bias, stride: int, groups: int) -> torch.Tensor:
    p = weight.shape[-1] // 2
    return torch.ops.mkldnn._convolution_pointwise(x, weight, bias, [p, p], [stride, stride], [1, 1], groups, "hardtanh", [0.0, 6.0], "")


def _conv_grad_input(grad, x, weight, stride: int, groups: int) -> torch.Tensor:
    """Gradient of a convolution (padding ``kernel // 2``) with respect to its input only.

    A dense 1x1 convolution's input gradient is the 1x1 convolution of
    ``grad`` with the transposed weights. Run as that forward convolution it
    costs the same per step, but oneDNN sets it up for a new image size far
    faster than its backward pass (0.1 s less at every new octave, measured).
    """
    if weight.shape[-1] == 1 and stride == 1 and groups == 1:
        return F.conv2d(grad, weight.transpose(0, 1))
    if groups > 1 and groups == weight.shape[0] == x.shape[1] and weight.shape[1] == 1 and (stride == 1 or x.dtype != torch.float32):
        return depthwise_grad_input(grad, weight, stride, tuple(x.shape[-2:]))
    p = weight.shape[-1] // 2
    return _aten.convolution_backward(
        grad, x, weight, None, [stride, stride], [p, p], [1, 1], False, [0, 0], groups, [True, False, False]
    )[0]


def _relu6_mask_(grad: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """``grad`` zeroed in place where the ReLU6 whose output is ``out`` was flat."""
    return _aten.hardtanh_backward.grad_input(grad, out, 0.0, 6.0, grad_input=grad)


class _ConvReLU6(torch.autograd.Function):
    """relu6(conv2d(x, weight, bias)) with a gradient for ``x`` only."""

    @staticmethod
    def forward(ctx, x, weight, bias, stride: int, groups: int):
        y = _conv_relu6_forward(x, weight, bias, stride, groups)
        ctx.save_for_backward(x, weight, y)
        ctx.conv = (stride, groups)
        return y

    @staticmethod
    def backward(ctx, grad_y):
        x, weight, y = ctx.saved_tensors
        # grad_y may be shared with other nodes of the graph: masked into a new tensor.
        grad_z = _aten.hardtanh_backward(grad_y, y, 0.0, 6.0)
        return _conv_grad_input(grad_z, x, weight, *ctx.conv), None, None, None, None


def conv_relu6(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, stride: int, groups: int) -> torch.Tensor:
    """``relu6(conv2d(x, weight, bias, stride, padding=kernel // 2, groups=groups))``."""
    if fusable(x, weight, bias):
        return _ConvReLU6.apply(x, weight, bias, stride, groups)
    return F.relu6(F.conv2d(x, weight, bias, stride, weight.shape[-1] // 2, 1, groups))


class _MBConv(torch.autograd.Function):
    """An inverted-bottleneck block (expand, depthwise, project, residual) with a gradient for ``x`` only."""

    @staticmethod
    def forward(ctx, x, expand_w, expand_b, depth_w, depth_b, project_w, project_b, stride: int, residual: bool):
        wide = x if expand_w is None else _conv_relu6_forward(x, expand_w, expand_b, 1, 1)
        mid = _conv_relu6_forward(wide, depth_w, depth_b, stride, depth_w.shape[0])
        out = F.conv2d(mid, project_w, project_b)
        if residual:
            out.add_(x)
        ctx.save_for_backward(x, wide, mid, expand_w, depth_w, project_w)
        ctx.stride, ctx.residual = stride, residual
        return out

    @staticmethod
    def backward(ctx, grad_out):
        x, wide, mid, expand_w, depth_w, project_w = ctx.saved_tensors
        grad = _relu6_mask_(_conv_grad_input(grad_out, mid, project_w, 1, 1), mid)
        grad = _conv_grad_input(grad, wide, depth_w, ctx.stride, depth_w.shape[0])
        if expand_w is not None:
            grad = _conv_grad_input(_relu6_mask_(grad, wide), x, expand_w, 1, 1)
        if ctx.residual:
            grad.add_(grad_out)
        return grad, None, None, None, None, None, None, None, None


def mbconv(
    x: torch.Tensor,
    expand: tuple[torch.Tensor, torch.Tensor] | None,
    depthwise: tuple[torch.Tensor, torch.Tensor],
    project: tuple[torch.Tensor, torch.Tensor],
    stride: int,
    residual: bool,
) -> torch.Tensor:
    """One MBConv block from its (weight, bias) pairs; ``expand`` is None where the block has none."""
    expand_w, expand_b = expand if expand is not None else (None, None)
    if fusable(x, expand_w, *depthwise, *project):
        return _MBConv.apply(x, expand_w, expand_b, *depthwise, *project, stride, residual)
    y = x if expand is None else conv_relu6(x, expand_w, expand_b, 1, 1)
    y = conv_relu6(y, *depthwise, stride, depthwise[0].shape[0])
    y = F.conv2d(y, *project)
    return x + y if residual else y
