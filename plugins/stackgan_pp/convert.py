"""Convert an original StackGAN++ generator (hanzhanggit/StackGAN-v2 ``netG_<iteration>.pth``)
into a zoo model folder:

    zoo convert stackgan-pp netG_210000.pth --config paper-birds -o stackgan-pp-birds
    zoo sample stackgan-pp-birds --embeddings char_cnn_rnn_test.npy -o birds.png

The original saved ``netG.state_dict()`` of an ``nn.DataParallel`` (every key prefixed
``module.``) with PyTorch 0.2/0.3, before batch norm had ``num_batches_tracked``; both are
handled (``zoo_core.convert``). Keys then map one to one onto ``StackGANpp`` (``ca_net.*``,
``h_net1..3.*``, ``img_net1..3.*``). The birds model was conditioned on char-CNN-RNN sentence
embeddings (1024-d), which have no PyTorch encoder: the converted model samples from
``--embeddings FILE.npy``. With ``--text-encoder text_encoder.pth --captions captions.pickle``
(an AttnGAN-style ``RNN_ENCODER`` whose sentence size equals the generator's text dimension, and
its vocabulary) the model reads prompts instead.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from zoo_core.convert import load_original, read_state_dict, strip_prefix
from zoo_core.errors import BadInputError, ZooError

from .config import get_config


def text_encoder_config(state: dict[str, Any]) -> dict[str, Any]:
    """An RNN_ENCODER config read off its state dict's shapes."""
    try:
        ntoken, ninput = state["encoder.weight"].shape
        hidden = state["rnn.weight_hh_l0"].shape[1]
        gates = state["rnn.weight_hh_l0"].shape[0] // hidden
    except KeyError as exc:
        raise ZooError(f"the text encoder is not an RNN_ENCODER state dict (no {exc.args[0]})") from None
    bidirectional = "rnn.weight_hh_l0_reverse" in state
    nlayers = sum(1 for k in state if k.startswith("rnn.weight_hh_l") and not k.endswith("_reverse"))
    rnn_type = {4: "LSTM", 3: "GRU"}.get(gates)
    if rnn_type is None:
        raise ZooError(f"the text encoder's recurrent weights have {gates} gates; expected an LSTM or a GRU")
    return {"ninput": int(ninput), "nhidden": int(hidden) * (2 if bidirectional else 1), "nlayers": nlayers,
            "drop_prob": 0.5, "bidirectional": bidirectional, "rnn_type": rnn_type, "_ntoken": int(ntoken)}


def convert(checkpoint: Path, *, text_encoder: str | None = None, captions: str | None = None,
            config: str | dict[str, Any] = "paper-birds") -> Any:
    """The original generator (and optionally a text encoder) as a ``StackGANpp`` in eval mode."""
    from .model import StackGANpp

    try:
        cfg = get_config(config)
    except ValueError as exc:
        raise BadInputError(str(exc)) from None
    state = strip_prefix(read_state_dict(checkpoint, key="netG"))
    if "ca_net.fc.weight" not in state:
        raise ZooError(f"{checkpoint} is not a conditional StackGAN++ G_NET state dict (no ca_net.fc.weight)")
    text_dim = int(state["ca_net.fc.weight"].shape[1])
    cfg.update(text_encoder=None, text_dim=text_dim, vocab=None)
    if captions is not None and text_encoder is None:
        raise BadInputError("--captions only gives the vocabulary of a --text-encoder; pass both")
    if text_encoder is not None:
        if captions is None:
            raise BadInputError("--text-encoder needs --captions (captions.pickle, for its vocabulary)")
        from zoo_core.blocks.vocab import load_captions_pickle

        enc_state = strip_prefix(read_state_dict(text_encoder))
        enc_cfg = text_encoder_config(enc_state)
        ntoken = enc_cfg.pop("_ntoken")
        nef = enc_cfg["nhidden"]
        if nef != text_dim:
            raise ZooError(f"the text encoder's sentence features have {nef} values but the generator's "
                           f"CA reads {text_dim}; they were not trained together")
        vocab = load_captions_pickle(captions)["vocabulary"]
        if len(vocab) != ntoken:
            raise ZooError(f"the captions' vocabulary has {len(vocab)} words but the text encoder "
                           f"embeds {ntoken}; they do not belong together")
        cfg.update(text_encoder=enc_cfg, vocab=vocab.to_list())
        state = {**state, **{f"text_encoder.{k}": v for k, v in enc_state.items()}}
    try:
        model = StackGANpp(**cfg)
    except ValueError as exc:
        raise BadInputError(f"config {config!r}: {exc}") from None
    load_original(model, state, what=f"StackGAN++ checkpoint {Path(checkpoint).name}")
    return model.eval()
