"""Word attention of the attentional generators and of DAMSM.

- ``GlobalAttentionGeneral`` (AttnGAN, Xu et al. 2018, Eq. 2; original class of the same name
  in taoxugit/AttnGAN code/GlobalAttention.py): every image region (query, idf channels) attends
  over the words (context, cdf channels, projected to idf by ``conv_context``, a bias-free 1x1
  conv) and receives their weighted sum -- the word-context features F^attn of the next stage.
  Padded words get weight exactly zero (masked to -inf before the softmax).
- ``GLAttentionGeneral`` (MirrorGAN, Qiao et al. 2019, Eqs. 4-5, GLAM; original class of the
  same name in qiaott/MirrorGAN GLAttention.py): the word attention above plus a sentence
  attention: the sentence code (``linear``) gates the image features, ``conv_sentence_vis``
  and a softmax over channels give the sentence-context features.
- ``func_attention`` (AttnGAN Eqs. 7-9, used by the DAMSM word loss): every word attends over
  the image regions; the region-word similarities are normalised over words, sharpened by
  gamma1 and normalised over regions.

Shapes follow the originals: queries (n, idf, h, w), words (n, cdf, T), masks (n, T) with True
at padded words; attention maps come back as (n, T, h, w).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def func_attention(query: torch.Tensor, context: torch.Tensor, gamma1: float,
                   mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Words attend to regions. query: words (n, ndf, T); context: regions (n, ndf, h, w).

    Returns the region context of each word (n, ndf, T) and the attention (n, T, h, w). With
    ``mask`` (n, T; True = padding) padded words are left out of the normalisation over words.
    """
    n, T = query.size(0), query.size(2)
    h, w = context.shape[2:]
    regions = context.reshape(n, -1, h * w)  # n x ndf x R
    attn = torch.bmm(regions.transpose(1, 2), query)  # n x R x T, Eq. (7)
    if mask is not None:
        attn = attn.masked_fill(mask[:, None, :], float("-inf"))
    attn = F.softmax(attn, dim=2)  # over words, Eq. (8)
    attn = F.softmax(attn * gamma1, dim=1)  # over regions, Eq. (9)
    weighted = torch.bmm(regions, attn)  # n x ndf x T
    return weighted, attn.transpose(1, 2).reshape(n, T, h, w)


class GlobalAttentionGeneral(nn.Module):
    """AttnGAN's ``GlobalAttentionGeneral(idf, cdf)``: regions attend over words."""

    def __init__(self, idf: int, cdf: int) -> None:
        super().__init__()
        self.idf, self.cdf = idf, cdf
        self.conv_context = nn.Conv2d(cdf, idf, kernel_size=1, bias=False)

    def word_attention(self, x: torch.Tensor, context: torch.Tensor,
                       mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        n, _, h, w = x.shape
        target = x.reshape(n, -1, h * w)  # n x idf x Q
        source = self.conv_context(context.unsqueeze(3)).squeeze(3)  # n x idf x T
        attn = torch.bmm(target.transpose(1, 2), source)  # n x Q x T
        if mask is not None:
            attn = attn.masked_fill(mask.to(torch.bool)[:, None, :], float("-inf"))
        attn = F.softmax(attn, dim=2).transpose(1, 2)  # n x T x Q, Eq. (2)
        weighted = torch.bmm(source, attn)  # n x idf x Q
        return weighted.reshape(n, -1, h, w), attn.reshape(n, -1, h, w)

    def forward(self, x: torch.Tensor, context: torch.Tensor,
                mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """x: region features (n, idf, h, w); context: words (n, cdf, T); mask: (n, T).

        Returns the word-context features (n, idf, h, w) and the attention maps (n, T, h, w).
        """
        return self.word_attention(x, context, mask)


class GLAttentionGeneral(GlobalAttentionGeneral):
    """MirrorGAN's GLAM: word attention plus sentence attention from a sentence code."""

    def __init__(self, idf: int, cdf: int, sentence_dim: int = 100) -> None:
        super().__init__(idf, cdf)
        self.conv_sentence_vis = nn.Conv2d(idf, idf, kernel_size=1, bias=False)
        self.linear = nn.Linear(sentence_dim, idf)

    def forward(self, x: torch.Tensor, sentence: torch.Tensor, context: torch.Tensor,  # type: ignore[override]
                mask: torch.Tensor | None = None):
        """Returns (word context, sentence context (n, idf, h, w), word attention, sentence attention)."""
        word_ctx, word_attn = self.word_attention(x, context, mask)
        n, _, h, w = x.shape
        s = self.linear(sentence).reshape(n, -1, 1, 1).expand(-1, -1, h, w)
        sent_attn = F.softmax(self.conv_sentence_vis(x * s), dim=1)  # over channels, Eq. (5)
        return word_ctx, s * sent_attn, word_attn, sent_attn


def attention_overlays(images01: torch.Tensor, attn: torch.Tensor, lengths: torch.Tensor | None = None,
                       strength: float = 0.7) -> torch.Tensor:
    """Per-word attention maps drawn over their images, for ``--attention`` outputs.

    images01: (n, 3, H, W) in [0, 1]; attn: (n, T, h, w) from a generator stage or DAMSM.
    Returns (n, T, 3, H, W) in [0, 1]: each map upsampled (bilinear), scaled to [0, 1] per
    word, and blended as a bright highlight; words past ``lengths`` are left black.
    """
    n, T = attn.shape[:2]
    maps = F.interpolate(attn.float(), size=images01.shape[-2:], mode="bilinear", align_corners=False)
    lo = maps.flatten(2).min(2).values[..., None, None]
    hi = maps.flatten(2).max(2).values[..., None, None]
    maps = ((maps - lo) / (hi - lo).clamp(min=1e-8)).unsqueeze(2)  # n x T x 1 x H x W
    out = images01.unsqueeze(1) * (1 - strength * (1 - maps))  # dim where attention is low
    if lengths is not None:
        keep = torch.arange(T, device=attn.device)[None, :] < lengths.to(attn.device)[:, None]
        out = out * keep[:, :, None, None, None]
    return out.clamp(0, 1)
