"""A GRU language model over characters or tokens: embedding -> GRU -> linear head.

p(x_1..x_T) = prod_t p(x_t | EOT, x_1..x_{t-1}): every text is read as if it starts a file (the
corpus puts EOT before each file). The vocabulary travels in config.json (``vocab``: a string
for characters, a list of strings for tokens), so a published model encodes prompts and
decodes samples with nothing else.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from zoo_core.errors import BadInputError
from zoo_core.model import GenerativeModel
from zoo_core.samples import Samples

from .samplers import TextSampler
from .text import EOT, Tokenizer

DEFAULT_VOCAB = "\n" + "".join(chr(c) for c in range(32, 127))  # printable ASCII


class GRULanguageModel(GenerativeModel):
    """Embedding, a stack of GRU layers and a linear head over the vocabulary (+ EOT)."""

    family = "gru-lm"
    kind = "text"
    samplers = {"ancestral": TextSampler}
    condition_kind = "text"
    condition_required = False  # a prompt is optional
    log_prob_is_bound = False

    def __init__(self, vocab: str | list[str] = DEFAULT_VOCAB, embed_dim: int = 64, hidden: int = 256,
                 layers: int = 1) -> None:
        super().__init__()
        self.tokenizer = Tokenizer(vocab)
        self.vocab_size = len(self.tokenizer)
        self.embed_dim, self.hidden, self.layers = embed_dim, hidden, layers
        self.embed = nn.Embedding(self.vocab_size, embed_dim)
        self.gru = nn.GRU(embed_dim, hidden, num_layers=layers, batch_first=True)
        self.head = nn.Linear(hidden, self.vocab_size)

    def forward(self, ids: torch.Tensor, state: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (n, T, V) for the token after each of `ids` (n, T), and the new GRU state."""
        out, state = self.gru(self.embed(ids), state)
        return self.head(out), state

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x) in nats per sequence for token ids x (n, T) (no EOT inside: EOT ends a text,
        so ids after the first EOT are ignored), read from the start of a file."""
        x = x.long().to(self.device)
        if x.dim() != 2:
            raise BadInputError(f"log_prob takes token ids of shape (n, T), got {tuple(x.shape)}")
        if x.numel() and (x.min() < 0 or x.max() >= self.vocab_size):
            raise BadInputError(f"token ids must lie in 0..{self.vocab_size - 1}")
        start = torch.full((len(x), 1), EOT, dtype=torch.long, device=x.device)
        logits, _ = self(torch.cat([start, x[:, :-1]], 1))
        logp = torch.log_softmax(logits.float(), -1).gather(-1, x[..., None]).squeeze(-1)
        keep = torch.cumsum((x == EOT).long(), 1) - (x == EOT).long() == 0  # up to the first EOT
        return (logp * keep).sum(1)

    def loss(self, ids: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy (nats per token) of predicting ids[:, 1:] from ids[:, :-1]."""
        logits, _ = self(ids[:, :-1])
        return F.cross_entropy(logits.reshape(-1, self.vocab_size), ids[:, 1:].reshape(-1))

    def check_condition(self, condition: Any) -> None:
        if not isinstance(condition, str):
            raise BadInputError(f"a prompt must be text, got {condition!r}")
        missing = self.tokenizer.unknown(condition)
        if missing:
            raise BadInputError("the prompt has characters outside the model's vocabulary: "
                                + ", ".join(repr(c) for c in missing))

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text)

    def wrap_samples(self, data: torch.Tensor, conditions: list[Any] | None) -> Samples:
        """data: the generated continuations (n, max_length), EOT-padded after each one ends;
        texts: prompt + continuation."""
        prompts = conditions or [""] * len(data)
        texts = [p + self.tokenizer.decode(row.tolist()) for p, row in zip(prompts, data)]
        return Samples(data=data, kind=self.kind, value_range=self.value_range,
                       conditions=conditions, texts=texts)
