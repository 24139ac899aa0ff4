"""The CLI end to end on a toy family served from a mirror (the offline fallback path)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from zoo_core.cli import main
from zoo_core.plugins import PluginManager, reset_plugin_manager

from .toy import ToyPlugin, make_toy_repo


@pytest.fixture
def zoo_env(tmp_path, monkeypatch):
    """A catalog with toy.tiny whose weights live only in a local mirror."""
    mirror = tmp_path / "mirror"
    entry = make_toy_repo(tmp_path, mirror)
    registry = tmp_path / "registry.yaml"
    registry.write_text(yaml.safe_dump({"models": {"toy.tiny": entry}}))
    monkeypatch.setenv("ZOO_REGISTRY", str(registry))
    monkeypatch.setenv("ZOO_MIRROR", str(mirror))
    pm = PluginManager(entry_points=False)
    pm.register(ToyPlugin(), "toy-plugin", distribution="zoo-toy", version="9.9")
    reset_plugin_manager(pm)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("Error: ") and "Traceback" not in err
    return lines[0]


def test_list_info_pull_sample(zoo_env, capsys):
    code, out, _ = run(capsys, "list", "--json")
    assert code == 0
    rows = json.loads(out)
    assert rows == [{"name": "toy.tiny", "family": "toy", "task": "unconditional-image",
                     "dataset": "none", "size": rows[0]["size"], "default": True, "pulled": False}]
    assert run(capsys, "pull", "toy")[0] == 0
    assert json.loads(run(capsys, "list", "--pulled", "--json")[1])[0]["pulled"] is True
    code, out, _ = run(capsys, "info", "toy", "--json")
    card = json.loads(out)
    assert code == 0 and card["pulled"] and card["parameters"] == 8 * 32 + 32 + 2 * 32 + 32 * 16 + 16
    assert set(card["files"]) == {"config.json", "model.safetensors", "README.md"}
    code, _, err = run(capsys, "pull", "toy.tiny")
    assert code == 0 and "already pulled" in err
    code, out, _ = run(capsys, "info", "toy")
    assert "sha256:" in out and "parameters:" in out
    assert run(capsys, "sample", "toy", "-n", "20", "--seed", "3", "-o", "many")[0] == 0
    assert run(capsys, "sample", "toy", "-n", "3", "--seed", "3", "-o", "few")[0] == 0
    for i in range(3):
        name = f"{i:06d}.png"
        assert (zoo_env / "few" / name).read_bytes() == (zoo_env / "many" / name).read_bytes()
    assert (zoo_env / "few" / "000000.png").read_bytes() != (zoo_env / "few" / "000001.png").read_bytes()
    run(capsys, "sample", "toy", "-n", "8", "-o", "a.png")
    run(capsys, "sample", "toy", "-n", "8", "-o", "b.png")
    assert (zoo_env / "a.png").read_bytes() == (zoo_env / "b.png").read_bytes()
    assert run(capsys, "sample", "toy", "-n", "2", "-q")[0] == 0 and (zoo_env / "toy.png").exists()


def test_sampler_options_as_flags(zoo_env, capsys):
    assert run(capsys, "sample", "toy", "-n", "3", "--scale", "0", "-o", "flag.npz")[0] == 0
    assert run(capsys, "sample", "toy", "-n", "3", "-O", "scale=0", "-o", "opt.npz")[0] == 0
    assert run(capsys, "sample", "toy", "-n", "3", "--sampler", "zero", "-o", "zero.npz")[0] == 0
    import numpy as np

    flag, opt, zero = (np.load(zoo_env / f)["samples"] for f in ("flag.npz", "opt.npz", "zero.npz"))
    assert np.array_equal(flag, opt) and np.allclose(flag, zero)


def test_sample_pulls_first_and_plugins_report(zoo_env, capsys):
    assert run(capsys, "sample", "toy.tiny", "-n", "2", "-o", "x.png", "--sampler", "zero")[0] == 0
    code, out, _ = run(capsys, "plugins", "--json")
    rec = [r for r in json.loads(out) if r["name"] == "toy-plugin"][0]
    assert rec["distribution"] == "zoo-toy" and rec["version"] == "9.9"
    assert rec["families"] == ["toy"] and rec["models"] == ["toy.tiny"] and rec["errors"] == []


@pytest.mark.parametrize("args, fragment", [
    (["sample", "tyo"], "did you mean 'toy'"),
    (["sample", "toy", "-n", "0"], "positive"),
    (["sample", "toy", "-n", "many"], "'many' is not a valid integer"),
    (["sample", "toy", "--seed", "-1"], "--seed"),
    (["sample", "toy", "--sampler", "gibbs"], "unknown sampler 'gibbs'"),
    (["sample", "toy", "-O", "scale"], "KEY=VALUE"),
    (["sample", "toy", "-O", "steps=3"], "no option 'steps'"),
    (["sample", "toy", "--device", "cuda:7"], "cuda"),
    (["sample", "toy", "--device", "tpu"], "device"),
    (["sample", "toy", "-o", "nowhere/x.png"], "does not exist"),
    (["sample", "toy", "-o", "/proc/x.png"], "cannot write"),
    (["sample", "toy", "-o", "x.gif"], ".gif"),
    (["info", "nope"], "unknown model 'nope'"),
    (["pull", "toy", "nope"], "unknown model 'nope'"),
    (["sample", "toy", "--no-pull"], "zoo pull"),
    (["frobnicate"], "No such command"),
    (["sample", "toy", "--prompt", "a red circle"], "unconditional"),
    (["sample", "toy", "--prompt-file", "missing.txt"], "cannot read prompt file"),
    (["sample", "toy", "stray"], "unexpected argument 'stray'"),
    (["sample", "toy", "--steps", "5"], "no option 'steps'"),
])
def test_bad_input_one_line_and_no_output(zoo_env, capsys, args, fragment):
    code, _out, err = run(capsys, *args)
    assert code != 0
    assert fragment in one_error_line(err)
    assert not list(zoo_env.glob("*.png")) and not list(zoo_env.glob("*.tmp"))


def test_corrupt_cache_is_detected(zoo_env, capsys):
    from zoo_core import hub
    from zoo_core.catalog import get_catalog

    run(capsys, "pull", "toy")
    weights = hub.snapshot_path(get_catalog().resolve("toy")) / "model.safetensors"
    blob = weights.resolve()
    data = bytearray(blob.read_bytes())
    data[-1] ^= 0xFF
    blob.write_bytes(bytes(data))
    code, _, err = run(capsys, "sample", "toy", "-o", "x.png")
    assert code == 1 and "zoo pull --force" in one_error_line(err)
    assert not (zoo_env / "x.png").exists()
    code, out, _ = run(capsys, "cache", "verify")
    assert code == 1 and "toy.tiny" in out
    assert run(capsys, "pull", "--force", "toy")[0] == 0
    assert run(capsys, "cache", "verify", "toy")[0] == 0


def test_cache_ls_and_rm(zoo_env, capsys):
    run(capsys, "pull", "toy")
    code, out, _ = run(capsys, "cache", "ls", "--json")
    assert code == 0 and json.loads(out)[0]["repo_id"] == "test-org/toy"
    assert run(capsys, "cache", "rm", "toy")[0] == 0
    assert json.loads(run(capsys, "list", "--json")[1])[0]["pulled"] is False


def test_offline_without_cache_is_clear(zoo_env, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code, _, err = run(capsys, "sample", "toy", "-o", "x.png")
    assert code == 1 and "HF_HUB_OFFLINE" in one_error_line(err)


def test_malformed_registry_fails_cleanly(tmp_path, capsys, monkeypatch):
    bad = tmp_path / "registry.yaml"
    bad.write_text("models:\n  dcgan.digits:\n    family: dcgan\n    revision: main\n")
    monkeypatch.setenv("ZOO_REGISTRY", str(bad))
    code, _, err = run(capsys, "list")
    assert code == 1 and "dcgan.digits" in one_error_line(err)


def test_cli_start_does_not_import_torch(tmp_path):
    code = ("import sys; from zoo_core.cli import main; "
            "rc = main(['list', '--json']); main(['--help']); "
            "assert 'torch' not in sys.modules, 'torch imported'; sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_push_then_pull_back_from_a_writable_server(zoo_env, capsys, tmp_path, monkeypatch):
    from zoo_core.hub.server import HubServer
    from zoo_core.hub.publish import repo_entry

    remote = tmp_path / "remote"
    remote.mkdir()
    with HubServer(remote, allow_write=True) as server:
        code, out, err = run(capsys, "push", "toy", "--repo-id", "me/toy-copy", "--endpoint", server.url)
        assert code == 0, err
        pushed = remote / "me" / "toy-copy"
        assert {p.name for p in pushed.iterdir()} == {"config.json", "model.safetensors", "README.md"}
        assert repo_entry(pushed)["revision"] in out
        # what went up is byte-identical to the catalog's files
        assert repo_entry(pushed)["files"] == json.loads(run(capsys, "info", "toy", "--json")[1])["files"]
    code, _, err = run(capsys, "push", "toy", "--repo-id", "me/x", "--endpoint", server.url)
    assert code == 1 and one_error_line(err)


def test_zoo_hub_serve_serves_a_mirror_to_zoo_pull(tmp_path):
    """`zoo hub serve` in one process, `HF_ENDPOINT=... zoo pull` in another, no fallback."""
    import os
    import socket
    import time

    from zoo_core.hub.client import mirror_dir

    from .conftest import closed_port

    port = closed_port()
    env = dict(os.environ)
    server = subprocess.Popen([sys.executable, "-m", "zoo_core", "hub", "serve", str(mirror_dir()),
                               "--port", str(port)], env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        env.update(HF_ENDPOINT=f"http://127.0.0.1:{port}", ZOO_MIRROR=str(tmp_path / "no-mirror"))
        pull = subprocess.run([sys.executable, "-m", "zoo_core", "pull", "dcgan"], env=env,
                              capture_output=True, text=True, timeout=120)
        assert pull.returncode == 0, pull.stderr
        assert "pulled dcgan.digits" in pull.stderr and "verified" in pull.stderr
    finally:
        server.terminate()
        server.wait(timeout=10)
    # with the server gone and no mirror, the cached copy still loads with no network
    env["HF_HUB_OFFLINE"] = "1"
    again = subprocess.run([sys.executable, "-m", "zoo_core", "sample", "dcgan", "-n", "2", "-q",
                            "-o", str(tmp_path / "x.png")], env=env, capture_output=True, text=True,
                           timeout=120)
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "x.png").exists()
