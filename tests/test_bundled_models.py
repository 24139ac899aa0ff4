"""The bundled weights, pulled from the repo's mirror through the real hub client, sample."""
from __future__ import annotations

import wave

import pytest

from zoo_core.cli import main


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_readme_command_offline_gives_a_digit_grid(tmp_path, capsys, monkeypatch):
    from PIL import Image

    monkeypatch.chdir(tmp_path)
    # the conftest endpoint refuses connections: the pull must fall back to the mirror
    code, _, err = run(capsys, "sample", "dcgan", "-n", "64", "--seed", "0", "-o", "digits.png")
    assert code == 0, err
    img = Image.open(tmp_path / "digits.png")
    assert img.size == (8 * 34 + 2, 8 * 34 + 2)  # 8x8 grid of 32px digits with 2px padding
    code, out, _ = run(capsys, "list", "--pulled", "--json")
    assert '"dcgan.digits"' in out


def test_text_model_prints_samples_and_audio_model_writes_wav(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "sample", "gru-lm", "--prompt", "def ", "-n", "2", "--max-length", "40",
                         "--temperature", "0.8", "-q")
    assert code == 0, err
    parts = out.split("-" * 40)
    assert len(parts) == 2 and all(p.strip().startswith("def") for p in parts)
    code, _, err = run(capsys, "sample", "wavenet", "-n", "1", "-q")
    assert code == 0, err
    with wave.open(str(tmp_path / "wavenet.wav")) as w:
        assert w.getnframes() > 0 and w.getsampwidth() == 2


@pytest.mark.parametrize("name", ["vae", "rbm"])
def test_more_bundled_models_load_and_sample(name):
    import zoo_core as zoo

    model = zoo.load(name, progress=False)
    assert model.spec.name.startswith(name + ".")
    s = model.sample(4, generator=0)
    assert s.data.shape[0] == 4 and s.kind == "image"
