"""Per-sample random streams: sample i depends only on (seed, i), whatever n or the batch.

Noise is drawn on the CPU from one generator per sample and then moved to the device, so a
seed gives the same noise everywhere and `-n 4` gives the first four samples of `-n 64`.
"""
from __future__ import annotations

import hashlib
from typing import Sequence

import torch


def sample_seed(seed: int, index: int) -> int:
    """A 63-bit seed for sample `index` of a run seeded with `seed`."""
    digest = hashlib.sha256(f"zoo:{seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


class SampleRNG:
    """One torch.Generator per sample; every draw has a leading per-sample dimension."""

    def __init__(self, generators: Sequence[torch.Generator], device: torch.device | str = "cpu",
                 start: int = 0) -> None:
        self.generators = list(generators)
        self.device = torch.device(device)
        self.start = start  # index of the first sample in the run (samplers reading per-index inputs)

    @classmethod
    def from_seed(cls, seed: int, start: int, n: int, device: torch.device | str = "cpu") -> "SampleRNG":
        gens = [torch.Generator().manual_seed(sample_seed(seed, i)) for i in range(start, start + n)]
        return cls(gens, device, start)

    @classmethod
    def shared(cls, generator: torch.Generator | None, n: int, device: torch.device | str = "cpu") -> "SampleRNG":
        """n streams split off one generator (or torch's global RNG when None)."""
        seeds = torch.randint(0, 2**62, (n,), generator=generator).tolist()
        return cls([torch.Generator().manual_seed(s) for s in seeds], device)

    def __len__(self) -> int:
        return len(self.generators)

    def _stack(self, draw) -> torch.Tensor:
        return torch.stack([draw(g) for g in self.generators]).to(self.device)

    def randn(self, *shape: int) -> torch.Tensor:
        """Standard normal noise of shape (n, *shape)."""
        return self._stack(lambda g: torch.randn(shape, generator=g))

    def rand(self, *shape: int) -> torch.Tensor:
        """Uniform [0, 1) noise of shape (n, *shape)."""
        return self._stack(lambda g: torch.rand(shape, generator=g))

    def bernoulli(self, probs: torch.Tensor) -> torch.Tensor:
        """Bernoulli draws with per-sample probabilities `probs` of shape (n, ...)."""
        u = self._stack(lambda g: torch.rand(probs.shape[1:], generator=g))
        return (u < probs.to(self.device)).to(probs.dtype)

    def multinomial(self, probs: torch.Tensor) -> torch.Tensor:
        """One category per sample from `probs` of shape (n, k)."""
        cpu = probs.detach().float().cpu()
        picks = [torch.multinomial(cpu[i], 1, generator=g) for i, g in enumerate(self.generators)]
        return torch.cat(picks).to(self.device)

    def truncated_randn(self, *shape: int, threshold: float) -> torch.Tensor:
        """Normal noise resampled until every value lies within +-threshold."""
        def draw(g: torch.Generator) -> torch.Tensor:
            z = torch.randn(shape, generator=g)
            for _ in range(1000):
                bad = z.abs() > threshold
                if not bad.any():
                    break
                z[bad] = torch.randn(int(bad.sum()), generator=g)
            return z.clamp(-threshold, threshold)
        return self._stack(draw)
