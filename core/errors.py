"""The one error type core raises for bad input."""

from __future__ import annotations


class ConfigError(ValueError):
    """A layer configuration or input that torch would refuse, or that Deconv Lab cannot serve.

    `parameter` names the offending argument (torch's spelling) so that a UI can put the
    message next to the right widget; the message itself names the rule and a fix.
    """

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter
        self.message = message

    def __str__(self) -> str:
        return self.message
