"""The replacement methods: one record per method, holding everything Deconv Lab knows about it.

Every list of methods and every per-method choice reads these records: the catalog's entries and
ranking (`core.replacements.catalog`), the weight transfer (`core.replacements.weights`), the
overlap maps (`core.overlap.replacement_maps`), the converters (`core.converter`), the converter
page's help and the generator's choices. `method(name)` is the one check of a method name.

Plain Python: a record names its torch module builder and its overlap map as "module:attribute"
strings, imported when first used, so importing the registry imports neither torch nor numpy.

Adding a method:
1. write its per-axis geometry (`core.replacements.plan`), its code (`core.replacements.codegen`)
   and its catalog builder (`core.replacements.entries`);
2. write its overlap map (`core.overlap.replacement_maps`), its picture
   (`core.replacements.pipelines`) and, for an exact method, the builder of its torch module
   (`core.replacements.modules`) and where its conv holds the original's taps; a resize method
   needs only a mode that `plan.RESIZE_MODES` knows, as its weights are fitted
   (`core.replacements.weights`);
3. add its record to RECORDS below: their order ranks otherwise equal catalog entries.
`tests/test_registry.py` then checks it like every other method.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from core.errors import ConfigError
from core.geometry.layer import TransposedConv
from core.replacements import codegen
from core.replacements.entries import (
    Replacement,
    resize_entries,
    subpixel_entries,
    zero_insertion_entries,
)
from core.replacements.plan import RESIZE_MODES

# (record, layer, input size (H, W), output size (H, W), whether the code states shapes)
CatalogBuilder = Callable[
    ["Method", TransposedConv, tuple[int, int], tuple[int, int], bool], tuple[Replacement, ...]
]


def load(reference: str) -> Any:
    """The object a "package.module:attribute.path" reference names, importing its module.

    Args:
        reference: e.g. "core.replacements.modules:SubPixelConvTranspose2d.from_conv_transpose".

    Returns:
        The attribute, looked up now (so a patched attribute is found).
    """
    module, _, path = reference.partition(":")
    found: Any = importlib.import_module(module)
    for name in path.split("."):
        found = getattr(found, name)
    return found


@dataclass(frozen=True)
class Method:
    """One way to replace a ConvTranspose2d.

    name: what the APIs, links and pages call it.
    label: how its catalog entries' names begin ("sub-pixel Conv2d 3x3 + PixelShuffle(2)").
    help: one line for the converter page's method picker.
    exact: whether its outputs equal the original's, borders included (else: the same size).
    resize_mode: the Upsample mode of a resize-convolution (one of plan.RESIZE_MODES), whose
        weights are a least-squares fit; None for the others.
    catalog: makes its `Replacement` entries for a 2D layer (see CatalogBuilder).
    overlap: "module:function" of its overlap map, (layer, input_size, kernel_size) -> counts.
    module: "module:callable" building its torch module, weights included, from an
        nn.ConvTranspose2d; None for a resize method, which the fit builds.
    pipeline: "module:function" drawing it as it runs, stage by stage,
        (record, layer, input_size, image, kernel) -> core.replacements.pipelines.Pipeline.
    expression: writes it in place of one call of a user's file (channel expressions kept),
        (record, layer, in_channels text, out_channels text, extra keywords) ->
        core.replacements.codegen.Expression.
    taps: "module:function" saying, per axis, which of its conv's taps carry the original's
        (axis, input size, output position, [(input, original tap)]) -> [(input, tap, weight)];
        None for a resize method (its taps come from its own geometry).
    """

    name: str
    label: str
    help: str
    exact: bool
    resize_mode: str | None
    catalog: CatalogBuilder
    overlap: str
    module: str | None
    pipeline: str
    expression: Callable[..., Any]
    taps: str | None

    def entries(
        self, layer: TransposedConv, sizes: tuple[int, int], out: tuple[int, int], show: bool
    ) -> tuple[Replacement, ...]:
        """Its catalog entries for a 2D layer.

        Args:
            layer: the layer.
            sizes: its input size (H, W), for which the costs are counted.
            out: its output size for `sizes`.
            show: whether the entries' code states the shapes.

        Returns:
            The entries (none where the method offers none for this layer).
        """
        return self.catalog(self, layer, sizes, out, show)

    def overlap_map(
        self,
        layer: TransposedConv,
        input_size: int | Sequence[int],
        kernel_size: int | Sequence[int] | None = None,
    ) -> Any:
        """Its overlap map for `layer` (numpy counts), built the way it runs.

        Args:
            layer: the layer replaced.
            input_size: the layer's input size.
            kernel_size: the conv kernel of a resize-convolution (None: the matched kernel);
                exact methods follow the layer.

        Returns:
            The counts, of the layer's output size.
        """
        return load(self.overlap)(layer, input_size, kernel_size)

    def build_module(self, layer: Any) -> Any:
        """Its torch module for an nn.ConvTranspose2d, weights included (exact methods).

        Args:
            layer: the nn.ConvTranspose2d.

        Returns:
            The module, on the layer's device and dtype.
        """
        if self.module is None:
            raise TypeError(f"{self.name} has no module builder: its weights are fitted")
        return load(self.module)(layer)


RECORDS = (
    Method(
        name="subpixel",
        label="sub-pixel",
        help="exact: Conv2d at input resolution + PixelShuffle",
        exact=True,
        resize_mode=None,
        catalog=subpixel_entries,
        overlap="core.overlap.replacement_maps:subpixel_overlap",
        module="core.replacements.modules:SubPixelConvTranspose2d.from_conv_transpose",
        pipeline="core.replacements.pipelines:subpixel_view",
        expression=codegen.subpixel_expression,
        taps="core.replacements.pipelines:subpixel_slots",
    ),
    Method(
        name="zero-insertion",
        label="zero insertion",
        help="exact: zero insertion + Conv2d",
        exact=True,
        resize_mode=None,
        catalog=zero_insertion_entries,
        overlap="core.overlap.replacement_maps:zero_insertion_overlap",
        module="core.replacements.modules:ZeroInsertionConvTranspose2d.from_conv_transpose",
        pipeline="core.replacements.pipelines:zero_insertion_view",
        expression=codegen.zero_insertion_expression,
        taps="core.replacements.pipelines:zero_insertion_taps",
    ),
    *(
        Method(
            name=f"resize-{mode}",
            label=mode,
            help=f"artifact-free: {mode} Upsample + Conv2d, same size",
            exact=False,
            resize_mode=mode,
            catalog=resize_entries,
            overlap="core.overlap.replacement_maps:resize_overlap",
            module=None,
            pipeline="core.replacements.pipelines:resize_view",
            expression=codegen.resize_expression,
            taps=None,
        )
        for mode in RESIZE_MODES
    ),
)
METHODS = tuple(record.name for record in RECORDS)
EXACT_METHODS = tuple(record.name for record in RECORDS if record.exact)
RESIZE_METHODS = tuple(record.name for record in RECORDS if record.resize_mode is not None)
# The method every page and API starts from: artifact-free and cheap (nearest Upsample + Conv2d).
DEFAULT_METHOD = "resize-nearest"
# A stride-1 layer is an ordinary convolution: a resize method (an upsampling by 1 would change
# nothing) rewrites it exactly with this one (`core.converter.text_conversion.method_for`).
STRIDE_ONE_METHOD = "subpixel"
_BY_NAME = {record.name: record for record in RECORDS}


def method(name: object) -> Method:
    """The record of a method: the one check of a method name, for every API and page.

    Args:
        name: a method name, as given (any object).

    Returns:
        Its `Method` record.

    Raises:
        ConfigError: (parameter "method") naming the methods, for anything else.

    Example:
        >>> record = method("subpixel")
        >>> record.exact, record.resize_mode, method("resize-nearest").resize_mode
        (True, None, 'nearest')
        >>> method("deconv")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        core.errors.ConfigError: method must be one of subpixel, zero-insertion, ...; got 'deconv'
    """
    found = _BY_NAME.get(name) if isinstance(name, str) else None
    if found is None:
        raise ConfigError(
            "method", f"method must be one of {', '.join(METHODS)}; got {name!r}"[:300]
        )
    return found
