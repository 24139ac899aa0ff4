"""The DAMSM text encoder: a bi-directional LSTM over word embeddings (AttnGAN, Xu et al. 2018,
section 3.2 "text encoder"; original class ``RNN_ENCODER`` in taoxugit/AttnGAN code/model.py).

Each word gets a feature e_t in R^nef (the two directions' hidden states concatenated) and the
sentence gets the last hidden states of both directions, ebar in R^nef. nef is ``nhidden``;
each direction has nhidden / 2 units.

Key names match the original state dict: ``encoder.weight`` (the nn.Embedding, ntoken x
ninput) and ``rnn.weight_ih_l0``, ``rnn.weight_hh_l0``, ``rnn.bias_ih_l0``, ``rnn.bias_hh_l0``
and their ``_reverse`` twins (the nn.LSTM). ``drop`` is a Dropout on the embeddings. The
original's ``hidden`` argument (zeros from ``init_hidden``) is optional here.

Configs: ``PAPER_CUB`` / ``PAPER_COCO`` are the pretrained DAMSM encoders' sizes (ntoken from
the originals' captions.pickle vocabularies, embedding 300, nef 256, one LSTM layer, dropout
0.5); ``SMALL`` is the shapes encoder trained here (its ntoken comes from the vocabulary).
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

PAPER_CUB: dict[str, Any] = {"ntoken": 5450, "ninput": 300, "nhidden": 256, "nlayers": 1,
                             "drop_prob": 0.5, "bidirectional": True, "rnn_type": "LSTM"}
PAPER_COCO: dict[str, Any] = {**PAPER_CUB, "ntoken": 27297}
SMALL: dict[str, Any] = {"ninput": 128, "nhidden": 128, "nlayers": 1, "drop_prob": 0.1,
                         "bidirectional": True, "rnn_type": "LSTM"}
TINY: dict[str, Any] = {"ninput": 16, "nhidden": 16, "nlayers": 1, "drop_prob": 0.0,
                        "bidirectional": True, "rnn_type": "LSTM"}
CONFIGS = {"paper-cub": PAPER_CUB, "paper-coco": PAPER_COCO, "small": SMALL, "tiny": TINY}


class RNNEncoder(nn.Module):
    """AttnGAN's ``RNN_ENCODER``: embedding -> dropout -> (bi-)LSTM.

    ``forward(captions, cap_lens)`` takes word indices (n, T), padded with 0, and their lengths
    (n,), and returns word features (n, nef, T) -- zero at padded positions -- and the sentence
    feature (n, nef). Captions need not be sorted by length.
    """

    def __init__(self, ntoken: int, ninput: int = 300, nhidden: int = 256, nlayers: int = 1,
                 drop_prob: float = 0.5, bidirectional: bool = True, rnn_type: str = "LSTM") -> None:
        super().__init__()
        self.ntoken, self.ninput, self.nlayers = ntoken, ninput, nlayers
        self.num_directions = 2 if bidirectional else 1
        if nhidden % self.num_directions:
            raise ValueError(f"nhidden ({nhidden}) must split evenly between the directions")
        self.nhidden = nhidden // self.num_directions  # per direction, as in the original
        self.rnn_type = rnn_type
        self.encoder = nn.Embedding(ntoken, ninput)
        self.drop = nn.Dropout(drop_prob)
        rnn = {"LSTM": nn.LSTM, "GRU": nn.GRU}.get(rnn_type)
        if rnn is None:
            raise ValueError(f"rnn_type must be LSTM or GRU, got {rnn_type!r}")
        # the inter-layer dropout only exists between layers; PyTorch warns when nlayers == 1
        self.rnn = rnn(ninput, self.nhidden, nlayers, batch_first=True,
                       dropout=drop_prob if nlayers > 1 else 0.0, bidirectional=bidirectional)
        nn.init.uniform_(self.encoder.weight, -0.1, 0.1)  # the original's init_weights

    @property
    def nef(self) -> int:
        """Size of word and sentence features."""
        return self.nhidden * self.num_directions

    def forward(self, captions: torch.Tensor, cap_lens: torch.Tensor,
                hidden: Any = None) -> tuple[torch.Tensor, torch.Tensor]:
        emb = self.drop(self.encoder(captions))
        lengths = torch.as_tensor(cap_lens).to("cpu", torch.long)
        if int(lengths.min()) < 1:
            raise ValueError("every caption needs at least one word")
        packed = pack_padded_sequence(emb, lengths, batch_first=True, enforce_sorted=False)
        output, hidden = self.rnn(packed, hidden)
        output = pad_packed_sequence(output, batch_first=True, total_length=captions.size(1))[0]
        words_emb = output.transpose(1, 2)  # n x nef x T
        h = hidden[0] if self.rnn_type == "LSTM" else hidden  # (nlayers * dirs) x n x nhidden
        h = h[-self.num_directions:]  # the last layer (the original has one)
        sent_emb = h.transpose(0, 1).contiguous().view(-1, self.nef)
        return words_emb, sent_emb


def build_text_encoder(config: str | dict[str, Any] = "small", ntoken: int | None = None) -> RNNEncoder:
    """An RNNEncoder from a named config (or dict); ``ntoken`` fills or overrides the vocabulary size."""
    cfg = dict(CONFIGS[config]) if isinstance(config, str) else dict(config)
    if ntoken is not None:
        cfg["ntoken"] = ntoken
    if "ntoken" not in cfg:
        raise ValueError("the text encoder needs ntoken (the vocabulary size)")
    return RNNEncoder(**cfg)
