"""torch-fidelity, used as designed: the model streams samples as a GenerativeModelBase, reference
data sets are registered with ``register_dataset`` (named by content hash, so their features and
statistics are cached safely), and the metrics come from one ``calculate_metrics`` call.
"""
from __future__ import annotations

import hashlib
import os
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch_fidelity
from torch.utils.data import Dataset
from torch_fidelity import GenerativeModelBase, register_dataset, register_noise_source
from torch_fidelity.registry import DATASETS_REGISTRY, NOISE_SOURCE_REGISTRY

from ..errors import ZooError

NOISE = "zoo-seed"  # noise source: one 63-bit seed per sample, drawn from numpy RandomState(seed)
BATCH_SIZE = 64

# torch-fidelity's result keys -> the zoo's metric keys (prefixed with the metric name)
KEYS = {"frechet_inception_distance": "fid", "kernel_inception_distance_mean": "kid",
        "kernel_inception_distance_std": "kid_std", "inception_score_mean": "isc",
        "inception_score_std": "isc_std", "precision": "prc_precision", "recall": "prc_recall",
        "f_score": "prc_f_score"}


def _seeds(rng: np.random.RandomState, shape: tuple[int, ...]) -> torch.Tensor:
    return torch.from_numpy(rng.randint(0, 2**63 - 1, size=shape, dtype=np.int64))


if NOISE not in NOISE_SOURCE_REGISTRY:
    register_noise_source(NOISE, _seeds)


def to_uint8_rgb(x01: torch.Tensor) -> torch.Tensor:
    """[0, 1] images -> uint8 N x 3 x H x W: what torch-fidelity reads from a PNG folder."""
    x = (x01.clamp(0, 1) * 255).round().to(torch.uint8)
    return x.expand(-1, 3, -1, -1).contiguous() if x.shape[1] == 1 else x


class ZooGenerator(GenerativeModelBase):
    """A zoo model as torch-fidelity's generator: noise is one seed per sample.

    Sample i is drawn with its own torch.Generator seeded from torch-fidelity's noise stream, so
    the samples depend on ``rng_seed`` only, never on the batch size. ``source`` may also be a
    tensor of real images in [0, 1] (the "real data" row): they are returned in order.
    ``keep`` records every batch (for memorisation and density/coverage).
    """

    def __init__(self, source: Any, *, sampler: Any = None, condition: Any = None, keep: bool = False,
                 progress: Callable[[int], Any] | None = None) -> None:
        super().__init__()
        self.real = source if torch.is_tensor(source) else None
        self.model = None if self.real is not None else source
        self.sampler, self.condition, self.keep, self.progress = sampler, condition, keep, progress
        self.kept: list[torch.Tensor] = []
        self.cursor = 0

    @property
    def z_size(self) -> int:
        return 1

    @property
    def z_type(self) -> str:
        return NOISE

    @property
    def num_classes(self) -> int:
        return 0

    def forward(self, noise: torch.Tensor) -> torch.Tensor:
        n = noise.shape[0]
        if self.real is not None:
            if self.cursor + n > len(self.real):
                raise ZooError(f"asked for more than the {len(self.real)} real images available")
            x01 = self.real[self.cursor:self.cursor + n]
        else:
            gens = [torch.Generator().manual_seed(int(s)) for s in noise[:, 0].tolist()]
            cond = None
            if self.condition is not None:
                conds = list(self.condition) if isinstance(self.condition, (list, tuple)) else [self.condition]
                cond = [conds[(self.cursor + i) % len(conds)] for i in range(n)]
            x01 = self.model.sample(n, generator=gens, sampler=self.sampler, condition=cond).images01()
        self.cursor += n
        if self.keep:
            self.kept.append(x01.cpu())
        if self.progress:
            self.progress(n)
        return to_uint8_rgb(x01).to(noise.device)

    def samples01(self) -> torch.Tensor:
        return torch.cat(self.kept) if self.kept else torch.empty(0)


def draw(generator: ZooGenerator, n: int, seed: int, batch_size: int = BATCH_SIZE) -> torch.Tensor:
    """Draw n samples exactly as torch-fidelity's generator loop does (same noise, same order)."""
    rng = np.random.RandomState(seed)
    out = []
    with torch.no_grad():
        for start in range(0, n, batch_size):
            sz = min(batch_size, n - start)
            out.append(generator(NOISE_SOURCE_REGISTRY[NOISE](rng, (sz, generator.z_size))))
    return torch.cat(out)


class ImageDataset(Dataset):
    """uint8 RGB images from a tensor (torch-fidelity wants a Dataset of tensors)."""

    def __init__(self, images_uint8: torch.Tensor) -> None:
        self.images = images_uint8

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.images[i]


def content_hash(images_uint8: torch.Tensor) -> str:
    h = hashlib.sha256(str(tuple(images_uint8.shape)).encode())
    h.update(images_uint8.contiguous().numpy().tobytes())
    return h.hexdigest()


def register_reference(dataset: str, split: str, images01: torch.Tensor) -> tuple[str, str]:
    """Register a data set split with torch-fidelity; returns (registered name, sha256).

    The name carries the content hash, so torch-fidelity's feature cache can never serve the
    features of other images under it.
    """
    images = to_uint8_rgb(images01)
    sha = content_hash(images)
    name = f"zoo-{dataset}-{split}-{images.shape[-1]}px-{sha[:16]}"
    if name not in DATASETS_REGISTRY:
        register_dataset(name, lambda root, download, _x=images: ImageDataset(_x))
    return name, sha


def cache_root(extractor_sha256: str, extractor_name: str) -> Path:
    """Feature/statistics cache: per extractor *weights*, since torch-fidelity keys only on names."""
    base = os.environ.get("ZOO_EVAL_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache") / "zoo" / "eval"
    return Path(base).expanduser() / f"{extractor_name}-{extractor_sha256[:16]}"


def fidelity_kwargs(*, extractor: Any, seed: int, device: torch.device, cache_dir: Path | None,
                    kid_subset_size: int, isc_splits: int, prc_neighborhood: int) -> dict[str, Any]:
    """The settings every torch-fidelity call of a run shares."""
    return {
        "cuda": device.type == "cuda",
        "batch_size": BATCH_SIZE,
        "feature_extractor": extractor.name,
        "feature_extractor_weights_path": extractor.weights_path,
        "rng_seed": seed,
        "kid_subset_size": kid_subset_size,
        "isc_splits": isc_splits,
        "prc_neighborhood": prc_neighborhood,
        "cache": cache_dir is not None,
        "cache_root": str(cache_dir) if cache_dir else None,
        "save_cpu_ram": True,  # no DataLoader worker processes for in-memory tensors
        "datasets_download": False,
        "verbose": False,
    }


def calculate(flags: set[str], input1: Any, input2: str | None, num_samples: int,
              common: dict[str, Any], device: torch.device | None = None) -> dict[str, float]:
    """One torch_fidelity.calculate_metrics call for the flags (isc, fid, kid, prc); zoo keys out."""
    kwargs = dict(common, input1=input1, input1_model_num_samples=num_samples,
                  **{f: f in flags for f in ("isc", "fid", "kid", "prc")})
    if input2 is not None:
        kwargs["input2"] = input2
    try:
        with torch.cuda.device(device) if device is not None and device.type == "cuda" else nullcontext():
            raw = torch_fidelity.calculate_metrics(**kwargs)
    except ValueError as exc:  # torch-fidelity's vassert
        raise ZooError(f"torch-fidelity refused the run: {exc}") from None
    return {KEYS.get(k, k): float(v) for k, v in raw.items()}


def make_extractor(layer: str, common: dict[str, Any]) -> Any:
    """torch-fidelity's instance of the run's feature extractor, giving one layer."""
    from torch_fidelity.utils import create_feature_extractor

    return create_feature_extractor(common["feature_extractor"], [layer], **common)


def features(input_: Any, extractor: Any, common: dict[str, Any]) -> torch.Tensor:
    """Features of one input through torch-fidelity's own (cached) extraction path."""
    from torch_fidelity.utils import extract_featuresdict_from_input_id_cached

    (layer,) = extractor.get_requested_features_list()
    return extract_featuresdict_from_input_id_cached(1, extractor, **dict(common, input1=input_))[layer]
