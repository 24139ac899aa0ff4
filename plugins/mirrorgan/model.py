"""The MirrorGAN generator (GLAM) as a zoo model; STEM is the frozen DAMSM text encoder.

The architecture lives in zoo_core.blocks.attn_stages (shared with AttnGAN): ``ca_net``,
``h_net1`` (INIT_STAGE_G) and attentional stages ``h_net2``, ``h_net3`` whose ``att`` is
``GLAttentionGeneral`` -- word attention (Eq. 4) plus sentence attention driven by the CA code
(Eq. 5) -- and whose ``conv`` fuses [regions, word context, sentence context] before the
residual blocks, as in qiaott/MirrorGAN model.py.
"""
from __future__ import annotations

import torch

from zoo_core.blocks.attn_stages import AttentionalT2I


class MirrorGAN(AttentionalT2I):
    family = "mirrorgan"
    sentence_attention = True
    card_notes = (
        "The repo holds the generator (GLAM) and its frozen STEM text encoder (the DAMSM-shapes bi-LSTM); "
        "the discriminators and STREAM (the captioner whose cross-entropy on the generated images trains "
        "the generator) are training state and are not published. Samples are the last stage's images in "
        "[-1, 1]; `--stage 0` gives the coarse stage; `--attention` writes each word's attention map of "
        "the last attentional stage (`out.attention.png`). Unknown prompt words are an error that names "
        "them. MirrorGAN has no tractable likelihood.")

    @torch.no_grad()
    def load_attngan(self, attngan_state: dict[str, torch.Tensor]) -> list[str]:
        """Start from a trained AttnGAN generator of the same sizes: every shared key is copied,
        and each stage's fusion conv is set to pass [regions, word context] through unchanged
        and ignore the (new) sentence context, and residual blocks beyond the AttnGAN's start as
        the identity, so the starting model generates exactly what the AttnGAN did. Returns the keys that had no AttnGAN counterpart."""
        own = self.state_dict()
        new = [k for k in own if k not in attngan_state]
        for k, v in attngan_state.items():
            if k not in own or own[k].shape != v.shape:
                raise ValueError(f"the AttnGAN state does not fit this MirrorGAN: {k}")
            own[k].copy_(v)
        for i in range(2, self.branch_num + 1):
            conv = getattr(self, f"h_net{i}").conv.weight  # (2 ngf, 3 ngf, 1, 1)
            conv.zero_()
            conv[:, : 2 * self.ngf, 0, 0] = torch.eye(2 * self.ngf)
        self.residual_blocks_as_identity(new)  # blocks beyond the AttnGAN's r_num
        return new
