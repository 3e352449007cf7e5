"""Fuzzing `python -m core`: random argv in-process through `core.cli.main`.

Whatever the arguments (junk flags, huge or negative numbers, unicode, newlines), the exit status
is 0 or 2; on 2 stderr is exactly one line and never a traceback; nothing hangs.
"""

from __future__ import annotations

import contextlib
import io

import pytest
from fuzz_support import call_guarded
from hypothesis import given, settings
from hypothesis import strategies as st

from core.cli import main

FLAGS = [
    "--in-channels",
    "--out-channels",
    "--kernel-size",
    "--stride",
    "--padding",
    "--output-padding",
    "--dilation",
    "--groups",
    "--no-bias",
    "--input-size",
    "--json",
    "--code",
    "--max-kernel",
    "--max-stride",
    "--max-dilation",
    "--limit",
    "--filters",
    "--strides",
    "--dilation-rate",
    "--kernel",  # an abbreviation argparse may accept
    "--inp",
    "--",
    "-",
    "-k",
    "--kernel-size=4",
    "--input-size=",
    "--bogus",
    "-h",
]
NUMBERS = [
    "0",
    "1",
    "2",
    "3",
    "4",
    "16",
    "-1",
    "-4",
    "1048576",
    "1048577",
    "65536",
    str(2**62),
    str(-(2**62)),
    str(2**64),
    "9" * 400,  # past Python's default int-string limit for long strings? (4300 digits)
    "9" * 5000,
    "1e3",
    "0x10",
    "4.0",
    "٣",  # ARABIC-INDIC DIGIT THREE: int() accepts it
    "３",  # FULLWIDTH DIGIT THREE
    " 4",
    "",
    "nan",
]
JUNK = [
    "valid",
    "same",
    "solve",
    "keras",
    "é",
    "🙂",
    "a\nb",
    "--x\ny",
    "\x00",
    "--json\n",
    "'",
    '"',
    "\\",
]

tokens = st.one_of(
    st.sampled_from(FLAGS),
    st.sampled_from(NUMBERS),
    st.sampled_from(NUMBERS),
    st.sampled_from(JUNK),
    st.integers().map(str),
    st.text(max_size=6),
)


def run_main(argv: list[str]) -> tuple[int, str, str]:
    """main(argv) with stdout and stderr captured; SystemExit is turned into its status."""
    out, err = io.StringIO(), io.StringIO()

    def call() -> int:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                return main(argv)
            except SystemExit as exc:
                return exc.code if isinstance(exc.code, int) else 1

    status, _ = call_guarded(call)
    return status, out.getvalue(), err.getvalue()


def check_run(argv: list[str]) -> tuple[int, str, str]:
    status, out, err = run_main(argv)
    assert status in (0, 2), f"main({argv!r}) exited {status}: {err!r}"
    lines = (err + out).splitlines()
    assert not any(line.startswith("Traceback") for line in lines), f"main({argv!r}): {err!r}"
    if status == 2:
        assert err.endswith("\n") and err.count("\n") == 1, (
            f"main({argv!r}) must write exactly one stderr line on status 2, got {err!r}"
        )
        assert not out, f"main({argv!r}) wrote to stdout on failure: {out[:200]!r}"
    return status, out, err


@given(
    first=st.sampled_from(["", "solve", "keras", "--kernel-size"]),
    rest=st.lists(tokens, max_size=14),
)
@settings(max_examples=300)
def test_random_argv(first, rest):
    check_run(([first] if first else []) + rest)


layer_flags = st.sampled_from(FLAGS[:12])
values = st.lists(st.sampled_from(NUMBERS), min_size=1, max_size=3)


@given(pairs=st.lists(st.tuples(layer_flags, values), max_size=8))
@settings(max_examples=200)
def test_layer_command_flag_value_pairs(pairs):
    argv = ["--kernel-size", "4"]
    for flag, vals in pairs:
        argv += [flag, *vals]
    check_run(argv)


@given(
    sizes=st.lists(st.sampled_from(NUMBERS), min_size=0, max_size=70),
    options=st.lists(st.tuples(st.sampled_from(FLAGS[12:16]), st.sampled_from(NUMBERS))),
)
@settings(max_examples=150)
def test_solve_command(sizes, options):
    argv = ["solve", *sizes]
    for flag, value in options:
        argv += [flag, value]
    check_run(argv)


@given(
    pairs=st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "--filters",
                    "--in-channels",
                    "--kernel-size",
                    "--strides",
                    "--padding",
                    "--output-padding",
                    "--dilation-rate",
                    "--input-size",
                ]
            ),
            st.lists(st.sampled_from([*NUMBERS, "valid", "same", "full"]), min_size=1, max_size=3),
        ),
        max_size=8,
    )
)
@settings(max_examples=150)
def test_keras_command(pairs):
    argv = ["keras"]
    for flag, vals in pairs:
        argv += [flag, *vals]
    check_run(argv)


@pytest.mark.parametrize(
    "argv",
    [
        ["--kernel-size", "4", "--input-size", "1048576", "1048576", "--stride", "8"],
        ["--kernel-size", "16", "--stride", "8", "--input-size", "1048576", "--json"],
        ["--kernel-size", "3", "--input-size", "1", "1", "1", "--code", str(2**62)],
        [
            "--kernel-size",
            "4",
            "--in-channels",
            "1048576",
            "--out-channels",
            "1048576",
            "--groups",
            "1048576",
        ],
        ["solve", *["65536"] * 64, "--max-kernel", "16", "--max-stride", "16"],
        ["solve", "1", "65536", "--limit", str(2**62)],
        [
            "keras",
            "--filters",
            "1048576",
            "--in-channels",
            "1",
            "--kernel-size",
            "1048576",
            "--input-size",
            "1048576",
            "1048576",
        ],
        ["--kernel-size", "4", "--bogus\nsecond line"],
        ["--kernel-size", "4", "--x\ny"],  # unrecognized: argparse echoes it verbatim
        ["--kernel-size", "4", "--input-size", "4", "4", "--", "a\r\nb"],
        ["solve", "4", "8\n9"],
        [
            "keras",
            "--filters",
            "1",
            "--in-channels",
            "1",
            "--kernel-size",
            "3",
            "--padding",
            "same\nTraceback (most recent call last)",
        ],
        ["--kernel-size", "9" * 5000],
        ["--kernel-size", "4", "--input-size", "16", "16", "--code", "1"],
    ],
    ids=lambda argv: " ".join(argv)[:40],
)
def test_hostile_argv(argv):
    check_run(argv)


def test_help_exits_zero():
    status, out, _ = run_main(["--help"])
    assert status == 0 and "--kernel-size" in out
