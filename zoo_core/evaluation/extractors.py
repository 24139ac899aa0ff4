"""Feature extractors for torch-fidelity: the zoo's domain classifiers, and Inception from a local file.

A zoo extractor is a catalog model with task "feature-extraction" (e.g. digits-classifier.small);
it is registered with ``torch_fidelity.register_feature_extractor`` as "zoo-<arch>" (e.g.
"zoo-digits-classifier") and is the default for the data set named in its catalog entry.
Its weights are pulled and sha256-verified like any model's before torch-fidelity builds it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch_fidelity import FeatureExtractorBase, register_feature_extractor
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY

from ..errors import BadInputError, ZooError

TASK = "feature-extraction"
INCEPTION = "inception-v3-compat"
INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"
INCEPTION_SHA_PREFIX = "6726825d"  # torch.hub convention: the file name carries its sha256 prefix
INCEPTION_URL = f"https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/{INCEPTION_FILE}"
_ZOO_EXTRACTORS: dict[str, str] = {}  # torch-fidelity name -> catalog model name


@dataclass
class ExtractorChoice:
    """The extractor a run uses, as the report records it."""

    name: str  # the torch-fidelity registry name
    weights_path: str  # what torch-fidelity gets as feature_extractor_weights_path
    weights_sha256: str
    model: str = ""  # catalog name for zoo extractors
    input_channels: int = 3
    input_size: int | None = None  # None: the extractor resizes itself (Inception: 299, TF-compatible)
    info: dict[str, Any] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        return {"name": self.name, "model": self.model or None, "weights": self.weights_path,
                "weights_sha256": self.weights_sha256, "input_channels": self.input_channels,
                "input_size": self.input_size, **self.info}


class ZooFeatureExtractor(FeatureExtractorBase):
    """torch-fidelity's view of a zoo classifier: uint8 RGB batches in, (features, logits) out.

    Input follows torch-fidelity's convention (uint8, N x 3 x H x W, as its PNG loader gives);
    grey classifiers take the channel mean, and other sizes are resized (bilinear, antialiased).
    """

    def __init__(self, name: str, features_list: list[str], feature_extractor_weights_path: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(name, features_list)
        path = feature_extractor_weights_path or str(_pull(_ZOO_EXTRACTORS[name]))
        self.net = load_classifier(path)
        self.requires_grad_(False)
        self.eval()

    @staticmethod
    def get_provided_features_list() -> tuple[str, ...]:
        return ("features", "logits")

    @staticmethod
    def get_default_feature_layer_for_metric(metric: str) -> str:
        return "logits" if metric == "isc" else "features"

    @staticmethod
    def can_be_compiled() -> bool:
        return False

    @staticmethod
    def get_dummy_input_for_compile() -> torch.Tensor:
        return torch.zeros(1, 3, 32, 32, dtype=torch.uint8)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if not (torch.is_tensor(x) and x.dtype == torch.uint8 and x.dim() == 4):
            raise ValueError("expecting uint8 images N x C x H x W")
        x = to_input(x.float() / 255.0, self.net.in_channels, self.net.image_size)
        feats, logits = self.net.extract(x)
        out = {"features": feats.float(), "logits": logits.float()}
        return tuple(out[k] for k in self.features_list)


def to_input(x01: torch.Tensor, channels: int, size: int) -> torch.Tensor:
    """Adapt [0, 1] images to an extractor's channels and size."""
    if x01.shape[1] != channels:
        x01 = x01.mean(1, keepdim=True) if channels == 1 else x01.expand(-1, channels, -1, -1)
    if x01.shape[-2:] != (size, size):
        x01 = F.interpolate(x01, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return x01


def load_classifier(path: str | os.PathLike[str]) -> torch.nn.Module:
    """A zoo model folder (config.json naming its family + model.safetensors) -> eval-mode module."""
    from ..catalog import get_catalog
    from ..model import read_family

    cls = get_catalog().family(read_family(Path(path))).load_class()
    net = cls.from_pretrained(str(path))
    for attr in ("extract", "in_channels", "image_size"):
        if not hasattr(net, attr):
            raise ZooError(f"{path} is not a zoo feature extractor (its model has no {attr!r})")
    return net.eval()


def _pull(model_name: str) -> Path:
    from ..loading import resolve_files

    return resolve_files(model_name, progress=False)[0]


def extractor_specs() -> list[Any]:
    """Catalog entries that are feature extractors."""
    from ..catalog import get_catalog

    return [s for s in get_catalog().specs.values() if s.task == TASK]


def fidelity_name(spec: Any) -> str:
    return f"zoo-{spec.arch}"


def register_zoo_extractors() -> None:
    """Register every catalog extractor with torch-fidelity (idempotent)."""
    for spec in extractor_specs():
        name = fidelity_name(spec)
        if name not in _ZOO_EXTRACTORS and name not in FEATURE_EXTRACTORS_REGISTRY:
            register_feature_extractor(name, ZooFeatureExtractor)
        _ZOO_EXTRACTORS.setdefault(name, spec.name)


def default_for(dataset: str) -> str | None:
    """The zoo extractor for a data set (its catalog default if there are several)."""
    found = sorted((s for s in extractor_specs() if s.dataset == dataset), key=lambda s: (not s.default, s.name))
    return found[0].name if found else None


def resolve(requested: str | None, weights: str | None, dataset: str, *, pull: bool = True) -> ExtractorChoice:
    """Which extractor, with which verified weights; one clear line when that cannot be."""
    register_zoo_extractors()
    if requested is None:
        model = default_for(dataset)
        if model is None:
            raise BadInputError(
                f"no zoo feature extractor is registered for the data set {dataset!r}; pass "
                f"--feature-extractor {INCEPTION} --feature-extractor-weights PATH/{INCEPTION_FILE}")
        return _zoo_choice(model, weights, pull)
    by_fidelity = {fidelity_name(s): s.name for s in extractor_specs()}
    if requested in by_fidelity:
        return _zoo_choice(by_fidelity[requested], weights, pull)
    if any(requested in (s.name, s.arch) for s in extractor_specs()):
        from ..catalog import get_catalog

        return _zoo_choice(get_catalog().resolve(requested).name, weights, pull)
    if requested == INCEPTION:
        return _inception_choice(weights)
    if requested in FEATURE_EXTRACTORS_REGISTRY:
        if not weights:
            raise BadInputError(f"feature extractor {requested!r} downloads its weights from the internet, "
                                f"which this machine may not reach; pass --feature-extractor-weights PATH")
        return ExtractorChoice(requested, str(weights), _sha256(weights))
    known = sorted(set(by_fidelity) | {INCEPTION})
    raise BadInputError(f"unknown feature extractor {requested!r}; choose one of: {', '.join(known)}")


def _zoo_choice(model_name: str, weights: str | None, pull: bool) -> ExtractorChoice:
    from ..catalog import get_catalog
    from ..loading import resolve_files

    spec = get_catalog().resolve(model_name)
    if weights:  # a local model folder given explicitly: hash what is there
        path = Path(weights)
        if not (path / "model.safetensors").exists():
            raise BadInputError(f"--feature-extractor-weights for {fidelity_name(spec)} must be a model "
                                f"folder with model.safetensors; {path} has none")
        sha, model = _sha256(path / "model.safetensors"), f"{spec.name} (weights from {path})"
    else:
        path = resolve_files(spec.name, pull=pull, progress=False)[0]  # pulls + verifies sha256
        sha, model = spec.files["model.safetensors"].sha256, f"{spec.name}@{spec.revision[:12]}"
    net = load_classifier(path)
    dim = getattr(net, "feature_dim", None)
    info = {"features": f"penultimate layer ({dim}-d)", "feature_dim": dim,
            "logits": f"{getattr(net, 'num_classes', '?')} classes",
            "test_accuracy": dict(spec.metrics).get("test_accuracy")}
    return ExtractorChoice(fidelity_name(spec), str(path), sha, model=model, input_channels=net.in_channels,
                           input_size=net.image_size, info=info)


def inception_candidates() -> list[Path]:
    """Where torch.hub would find the Inception file without downloading it."""
    return [Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_FILE]


def _inception_choice(weights: str | None) -> ExtractorChoice:
    path = Path(weights) if weights else next((p for p in inception_candidates() if p.is_file()), None)
    if path is None or not path.is_file():
        where = f"{path} does not exist" if weights else "it is not in the torch hub cache"
        raise BadInputError(
            f"{INCEPTION} needs the weights file {INCEPTION_FILE} ({where}; no download here): get it from "
            f"{INCEPTION_URL} and pass --feature-extractor-weights PATH, or put it at {inception_candidates()[0]}")
    sha = _sha256(path)
    if not sha.startswith(INCEPTION_SHA_PREFIX):
        raise BadInputError(f"{path} is not torch-fidelity's Inception file: its sha256 {sha[:12]}… does not "
                            f"start with {INCEPTION_SHA_PREFIX} (from {INCEPTION_FILE})")
    try:  # torch-fidelity unpickles it with weights_only=False: make sure it is a plain state dict
        torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise BadInputError(f"{path} is not a plain PyTorch state dict ({type(exc).__name__})") from None
    return ExtractorChoice(INCEPTION, str(path), sha, input_channels=3, input_size=None,
                           info={"features": "pool3 (2048-d)", "feature_dim": 2048, "logits": "logits_unbiased (1008)",
                                 "resize": "to 299x299, TF1-compatible bilinear (inside torch-fidelity)"})


def _sha256(path: str | os.PathLike[str]) -> str:
    from ..hub import sha256_file

    if not Path(path).is_file():
        raise BadInputError(f"feature extractor weights {path} do not exist")
    return sha256_file(path)
