"""Keras Conv2DTranspose -> torch: same output size, and the same values on the same grid.

TensorFlow is not installed here, so the reference is TensorFlow's definition written out
independently: conv2d_transpose is the gradient of conv2d, so input pixel i scatters kernel tap j
to output position i*s + j*d - before, where before = max(full - out, 0) // 2 for 'same'
(TF's SAME rule, full = (in - 1)*s + d(k - 1) + 1) and 0 for 'valid', and positions outside
[0, out) are dropped. The output length is Keras's `deconv_output_length`, written out below.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from core import ConfigError
from core.geometry.keras import from_keras


def keras_length(n, k, s, padding, op, d):
    """keras.src.utils.conv_utils.deconv_output_length (Keras 3), transcribed."""
    length = n
    k = k + (k - 1) * (d - 1)
    if op is None:
        if padding == "valid":
            return length * s + max(k - s, 0)
        return length * s
    pad = k // 2 if padding == "same" else 0
    return (length - 1) * s + k - 2 * pad + op


def tf_reference(x, w, s, padding, op, d):
    """Single-channel 2D transposed convolution with TensorFlow's placement, in numpy."""
    (h, wd), (kh, kw) = x.shape, w.shape
    out_len = [
        keras_length(n, k, si, padding, o, di)
        for n, k, si, o, di in zip((h, wd), (kh, kw), s, op, d, strict=True)
    ]
    before = []
    for n, k, si, di, length in zip((h, wd), (kh, kw), s, d, out_len, strict=True):
        full = (n - 1) * si + di * (k - 1) + 1
        before.append(max(full - length, 0) // 2 if padding == "same" else 0)
    y = np.zeros(out_len)
    for i in range(h):
        for j in range(wd):
            for a in range(kh):
                for b in range(kw):
                    r = i * s[0] + a * d[0] - before[0]
                    c = j * s[1] + b * d[1] - before[1]
                    if 0 <= r < out_len[0] and 0 <= c < out_len[1]:
                        y[r, c] += x[i, j] * w[a, b]
    return y


@st.composite
def keras_layers(draw):
    k = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    d = (1, 1) if max(s) > 1 else (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = draw(st.sampled_from(["valid", "same"]))
    op = None
    if draw(st.booleans()):
        op = tuple(draw(st.integers(0, si - 1)) for si in s)
    size = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    return k, s, padding, op, d, size


@settings(max_examples=300)
@given(keras_layers(), st.integers(0, 2**31 - 1))
def test_translation_matches_tensorflow_placement(case, seed):
    k, s, padding, op, d, size = case
    out_len = [
        keras_length(n, ki, si, padding, o, di)
        for n, ki, si, o, di in zip(size, k, s, op or (None, None), d, strict=True)
    ]
    if min(out_len) < 1:
        with pytest.raises(ConfigError):
            from_keras(1, k, s, padding, op, d, in_channels=1, input_size=size)
        return
    t = from_keras(1, k, s, padding, op, d, in_channels=1, input_size=size, use_bias=False)
    assert list(t.output_size) == out_len
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal(size), rng.standard_normal(k)
    namespace: dict = {}
    exec(t.code(), namespace)  # the generated snippet, as a user would paste it
    layer = namespace["layer"].double()
    conv = layer if isinstance(layer, torch.nn.ConvTranspose2d) else layer.conv
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(w)[None, None])
        y = layer(torch.from_numpy(x)[None, None])[0, 0].numpy()
    np.testing.assert_allclose(y, tf_reference(x, w, s, padding, op or (None, None), d), atol=1e-9)


def test_same_with_odd_crop_needs_end_crop_not_output_padding():
    t = from_keras(32, 3, 2, "same", in_channels=64, input_size=16)
    assert t.layer.padding == (0, 0) and t.crop_end == (1, 1) and t.output_size == (32, 32)
    assert t.notes


def test_keras_refusals_are_named():
    with pytest.raises(ConfigError, match="padding must be 'valid' or 'same'"):
        from_keras(8, 3, 2, "full", in_channels=3)
    with pytest.raises(ConfigError, match="dilation_rate"):
        from_keras(8, 3, 2, "same", dilation_rate=2, in_channels=3)
    with pytest.raises(ConfigError, match=r"output_padding 2 must be in 0\.\.1"):
        from_keras(8, 3, 2, "same", output_padding=2, in_channels=3)
