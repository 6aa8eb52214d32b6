"""A transposed convolution whose kernel equals its stride (e.g. 2x2, stride 2) as one matrix product on the CPU."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class _PatchProduct(torch.autograd.Function):
    """y = conv_transpose2d(x, w, b, stride=k) for a k x k kernel: every input pixel paints its own k x k patch.

    So the layer is one product [B*H*W, Ci] @ [Ci, k*k*Co] and a reshuffle of the rows into patches,
    forward and backward, in one autograd node. oneDNN's general kernel spends ~0.1 ms per call on
    these tiny layers at batch 20; this takes a third of that. Works in channels-last memory, which is
    where the input already lives when the model is (`train.fast_layout`); a plain input costs one copy.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
        n, ci, h, wd = x.shape
        co, k = w.shape[1], w.shape[2]
        rows = x.permute(0, 2, 3, 1).reshape(n * h * wd, ci)  # [BHW, Ci] free in channels-last
        wm = w.permute(0, 2, 3, 1).reshape(ci, k * k * co)  # [Ci, (i, j, co)] free for a channels-last weight
        y = rows @ wm  # [BHW, (i, j, co)]
        out = y.view(n, h, wd, k, k, co).permute(0, 1, 3, 2, 4, 5).reshape(n, h * k, wd * k, co)  # [B, Hk, Wk, Co]
        if b is not None:
            out.add_(b)  # after the reshuffle: addmm's broadcast of the bias costs more than the product here
        ctx.save_for_backward(rows, wm)
        ctx.dims = (n, ci, h, wd, co, k, b is not None)
        return out.permute(0, 3, 1, 2)  # [B, Co, Hk, Wk] channels-last

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        rows, wm = ctx.saved_tensors
        n, ci, h, wd, co, k, has_bias = ctx.dims
        if co == 1:  # pixel_unshuffle's kernel beats a strided copy when each pixel is one float
            g = F.pixel_unshuffle(grad, k).permute(0, 2, 3, 1).reshape(n * h * wd, k * k)  # [BHW, (i, j)]
        else:
            g = grad.permute(0, 2, 3, 1).reshape(n, h, k, wd, k, co).permute(0, 1, 3, 2, 4, 5)
            g = g.reshape(n * h * wd, k * k * co)  # [BHW, (i, j, co)]
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            gx = (g @ wm.t()).view(n, h, wd, ci).permute(0, 3, 1, 2)  # [B, Ci, H, W] channels-last
        if ctx.needs_input_grad[1]:
            gw = (rows.t() @ g).view(ci, k, k, co).permute(0, 3, 1, 2)  # [Ci, Co, k, k] channels-last
        if has_bias and ctx.needs_input_grad[2]:
            gb = g.sum(0).view(k * k, co).sum(0)  # [Co]
        return gx, gw, gb


class PatchConvTranspose2d(nn.ConvTranspose2d):
    """`nn.ConvTranspose2d(c_in, c_out, k, stride=k)`: the same parameters, state dict and results (up to
    float rounding), computed as one matrix product on the CPU in float32; anything else (a GPU,
    autocast, other settings) goes through torch's own kernel."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, bias: bool = True):
        super().__init__(in_channels, out_channels, kernel_size, stride=kernel_size, bias=bias)

    def forward(self, x: torch.Tensor, output_size=None) -> torch.Tensor:
        if (output_size is None and x.dim() == 4 and x.device.type == "cpu" and x.dtype == torch.float32
                and self.weight.dtype == torch.float32 and not torch.is_autocast_enabled("cpu")):
            return _PatchProduct.apply(x, self.weight, self.bias)
        return super().forward(x, output_size)
