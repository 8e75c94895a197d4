"""Errors that end a vkzc command with a one-line message and a distinct exit code.

Anything raised as a FatalError is shown to the user without a traceback; the
message says what is wrong and the hint says what to do about it.
"""

from __future__ import annotations


class FatalError(Exception):
    return_code = 2

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}: {self.hint}" if self.hint else self.message


class ConfigurationError(FatalError):
    """Bad input on the command line or in a file we read."""

    return_code = 2


class EnvironmentMissing(FatalError):
    """Something the machine lacks: a Vulkan loader, a device, a Docker engine, a device node."""

    return_code = 3


class Interrupted(FatalError):
    return_code = 130
