"""Convert a live model: replace every ConvTranspose2d, or fuse every nearest-Upsample + Conv2d.

`convert_model(model, method)` deep-copies the model and swaps each `nn.ConvTranspose2d` found
anywhere in it (nested modules, Sequentials, ModuleLists, ModuleDicts, plain attributes) for
`core.replacements.weights.replace_conv_transpose(layer, method)`, which carries the trained
weights. A layer shared by several parents is replaced once and stays shared. The original model
is untouched.
An optional `progress(done, total, path)` callable hears of each layer as it is done.

`fuse_model(model)` does the reverse for deployment: every nearest `Upsample` directly followed
by a `Conv2d` in a Sequential becomes one `ConvTranspose2d`
(`core.replacements.weights.fuse_resize_conv`), which computes the same thing with less memory
and fewer multiply-adds.

Both return a report with one row per layer changed and the layers left alone with the reason.
The same rules as `core.converter.text_conversion.convert_text`: a stride-1 ConvTranspose2d (an
ordinary convolution) is rewritten exactly with its sub-pixel equivalent under a resize method
too (an upsampling by 1 would change nothing), its row saying so with method
`core.replacements.registry.STRIDE_ONE_METHOD` and exact True; every ConvTranspose1d/3d is
kept and listed in `report.kept` (replacements exist for ConvTranspose2d only). A
ConvTranspose2d under `torch.nn.utils.parametrize` (e.g. `parametrizations.spectral_norm`) is
replaced with its computed weight (read in eval mode): the parametrization is folded into the
weights and not carried, which its row's note says.
Limits: only what the module tree shows is seen. A ConvTranspose2d called with `output_size=`
in a custom forward, or an upsample done with `F.interpolate`, is invisible here.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils import parametrize

from core.converter.text_conversion import method_for, other_transposed_reason
from core.errors import ConfigError
from core.geometry.layer import TransposedConv
from core.replacements import registry

Replace = Callable[[nn.ConvTranspose2d, str], "tuple[nn.Module, float]"]
Progress = Callable[[int, int, str], object]  # progress(done, total, path)
Fuse = Callable[[nn.Module, nn.Conv2d], nn.ConvTranspose2d]


@dataclass(frozen=True)
class ConversionRow:
    """One replaced ConvTranspose2d: where it was, what it was, what it became."""

    path: str  # as in named_modules(); "" when the model itself was the layer
    before: str
    after: str
    method: str  # the method used (registry.STRIDE_ONE_METHOD: a stride-1 layer, resize method)
    exact: bool  # the replacement's outputs equal the original's
    relative_error: float  # ||A - B|| / ||A|| of the two linear maps (~0 for exact methods)
    also_at: tuple[str, ...] = ()  # further paths of the same (shared) module
    note: str = ""  # e.g. a spectral norm folded into the weights

    def as_dict(self) -> dict:
        return {
            "path": self.path,
            "before": self.before,
            "after": self.after,
            "method": self.method,
            "exact": self.exact,
            "relative_error": self.relative_error,
            "also_at": list(self.also_at),
            "note": self.note,
        }


@dataclass(frozen=True)
class Skipped:
    """A layer that was left as it was, and why."""

    path: str
    layer: str
    reason: str

    def as_dict(self) -> dict:
        return {"path": self.path, "layer": self.layer, "reason": self.reason}


@dataclass(frozen=True)
class ConversionReport:
    """What `convert_model` did: one row per replaced layer, the layers it could not replace
    (`skipped`) and the transposed convolutions it keeps on purpose (`kept`: ConvTranspose1d/3d),
    with reasons."""

    method: str
    rows: tuple[ConversionRow, ...]
    skipped: tuple[Skipped, ...] = ()
    kept: tuple[Skipped, ...] = ()

    @property
    def count(self) -> int:
        return len(self.rows)

    @property
    def complete(self) -> bool:
        """True when every ConvTranspose2d was replaced (ConvTranspose1d/3d are in `kept`)."""
        return not self.skipped

    @property
    def max_relative_error(self) -> float:
        return max((row.relative_error for row in self.rows), default=0.0)

    def as_dict(self) -> dict:
        return {
            "method": self.method,
            "count": self.count,
            "max_relative_error": self.max_relative_error,
            "rows": [row.as_dict() for row in self.rows],
            "skipped": [s.as_dict() for s in self.skipped],
            "kept": [k.as_dict() for k in self.kept],
        }


@dataclass(frozen=True)
class FusionRow:
    """One nearest-Upsample + Conv2d pair fused into a ConvTranspose2d (exact)."""

    upsample_path: str
    conv_path: str
    before: str
    after: str

    def as_dict(self) -> dict:
        return {
            "upsample_path": self.upsample_path,
            "conv_path": self.conv_path,
            "before": self.before,
            "after": self.after,
        }


@dataclass(frozen=True)
class FusionReport:
    """What `fuse_model` did: the fused pairs (now at `upsample_path`), and pairs left alone."""

    rows: tuple[FusionRow, ...]
    skipped: tuple[Skipped, ...] = ()

    @property
    def count(self) -> int:
        return len(self.rows)

    def as_dict(self) -> dict:
        return {
            "count": self.count,
            "rows": [row.as_dict() for row in self.rows],
            "skipped": [s.as_dict() for s in self.skipped],
        }


def _join(parent: str, name: str) -> str:
    return f"{parent}.{name}" if parent else name


def _one_line(module: nn.Module) -> str:
    return " ".join(line.strip() for line in repr(module).splitlines())


def _check_model(model: object) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise ConfigError("model", f"model must be a torch.nn.Module, got {type(model).__name__}")
    return model


def _children_with_paths(model: nn.Module) -> Iterator[tuple[nn.Module, str, nn.Module, str]]:
    """(parent, name, child, path) for every parent-child link, shared modules at every path."""
    for parent_path, parent in model.named_modules(remove_duplicate=False):
        for name, child in parent._modules.items():
            if child is not None:
                yield parent, name, child, _join(parent_path, name)


def _matching(module: nn.Module, like: nn.Module) -> nn.Module:
    """Put `module` on the device and dtype of `like`'s weight, in the same train/eval mode."""
    weight = getattr(like, "weight", None)
    if weight is not None:
        module = module.to(device=weight.device, dtype=weight.dtype)
    return module.train(like.training)


_OTHER_TRANSPOSED = (nn.ConvTranspose1d, nn.ConvTranspose3d)


def _parametrized_conv_transpose(module: nn.Module) -> bool:
    """A plain ConvTranspose2d that torch.nn.utils.parametrize wrapped (spectral norm, ...)."""
    return parametrize.is_parametrized(module) and type(module).__bases__ == (nn.ConvTranspose2d,)


def _folded(layer: nn.ConvTranspose2d) -> nn.ConvTranspose2d:
    """A plain ConvTranspose2d holding a parametrized layer's computed weight and bias, read in
    eval mode: reading it in training mode would advance a spectral norm's power iteration)."""
    training = layer.training
    try:
        layer.train(False)
        with torch.no_grad():
            weight = layer.weight.detach().clone()
            bias = None if layer.bias is None else layer.bias.detach().clone()
    finally:
        layer.train(training)
    plain = nn.ConvTranspose2d(
        layer.in_channels,
        layer.out_channels,
        layer.kernel_size,  # type: ignore[arg-type]
        layer.stride,  # type: ignore[arg-type]
        layer.padding,  # type: ignore[arg-type]
        layer.output_padding,  # type: ignore[arg-type]
        layer.groups,
        bias is not None,
        layer.dilation,  # type: ignore[arg-type]
        layer.padding_mode,
        device=weight.device,
        dtype=weight.dtype,
    )
    with torch.no_grad():
        plain.weight.copy_(weight)
        if bias is not None:
            plain.bias.copy_(bias)
    return plain.train(training)


def _fold_note(layer: nn.Module) -> str:
    kinds = ", ".join(
        f"{name}: {', '.join(type(p).__name__ for p in chain)}"
        for name, chain in layer.parametrizations.items()  # type: ignore[union-attr]
    )
    return (
        f"parametrized ({kinds}): the parametrization is folded into the weights (computed "
        "weight, read in eval mode) and not carried; apply it to the new convolution to train "
        "on with it"
    )


def convert_model(
    model: nn.Module,
    method: str,
    *,
    replace: Replace | None = None,
    progress: Progress | None = None,
) -> tuple[nn.Module, ConversionReport]:
    """Replace every nn.ConvTranspose2d in a copy of `model`; return (copy, report).

    `method` is one of core.replacements.registry.METHODS: the exact ones (same outputs) and the
    resize ones, least-squares fits whose relative error is in the report. Under a resize method
    a stride-1 layer (an ordinary convolution) gets its exact sub-pixel equivalent; every
    ConvTranspose1d/3d is kept and listed in `report.kept`. A parametrized ConvTranspose2d
    (spectral norm) is replaced with its computed weight, the parametrization folded in (its
    row's note says so). Other subclasses of ConvTranspose2d (whose forward may differ) are left
    alone and listed in `report.skipped`, as are layers the replacement refuses. `replace`
    defaults to `core.replacements.weights.replace_conv_transpose` (a stand-in may be passed).

    `progress`, if given, is called as progress(done, total, path) after each transposed
    convolution is handled (replaced, kept or skipped), done = 1 .. total, where total is the
    number of distinct transposed convolutions (a shared layer counts once, at its first path)
    and path is where it was found ("" for the model itself): a page can draw a progress bar.
    An exception it raises stops the conversion; the model is left untouched either way.

    Args:
        model: the torch model (left untouched), or a single transposed convolution.
        method: one of core.replacements.registry.METHODS.
        replace: replace(layer, method) -> (module, relative_error); None for
            `core.replacements.weights.replace_conv_transpose`.
        progress: optional progress(done, total, path), called after each layer.

    Returns:
        (converted copy, `ConversionReport`): one row per replaced layer (path, before, after,
        method, exact, relative_error), and the layers skipped or kept, with reasons.

    Raises:
        ConfigError: for something that is not an nn.Module, an unknown method or a progress
            that is not callable; a layer the replacement refuses is skipped, not raised.

    Example:
        >>> _ = torch.manual_seed(0)  # the same weights every time
        >>> model = nn.Sequential(
        ...     nn.ConvTranspose2d(8, 4, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(4, 2, 4, 2, 1)
        ... )
        >>> converted, report = convert_model(model, "subpixel")
        >>> [(row.path, row.method, row.exact) for row in report.rows], report.complete
        ([('0', 'subpixel', True), ('2', 'subpixel', True)], True)
        >>> x = torch.randn(1, 8, 4, 4)
        >>> torch.allclose(converted(x), model(x), atol=1e-6)
        True
    """
    _check_model(model)
    registry.method(method)  # ConfigError for an unknown method
    if progress is not None and not callable(progress):
        raise ConfigError(
            "progress",
            f"progress must be a callable progress(done, total, path) or None, got "
            f"{type(progress).__name__}",
        )
    if replace is None:
        from core.replacements.weights import replace_conv_transpose as replace
    converted = copy.deepcopy(model)
    rows = _Rows(method, replace)
    if isinstance(converted, (nn.ConvTranspose2d, *_OTHER_TRANSPOSED)):
        new = rows.convert_one(converted, "")
        if progress is not None:
            progress(1, 1, "")
        return (converted if new is None else new), rows.report()
    _replace_children(converted, rows, progress)
    return converted, rows.report()


@dataclasses.dataclass
class _Rows:
    """What `convert_model` found so far: a row per replaced layer, the layers skipped or kept."""

    method: str
    replace: Replace
    rows: list[ConversionRow] = dataclasses.field(default_factory=list)
    skipped: list[Skipped] = dataclasses.field(default_factory=list)
    kept: list[Skipped] = dataclasses.field(default_factory=list)

    def report(self) -> ConversionReport:
        return ConversionReport(
            self.method, tuple(self.rows), tuple(self.skipped), tuple(self.kept)
        )

    def _plain(self, layer: nn.Module, path: str) -> tuple[nn.ConvTranspose2d, str] | None:
        """The plain ConvTranspose2d to replace (a parametrized one folded) and its note, or
        None for a layer that is kept (1D/3D) or skipped (a subclass), recorded as such."""
        if isinstance(layer, _OTHER_TRANSPOSED):
            kind = next(c.__name__ for c in _OTHER_TRANSPOSED if isinstance(layer, c))
            self.kept.append(Skipped(path, _one_line(layer), other_transposed_reason(kind)))
            return None
        if _parametrized_conv_transpose(layer):
            return _folded(layer), _fold_note(layer)  # type: ignore[arg-type]
        if type(layer) is nn.ConvTranspose2d:
            return layer, ""
        self.skipped.append(
            Skipped(
                path,
                _one_line(layer),
                f"{type(layer).__name__} subclasses ConvTranspose2d and may compute "
                "something else: left as it is",
            )
        )
        return None

    def convert_one(self, layer: nn.Module, path: str) -> nn.Module | None:
        """The replacement of one transposed convolution (a row), or None (skipped or kept)."""
        plain = self._plain(layer, path)
        if plain is None:
            return None
        original, note = plain
        try:
            used, method_note = method_for(TransposedConv.from_module(original), self.method)
            new, error = self.replace(original, used)
        except ConfigError as exc:
            self.skipped.append(Skipped(path, _one_line(layer), exc.message))
            return None
        new = _matching(new, original)
        self.rows.append(
            ConversionRow(
                path,
                _one_line(layer),
                _one_line(new),
                used,
                registry.method(used).exact,
                float(error),
                note="; ".join(filter(None, [method_note, note])),
            )
        )
        return new


def _replace_children(converted: nn.Module, rows: _Rows, progress: Progress | None) -> None:
    """Swap every transposed convolution inside `converted` (in place) for its replacement; a
    layer shared by several parents is converted once, its row listing every path."""
    links = [
        link
        for link in _children_with_paths(converted)
        if isinstance(link[2], (nn.ConvTranspose2d, *_OTHER_TRANSPOSED))
    ]
    replaced: dict[int, nn.Module | None] = {}  # id(original layer) -> replacement or None
    row_of: dict[int, int] = {}  # id(original layer) -> index in rows
    total = len({id(link[2]) for link in links})
    for parent, name, child, path in links:
        if id(child) not in replaced:
            count = len(rows.rows)
            replaced[id(child)] = rows.convert_one(child, path)
            if len(rows.rows) > count:
                row_of[id(child)] = count
            if progress is not None:
                progress(len(replaced), total, path)
        elif id(child) in row_of:  # a shared layer met again: same replacement, same row
            index = row_of[id(child)]
            row = rows.rows[index]
            rows.rows[index] = dataclasses.replace(row, also_at=(*row.also_at, path))
        new = replaced[id(child)]
        if new is not None:
            parent._modules[name] = new


def _is_nearest_upsample(module: nn.Module) -> bool:
    return isinstance(module, nn.Upsample) and module.mode in ("nearest", "nearest-exact")


def fuse_model(model: nn.Module, *, fuse: Fuse | None = None) -> tuple[nn.Module, FusionReport]:
    """Fuse every nearest Upsample followed directly by a Conv2d (in a Sequential) into one
    ConvTranspose2d, in a copy of `model`; return (copy, report).

    The fused layer takes the Upsample's name and the Conv2d's entry is removed, so the other
    entries keep their names (and state_dict keys). Pairs that `fuse_resize_conv` refuses (for
    example a `size=` upsample or a reflect-padded conv) are left alone and listed in
    `report.skipped`.

    Args:
        model: the torch model (left untouched).
        fuse: fuse(upsample, conv) -> nn.ConvTranspose2d; None for
            `core.replacements.weights.fuse_resize_conv`.

    Returns:
        (fused copy, `FusionReport`): one row per fused pair, and the pairs left alone, with
        reasons.

    Raises:
        ConfigError: for something that is not an nn.Module.

    Example:
        >>> _ = torch.manual_seed(0)  # the same weights every time
        >>> model = nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(8, 4, 3, padding=1))
        >>> fused, report = fuse_model(model)
        >>> fused
        Sequential(
          (0): ConvTranspose2d(8, 4, kernel_size=(4, 4), stride=(2, 2), padding=(1, 1))
        )
        >>> x = torch.randn(1, 8, 4, 4)
        >>> report.count, torch.allclose(fused(x), model(x), atol=1e-6)
        (1, True)
    """
    _check_model(model)
    if fuse is None:
        from core.replacements.weights import fuse_resize_conv as fuse
    fused_model = copy.deepcopy(model)
    rows: list[FusionRow] = []
    skipped: list[Skipped] = []
    done: set[int] = set()
    for path, seq in list(fused_model.named_modules(remove_duplicate=False)):
        if not isinstance(seq, nn.Sequential) or id(seq) in done:
            continue
        done.add(id(seq))
        items = list(seq._modules.items())
        i = 0
        while i < len(items) - 1:
            (up_name, up), (conv_name, conv) = items[i], items[i + 1]
            if not (_is_nearest_upsample(up) and type(conv) is nn.Conv2d):
                i += 1
                continue
            before = f"{_one_line(up)} + {_one_line(conv)}"
            try:
                layer = fuse(up, conv)
            except ConfigError as exc:
                skipped.append(Skipped(_join(path, up_name), before, exc.message))
                i += 1
                continue
            layer = _matching(layer, conv)
            seq._modules[up_name] = layer
            del seq._modules[conv_name]
            rows.append(
                FusionRow(_join(path, up_name), _join(path, conv_name), before, _one_line(layer))
            )
            i += 2
    order = {path: i for i, (path, _) in enumerate(model.named_modules())}
    rows.sort(key=lambda row: order.get(row.upsample_path, len(order)))
    skipped.sort(key=lambda item: order.get(item.path, len(order)))
    return fused_model, FusionReport(tuple(rows), tuple(skipped))
