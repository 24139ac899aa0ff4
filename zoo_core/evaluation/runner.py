"""evaluate(): resolve the metrics to evaluators, check them up front, run them on one shared context."""
from __future__ import annotations

import contextlib
import sys
import time
from typing import Any, Iterator, Sequence

from ..errors import BadInputError, ZooError
from .context import EvalContext, RealData, Settings

MAX_DEFAULT_SAMPLES = 10_000


def available_evaluators() -> dict[str, Any]:
    """name -> EvaluatorInfo, from every plugin's `zoo_evaluators` hook (the core's included)."""
    from ..catalog import get_catalog

    return dict(get_catalog().evaluators)


def parse_metrics(metrics: str | Sequence[str] | None) -> list[str] | None:
    if metrics is None:
        return None
    items = metrics.split(",") if isinstance(metrics, str) else list(metrics)
    names = [m.strip().lower() for m in items if m and m.strip()]
    if not names:
        raise BadInputError("no metrics given; e.g. --metrics fid,kid")
    return list(dict.fromkeys(names))


def parse_reference(reference: str | None, model: Any) -> tuple[str, str]:
    """'digits' or 'digits:train' -> (dataset, split); default: the model's catalog data set, train split."""
    from ..datasets import SPLITS, get_dataset

    if reference is None:
        dataset = getattr(model, "dataset", None) or getattr(getattr(model, "spec", None), "dataset", "")
        if not dataset:
            raise BadInputError("this model names no data set (catalog entry or card metadata); "
                                "pass --reference DATASET")
        reference = dataset
    dataset, _, split = reference.partition(":")
    split = split or "train"
    if split not in SPLITS:
        raise BadInputError(f"unknown split {split!r} in --reference {reference}; choose one of: {', '.join(SPLITS)}")
    get_dataset(dataset)  # a clear error for an unknown data set
    return dataset, split


@contextlib.contextmanager
def _tqdm(total: int, desc: str) -> Iterator[Any]:
    from tqdm.auto import tqdm

    with tqdm(total=total, desc=desc, unit="sample", file=sys.stderr, leave=False) as bar:
        yield bar


def evaluate(model: Any, metrics: str | Sequence[str] | None = None, num_samples: int | None = None,
             seed: int = 0, reference: str | None = None, feature_extractor: str | None = None,
             feature_extractor_weights: str | None = None, device: Any = None, progress: bool = False, *,
             sampler: Any = None, sampler_options: dict[str, Any] | None = None, condition: Any = None,
             cache: bool = True, pull: bool = True) -> dict[str, Any]:
    """Score a model (or a catalog name, a model folder, or `RealData`); returns {"metrics", "protocol"}.

    ``metrics``: names of evaluators (fid, kid, isc, prc, nll, memorization, and any a plugin
    adds); None runs every one that applies. ``num_samples`` defaults to the size of the
    reference split (at most 10,000). ``reference`` is "DATASET[:SPLIT]" (default: the model's
    data set, train split). ``feature_extractor`` defaults to the zoo's classifier for that data set.
    """
    from ..loading import load, parse_device

    start = time.perf_counter()
    if device is None and not isinstance(model, (str, RealData)) and hasattr(model, "device"):
        device = model.device
    dev = parse_device(device)
    requested = parse_metrics(metrics)
    registry = available_evaluators()
    if requested is not None:
        unknown = [m for m in requested if m not in registry]
        if unknown:
            raise BadInputError(f"unknown metric {unknown[0]!r}; choose from: {', '.join(sorted(registry))}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise BadInputError(f"the seed must be an integer in [0, 2**32), got {seed!r}")
    if isinstance(model, str):
        model = load(model, device=dev, pull=pull, progress=progress)
    elif not isinstance(model, RealData):
        model = model.to(dev).eval()

    if sampler_options or sampler is not None:
        if isinstance(model, RealData):
            raise BadInputError("real data is not sampled; it takes no sampler")
        sampler = model.get_sampler(sampler, **(sampler_options or {}))  # a clear error for a bad name/option
    label = getattr(getattr(model, "spec", None), "name", None) or getattr(model, "name", None) or type(model).__name__
    evaluators, not_applicable = {}, {}
    for name in requested or sorted(registry):
        ev = registry[name].load()()
        reason = ev.applies_to(model)
        if reason is None:
            evaluators[name] = ev
        elif requested is not None:
            raise BadInputError(f"{name} does not apply to {label}: {reason}")
        else:
            not_applicable[name] = reason
    if not evaluators:
        raise BadInputError(f"no metric applies to {label}")

    dataset, split = parse_reference(reference, model)
    if num_samples is None:
        if isinstance(model, RealData):
            num_samples = len(model.images01)
        else:
            from ..datasets import load_dataset

            num_samples = min(len(load_dataset(dataset, split)), MAX_DEFAULT_SAMPLES)
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples <= 0:
        raise BadInputError(f"the number of samples must be a positive integer, got {num_samples!r}")
    for name, ev in evaluators.items():
        if num_samples < ev.min_samples:
            raise BadInputError(f"{name} needs at least {ev.min_samples} samples; got --num-samples {num_samples}")
    if isinstance(model, RealData) and num_samples > len(model.images01):
        raise BadInputError(f"{model.name} has only {len(model.images01)} images; got --num-samples {num_samples}")

    settings = Settings(num_samples=num_samples, seed=seed, dataset=dataset, split=split, device=dev,
                        extractor=feature_extractor, extractor_weights=feature_extractor_weights,
                        sampler=sampler, condition=condition, cache=cache, pull=pull)
    flags = {f for ev in evaluators.values() for f in getattr(ev, "fidelity_flags", ())}
    keep = any(getattr(ev, "needs_samples", True) for ev in evaluators.values())
    context = EvalContext(model, settings, flags=flags, progress=_tqdm if progress else None, keep_samples=keep)
    if flags:
        context.extractor()  # fail on a missing extractor before any sampling
    results: dict[str, float] = {}
    for name, ev in evaluators.items():
        try:
            out = ev.evaluate(model, context)
        except ZooError:
            raise
        except (ValueError, RuntimeError) as exc:
            raise ZooError(f"{name} failed on {label}: {' '.join(str(exc).split())}") from exc
        results.update({k: float(v) for k, v in out.items()})
    from .report import protocol

    proto = protocol(model=model, settings=settings, context=context, metrics=list(evaluators),
                     not_applicable=not_applicable, wall_time_s=time.perf_counter() - start)
    return {"metrics": results, "protocol": proto}
