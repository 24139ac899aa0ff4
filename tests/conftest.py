"""Shared fixtures: every test gets its own HF cache and never reaches a real network."""
from __future__ import annotations

import socket

import pytest
import torch


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(autouse=True)
def isolated_hub(tmp_path_factory, monkeypatch):
    """A private HF cache and an endpoint that refuses connections (no stray network)."""
    home = tmp_path_factory.mktemp("hf_home")
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_HUB_CACHE", str(home / "hub"))
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("ZOO_REGISTRY", raising=False)
    yield home


@pytest.fixture(autouse=True)
def fresh_plugins():
    """Each test builds the catalog anew (env such as ZOO_REGISTRY may differ)."""
    from zoo_core.plugins import reset_plugin_manager

    reset_plugin_manager()
    yield
    reset_plugin_manager()


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a module (``pytestmark = pytest.mark.usefixtures("one_thread")``):
    tiny models run thousands of small ops, where intra-op threads on a shared machine only spin."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def attngan_tiny_run(tmp_path):
    """A tiny AttnGAN trained one step on 8 shapes, as later runs continue it: the DAMSM, the
    data, its discriminators' state file and its saved folder (``.damsm``, ``.data``, ``.state``,
    ``.folder``)."""
    from types import SimpleNamespace

    from plugins.attngan.train import train
    from zoo_core.blocks.damsm_model import DAMSMEncoders
    from zoo_core.data.shapes import load_shapes

    torch.manual_seed(0)
    damsm = DAMSMEncoders(text_encoder="tiny", image_encoder="tiny")
    data = load_shapes("train", with_captions=True, with_attributes=True, n=8)
    state = tmp_path / "disc.safetensors"
    first, _ = train("tiny", steps=1, data=data, damsm=damsm, disc_state=str(state), log=None)
    first.save_pretrained(tmp_path / "run")
    return SimpleNamespace(damsm=damsm, data=data, state=state, folder=str(tmp_path / "run"))
