"""`python -m core`: text and JSON reports agree with torch; bad input exits 2 with one line."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests_paths import ROOT
from torch_oracle import torch_output_size

from core.cli import main


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "core", *args], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def test_text_report_shows_arithmetic_and_replacements():
    r = run_cli(
        "--in-channels",
        "64",
        "--out-channels",
        "32",
        "--kernel-size",
        "4",
        "--stride",
        "2",
        "--padding",
        "1",
        "--input-size",
        "16",
        "16",
    )
    assert r.returncode == 0, r.stderr
    assert "input 16 x 16  ->  output 32 x 32" in r.stdout
    assert "H: (16 - 1)*2 - 2*1 + 1*(4 - 1) + 0 + 1 = 32" in r.stdout
    assert "Replacements (best first):" in r.stdout


def test_json_report_has_sizes_steps_replacements_overlap():
    r = run_cli(
        "--kernel-size",
        "3",
        "--stride",
        "2",
        "--padding",
        "1",
        "--output-padding",
        "1",
        "--input-size",
        "8",
        "5",
        "--json",
    )
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["output_size"] == list(
        torch_output_size(
            {
                "in_channels": 1,
                "out_channels": 1,
                "kernel_size": 3,
                "stride": 2,
                "padding": 1,
                "output_padding": 1,
            },
            (8, 5),
        )
    )
    assert [s["axis"] for s in report["steps"]] == ["H", "W"]
    names = {r["name"] for r in report["replacements"]}
    assert len(names) == len(report["replacements"]) >= 3
    for rep in report["replacements"]:
        assert {"name", "exact", "code", "params", "macs"} <= rep.keys()
    assert len(report["overlap"]) == report["output_size"][0]
    assert len(report["overlap"][0]) == report["output_size"][1]
    assert report["overlap_ratio"] >= 1


def test_code_flag_prints_a_snippet_that_runs():
    r = run_cli(
        "--in-channels",
        "4",
        "--out-channels",
        "2",
        "--kernel-size",
        "4",
        "--stride",
        "2",
        "--padding",
        "1",
        "--input-size",
        "6",
        "6",
        "--code",
        "1",
    )
    assert r.returncode == 0, r.stderr
    namespace: dict = {}
    exec(r.stdout, namespace)  # our own generated code, as a user would paste it
    import torch

    assert namespace["layer"](torch.zeros(1, 4, 6, 6)).shape == (1, 2, 12, 12)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (
            ["--kernel-size", "3", "--stride", "2", "--output-padding", "2"],
            "output_padding 2 must be smaller than stride 2 or dilation 1: use 0 or 1",
        ),
        (["--kernel-size", "0"], "kernel_size must be at least 1"),
        (["--kernel-size", "3", "--groups", "3", "--in-channels", "4"], "divisible by groups"),
        (
            ["--kernel-size", "x"],
            "argument --kernel-size: kernel_size must be a whole number written with the digits "
            "0-9, got 'x'",
        ),
        *(
            ([f"--kernel-size={v}"], "kernel_size must be a whole number written with the digits")
            for v in ("٣", "+3", " 3", "1_000", "0x10")
        ),
        (["--kernel-size", "3", "--stride", "9" * 12], "stride has more than 9 digits"),
        (["--kernel-size", "3", "3", "3"], "--kernel-size takes one value, or one per axis"),
        (["--kernel-size", "3", "--input-size", "4", "4", "4", "--code", "1"], "2D layers"),
        (["--stride", "2"], "--kernel-size is required"),
        (
            ["--kernel-size", "3", "--padding", "9", "--input-size", "1", "1"],
            "crops away everything",
        ),
        (["--kernel-size", "3", "--input-size", "0", "4"], "input_size must be at least 1"),
        (["--kernel-size", "3", "--bogus"], "unrecognized arguments: --bogus"),
        (["solve", "4"], "give at least two sizes"),
        (
            [
                "keras",
                "--filters",
                "8",
                "--in-channels",
                "3",
                "--kernel-size",
                "3",
                "--padding",
                "full",
            ],
            "padding must be 'valid' or 'same'",
        ),
    ],
)
def test_bad_input_exits_2_with_one_clear_line(args, words):
    r = run_cli(*args)
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert words in r.stderr


def run_in_process(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(argv)
        except SystemExit as exc:
            status = exc.code
    return status, out.getvalue(), err.getvalue()


LAX_INTEGERS = ("１２", "1_0", "+3", "٣")  # int() takes all four; the CLI takes none


@pytest.mark.parametrize("value", LAX_INTEGERS)
@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["--kernel-size", "{}"], "--kernel-size"),
        (["--kernel-size", "3", "--stride", "2", "{}"], "--stride"),
        (["--kernel-size", "3", "--in-channels", "{}"], "--in-channels"),
        (["--kernel-size", "3", "--input-size", "8", "{}"], "--input-size"),
        (["solve", "4", "{}"], "sizes"),
        (["keras", "--filters", "{}", "--in-channels", "3", "--kernel-size", "3"], "--filters"),
    ],
)
def test_integers_are_ascii_digits_only(argv, flag, value):
    """Each refusal names the flag and the parameter, in plain words (no Python exception text)."""
    status, out, err = run_in_process([value if a == "{}" else a for a in argv])
    name = flag.lstrip("-").replace("-", "_")
    assert status == 2 and out == ""
    assert f"argument {flag}: {name} must be a whole number written with the digits 0-9" in err
    assert "invalid literal" not in err and err.count("\n") == 1


def test_solve_and_keras_subcommands():
    r = run_cli("solve", "4", "8", "16", "32", "64", "--json")
    first = json.loads(r.stdout)["solutions"][0]
    assert (first["kernel_size"], first["stride"], first["padding"]) == (4, 2, 1)
    r = run_cli(
        "keras",
        "--filters",
        "32",
        "--in-channels",
        "64",
        "--kernel-size",
        "3",
        "--strides",
        "2",
        "--padding",
        "same",
        "--input-size",
        "16",
        "16",
        "--json",
    )
    out = json.loads(r.stdout)
    assert out["output_size"] == [32, 32] and out["crop_end"] == [1, 1]


def test_cli_does_not_import_torch():
    code = (
        "import sys; from core.cli import main; "
        "main(['--kernel-size', '4', '--stride', '2', '--padding', '1', '--json']); "
        "sys.stdout.write(str('torch' in sys.modules))"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert r.stdout.endswith("False"), r.stdout[-200:] + r.stderr


sizes = st.lists(st.integers(1, 6), min_size=2, max_size=2)


@settings(max_examples=300)
@given(
    k=sizes,
    s=sizes,
    p=st.lists(st.integers(0, 3), min_size=2, max_size=2),
    op=st.lists(st.integers(0, 2), min_size=2, max_size=2),
    d=st.lists(st.integers(1, 2), min_size=2, max_size=2),
    n=sizes,
    g=st.integers(1, 2),
)
def test_json_output_size_agrees_with_torch(k, s, p, op, d, n, g):
    argv = ["--in-channels", str(2 * g), "--out-channels", str(g), "--groups", str(g), "--json"]
    for flag, values in (
        ("--kernel-size", k),
        ("--stride", s),
        ("--padding", p),
        ("--output-padding", op),
        ("--dilation", d),
        ("--input-size", n),
    ):
        argv += [flag, *map(str, values)]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    expected = torch_output_size(
        {
            "in_channels": 2 * g,
            "out_channels": g,
            "groups": g,
            "kernel_size": tuple(k),
            "stride": tuple(s),
            "padding": tuple(p),
            "output_padding": tuple(op),
            "dilation": tuple(d),
        },
        tuple(n),
    )
    if expected is None:
        assert status == 2 and out.getvalue() == "" and err.getvalue().count("\n") == 1
    else:
        assert status == 0, err.getvalue()
        assert json.loads(out.getvalue())["output_size"] == list(expected)
