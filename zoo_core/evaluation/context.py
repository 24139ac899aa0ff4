"""EvalContext: what evaluators share in one run (samples, reference data, extractor, torch-fidelity).

Everything is computed lazily and once: the samples are drawn a single time (streamed through
torch-fidelity when an image metric asks for them), the reference split is loaded and
registered once, and all torch-fidelity metrics of the run come from one call.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import torch

from ..errors import BadInputError
from . import fidelity
from .density_coverage import K as DC_K


@dataclass
class Settings:
    num_samples: int
    seed: int
    dataset: str
    split: str  # the reference split (train: the data the model learned)
    device: torch.device
    extractor: str | None = None
    extractor_weights: str | None = None
    sampler: Any = None
    condition: Any = None
    cache: bool = True
    pull: bool = True
    isc_splits: int = 10
    prc_neighborhood: int = 3
    dc_k: int = DC_K
    kid_subset_size: int = 1000  # capped at the sample and reference counts


class RealData:
    """A split of a data set posing as a model: the "real data" floor of every metric."""

    kind = "image"
    family = "real-data"
    conditional = False
    has_log_prob = False
    spec = None
    value_range = (0.0, 1.0)
    device = torch.device("cpu")

    def __init__(self, dataset: str, split: str = "test", size: int | None = None) -> None:
        from ..datasets import load_dataset

        self.dataset, self.split = dataset, split
        self.images01 = load_dataset(dataset, split, **({"size": size} if size else {})).float()
        self.name = f"{dataset}:{split}"


def reference_conditions(kind: str | None, dataset: str, split: str) -> tuple[list[Any], str]:
    """Conditions like the data's: (list, description). Text: for every caption slot k, the k-th
    caption of each image in order; labels: the labels in order."""
    from ..datasets import load_dataset

    if kind == "text":
        try:
            _, captions = load_dataset(dataset, split, with_captions=True)
        except TypeError:
            raise BadInputError(f"{dataset} has no captions to condition a text-to-image model on; "
                                f"pass prompts or --reference a captioned data set") from None
        k = max(len(c) for c in captions)
        return ([c[j % len(c)] for j in range(k) for c in captions],
                f"{dataset}:{split} captions (caption k of image i for sample k*N+i)")
    if kind == "label":
        try:
            _, labels = load_dataset(dataset, split, with_labels=True)
        except TypeError:
            raise BadInputError(f"{dataset} has no labels to condition this model on; pass --label") from None
        return [int(v) for v in labels], f"{dataset}:{split} labels, in order"
    raise BadInputError(f"this model needs a {kind} condition and zoo eval cannot derive one; pass it")


@dataclass
class EvalContext:
    model: Any
    settings: Settings
    flags: set[str] = field(default_factory=set)  # torch-fidelity metrics this run computes
    keep_samples: bool = False
    progress: Callable[[int, str], Any] | None = None  # (total, description) -> bar with .update
    warnings: list[str] = field(default_factory=list)
    record: dict[str, Any] = field(default_factory=dict)  # protocol details gathered on the way
    _cache: dict[str, Any] = field(default_factory=dict)

    def _once(self, key: str, make: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    @contextlib.contextmanager
    def bar(self, total: int, desc: str) -> Iterator[Callable[[int], Any]]:
        if self.progress is None:
            yield lambda n: None
            return
        with self.progress(total, desc) as b:
            yield b.update

    # -- shapes and data ---------------------------------------------------------------------
    @property
    def sample_shape(self) -> tuple[int, ...]:
        """(C, H, W) of the model's images (one probe sample)."""
        def probe() -> tuple[int, ...]:
            if isinstance(self.model, RealData):
                return tuple(self.model.images01.shape[1:])
            conds = self.conditions()
            s = self.model.sample(1, generator=0, sampler=self.settings.sampler,
                                  condition=None if conds is None else conds[:1])
            if s.kind != "image" or s.data.dim() != 4:
                raise BadInputError(f"image metrics need image samples; this model gives {s.kind}")
            return tuple(s.data.shape[1:])
        return self._once("shape", probe)

    def conditions(self) -> list[Any] | None:
        """The conditions of the run, cycled over the samples (sample i gets item i % len).

        Given ones (``Settings.condition``) are used as they are. A model that needs a
        condition and got none is conditioned like the data: the test split's captions
        (text models: caption k of every image in turn) or labels (class-conditional models).
        """
        def make() -> list[Any] | None:
            cond = self.settings.condition
            if cond is not None:
                conds = list(cond) if isinstance(cond, (list, tuple)) else [cond]
                self.record["conditions"] = {"source": "given", "count": len(conds)}
                return conds
            if isinstance(self.model, RealData) or not getattr(self.model, "condition_required", False):
                return None
            conds, source = reference_conditions(self.model.condition_kind, self.settings.dataset, "test")
            self.record["conditions"] = {"source": source, "count": len(conds)}
            return conds
        return self._once("conditions", make)

    def data(self, split: str) -> torch.Tensor:
        """A split of the reference data set in [0, 1] at the model's resolution."""
        def load() -> torch.Tensor:
            from ..datasets import load_dataset

            c, h, w = self.sample_shape
            x = load_dataset(self.settings.dataset, split, size=h).float()
            if x.dim() != 4 or tuple(x.shape[1:]) != (c, h, w):
                if x.dim() == 4 and x.shape[1] != c and c in (1, 3) and x.shape[1] in (1, 3):
                    x = x.mean(1, keepdim=True) if c == 1 else x.expand(-1, 3, -1, -1)
                if tuple(x.shape[1:]) != (c, h, w):
                    raise BadInputError(f"{self.settings.dataset}:{split} has images of shape "
                                        f"{tuple(x.shape[1:])}, the model makes {(c, h, w)}")
            return x
        return self._once(f"data:{split}", load)

    def extractor(self) -> Any:
        from .extractors import resolve

        s = self.settings
        return self._once("extractor", lambda: resolve(s.extractor, s.extractor_weights, s.dataset, pull=s.pull))

    def reference(self) -> str:
        """The reference split registered with torch-fidelity (name carries its sha256)."""
        def register() -> str:
            x = self.data(self.settings.split)
            name, sha = fidelity.register_reference(self.settings.dataset, self.settings.split, x)
            self.record["reference"] = {"dataset": self.settings.dataset, "split": self.settings.split,
                                        "examples": len(x), "sha256": sha, "fidelity_name": name}
            return name
        return self._once("reference", register)

    def common(self) -> dict[str, Any]:
        """torch-fidelity settings shared by every call of the run."""
        def make() -> dict[str, Any]:
            ext = self.extractor()
            s = self.settings
            ref_n = len(self.data(s.split))
            kid = min(s.kid_subset_size, s.num_samples, ref_n)
            cache_dir = fidelity.cache_root(ext.weights_sha256, ext.name) if s.cache else None
            self.record["settings"] = {"kid_subset_size": kid, "kid_subsets": 100, "isc_splits": s.isc_splits,
                                       "prc_neighborhood": s.prc_neighborhood, "dc_k": s.dc_k,
                                       "batch_size": fidelity.BATCH_SIZE,
                                       "feature_cache": str(cache_dir) if cache_dir else None}
            return fidelity.fidelity_kwargs(extractor=ext, seed=s.seed, device=s.device, cache_dir=cache_dir,
                                            kid_subset_size=kid, isc_splits=s.isc_splits,
                                            prc_neighborhood=s.prc_neighborhood)
        return self._once("common", make)

    # -- samples and metrics -----------------------------------------------------------------
    def _generator(self, update: Callable[[int], Any]) -> fidelity.ZooGenerator:
        source = self.model.images01 if isinstance(self.model, RealData) else self.model
        return fidelity.ZooGenerator(source, sampler=self.settings.sampler, condition=self.conditions(),
                                     keep=self.keep_samples, progress=update)

    def fidelity(self) -> dict[str, float]:
        """All torch-fidelity metrics of the run, from one calculate_metrics call."""
        def run() -> dict[str, float]:
            common, ref = self.common(), self.reference()
            n = self.settings.num_samples
            with self.bar(n, "sampling + features") as update:
                gen = self._generator(update)
                out = fidelity.calculate(self.flags, gen, ref, n, common, self.settings.device)
            if self.keep_samples:
                self._cache["samples"] = gen.samples01()
            return out
        return self._once("fidelity", run)

    def samples01(self) -> torch.Tensor:
        """The run's samples in [0, 1]: the very ones torch-fidelity scored, when it ran."""
        if self.flags:
            self.fidelity()

        def draw() -> torch.Tensor:
            n = self.settings.num_samples
            with self.bar(n, "sampling") as update:
                gen = self._generator(update)
                gen.keep = True
                fidelity.draw(gen, n, self.settings.seed)
            return gen.samples01()
        return self._once("samples", draw)

    def _extractor_instance(self, layer: str) -> Any:
        return self._once(f"fe:{layer}", lambda: fidelity.make_extractor(layer, self.common()))

    def sample_features(self, layer: str = "features") -> torch.Tensor:
        """Extractor features of the run's samples (density/coverage, plugin metrics)."""
        def extract() -> torch.Tensor:
            x = fidelity.to_uint8_rgb(self.samples01())
            return fidelity.features(fidelity.ImageDataset(x), self._extractor_instance(layer), self.common())
        return self._once(f"sample_features:{layer}", extract)

    def reference_features(self, layer: str = "features") -> torch.Tensor:
        """Extractor features of the reference split (from torch-fidelity's cache when warm)."""
        return self._once(f"ref_features:{layer}", lambda: fidelity.features(
            self.reference(), self._extractor_instance(layer), self.common()))
