"""Mode seeking (Mao et al. 2019, "Mode Seeking Generative Adversarial Networks for Diverse Image
Synthesis", arXiv:1903.05628): a generator term that rewards two noise draws for the same
condition giving different images. Not in AttnGAN or MirrorGAN; an option of their trainers
(``-K mode_seeking=LAMBDA``), for generators that learnt to ignore their noise.

The pairs ride in the generator's own batch: the first ``k`` captions appear again at its end
with fresh noise and the same conditioning-augmentation draw, so only z differs between the
two images of a pair and both pass through the same batch-norm statistics.
"""
from __future__ import annotations

import torch

from .text_to_image import GeneratorOutput, TextFeatures

__all__ = ["with_pairs", "first_rows", "mode_seeking_loss", "objective_note"]

EPS = 1e-5  # the authors' constant in 1 / (ratio + eps)


def with_pairs(noise: torch.Tensor, eps: torch.Tensor, text: TextFeatures, k: int,
               gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, TextFeatures]:
    """(noise, eps, text) with k more rows: the first k captions and CA draws again, new noise."""
    extra = torch.randn(k, noise.shape[1], generator=gen).to(noise.device)

    def twice(t: torch.Tensor | None) -> torch.Tensor | None:
        return None if t is None else torch.cat([t, t[:k]])

    text2 = TextFeatures(words=twice(text.words), sentence=twice(text.sentence), ids=twice(text.ids),
                         lengths=twice(text.lengths))
    return torch.cat([noise, extra]), twice(eps), text2


def first_rows(out: GeneratorOutput, n: int) -> GeneratorOutput:
    """The generator output of the batch's first n rows (what the usual losses see)."""
    def cut(t: torch.Tensor | None) -> torch.Tensor | None:
        return None if t is None else t[:n]

    return GeneratorOutput(images=[x[:n] for x in out.images], mu=cut(out.mu), logvar=cut(out.logvar),
                           attention=None if out.attention is None else [a[:n] for a in out.attention])


def objective_note(weight: float) -> str:
    """What the term adds to a training report's objective ("" when off)."""
    if not weight:
        return ""
    return f" + {weight:g} x mode seeking (Mao et al. 2019; not in the paper: a quarter of each batch's captions drawn twice)"


def mode_seeking_loss(images: torch.Tensor, noise: torch.Tensor, n: int) -> torch.Tensor:
    """1 / (mean |I_a - I_b| / mean |z_a - z_b| + eps) over the pairs (row n + j, row j)."""
    k = images.shape[0] - n
    if k <= 0 or k > n:
        raise ValueError(f"need 1..{n} paired rows after the first {n}, got {k}")
    ratio = (images[n:] - images[:k]).abs().mean() / (noise[n:] - noise[:k]).abs().mean()
    return 1.0 / (ratio + EPS)
