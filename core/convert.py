"""Convert a live model: replace every ConvTranspose2d, or fuse every nearest-Upsample + Conv2d.

`convert_model(model, method)` deep-copies the model and swaps each `nn.ConvTranspose2d` found
anywhere in it (nested modules, Sequentials, ModuleLists, ModuleDicts, plain attributes) for
`core.weights.replace_conv_transpose(layer, method)`, which carries the trained weights. A layer
shared by several parents is replaced once and stays shared. The original model is untouched.

`fuse_model(model)` does the reverse for deployment: every nearest `Upsample` directly followed
by a `Conv2d` in a Sequential becomes one `ConvTranspose2d` (`core.weights.fuse_resize_conv`),
which computes the same thing with less memory and fewer multiply-adds.

Both return a report with one row per layer changed and the layers left alone with the reason.
Limits: only what the module tree shows is seen. A ConvTranspose2d called with `output_size=`
in a custom forward, or an upsample done with `F.interpolate`, is invisible here.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from torch import nn

from core.errors import ConfigError
from core.replacements import METHODS

EXACT_METHODS = ("subpixel", "zero-insertion")  # outputs equal the original's
# METHODS: "subpixel", "zero-insertion", "resize-nearest", "resize-bilinear", "resize-bicubic"

Replace = Callable[[nn.ConvTranspose2d, str], "tuple[nn.Module, float]"]
Fuse = Callable[[nn.Module, nn.Conv2d], nn.ConvTranspose2d]


@dataclass(frozen=True)
class ConversionRow:
    """One replaced ConvTranspose2d: where it was, what it was, what it became."""

    path: str  # as in named_modules(); "" when the model itself was the layer
    before: str
    after: str
    method: str
    exact: bool
    relative_error: float  # ||A - B|| / ||A|| of the two linear maps (~0 for exact methods)
    also_at: tuple[str, ...] = ()  # further paths of the same (shared) module

    def as_dict(self) -> dict:
        return {
            "path": self.path,
            "before": self.before,
            "after": self.after,
            "method": self.method,
            "exact": self.exact,
            "relative_error": self.relative_error,
            "also_at": list(self.also_at),
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
    """What `convert_model` did: one row per replaced layer, and what it left alone."""

    method: str
    rows: tuple[ConversionRow, ...]
    skipped: tuple[Skipped, ...] = ()

    @property
    def count(self) -> int:
        return len(self.rows)

    @property
    def complete(self) -> bool:
        """True when no ConvTranspose2d was left in place."""
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


def _check_method(method: object) -> str:
    if method not in METHODS:
        raise ConfigError(
            "method", f"method must be one of {', '.join(METHODS)}; got {method!r}"[:300]
        )
    return method  # type: ignore[return-value]


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


def convert_model(
    model: nn.Module, method: str, *, replace: Replace | None = None
) -> tuple[nn.Module, ConversionReport]:
    """Replace every nn.ConvTranspose2d in a copy of `model`; return (copy, report).

    `method` is one of METHODS: "subpixel" and "zero-insertion" are exact (same outputs);
    "resize-nearest", "resize-bilinear" and "resize-bicubic" are least-squares fits whose
    relative error is in the report. Subclasses of ConvTranspose2d (whose forward may differ)
    are left alone and listed in `report.skipped`, as are layers the replacement refuses.
    `replace` defaults to `core.weights.replace_conv_transpose` (a stand-in may be passed).
    """
    _check_model(model)
    _check_method(method)
    if replace is None:
        from core.weights import replace_conv_transpose as replace
    converted = copy.deepcopy(model)

    def swap(layer: nn.ConvTranspose2d) -> tuple[nn.Module, float]:
        new, error = replace(layer, method)
        return _matching(new, layer), float(error)

    rows: list[ConversionRow] = []
    skipped: list[Skipped] = []
    if type(converted) is nn.ConvTranspose2d:
        try:
            new, error = swap(converted)
        except ConfigError as exc:
            skipped.append(Skipped("", _one_line(converted), exc.message))
            return converted, ConversionReport(method, (), tuple(skipped))
        rows.append(
            ConversionRow(
                "", _one_line(converted), _one_line(new), method, method in EXACT_METHODS, error
            )
        )
        return new, ConversionReport(method, tuple(rows))

    links = [
        link for link in _children_with_paths(converted) if isinstance(link[2], nn.ConvTranspose2d)
    ]
    replaced: dict[int, nn.Module | None] = {}  # id(original layer) -> replacement or None
    row_of: dict[int, int] = {}  # id(original layer) -> index in rows
    for parent, name, child, path in links:
        if id(child) not in replaced:
            new, reason = None, ""
            if type(child) is not nn.ConvTranspose2d:
                reason = (
                    f"{type(child).__name__} subclasses ConvTranspose2d and may compute "
                    "something else: left as it is"
                )
            else:
                try:
                    new, error = swap(child)
                except ConfigError as exc:
                    reason = exc.message
            replaced[id(child)] = new
            if new is None:
                skipped.append(Skipped(path, _one_line(child), reason))
                continue
            row_of[id(child)] = len(rows)
            rows.append(
                ConversionRow(
                    path, _one_line(child), _one_line(new), method, method in EXACT_METHODS, error
                )
            )
        elif id(child) in row_of:  # a shared layer met again: same replacement, same row
            row = rows[row_of[id(child)]]
            rows[row_of[id(child)]] = dataclasses.replace(row, also_at=(*row.also_at, path))
        new = replaced[id(child)]
        if new is not None:
            parent._modules[name] = new
    return converted, ConversionReport(method, tuple(rows), tuple(skipped))


def _is_nearest_upsample(module: nn.Module) -> bool:
    return isinstance(module, nn.Upsample) and module.mode in ("nearest", "nearest-exact")


def fuse_model(model: nn.Module, *, fuse: Fuse | None = None) -> tuple[nn.Module, FusionReport]:
    """Fuse every nearest Upsample followed directly by a Conv2d (in a Sequential) into one
    ConvTranspose2d, in a copy of `model`; return (copy, report).

    The fused layer takes the Upsample's name and the Conv2d's entry is removed, so the other
    entries keep their names (and state_dict keys). Pairs that `fuse_resize_conv` refuses (for
    example a `size=` upsample or a reflect-padded conv) are left alone and listed in
    `report.skipped`. `fuse` defaults to `core.weights.fuse_resize_conv`.
    """
    _check_model(model)
    if fuse is None:
        from core.weights import fuse_resize_conv as fuse
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
