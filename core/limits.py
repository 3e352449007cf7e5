"""Which size limits the app applies, and the plain words that explain one.

One setting decides: the environment variable `DECONV_LAB_LIMITS`.

- unset: the default limits, the same small ones as the hosted demo (one request stays cheap on
  a shared 2-core machine);
- `hosted`: the same limits, named "the hosted demo's" in messages (the hosted deployment sets
  it);
- `local`: larger limits for the app on a machine of your own
  (`DECONV_LAB_LIMITS=local streamlit run app.py`).

Any other value keeps the default limits, and `limits_mode` says so (the app shows it). Each
limit is a `Limit` with both values; `Limit.explain(mode)` says which one applies and how to
raise it. Plain Python: no Streamlit, no torch.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

ENV_VAR = "DECONV_LAB_LIMITS"
DEFAULT = "default"
HOSTED = "hosted"
LOCAL = "local"
RAISE_COMMAND = f"{ENV_VAR}={LOCAL} streamlit run app.py"


@dataclass(frozen=True)
class LimitsMode:
    """The limits in force: `name` is "default", "hosted" or "local"; `problem` says why a value
    of the variable was not understood (None when it was)."""

    name: str
    problem: str | None = None

    @property
    def local(self) -> bool:
        return self.name == LOCAL

    def words(self, plural: bool = False) -> str:
        """How the limits in force are called in messages, e.g. "the default limit"."""
        s = "s" if plural else ""
        if self.name == LOCAL:
            return f"the local limit{s}"
        if self.name == HOSTED:
            return f"the hosted demo's limit{s}"
        return f"the default limit{s}"


def limits_mode(environ: Mapping[str, str] | None = None) -> LimitsMode:
    """The mode `DECONV_LAB_LIMITS` asks for (read from `environ`, default `os.environ`)."""
    environ = os.environ if environ is None else environ
    raw = environ.get(ENV_VAR)
    if raw is None or raw.strip() == "":
        return LimitsMode(DEFAULT)
    value = raw.strip().lower()
    if value in (HOSTED, LOCAL):
        return LimitsMode(value)
    shown = raw if len(raw) <= 40 else raw[:40] + "…"
    return LimitsMode(
        DEFAULT,
        f"{ENV_VAR}={shown!r} is not a setting Deconv Lab knows: use {ENV_VAR}={LOCAL} for the "
        f"larger limits, or {HOSTED}; the default limits apply",
    )


@dataclass(frozen=True)
class Limit:
    """One limit of the app: `what` it bounds (in words), its `hosted` (and default) value and
    its `local` value; `unit` follows the number in messages (e.g. " px")."""

    what: str
    hosted: int
    local: int
    unit: str = ""

    def value(self, mode: LimitsMode) -> int:
        """The value in force under `mode`."""
        return self.local if mode.local else self.hosted

    def explain(self, mode: LimitsMode) -> str:
        """Which limit applies and how to raise it, in plain words, e.g. "256 px is the default
        limit for the input size (the hosted demo's); on your own machine, start the app with
        DECONV_LAB_LIMITS=local streamlit run app.py to allow up to 4096 px"."""
        value = f"{self.value(mode):,}{self.unit}"
        if mode.local:
            return (
                f"{value} is the local limit for {self.what} ({ENV_VAR}={LOCAL}), the highest "
                "this app offers"
            )
        which = (
            "the hosted demo's limit"
            if mode.name == HOSTED
            else "the default limit (the hosted demo's)"
        )
        if self.local <= self.hosted:
            return f"{value} is {which} for {self.what}"
        return (
            f"{value} is {which} for {self.what}; on your own machine, start the app with "
            f"{RAISE_COMMAND} to allow up to {self.local:,}{self.unit}"
        )
