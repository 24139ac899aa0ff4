"""Convert an original AttnGAN generator (taoxugit/AttnGAN ``netG_epoch_600.pth``) with its
DAMSM text encoder (``text_encoder200.pth``) and vocabulary (``captions.pickle``) into a zoo
model folder:

    zoo convert attngan netG.pth --text-encoder text_encoder200.pth --captions captions.pickle -o DIR
    zoo sample DIR --prompt "this bird is red with a black beak"

The generator's keys (``ca_net.fc.weight``, ``h_net1.fc.0.weight``, ``h_net2.att.conv_context.
weight``, ``h_net2.residual.0.block.0.weight``, ``img_net3.img.0.weight``, ...) are the zoo
model's own; the text encoder's (``encoder.weight``, ``rnn.weight_ih_l0``, ...) go under
``text_encoder.``. Its sizes (embedding, hidden units, layers, LSTM or GRU) are read from the
state dict; the vocabulary must have as many words as the encoder's embedding has rows.
Checkpoints are read with ``torch.load(weights_only=True)`` and the pickle with an unpickler
that refuses every class.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from zoo_core.errors import BadInputError, ZooError


def text_encoder_config(state: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    """RNN_ENCODER sizes from its state dict (``encoder.weight``, ``rnn.*``)."""
    if "encoder.weight" not in state or "rnn.weight_hh_l0" not in state:
        raise ZooError("the text encoder checkpoint has no encoder.weight / rnn.weight_hh_l0: "
                       "is it an AttnGAN RNN_ENCODER state dict?")
    ntoken, ninput = state["encoder.weight"].shape
    per_dir = state["rnn.weight_hh_l0"].shape[1]
    gates = state["rnn.weight_hh_l0"].shape[0] // per_dir
    if gates not in (3, 4):
        raise ZooError(f"rnn.weight_hh_l0 has shape {tuple(state['rnn.weight_hh_l0'].shape)}: not an LSTM or GRU")
    bidirectional = "rnn.weight_hh_l0_reverse" in state
    nlayers = sum(1 for k in state if k.startswith("rnn.weight_hh_l") and not k.endswith("_reverse"))
    return {**base, "ntoken": int(ntoken), "ninput": int(ninput), "nhidden": int(per_dir) * (2 if bidirectional else 1),
            "nlayers": nlayers, "bidirectional": bidirectional, "rnn_type": "LSTM" if gates == 4 else "GRU"}


def convert(checkpoint: str | Path, *, text_encoder: str | Path | None = None, captions: str | Path | None = None,
            config: str | dict[str, Any] = "paper-cub", max_words: int | str | None = None, model_class: Any = None) -> Any:
    """An AttnGAN zoo model holding the original generator and text encoder weights.

    ``config`` names the generator layout ("paper-cub": CUB birds, 3 stages, ngf 32, ...) or is
    a dict of model keyword arguments. ``model_class`` lets MirrorGAN reuse this converter.
    """
    from zoo_core.blocks.text_encoder import CONFIGS as TEXT_CONFIGS
    from zoo_core.blocks.vocab import load_captions_pickle
    from zoo_core.convert import load_original, read_state_dict, strip_prefix

    from .config import get_config

    if text_encoder is None or captions is None:
        raise BadInputError("attngan attends over DAMSM word features: give the original text encoder "
                            "(--text-encoder text_encoder200.pth) and its vocabulary (--captions captions.pickle)")
    try:
        cfg = get_config(config)
    except ValueError as exc:
        raise BadInputError(str(exc)) from None
    if model_class is None:
        from .model import AttnGAN as model_class
    vocab = load_captions_pickle(captions)["vocabulary"]
    te_state = strip_prefix(read_state_dict(text_encoder))
    base = cfg.get("text_encoder")
    base = dict(TEXT_CONFIGS[base]) if isinstance(base, str) else dict(base or {})
    te_cfg = text_encoder_config(te_state, base)
    if te_cfg["ntoken"] != len(vocab):
        raise ZooError(f"the text encoder has {te_cfg['ntoken']} words but {Path(captions).name} has "
                       f"{len(vocab)}: they do not belong together")
    te_cfg.pop("ntoken")
    cfg.update(vocab=list(vocab.words), text_encoder=te_cfg)
    if max_words is not None:
        cfg["max_words"] = int(max_words)
    model = model_class(**cfg)
    state = strip_prefix(read_state_dict(checkpoint, key="netG"))
    state.update({f"text_encoder.{k}": v for k, v in te_state.items()})
    load_original(model, state, what=f"{Path(checkpoint).name} + {Path(text_encoder).name}")
    model.text_encoder.requires_grad_(False)
    return model.eval()
