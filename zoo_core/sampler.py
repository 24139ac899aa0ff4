"""Sampler: a named, configurable way to draw samples from a model, swappable per call."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from .errors import BadInputError
from .lazy import import_object

if TYPE_CHECKING:
    import torch

    from .model import GenerativeModel
    from .rng import SampleRNG


class Sampler:
    """Base class. Subclasses set ``name``, declare ``options`` and implement ``__call__``.

    ``options`` maps an option name to (type, default, help); values given as strings (from the
    CLI) are converted, unknown names are rejected with the list of known ones.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    options: ClassVar[dict[str, tuple[type, Any, str]]] = {}

    def __init__(self, **values: Any) -> None:
        unknown = sorted(set(values) - set(self.options))
        if unknown:
            known = ", ".join(sorted(self.options)) or "none"
            raise BadInputError(
                f"sampler {self.name!r} has no option {unknown[0]!r} (its options: {known})")
        self.values: dict[str, Any] = {}
        for key, (typ, default, _help) in self.options.items():
            self.values[key] = _convert(self.name, key, typ, values.get(key, default))

    def __getattr__(self, key: str) -> Any:
        values = self.__dict__.get("values", {})
        if key in values:
            return values[key]
        raise AttributeError(key)

    def __call__(self, model: "GenerativeModel", n: int, rng: "SampleRNG",
                 condition: list[Any] | None) -> "torch.Tensor":
        raise NotImplementedError

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.values.items())
        return f"{type(self).__name__}({opts})"


def _convert(sampler: str, key: str, typ: type, value: Any) -> Any:
    if value is None or isinstance(value, typ):
        return value
    try:
        if typ is bool and isinstance(value, str):
            if value.lower() not in {"1", "0", "true", "false", "yes", "no"}:
                raise ValueError(value)
            return value.lower() in {"1", "true", "yes"}
        return typ(value)
    except (TypeError, ValueError):
        raise BadInputError(
            f"sampler {sampler!r} option {key!r} must be {typ.__name__}, got {value!r}") from None


@dataclass(frozen=True)
class SamplerInfo:
    """A sampler a plugin adds through `zoo_samplers`, for the families it names."""

    name: str
    sampler_class: str  # "pkg.module:Class"
    families: tuple[str, ...]
    description: str = ""

    def load(self) -> type[Sampler]:
        return import_object(self.sampler_class)
