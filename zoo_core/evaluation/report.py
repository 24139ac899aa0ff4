"""The protocol record: everything needed to reproduce (or distrust) a report's numbers."""
from __future__ import annotations

import datetime as _dt
import platform
from importlib import metadata
from typing import Any

import torch


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for key, dist in (("torch", "torch"), ("torch_fidelity", "torch-fidelity"), ("torchvision", "torchvision"),
                      ("numpy", "numpy"), ("zoo", "zoo-models")):
        try:
            out[key] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[key] = "not installed"
    return out


def device_record(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        return f"cpu ({torch.get_num_threads()} threads)"
    return str(device)


def model_record(model: Any) -> dict[str, Any]:
    spec = getattr(model, "spec", None)
    if spec is not None:
        return {"name": spec.name, "family": spec.family, "repo_id": spec.repo_id, "revision": spec.revision,
                "weights_sha256": spec.files["model.safetensors"].sha256 if "model.safetensors" in spec.files else None}
    return {"name": getattr(model, "name", None) or type(model).__name__, "family": getattr(model, "family", "")}


def sampler_record(model: Any, sampler: Any) -> dict[str, Any] | None:
    """The sampler that drew the samples, with its options (None for real data)."""
    if not hasattr(model, "get_sampler"):
        return None
    try:
        s = model.get_sampler(sampler)
    except Exception:  # a model without samplers: nothing to record
        return None
    return {"name": s.name, "options": dict(s.values), "default": sampler is None}


def image_record(shape: tuple[int, ...], extractor: Any) -> dict[str, Any]:
    c, h, w = shape
    size = extractor.input_size
    if size is None:
        resize = extractor.info.get("resize", "done by the feature extractor")
    elif (h, w) == (size, size):
        resize = "none"
    else:
        resize = f"{h}x{w} -> {size}x{size}, bilinear with antialiasing"
    return {
        "sample_shape": [c, h, w],
        "quantization": "uint8, round(255 * x) of [0, 1] images (what a PNG would hold)",
        "channels": ("grey repeated to RGB (torch-fidelity's input convention)" if c == 1 else "RGB")
                    + (f"; the extractor takes {extractor.input_channels} channel(s)" if extractor.input_channels == 1 else ""),
        "resize": resize,
    }


def protocol(*, model: Any, settings: Any, context: Any, metrics: list[str], not_applicable: dict[str, str],
             wall_time_s: float) -> dict[str, Any]:
    rec = context.record
    out: dict[str, Any] = {
        "model": model_record(model),
        "metrics": metrics,
        "num_samples": settings.num_samples,
        "seed": settings.seed,
        "sampling": "sample i uses its own torch.Generator, seeded from torch-fidelity's noise stream "
                    "numpy.RandomState(seed) (noise source 'zoo-seed'): independent of batch size",
        "sampler": sampler_record(model, settings.sampler),
    }
    if "reference" in rec:
        out["reference"] = rec["reference"]
    if "extractor" in context._cache:
        ext = context.extractor()
        out["feature_extractor"] = ext.record()
        out["images"] = image_record(context.sample_shape, ext)
    for key in ("settings", "conditions", "nll", "memorization", "r_precision", "caption_accuracy"):
        if key in rec:
            out[key] = rec[key]
    if not_applicable:
        out["not_applicable"] = not_applicable
    if context.warnings:
        out["warnings"] = list(context.warnings)
    out["versions"] = versions()
    out["device"] = device_record(settings.device)
    out["wall_time_s"] = round(wall_time_s, 2)
    out["created"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    return out
