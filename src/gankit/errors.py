"""Errors meant for people.

Every error a user can cause (a bad config value, a corrupt file, a missing path) is raised as a
:class:`GankitError` subclass whose message is one line: what is wrong, where, and what would work.
The CLI prints that line and exits with code 2, without a traceback.
"""
from __future__ import annotations


class GankitError(Exception):
    """Base class for user-facing errors (CLI exit code 2)."""

    exit_code = 2


class ConfigError(GankitError):
    """A configuration field has an unknown name, a wrong type or an out-of-range value."""


class DataError(GankitError):
    """A dataset path or file cannot be read as the configured format."""


class CheckpointError(GankitError):
    """A checkpoint or exported generator cannot be loaded (missing, corrupt, other architecture, unsafe format)."""


class DivergenceError(GankitError):
    """Training diverged and the divergence guard ran out of retries (CLI exit code 3)."""

    exit_code = 3
