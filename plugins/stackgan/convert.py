"""Convert an original StackGAN checkpoint (hanzhanggit/StackGAN-Pytorch) into a zoo model.

    zoo convert stackgan netG_epoch_600.pth --config paper-birds -o stackgan-birds
    zoo sample stackgan-birds --embeddings char_cnn_rnn_embeddings.npy -o birds.png

The checkpoint is the Stage-II ``netG`` state dict (``STAGE2_G``, with its ``STAGE1_G`` under
``STAGE1_G.``; a DataParallel ``module.`` prefix is dropped). Its keys map one to one onto
`StackGAN` (plugins/stackgan/model.py); the generator's sizes (z, condition, widths, residual
blocks, both stages' resolutions) are read off the checkpoint, and ``--config`` supplies the rest
(the discriminators' width, for further training). The original conditions on char-CNN-RNN sentence
embeddings, which have no PyTorch encoder, so by default the converted model reads sentence
embeddings (``--embeddings FILE.npy`` when sampling; the embedding size comes from the
checkpoint). A StackGAN trained on DAMSM text features converts with its encoder:
``--text-encoder text_encoder.pth --captions captions.pickle`` (AttnGAN's RNN_ENCODER state dict
and the captions.pickle holding its vocabulary); the encoder's feature size must then match the
checkpoint's embedding size.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from zoo_core.convert import load_original, read_state_dict, strip_prefix
from zoo_core.errors import BadInputError, ZooError

from .config import CONFIGS, get_config


def text_encoder_config(state: dict[str, Any], drop_prob: float = 0.5) -> dict[str, Any]:
    """RNN_ENCODER sizes read off its state dict (embedding, LSTM/GRU, directions, layers)."""
    try:
        ntoken, ninput = state["encoder.weight"].shape
        hh = state["rnn.weight_hh_l0"]
    except KeyError as exc:
        raise ZooError(f"the text encoder has no {exc.args[0]!r}: not an AttnGAN RNN_ENCODER state dict") from None
    per_direction = int(hh.shape[1])
    gates = int(hh.shape[0]) // per_direction
    if gates not in (3, 4):
        raise ZooError(f"the text encoder's RNN has {gates} gates; expected an LSTM (4) or a GRU (3)")
    bidirectional = "rnn.weight_hh_l0_reverse" in state
    nlayers = 1 + max(int(k.split("_l")[-1].split("_")[0]) for k in state if k.startswith("rnn.weight_ih_l"))
    return {"ntoken": int(ntoken), "ninput": int(ninput), "nhidden": per_direction * (2 if bidirectional else 1),
            "nlayers": nlayers, "drop_prob": drop_prob, "bidirectional": bidirectional,
            "rnn_type": "LSTM" if gates == 4 else "GRU"}


def generator_sizes(state: dict[str, Any]) -> dict[str, Any]:
    """The generator's sizes read off a STAGE2_G state dict (the config supplies only what the
    generator does not hold: the discriminators' df_dim)."""
    def count(prefix: str) -> int:
        return len({k[len(prefix):].split(".")[0] for k in state if k.startswith(prefix)})

    try:
        condition_dim = int(state["ca_net.fc.weight"].shape[0]) // 2
        fc = state["STAGE1_G.fc.0.weight"]
        gf_dim = int(state["encoder.0.weight"].shape[0])
    except KeyError as exc:
        raise ZooError(f"the checkpoint has no {exc.args[0]!r}: not a StackGAN STAGE2_G state dict") from None
    stage1_up = count("STAGE1_G.upsample")
    stage2_up = count("upsample")
    stage1_size = 4 * 2 ** stage1_up
    return {"z_dim": int(fc.shape[1]) - condition_dim, "condition_dim": condition_dim, "gf_dim": gf_dim,
            "stage1_gf_dim": int(fc.shape[0]) // 16 // 8, "r_num": count("residual."),
            "stage1_size": stage1_size, "image_size": stage1_size // 4 * 2 ** stage2_up}


def convert(checkpoint: Path, *, text_encoder: str | None = None, captions: str | None = None,
            config: str = "paper-birds") -> Any:
    """The original Stage-II netG (with its Stage-I) as a `StackGAN`, weights loaded strictly."""
    from .model import StackGAN

    if config not in CONFIGS:
        raise BadInputError(f"unknown stackgan config {config!r}; choose one of: {', '.join(CONFIGS)}")
    state = strip_prefix(read_state_dict(checkpoint, key="netG"))
    if "ca_net.fc.weight" not in state:
        raise ZooError(f"{checkpoint} has no ca_net.fc.weight: not a StackGAN generator state dict")
    if not any(k.startswith("STAGE1_G.") for k in state):
        raise ZooError(f"{checkpoint} is a Stage-I generator (no STAGE1_G. keys); convert the Stage-II netG, "
                       f"which holds both stages")
    t_dim = int(state["ca_net.fc.weight"].shape[1])
    cfg = {**get_config(config), **generator_sizes(state)}
    if text_encoder is None:
        if captions is not None:
            raise BadInputError("--captions gives the text encoder's vocabulary: pass --text-encoder too")
        cfg.update(text_encoder=None, text_dim=t_dim, vocab=None)
        extra: dict[str, Any] = {}
    else:
        if captions is None:
            raise BadInputError("--text-encoder needs --captions (the captions.pickle with its vocabulary)")
        from zoo_core.blocks.vocab import load_captions_pickle

        te_state = strip_prefix(read_state_dict(text_encoder))
        te_cfg = text_encoder_config(te_state)
        vocab = load_captions_pickle(captions)["vocabulary"]
        if len(vocab) != te_cfg["ntoken"]:
            raise ZooError(f"the captions' vocabulary has {len(vocab)} words but the text encoder embeds "
                           f"{te_cfg['ntoken']}; they come from different data sets")
        if te_cfg["nhidden"] != t_dim:
            raise ZooError(f"the text encoder gives {te_cfg['nhidden']}-value sentence features but the "
                           f"generator reads {t_dim}-value embeddings (char-CNN-RNN: convert without "
                           f"--text-encoder and sample with --embeddings)")
        cfg.update(text_encoder=te_cfg, vocab=vocab.to_list(), text_dim=None)
        extra = {f"text_encoder.{k}": v for k, v in te_state.items()}
    model = StackGAN(**cfg)
    load_original(model, {**state, **extra}, what="StackGAN netG checkpoint")
    model.STAGE1_G.requires_grad_(False)
    return model.eval()
