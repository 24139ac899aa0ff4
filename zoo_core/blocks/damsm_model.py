"""A trained DAMSM encoder pair as one saveable model: text encoder, image encoder, vocabulary.

AttnGAN and MirrorGAN train their generators against a fixed, pretrained DAMSM (the text
encoder conditions the generator, the image encoder scores its output), and the R-precision
evaluator ranks captions with it. ``DAMSMEncoders`` keeps the two encoders and the vocabulary
(a word list in config.json) together, saved and loaded like any zoo model
(``save_pretrained`` / ``from_pretrained``: config.json + model.safetensors). Its family is
"damsm"; it is a scorer, not a generative model, so ``sample`` refuses.

    damsm = DAMSMEncoders.from_pretrained("runs/damsm-shapes")
    words, sentence, lengths = damsm.encode_text(["a small red circle above a blue square"])
    regions, code = damsm.encode_images(images_in_minus1_1)

The state dict nests the originals' keys under ``text_encoder.`` and ``image_encoder.``, so an
original ``text_encoder200.pth`` / ``image_encoder200.pth`` pair converts by adding prefixes.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch

from ..errors import ZooError
from ..model import GenerativeModel
from .image_encoder import build_image_encoder
from .text_encoder import build_text_encoder
from .vocab import Vocabulary, padding_mask


class DAMSMEncoders(GenerativeModel):
    """The DAMSM text encoder (bi-LSTM) and image encoder sharing a feature size nef."""

    family = "damsm"
    kind = "image"
    value_range = (-1.0, 1.0)

    def __init__(self, vocab: list[str] | None = None, text_encoder: str | dict[str, Any] = "small",
                 image_encoder: str | dict[str, Any] = "small", max_words: int = 18) -> None:
        super().__init__()
        self.vocab = Vocabulary(vocab) if vocab else Vocabulary.for_shapes()
        self.max_words = max_words
        self.text_encoder = build_text_encoder(text_encoder, ntoken=len(self.vocab))
        self.image_encoder = build_image_encoder(image_encoder)
        if self.text_encoder.nef != self.image_encoder.nef:
            raise ValueError(f"text ({self.text_encoder.nef}) and image ({self.image_encoder.nef}) "
                             f"encoders must share nef")

    @property
    def nef(self) -> int:
        return self.text_encoder.nef

    def tokenize(self, prompts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """(ids (n, T), lengths (n,)); a BadInputError names out-of-vocabulary words."""
        return self.vocab.encode_batch(list(prompts), max_words=self.max_words)

    def encode_ids(self, ids: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Word features (n, nef, T) and sentence features (n, nef) of index captions."""
        return self.text_encoder(ids.to(self.device), lengths)

    def encode_text(self, prompts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Word features (n, nef, T), sentence features (n, nef) and lengths (n,) of prompts.
        The padding mask the generators' attention needs is ``lengths_to_mask`` / ids == 0."""
        ids, lengths = self.tokenize(prompts)
        words, sentence = self.encode_ids(ids, lengths)
        return words, sentence, lengths

    @staticmethod
    def mask(ids: torch.Tensor) -> torch.Tensor:
        return padding_mask(ids)

    def encode_images(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Region features (n, nef, h, w) and global codes (n, nef) of images in [-1, 1]."""
        return self.image_encoder(images.to(self.device))

    def forward(self, images: torch.Tensor, ids: torch.Tensor, lengths: torch.Tensor):
        regions, code = self.encode_images(images)
        words, sentence = self.encode_ids(ids, lengths)
        return regions, code, words, sentence

    def sample(self, n: int, **_: Any):  # type: ignore[override]
        raise ZooError("DAMSM encoders score images against captions; they have nothing to sample")
