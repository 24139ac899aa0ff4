"""The base of the text-to-image families: prompts in, images out.

Every text-to-image plugin (GAN-INT-CLS, StackGAN, StackGAN++, AttnGAN, MirrorGAN) subclasses
``TextToImageModel`` and implements one method, ``generate``: the originals' generator forward
from noise and text features. The base owns what they share:

- the vocabulary (a word list in config.json) and the DAMSM text encoder (``text_encoder``,
  the AttnGAN ``RNN_ENCODER``), frozen: trainers copy it from a trained ``DAMSMEncoders``
  (``use_text_encoder``) and it travels in the model's own safetensors so prompts work offline;
- prompt checking: an empty prompt or a word outside the vocabulary is a one-line error that
  names the words (never silently dropped, unlike the originals);
- the ``ancestral`` sampler: z ~ N(0, I) (optionally truncated) and the conditioning
  augmentation noise eps are drawn from the per-sample RNG, so sample i depends only on
  (seed, i); ``ca_noise`` scales eps (BigGAN's truncation trick, applied to the condition
  instead of z: below 1 trades variety for following the text); ``--stage`` picks an
  intermediate stage's image and ``--attention`` returns per-word attention maps of the
  attentional models as ``Samples.extras["attention"]``.

A model converted from an original checkpoint without a text encoder (StackGAN's
char-CNN-RNN embeddings are not a PyTorch module) samples from sentence embeddings instead:
``--embeddings FILE.npy`` (rows cycled over the samples).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Sequence

import torch

from ..errors import BadInputError
from ..model import GenerativeModel
from ..sampler import Sampler
from .text_encoder import RNNEncoder, build_text_encoder
from .vocab import Vocabulary, padding_mask


@dataclass
class TextFeatures:
    """Encoded prompts: word features (n, nef, T), sentence features (n, nef), ids and lengths."""

    words: torch.Tensor | None
    sentence: torch.Tensor
    ids: torch.Tensor | None = None
    lengths: torch.Tensor | None = None

    @property
    def mask(self) -> torch.Tensor | None:
        """True at padded words (AttnGAN's ``captions == 0``)."""
        return None if self.ids is None else padding_mask(self.ids).to(self.sentence.device)

    def __len__(self) -> int:
        return int(self.sentence.shape[0])


@dataclass
class GeneratorOutput:
    """What ``generate`` returns: one image per stage (coarse to fine, in [-1, 1]), the
    conditioning augmentation's mu / logvar (None without CA) and, for attentional stages,
    word attention maps (n, T, h, w) per stage."""

    images: list[torch.Tensor]
    mu: torch.Tensor | None = None
    logvar: torch.Tensor | None = None
    attention: list[torch.Tensor] | None = None


class TextToImageSampler(Sampler):
    name = "ancestral"
    description = "noise and conditioning-augmentation draws from the per-sample RNG, one pass of the generator"
    options = {
        "truncation": (float, 0.0, "resample noise entries beyond +-t (0: no truncation)"),
        "ca_noise": (float, 1.0, "scale of the conditioning-augmentation noise: 1 as trained, 0 samples at "
                                 "the CA mean (closer to the text, less varied)"),
        "stage": (int, -1, "which stage's image to return: 0 the first (coarsest), -1 the last"),
        "attention": (bool, False, "also return per-word attention maps (attentional models)"),
        "embeddings": (str, None, "a .npy file of sentence embeddings (rows) instead of prompts"),
    }

    def __call__(self, model: "TextToImageModel", n: int, rng: Any, condition: list[Any] | None) -> Any:
        if self.ca_noise < 0:
            raise BadInputError(f"ca_noise must be 0 or more, not {self.ca_noise:g}")
        if self.ca_noise != 1 and not model.c_dim:
            raise BadInputError(f"{model.family} has no conditioning augmentation: drop ca_noise")
        text = self._text(model, n, rng, condition)
        z = (rng.truncated_randn(model.z_dim, threshold=self.truncation) if self.truncation > 0
             else rng.randn(model.z_dim))
        eps = rng.randn(model.c_dim) * self.ca_noise if model.c_dim else None
        out = model.generate(z, text, eps=eps, attention=self.attention)
        try:
            image = out.images[self.stage]
        except IndexError:
            raise BadInputError(f"--stage {self.stage}: this model has {len(out.images)} stages "
                                f"(0..{len(out.images) - 1}, or -1 for the last)") from None
        if not self.attention:
            return image
        if not out.attention:
            raise BadInputError(f"{model.family} has no word attention; drop --attention")
        from .attention import attention_overlays

        images01 = (image.float() + 1) / 2
        maps = attention_overlays(images01, out.attention[-1], text.lengths)
        return image, {"attention": maps, "attention_words": _words(model, text)}

    def _text(self, model: "TextToImageModel", n: int, rng: Any, condition: list[Any] | None) -> TextFeatures:
        if self.embeddings is None:
            if model.text_encoder is None:
                raise BadInputError(f"this {model.family} model has no text encoder: give sentence embeddings "
                                    f"with --embeddings FILE.npy ({model.text_dim} values per row)")
            if condition is None:
                raise BadInputError(f"{model.family} is conditional: give a prompt for the samples")
            return model.encode_prompts(condition)
        if condition is not None:
            raise BadInputError("give prompts or --embeddings, not both")
        rows = load_embeddings(self.embeddings, model.text_dim)
        start = getattr(rng, "start", 0)
        index = torch.arange(start, start + n) % len(rows)
        return TextFeatures(words=None, sentence=rows[index].to(model.device))


def _words(model: "TextToImageModel", text: TextFeatures) -> list[list[str]]:
    if text.ids is None:
        return []
    return [model.vocab.decode(row).split() for row in text.ids.tolist()]


def load_embeddings(path: str, dim: int) -> torch.Tensor:
    """Sentence embeddings (m, dim) from a .npy file, read without pickles."""
    import numpy as np

    try:
        array = np.load(Path(path), allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise BadInputError(f"cannot read embeddings {path!r}: {exc}") from None
    if array.ndim != 2 or array.shape[1] != dim or len(array) == 0:
        raise BadInputError(f"embeddings {path!r} have shape {tuple(array.shape)}; this model needs (m, {dim})")
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


class TextToImageModel(GenerativeModel):
    """A generator conditioned on captions. Subclasses call ``init_text`` in ``__init__``, set
    ``z_dim`` and ``c_dim`` (the conditioning augmentation size, or None without CA) and
    implement ``generate``."""

    kind = "image"
    value_range = (-1.0, 1.0)
    condition_kind = "text"
    condition_required = True
    samplers: ClassVar[dict[str, type[Sampler]]] = {"ancestral": TextToImageSampler}

    z_dim: int = 100
    c_dim: int | None = None

    def init_text(self, vocab: Sequence[str] | None, text_encoder: str | dict[str, Any] | None,
                  max_words: int = 18, text_dim: int | None = None) -> None:
        """Build the vocabulary and the (frozen) text encoder; ``text_encoder=None`` with
        ``text_dim`` gives an embeddings-only model (a converted original without an encoder)."""
        self.vocab = Vocabulary(vocab) if vocab else Vocabulary.for_shapes()
        self.max_words = max_words
        self.text_encoder: RNNEncoder | None = None
        if text_encoder is None:
            if text_dim is None:
                raise ValueError("a model without a text encoder needs text_dim")
            self.text_dim = text_dim
            self.condition_required = False  # it samples from --embeddings
            return
        self.text_encoder = build_text_encoder(text_encoder, ntoken=len(self.vocab))
        self.text_encoder.requires_grad_(False)
        self.text_dim = self.text_encoder.nef

    def train(self, mode: bool = True) -> "TextToImageModel":
        super().train(mode)
        if self.text_encoder is not None:
            self.text_encoder.eval()  # frozen: no dropout while the generator trains
        return self

    # -- prompts ----------------------------------------------------------------------------
    def check_condition(self, condition: Any) -> None:
        if self.text_encoder is None:
            raise BadInputError(f"this {self.family} model has no text encoder, so it cannot read prompts: "
                                f"give sentence embeddings with --embeddings FILE.npy")
        super().check_condition(condition)
        self.vocab.encode(condition, self.max_words)  # names every out-of-vocabulary word

    @torch.no_grad()
    def encode_ids(self, ids: torch.Tensor, lengths: torch.Tensor) -> TextFeatures:
        """Word and sentence features of index captions (n, T) with lengths (n,)."""
        assert self.text_encoder is not None
        ids = ids.to(self.device)
        words, sentence = self.text_encoder(ids, lengths)
        return TextFeatures(words=words, sentence=sentence, ids=ids, lengths=torch.as_tensor(lengths))

    def encode_prompts(self, prompts: Sequence[str]) -> TextFeatures:
        """Features of prompts; a BadInputError names words outside the vocabulary.

        Every prompt is padded to ``max_words``, so a sample never depends on the length of
        the other prompts in its batch, and attention maps of all batches have the same width."""
        ids, lengths = self.vocab.encode_batch(list(prompts), max_words=self.max_words, pad_to=self.max_words)
        return self.encode_ids(ids, lengths)

    def use_text_encoder(self, damsm: Any) -> None:
        """Copy a trained DAMSM's text encoder (and check the vocabularies agree)."""
        if damsm.vocab != self.vocab:
            raise ValueError("the DAMSM encoders were trained with a different vocabulary")
        assert self.text_encoder is not None
        self.text_encoder.load_state_dict(damsm.text_encoder.state_dict())
        self.text_encoder.requires_grad_(False)

    # -- the generator ----------------------------------------------------------------------
    def generate(self, noise: torch.Tensor, text: TextFeatures, eps: torch.Tensor | None = None,
                 attention: bool = False) -> GeneratorOutput:
        """The generator forward: noise (n, z_dim), text features, CA noise (n, c_dim)."""
        raise NotImplementedError
