"""The AttnGAN generator (G_NET) as a zoo model.

The architecture lives in zoo_core.blocks.attn_stages (shared with MirrorGAN): conditioning
augmentation (``ca_net``), the first stage ``h_net1`` (INIT_STAGE_G) and the attentional
stages ``h_net2``, ``h_net3`` (NEXT_STAGE_G: GlobalAttentionGeneral word attention over the
DAMSM word features, residual blocks, upBlock), each with its ``img_netK`` (GET_IMAGE_G).
Attribute names are the original's, so an original netG.pth loads key for key.
"""
from __future__ import annotations

from zoo_core.blocks.attn_stages import AttentionalT2I


class AttnGAN(AttentionalT2I):
    family = "attngan"
    sentence_attention = False
    card_notes = (
        "The repo holds the generator (G_NET) and its frozen DAMSM text encoder; the discriminators "
        "are training state and are not published. Samples are the last stage's images in [-1, 1]; "
        "`--stage 0` returns the first (coarse) stage. `--attention` writes each word's attention map "
        "of the last attentional stage next to the grid (`out.attention.png`, one row per sample, one "
        "column per word). Prompts must use the training vocabulary; an unknown word is an error "
        "that names it. AttnGAN has no tractable likelihood.")
