"""GenerativeModel: the base every family's model subclasses.

Weights and config travel through huggingface_hub's PyTorchModelHubMixin (config.json from
the __init__ arguments, model.safetensors, README.md), so `from_pretrained`, `save_pretrained`
and `push_to_hub` come for free; this class adds the zoo's sampling contract.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, ClassVar, Sequence

import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from .errors import BadInputError, ZooError
from .rng import SampleRNG
from .sampler import Sampler
from .samples import Samples
from .spec import ModelSpec

CHUNK = 16  # fixed batch for seeded sampling: sample i's batch never depends on n


class GenerativeModel(nn.Module, PyTorchModelHubMixin, library_name="zoo", tags=["zoo"]):
    """A generative model with a sampling contract.

    Subclasses set ``family``, ``kind`` and ``samplers`` (name -> Sampler class, first is the
    default) and take their hyperparameters as keyword arguments of ``__init__``.
    Explicit-density families also implement ``log_prob(x)`` (nats per example).
    """

    family: ClassVar[str] = ""
    kind: ClassVar[str] = "image"
    value_range: ClassVar[tuple[float, float]] = (0.0, 1.0)
    samplers: ClassVar[dict[str, type[Sampler]]] = {}
    condition_kind: ClassVar[str | None] = None  # "text" (prompts) or "label" (class ids)
    condition_required: ClassVar[bool] = False
    spec: ModelSpec | None = None
    dataset: str | None = None  # what it was trained on: the catalog's, else its card's `datasets`

    # -- config ---------------------------------------------------------------------------
    @property
    def config(self) -> dict[str, Any]:
        """The hyperparameters this model was built with (what config.json holds)."""
        return dict(self._hub_mixin_config or {})

    @property
    def device(self) -> torch.device:
        for p in self.parameters():
            return p.device
        return torch.device("cpu")

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # -- persistence ----------------------------------------------------------------------
    def save_pretrained(self, save_directory: str | Path, **kwargs: Any) -> str | None:  # type: ignore[override]
        """Write config.json (with the family), model.safetensors and a model card."""
        config = {**self.config, "zoo_family": self.family}
        result = super().save_pretrained(save_directory, config=config, **kwargs)
        card_path = Path(save_directory) / "README.md"
        if self.dataset and card_path.exists():  # the card's metadata says what `zoo eval` compares with
            from huggingface_hub import ModelCard

            card = ModelCard.load(card_path)
            card.data.datasets = [self.dataset]
            card.save(card_path)
        return result

    @classmethod
    def _from_pretrained(cls, *, model_id: str, revision: str | None, cache_dir: Any,
                         force_download: bool, local_files_only: bool, token: Any,
                         map_location: str = "cpu", strict: bool = True, **model_kwargs: Any):
        """Strict, safetensors-only loading (never a pickle), without printing."""
        model = cls(**model_kwargs)
        if os.path.isdir(model_id):
            weights = os.path.join(model_id, "model.safetensors")
        else:
            from huggingface_hub import hf_hub_download

            weights = hf_hub_download(model_id, "model.safetensors", revision=revision,
                                      cache_dir=cache_dir, force_download=force_download,
                                      token=token, local_files_only=local_files_only)
        if not os.path.exists(weights):
            raise ZooError(f"{model_id} has no model.safetensors; zoo loads safetensors weights only")
        return cls._load_as_safetensor(model, weights, map_location, strict)

    # -- sampling -------------------------------------------------------------------------
    def get_sampler(self, sampler: str | Sampler | None = None, **options: Any) -> Sampler:
        """A sampler instance by name (default: the family's first) with options."""
        if isinstance(sampler, Sampler):
            if options:
                raise BadInputError("pass options either to the Sampler or to sample(), not both")
            return sampler
        available = self.available_samplers()
        if not available:
            raise ZooError(f"{type(self).__name__} declares no samplers")
        name = sampler or next(iter(available))
        if name not in available:
            raise BadInputError(
                f"unknown sampler {name!r} for {self.family}; choose one of: {', '.join(available)}")
        return available[name](**options)

    @classmethod
    def available_samplers(cls) -> dict[str, type[Sampler]]:
        """The family's own samplers plus those plugins add for it through `zoo_samplers`."""
        found = dict(cls.samplers)
        try:
            from .catalog import get_catalog

            for info in get_catalog().samplers.values():
                if cls.family in info.families and info.name not in found:
                    found[info.name] = info.load()
        except ZooError:
            pass
        return found

    @torch.no_grad()
    def sample(self, n: int, *, condition: Sequence[Any] | Any = None,
               sampler: str | Sampler | None = None,
               generator: int | torch.Generator | Sequence[torch.Generator] | None = None,
               progress: Any = None, prompt: Sequence[str] | str | None = None,
               label: Sequence[int] | int | None = None, **options: Any) -> Samples:
        """Draw `n` samples.

        ``prompt`` (text models) and ``label`` (class-conditional models) are the condition
        under its usual name; a shorter list is cycled over the samples.
        ``generator`` may be an int seed (sample i then depends only on (seed, i), drawn in
        fixed batches of 16), a torch.Generator, or one generator per sample.
        ``progress`` is an optional callable taking the number of samples just finished.
        """
        if not isinstance(n, int) or isinstance(n, bool) or n <= 0:
            raise BadInputError(f"the number of samples must be a positive integer, got {n!r}")
        given = [c for c in (condition, prompt, label) if c is not None]
        if len(given) > 1:
            raise BadInputError("give one of condition=, prompt= or label=")
        condition = given[0] if given else None
        if prompt is not None and self.condition_kind not in (None, "text"):
            raise BadInputError(f"{self.family} takes a {self.condition_kind}, not a prompt")
        if label is not None and self.condition_kind not in (None, "label"):
            raise BadInputError(f"{self.family} takes a {self.condition_kind}, not a label")
        strategy = self.get_sampler(sampler, **options)
        conditions = self._conditions(n, condition)
        was_training = self.training
        self.eval()
        extras: list[dict[str, Any]] = []
        try:
            if isinstance(generator, int) and not isinstance(generator, bool):
                parts = []
                for start in range(0, n, CHUNK):
                    rng = SampleRNG.from_seed(generator, start, CHUNK, self.device)
                    cond = None
                    if conditions is not None:
                        cond = conditions[start:start + CHUNK]
                        cond = cond + [cond[-1]] * (CHUNK - len(cond))  # pad: batch is fixed
                    data, extra = _split_extras(strategy(self, CHUNK, rng, cond))
                    keep = min(CHUNK, n - start)
                    parts.append(data[:keep])
                    extras.append({k: v[:keep] for k, v in extra.items()})
                    if progress:
                        progress(keep)
                data = torch.cat(parts)
            else:
                if isinstance(generator, (list, tuple)):
                    if len(generator) != n:
                        raise BadInputError(f"got {len(generator)} generators for {n} samples")
                    rng = SampleRNG(generator, self.device)
                else:
                    rng = SampleRNG.shared(generator, n, self.device)
                data, extra = _split_extras(strategy(self, n, rng, conditions))
                extras.append(extra)
                if progress:
                    progress(n)
        finally:
            self.train(was_training)
        samples = self.wrap_samples(data.detach().cpu(), conditions)
        samples.extras.update(_join_extras(extras))
        return samples

    def wrap_samples(self, data: torch.Tensor, conditions: list[Any] | None) -> Samples:
        """Package raw sampler output; text families override to decode."""
        return Samples(data=data, kind=self.kind, value_range=self.value_range, conditions=conditions)

    def _conditions(self, n: int, condition: Sequence[Any] | Any) -> list[Any] | None:
        """One condition per sample (a shorter list is cycled), or None."""
        if condition is None:
            if self.condition_required:
                what = "a prompt" if self.condition_kind == "text" else f"a {self.condition_kind}"
                raise BadInputError(f"{self.family} is conditional: give {what} for the samples")
            return None
        if self.condition_kind is None:
            raise BadInputError(f"{self.family} is unconditional and takes no prompt or label")
        if isinstance(condition, (list, tuple)):
            if len(condition) == 0:
                raise BadInputError("the list of conditions is empty")
            conditions = list(condition)
        else:
            conditions = [condition]
        for c in conditions:
            self.check_condition(c)
        reps = -(-n // len(conditions))
        return (conditions * reps)[:n]

    def check_condition(self, condition: Any) -> None:
        """Reject a condition this model cannot use; families refine (vocabulary, label range)."""
        if self.condition_kind == "text" and (not isinstance(condition, str) or not condition.strip()):
            raise BadInputError("a prompt must be non-empty text")
        if self.condition_kind == "label" and (isinstance(condition, bool) or not isinstance(condition, int)):
            raise BadInputError(f"a label must be an integer, got {condition!r}")

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Log-likelihood (nats) per example; only explicit-density families have it."""
        raise ZooError(f"{self.family} has no tractable likelihood")

    @property
    def has_log_prob(self) -> bool:
        return type(self).log_prob is not GenerativeModel.log_prob


def _split_extras(output: Any) -> tuple[torch.Tensor, dict[str, Any]]:
    """A sampler returns a tensor, or (tensor, extras) with per-sample extras (attention maps)."""
    if isinstance(output, tuple):
        data, extra = output
        return data, dict(extra)
    return output, {}


def _join_extras(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    joined: dict[str, Any] = {}
    for key in chunks[0] if chunks else ():
        values = [c[key] for c in chunks]
        if isinstance(values[0], torch.Tensor):
            joined[key] = torch.cat([v.detach().cpu() for v in values])
        else:
            joined[key] = [item for v in values for item in v]
    return joined


def read_family(model_dir: Path) -> str:
    """The family named in a saved model directory's config.json."""
    path = Path(model_dir) / "config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ZooError(f"{model_dir} has no config.json; is it a zoo model folder?") from None
    except json.JSONDecodeError:
        raise ZooError(f"{path} is not valid JSON") from None
    family = config.get("zoo_family") if isinstance(config, dict) else None
    if not family:
        raise ZooError(f"{path} names no zoo_family; save models with save_pretrained")
    return str(family)
