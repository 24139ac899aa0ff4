"""Samples: what a model returns, with what a writer needs to save it."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Sequence

import torch

KINDS = ("image", "audio", "text", "sequence")


@dataclass
class Samples:
    """A batch of samples.

    ``data`` is (n, C, H, W) for images in ``value_range``, (n, T) in [-1, 1] for audio,
    (n, T) token ids for sequences; ``texts`` holds decoded text for text models.
    ``extras`` holds per-sample by-products a sampler returned (first dimension n), e.g.
    "attention": (n, T, 3, H, W) per-word attention maps in [0, 1].
    """

    data: torch.Tensor
    kind: str = "image"
    value_range: tuple[float, float] = (0.0, 1.0)
    conditions: list[Any] | None = None
    sample_rate: int | None = None
    texts: list[str] | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown sample kind {self.kind!r}; expected one of {KINDS}")

    def __len__(self) -> int:
        return int(self.data.shape[0])

    def __getitem__(self, index: slice) -> "Samples":
        if not isinstance(index, slice):
            index = slice(index, index + 1)
        return replace(
            self,
            data=self.data[index],
            conditions=self.conditions[index] if self.conditions is not None else None,
            texts=self.texts[index] if self.texts is not None else None,
            extras={k: v[index] for k, v in self.extras.items()},
        )

    def images01(self) -> torch.Tensor:
        """Images mapped to [0, 1] floats (for writers and feature extractors)."""
        lo, hi = self.value_range
        return ((self.data.float() - lo) / (hi - lo)).clamp(0, 1)

    @staticmethod
    def cat(parts: Sequence["Samples"]) -> "Samples":
        """Concatenate batches of the same kind."""
        first = parts[0]
        conds = None if first.conditions is None else [c for p in parts for c in (p.conditions or [])]
        texts = None if first.texts is None else [t for p in parts for t in (p.texts or [])]
        return replace(first, data=torch.cat([p.data for p in parts]), conditions=conds, texts=texts)
