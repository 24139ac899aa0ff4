"""Errors the zoo raises on purpose: each carries one line a person can act on.

The CLI prints ``str(error)`` for these and exits non-zero; anything else is a bug.
"""
from __future__ import annotations


class ZooError(Exception):
    """Base class: a user-facing failure with a one-line, actionable message."""

    exit_code = 1

    def __str__(self) -> str:  # keep it to one line whatever the cause said
        return " ".join(super().__str__().split())


class UnknownModelError(ZooError, KeyError):
    """A model name that the catalog does not know."""


class CatalogError(ZooError):
    """registry.yaml or a plugin's catalog entry is malformed."""


class PluginError(ZooError):
    """A plugin failed to load or a hook raised."""


class HubError(ZooError):
    """Pulling or serving model files failed."""


class IntegrityError(HubError):
    """A file's sha256 does not match the catalog."""


class NotPulledError(HubError):
    """The model's files are not in the local cache and pulling is off."""


class BadInputError(ZooError, ValueError):
    """An argument that cannot be used (n <= 0, unknown sampler, bad device, ...): a ValueError too."""
