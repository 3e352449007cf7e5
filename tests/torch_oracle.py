"""Ask torch itself: does it accept a ConvTranspose configuration, what size comes out, and what
shapes does every layer of a model see (forward hooks)?"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import nn

Shape = tuple[int, ...]
MODULES = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}
FUNCTIONS = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


def torch_output_size(kwargs: dict, input_size: tuple[int, ...]) -> tuple[int, ...] | None:
    """The spatial output size torch produces, or None where torch refuses (or outputs nothing)."""
    ndim = len(input_size)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = MODULES[ndim](**kwargs)
            x = torch.zeros(1, max(kwargs["in_channels"], 0), *input_size)
            y = module(x)
    except (RuntimeError, ValueError):
        return None
    if y.numel() == 0:  # torch 2.13 returns an empty tensor for groups > 1 and out = 0
        return None
    return tuple(y.shape[2:])


def first_tensor(value: object) -> torch.Tensor:
    """The tensor a module returns, or the first one of a tuple (LSTM, MaxPool with indices,
    a VAE's (reconstruction, mu, logvar))."""
    while isinstance(value, (tuple, list)):
        value = value[0]
    assert isinstance(value, torch.Tensor), type(value)
    return value


def torch_shapes(
    model: nn.Module, *inputs: torch.Tensor
) -> tuple[dict[str, tuple[Shape, Shape]], Shape]:
    """path -> (input shape, output shape) of every leaf module torch ran (its first call), and
    the model's output shape; from forward hooks, in eval mode without gradients."""
    seen: dict[str, tuple[Shape, Shape]] = {}

    def hook(name: str):
        def record(module, args, output):
            if args:
                seen.setdefault(
                    name, (tuple(first_tensor(args[0]).shape), tuple(first_tensor(output).shape))
                )

        return record

    handles = [
        module.register_forward_hook(hook(name))
        for name, module in model.named_modules()
        if not list(module.children())
    ]
    try:
        with torch.no_grad():
            output = first_tensor(model.eval()(*inputs))
    finally:
        for handle in handles:
            handle.remove()
    return seen, tuple(output.shape)


def torch_overlap(layers, sizes: Shape, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """An all-ones input of spatial size `sizes` through all-ones kernels of each layer (one
    channel) in turn: torch's count of (input pixel, kernel tap) pairs per output pixel, shaped
    (1, 1, *output size). `layers` are core `TransposedConv`s (any object with kernel_size,
    stride, padding, output_padding, dilation tuples)."""
    conv = FUNCTIONS[len(sizes)]
    x = torch.ones(1, 1, *sizes, dtype=dtype)
    for layer in layers:
        kernel = torch.ones(1, 1, *layer.kernel_size, dtype=dtype)
        x = conv(
            x,
            kernel,
            stride=layer.stride,
            padding=layer.padding,
            output_padding=layer.output_padding,
            dilation=layer.dilation,
        )
    return x
