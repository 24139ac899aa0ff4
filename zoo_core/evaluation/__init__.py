"""`zoo eval`: honest, offline metrics for generative models.

    import zoo_core as zoo
    report = zoo.evaluate("dcgan.digits", metrics=["fid", "kid", "isc", "prc", "memorization"],
                          num_samples=1000, seed=0)
    report["metrics"]["fid"], report["protocol"]["feature_extractor"]["weights_sha256"]

Metrics come from torch-fidelity with the zoo's own domain feature extractors (classifiers
trained on each data set, pulled and verified like any model), so nothing is downloaded.
Plugins add evaluators through the `zoo_evaluators` hook. Submodules import torch; this
package itself does not, until `evaluate` is called.
"""
from __future__ import annotations

from typing import Any


def evaluate(model: Any, metrics: Any = None, num_samples: int | None = None, seed: int = 0,
             reference: str | None = None, feature_extractor: str | None = None,
             feature_extractor_weights: str | None = None, device: Any = None, progress: bool = False,
             **kwargs: Any) -> dict[str, Any]:
    """Score `model`; see `zoo_core.evaluation.runner.evaluate`. Returns {"metrics", "protocol"}."""
    from .runner import evaluate as _evaluate

    return _evaluate(model, metrics, num_samples, seed, reference, feature_extractor,
                     feature_extractor_weights, device, progress, **kwargs)


__all__ = ["evaluate"]
