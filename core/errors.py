"""The one error type core raises for bad input."""

from __future__ import annotations


class ConfigError(ValueError):
    """A layer configuration or input that torch would refuse, or that Deconv Lab cannot serve.

    `parameter` names the offending argument (torch's spelling) so that a UI can put the
    message next to the right widget; the message itself names the rule and a fix. It is a
    `ValueError`, so code that already catches those keeps working.

    Args:
        parameter: the offending argument, as torch spells it (e.g. "padding", "method").
        message: the rule that was broken and how to fix it; `str(error)` is this message.

    Example:
        >>> from core import TransposedConv
        >>> try:
        ...     TransposedConv.make(8, 4, kernel_size=3, stride=2, output_padding=2)
        ... except ConfigError as error:
        ...     print(error.parameter, "|", error)
        output_padding | output_padding 2 must be smaller than stride 2 or dilation 1: use 0 or 1
    """

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter
        self.message = message

    def __str__(self) -> str:
        return self.message
