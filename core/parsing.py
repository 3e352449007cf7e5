"""The one strict integer parser for text from users: the CLI, links, the converter, the solver.

Integers are written with the ASCII digits 0-9 and an optional leading minus sign, nothing else:
`int()` alone would also take "+3", " 3 ", "1_000" and other scripts' digits ("٣"), which a
link or a paste must not smuggle in. `parse_int` reads one value exactly as given (a caller
whose format allows spaces around a value strips them first). Lists of integers are separated
by commas, spaces or semicolons, optionally inside parentheses or brackets ("(1, 256, 8, 8)",
"4 8 16"). Every refusal is a `ConfigError` naming the parameter and saying what to write
instead.
"""

from __future__ import annotations

import re

from core.errors import ConfigError

MAX_DIGITS = 9  # at most 999,999,999: every size Deconv Lab takes is far smaller
_INTEGER_RE = re.compile(rf"-?[0-9]{{1,{MAX_DIGITS}}}")
_LONG_INTEGER_RE = re.compile(r"-?[0-9]+")
_SEPARATORS_RE = re.compile(r"[\s,;]+")
_BRACKETS = "()[]"
MAX_ECHO = 40  # characters of the refused text repeated back in a message


def _shown(text: object) -> str:
    """`text` quoted for a message: at most MAX_ECHO characters, spaces and line breaks visible
    (repr escapes them, so the message stays one line)."""
    text = str(text)
    return repr(text if len(text) <= MAX_ECHO else text[:MAX_ECHO] + "…")


def parse_int(text: str, name: str, minimum: int | None = None, maximum: int | None = None) -> int:
    """A decimal integer written with ASCII digits, within [minimum, maximum] where given.

    Args:
        text: the text to read, e.g. "12" or "-1".
        name: the parameter it is for, named in the error.
        minimum, maximum: inclusive bounds; None for none.

    Returns:
        The integer.

    Raises ConfigError(name, ...) for anything else, saying what to write.

    Example:
        >>> parse_int("12", "stride")
        12
        >>> parse_int("1_000", "stride")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        core.errors.ConfigError: stride must be a whole number written with the digits 0-9, ...
    """
    if (
        isinstance(text, str)
        and _LONG_INTEGER_RE.fullmatch(text)
        and len(text.lstrip("-")) > MAX_DIGITS
    ):
        raise ConfigError(
            name,
            f"{name} has more than {MAX_DIGITS} digits, got {_shown(text)}: use a smaller value",
        )
    if not isinstance(text, str) or not _INTEGER_RE.fullmatch(text):
        raise ConfigError(
            name, f"{name} must be a whole number written with the digits 0-9, got {_shown(text)}"
        )
    value = int(text)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        low = "" if minimum is None else f"at least {minimum}"
        high = "" if maximum is None else f"at most {maximum}"
        bounds = " and ".join(part for part in (low, high) if part)
        raise ConfigError(name, f"{name} must be {bounds}, got {value}")
    return value


def parse_ints(
    text: str,
    name: str,
    minimum: int | None = None,
    maximum: int | None = None,
    counts: tuple[int, ...] | None = None,
    example: str = "4, 8, 16",
) -> tuple[int, ...]:
    """Integers separated by commas, spaces or semicolons, e.g. "1, 256, 8, 8" or "(4, 8)".

    Args:
        text: the text to read.
        name: the parameter it is for, named in the error.
        minimum, maximum: inclusive bounds for every value; None for none.
        counts: how many values are allowed (e.g. (1, 2) for one value or one per axis); None
            for any number but at least one.
        example: a valid text shown in the messages, e.g. "1, 256, 8, 8".

    Returns:
        The integers, in order.

    Raises ConfigError(name, ...) for anything else.

    Example:
        >>> parse_ints("(1, 256, 8, 8)", "input_shape", minimum=1)
        (1, 256, 8, 8)
    """
    if not isinstance(text, str):
        raise ConfigError(name, f"{name} must be text such as {example}, got {_shown(text)}")
    stripped = text.strip()
    for bracket in _BRACKETS:
        stripped = stripped.replace(bracket, " ")
    parts = [part for part in _SEPARATORS_RE.split(stripped) if part]
    if not parts:
        raise ConfigError(name, f"{name} needs at least one whole number, such as {example}")
    if counts is not None and len(parts) not in counts:
        allowed = " or ".join(str(c) for c in counts)
        raise ConfigError(name, f"{name} takes {allowed} value(s), got {len(parts)}")
    for part in parts:
        if not _INTEGER_RE.fullmatch(part):
            raise ConfigError(
                name,
                f"{name} must be whole numbers written with the digits 0-9 (at most {MAX_DIGITS} "
                f"each), separated by commas, such as {example}, got {_shown(text)}",
            )
    return tuple(parse_int(part, name, minimum, maximum) for part in parts)
