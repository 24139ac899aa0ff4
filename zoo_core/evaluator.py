"""Evaluator: a named metric (or family of metrics) that plugins add through `zoo_evaluators`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from .lazy import import_object

if TYPE_CHECKING:
    from .model import GenerativeModel


class Evaluator:
    """Base class: ``applies_to`` says whether a model can be scored; ``evaluate`` scores it.

    ``evaluate`` returns a flat dict of floats; keys are prefixed with the metric name
    (e.g. {"fid": 12.3} or {"nll_bits_per_dim": 1.9, "nll_bits_per_dim_se": 0.01}).
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    min_samples: ClassVar[int] = 1

    def applies_to(self, model: "GenerativeModel") -> str | None:
        """None if the model can be scored, else a one-line reason why not."""
        return None

    def evaluate(self, model: "GenerativeModel", context: Any) -> dict[str, float]:
        raise NotImplementedError


@dataclass(frozen=True)
class EvaluatorInfo:
    """An evaluator registered by a plugin."""

    name: str
    evaluator_class: str  # "pkg.module:Class"
    description: str = ""

    def load(self) -> type[Evaluator]:
        return import_object(self.evaluator_class)
