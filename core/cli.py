"""`python -m core`: the geometry engine from the shell.

    python -m core --in-channels 64 --out-channels 32 --kernel-size 4 --stride 2 --padding 1 \\
        --input-size 16 16 [--json] [--code N]
    python -m core solve 4 8 16 32 64 [--json]
    python -m core keras --filters 32 --kernel-size 3 --strides 2 --padding same \\
        --in-channels 64 --input-size 16 16 [--json]
    python -m core convert-source model.py --method resize-nearest [--write] [--json]

Bad input exits with status 2 and one line on stderr; nothing here imports torch.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from core.errors import ConfigError
from core.geometry.layer import SPATIAL_NAMES, TransposedConv
from core.parsing import parse_int

PROG = "python -m core"


def _one_line(text: str) -> str:
    """`text` with line breaks and other control characters escaped, so an error stays one line
    (argparse echoes unrecognized arguments verbatim, and they may hold newlines)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {_one_line(message)} (see --help)\n")
        raise SystemExit(2)


def integer(name: str) -> Callable[[str], int]:
    """An argparse type for the parameter `name`: `core.parsing.parse_int`, whose message (in
    plain words, naming the parameter) argparse prints after the flag."""

    def parse(text: str) -> int:
        try:
            return parse_int(text, name)
        except ConfigError as err:
            raise argparse.ArgumentTypeError(err.message) from None

    return parse


def _flag_name(flag: str) -> str:
    """'--kernel-size' -> 'kernel_size', the parameter's name in messages."""
    return flag.lstrip("-").replace("-", "_")


def _int(parser: argparse.ArgumentParser, flag: str, **kwargs: Any) -> None:
    parser.add_argument(flag, type=integer(_flag_name(flag)), **kwargs)


def _ints(
    parser: argparse.ArgumentParser, flag: str, default: list[int] | None, help_: str
) -> None:
    _int(parser, flag, nargs="+", default=default, metavar="N", help=help_)


def _one_or_all(values: list[int] | None, name: str, ndim: int) -> int | tuple[int, ...] | None:
    if values is None:
        return None
    if len(values) == 1:
        return values[0]
    if len(values) != ndim:
        flag = f"--{name.replace('_', '-')}"
        raise ConfigError(
            name,
            f"{flag} takes one value, or one per axis of --input-size ({ndim}), "
            f"got {len(values)}: give {flag} N"
            + ("" if ndim == 1 else f" or {ndim} values")
            + ", or change --input-size",
        )
    return tuple(values)


def _layer_parser() -> _Parser:
    p = _Parser(
        prog=PROG,
        description="Report a ConvTranspose layer: output size step by step, "
        "kernel overlap and every replacement. Subcommands: solve, keras.",
    )
    _int(p, "--in-channels", default=1)
    _int(p, "--out-channels", default=1)
    _ints(p, "--kernel-size", None, "one int, or one per axis (H W)")
    _ints(p, "--stride", [1], "one int, or one per axis")
    _ints(p, "--padding", [0], "one int, or one per axis")
    _ints(p, "--output-padding", [0], "one int, or one per axis")
    _ints(p, "--dilation", [1], "one int, or one per axis")
    _int(p, "--groups", default=1)
    p.add_argument("--no-bias", action="store_true", help="bias=False")
    _ints(p, "--input-size", [16, 16], "spatial input size: L, H W or D H W (default 16 16)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    _int(p, "--code", metavar="N", help="print the code of replacement N")
    return p


def _run_layer(argv: Sequence[str]) -> str:
    from core.report import check_ndim, format_report, layer_report

    args = _layer_parser().parse_args(argv)
    if args.kernel_size is None:
        raise ConfigError("kernel_size", "--kernel-size is required, e.g. --kernel-size 4")
    ndim = check_ndim(args.input_size)
    spatial = {name: _one_or_all(getattr(args, name), name, ndim) for name in SPATIAL_NAMES}
    layer = TransposedConv.make(
        args.in_channels,
        args.out_channels,
        groups=args.groups,
        bias=not args.no_bias,
        ndim=ndim,
        **spatial,
    )
    report = layer_report(layer, tuple(args.input_size))
    if args.code is not None:
        options = report["replacements"]
        if not options:
            raise ConfigError("code", f"--code: {report['replacements_note']}")
        if not 1 <= args.code <= len(options):
            raise ConfigError(
                "code", f"--code must be between 1 and {len(options)}, got {args.code}"
            )
        return options[args.code - 1]["code"]
    return json.dumps(report) if args.json else format_report(report)


def _run_solve(argv: Sequence[str]) -> str:
    from core.geometry.solver import solve_chain

    p = _Parser(
        prog=f"{PROG} solve",
        description="ConvTranspose configs that take each size to "
        "the next (one layer per step, the same config repeated).",
    )
    _int(p, "sizes", nargs="+", help="e.g. 7 28, or a chain 4 8 16 32 64")
    _int(p, "--max-kernel", default=8)
    _int(p, "--max-stride", default=8)
    _int(p, "--max-dilation", default=3)
    _int(p, "--limit", default=10, help="rows to print (text form)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    found = solve_chain(
        args.sizes,
        max_kernel=args.max_kernel,
        max_stride=args.max_stride,
        max_dilation=args.max_dilation,
    )
    if args.json:
        return json.dumps({"sizes": args.sizes, "solutions": [s.as_dict() for s in found]})
    chain = " -> ".join(map(str, args.sizes))
    if not found:
        return f"No ConvTranspose config within the bounds maps {chain}."
    lines = [f"{len(found)} configs map {chain} (best first):"]
    for s in found[: max(args.limit, 1)]:
        extra = f", dilation={s.dilation}" if s.dilation != 1 else ""
        extra += f", output_padding={s.output_padding}" if s.output_padding else ""
        lines.append(
            f"  kernel_size={s.kernel_size}, stride={s.stride}, padding={s.padding}"
            f"{extra}   # {s.notes}"
        )
    return "\n".join(lines)


def _run_keras(argv: Sequence[str]) -> str:
    from core.geometry.keras import from_keras

    p = _Parser(prog=f"{PROG} keras", description="Translate keras Conv2DTranspose to torch.")
    _int(p, "--filters", required=True)
    _int(p, "--in-channels", required=True)
    _ints(p, "--kernel-size", None, "one int or two (H W)")
    _ints(p, "--strides", [1], "one int or two")
    p.add_argument("--padding", default="valid", help="valid or same")
    _ints(p, "--output-padding", None, "one int or two (default: None, as in Keras)")
    _ints(p, "--dilation-rate", [1], "one int or two")
    _ints(p, "--input-size", None, "H W (optional): also print the output size")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    if args.kernel_size is None:
        raise ConfigError("kernel_size", "--kernel-size is required, e.g. --kernel-size 3")
    spatial = {
        n: _one_or_all(getattr(args, n), n, 2)
        for n in ("kernel_size", "strides", "output_padding", "dilation_rate")
    }
    size = _one_or_all(args.input_size, "input_size", 2)
    t = from_keras(
        args.filters, padding=args.padding, in_channels=args.in_channels, input_size=size, **spatial
    )
    if args.json:
        return json.dumps(t.as_dict())
    lines = [f"# torch equivalent of keras Conv2DTranspose({args.filters}, ...)"]
    if t.output_size:
        lines.append(f"# output size {' x '.join(map(str, t.output_size))}")
    lines += [f"# {n}" for n in t.notes]
    return "\n".join(lines) + "\n" + t.code()


def _run_convert_source(argv: Sequence[str]) -> str:
    from core.converter.source_conversion import MAX_SOURCE_CHARS, convert_source
    from core.replacements.registry import METHODS

    p = _Parser(
        prog=f"{PROG} convert-source",
        description="Rewrite every nn.ConvTranspose2d call of a model's .py file with a "
        "replacement (the file is parsed, never run). Prints a unified diff; --write rewrites "
        "the file in place, like a formatter.",
    )
    p.add_argument("path", help="the .py file that defines the model")
    p.add_argument("--method", required=True, choices=METHODS)
    p.add_argument("--write", action="store_true", help="rewrite the file in place")
    p.add_argument(
        "--weight-code",
        action="store_true",
        help="print the snippet that carries a trained original model's weights (exact methods)",
    )
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    path = Path(args.path)
    try:
        if path.stat().st_size > 4 * MAX_SOURCE_CHARS:
            raise ConfigError(
                "source",
                f"{args.path} is larger than {4 * MAX_SOURCE_CHARS:,} bytes: convert the "
                "file that defines the model",
            )
        source = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError("source", f"no file {args.path!r}: give the path of a .py file") from None
    except (IsADirectoryError, PermissionError, OSError) as err:
        raise ConfigError("source", f"cannot read {args.path!r}: {err.strerror}") from None
    try:
        text = source.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError("source", f"{args.path} is not UTF-8 text: give a .py file") from None
    try:
        result = convert_source(text, args.method, name=args.path)
    except ConfigError as err:  # name the file, as the "not converted" lines do
        raise ConfigError(err.parameter, f"{args.path}: {err.message}") from None
    if args.json:
        return json.dumps(result.as_dict())
    summary = _convert_summary(result, args.path)
    if args.write and result.diff:
        path.write_text(result.new_source, encoding="utf-8")
        return summary + f"\n{args.path} rewritten."
    sys.stderr.write(summary + "\n")
    if args.weight_code:
        if result.weight_code:
            return result.weight_code
        if not result.converted:
            return "# no ConvTranspose2d call was rewritten: no weights to carry"
        return "# a resize method is another operator: its weights are fitted, not copied"
    return result.diff


def _convert_summary(result: Any, path: str) -> str:
    done = result.converted
    lines = [
        f"{path}: {done} of {len(result.calls)} ConvTranspose2d calls rewritten ({result.method})"
    ]
    for call in result.calls:
        if not call.converted:
            lines.append(f"{path}:{call.line}:{call.column}: not converted: {call.reason}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (0 ok, 2 bad input)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {"solve": _run_solve, "keras": _run_keras, "convert-source": _run_convert_source}
    run, rest = (
        (commands[argv[0]], argv[1:]) if argv and argv[0] in commands else (_run_layer, argv)
    )
    try:
        text = run(rest)
    except ConfigError as e:
        sys.stderr.write(f"{PROG}: error: {_one_line(str(e))}\n")
        return 2
    sys.stdout.write(text.rstrip("\n") + "\n")
    return 0
