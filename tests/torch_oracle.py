"""Ask torch itself: does it accept a ConvTranspose configuration, and what size comes out?"""

from __future__ import annotations

import warnings

import torch
from torch import nn

MODULES = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}


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
