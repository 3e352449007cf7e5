"""Number boxes that never clamp in silence.

Streamlit's `number_input` with `min_value`/`max_value` keeps showing a typed 100000 while the
script goes on with the old value. These boxes have no bounds of their own: the script checks
the typed value and says, next to the box, which rule or limit it breaks and how to raise a
limit (`ui.caps.explain`); the caller computes nothing from a refused value.
"""

from __future__ import annotations

from typing import Any

from core.errors import ConfigError
from ui import caps
from ui.state import box_default, escape_markdown


def range_error(
    value: int, minimum: int, maximum: int, what: str, limit: str | None = None
) -> ConfigError | None:
    """Why `value` is outside [minimum, maximum], in words, or None when it is inside.

    `limit`: the key in `ui.caps.LIMITS` (or "generator.<name>" for the live generator's caps,
    `ui.caps.find`) when the maximum is one of the app's limits (the message then names it and
    says how to raise it); None when it is a rule (e.g. core's solver searches kernels up to
    16)."""
    if value < minimum:
        return ConfigError(what, f"{what} must be at least {minimum}, got {value}")
    if value > maximum:
        if limit is None:
            return ConfigError(what, f"{what} can be at most {maximum}, got {value}")
        return ConfigError(what, f"{what} {value} is above the limit: {caps.explain(limit)}")
    return None


def int_input(
    where: Any,
    label: str,
    *,
    key: str | None = None,
    minimum: int,
    maximum: int,
    limit: str | None = None,
    what: str | None = None,
    value: int | None = None,
    help: str | None = None,
) -> int | None:
    """A whole-number box without built-in bounds, in `where` (st, a column, a form); returns the
    typed value, or None after showing, under the box, why it is refused.

    The box's default is its current value (`ui.state.box_default`): a browser that falls back
    to the default sends back what the box held, never Streamlit's 0."""
    kwargs: dict[str, Any] = {"step": 1, "key": key, "help": help}
    default = box_default(key, value)
    if default is not None:
        kwargs["value"] = default
    typed = int(where.number_input(label, **kwargs))
    err = range_error(typed, minimum, maximum, what or label, limit)
    if err is not None:
        where.error(escape_markdown(err.message), icon=":material/error:")
        return None
    return typed
