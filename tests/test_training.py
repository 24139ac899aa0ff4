"""zoo_core.training: the trainers' shared epoch bookkeeping, setup, recipe and batches."""
from __future__ import annotations

import torch

from zoo_core.training import (EpochMeter, digits_unless_given, hyperparameters, recipe_for, setup,
                               shuffled_batches)


def test_meter_averages_by_count_per_key_and_writes_history_rows():
    meter = EpochMeter("loss_c", "loss_g", log=None)
    meter.add(loss_c=1.0)
    meter.add(loss_c=2.0, loss_g=10.0)
    meter.add(loss_c=6.0)
    row = meter.end_epoch(1, steps=3)
    # each key over the batches that added it; extras after the averages, seconds last
    assert row == {"epoch": 1, "loss_c": 3.0, "loss_g": 10.0, "steps": 3, "seconds": row["seconds"]}
    assert list(row) == ["epoch", "loss_c", "loss_g", "steps", "seconds"]
    assert isinstance(row["seconds"], float) and row["seconds"] >= 0
    meter.add(loss_c=4.0)  # sums start afresh; a declared key never added is 0.0
    row2 = meter.end_epoch(2)
    assert (row2["loss_c"], row2["loss_g"]) == (4.0, 0.0)
    assert meter.history == [row, row2] and meter.last is row2


def test_meter_averages_by_weight_and_rounds():
    meter = EpochMeter("loss", digits=3, log=None)
    meter.add(3, loss=1.0)  # a batch of 3 with mean 1
    meter.add(1, loss=2.0)  # a batch of 1 with mean 2
    meter.add(2, loss=1.0 / 3)
    assert meter.end_epoch(1)["loss"] == round((3 + 2 + 2 / 3) / 6, 3)


def test_an_empty_epoch_and_no_epoch():
    meter = EpochMeter("loss", log=None)
    assert meter.last == {} and meter.history == []
    assert meter.end_epoch(1)["loss"] == 0.0
    assert meter.wall_s >= 0 and meter.cpu_s >= 0


def test_log_line_is_built_from_the_row():
    lines: list[str] = []
    meter = EpochMeter("loss", "kl", log=lines.append, line="-elbo {loss:.2f}  kl {kl:.1f}  n {n}")
    meter.add(loss=1.234, kl=0.55)
    meter.end_epoch(7, n=12)
    assert len(lines) == 1
    assert lines[0].startswith("epoch   7  -elbo 1.23  kl 0.6  n 12  ") and lines[0].endswith("s")
    default: list[str] = []
    meter = EpochMeter("loss", log=default.append)
    meter.add(loss=0.5)
    meter.end_epoch(1, steps=4)
    assert default[0].startswith("epoch   1  loss 0.5  steps 4  ")


def test_log_every_nth_the_last_and_a_final_epoch():
    lines: list[str] = []
    meter = EpochMeter("loss", log=lines.append, every=5, epochs=12)
    logged = []
    for epoch in range(1, 13):
        meter.add(loss=float(epoch))
        before = len(lines)
        meter.end_epoch(epoch, final=epoch == 7)
        if len(lines) > before:
            logged.append(epoch)
    assert logged == [5, 7, 10, 12]
    assert len(meter.history) == 12  # every epoch is recorded, logged or not


def test_quiet_without_a_log(capsys):
    meter = EpochMeter("loss", log=None)
    meter.add(loss=1.0)
    meter.end_epoch(1, final=True)
    assert capsys.readouterr().out == ""
    loud = EpochMeter("loss")  # the default log is print
    loud.add(loss=1.0)
    loud.end_epoch(1)
    assert capsys.readouterr().out.startswith("epoch   1  loss 1")


def test_setup_seeds_torch_and_returns_a_seeded_generator():
    threads = torch.get_num_threads()
    try:
        gen = setup(3, None)  # no threads: leaves the setting alone
        assert torch.get_num_threads() == threads
        a, b = torch.rand(2, generator=gen), torch.rand(2)
        gen = setup(3, 1)
        assert torch.get_num_threads() == 1
        assert torch.equal(torch.rand(2, generator=gen), a) and torch.equal(torch.rand(2), b)
        assert torch.equal(a, torch.rand(2, generator=torch.Generator().manual_seed(3)))
    finally:
        torch.set_num_threads(threads)


def test_recipe_for_a_named_config_a_dict_config_and_overrides():
    default, named = {"lr": 1.0, "epochs": 5}, {"tiny": {"lr": 2.0, "epochs": 1}}
    assert recipe_for("tiny", named, default) == {"lr": 2.0, "epochs": 1}
    assert recipe_for("small", named, default) == default  # a name without its own recipe
    assert recipe_for({"image_size": 8}, named, default, {"epochs": 7}) == {"lr": 1.0, "epochs": 7}
    recipe_for("tiny", named, default)["lr"] = 0.0  # a copy: the tables stay as they are
    assert named["tiny"]["lr"] == 2.0


def test_hyperparameters_take_the_callers_values_where_given():
    recipe = {"epochs": 5, "batch_size": 32, "lr": 1e-3}
    assert hyperparameters(recipe, None, None, None) == (5, 32, 1e-3)
    assert hyperparameters(recipe, 0, 8, 0.5) == (0, 8, 0.5)  # zero epochs is a request
    assert hyperparameters(recipe, 2, 0, 0.0) == (2, 32, 1e-3)  # zero batch or lr is not


def test_given_data_has_no_test_split():
    data = torch.rand(3, 1, 8, 8)
    train, test = digits_unless_given(data, 8)
    assert train is data and test is None


def test_shuffled_batches_cover_the_data_once_in_one_permutation():
    data = torch.arange(10.0)
    batches = list(shuffled_batches(data, 4, torch.Generator().manual_seed(0)))
    perm = torch.randperm(10, generator=torch.Generator().manual_seed(0))
    assert [len(b) for b in batches] == [4, 4, 2] and torch.equal(torch.cat(batches), data[perm])
    full = list(shuffled_batches(data, 4, torch.Generator().manual_seed(0), drop_last=True))
    assert [len(b) for b in full] == [4, 4] and torch.equal(torch.cat(full), data[perm[:8]])


def test_training_state_round_trips_and_refuses_a_different_setup(tmp_path):
    import pytest
    from torch import nn

    from zoo_core.training_state import load_training_state, save_training_state

    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    net(torch.randn(5, 3)).sum().backward()
    opt.step()
    save_training_state(tmp_path / "s.safetensors", {"d": net}, {"opt": opt})

    twin = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    twin_opt = torch.optim.Adam(twin.parameters(), lr=1e-3)
    load_training_state(tmp_path / "s.safetensors", {"d": twin}, {"opt": twin_opt})
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), twin.state_dict().values()))
    for p, q in zip(net.parameters(), twin.parameters()):
        assert torch.equal(opt.state[p]["exp_avg_sq"], twin_opt.state[q]["exp_avg_sq"])
    with pytest.raises(ValueError, match="not given"):
        load_training_state(tmp_path / "s.safetensors", {"d": twin}, {})


def test_moments_that_no_longer_fit_start_fresh_only_where_allowed(tmp_path):
    import pytest
    from torch import nn

    from zoo_core.training_state import load_training_state, save_training_state

    torch.manual_seed(0)
    d, g = nn.Linear(3, 4), nn.Linear(3, 4)
    opt_d, opt_g = (torch.optim.Adam(m.parameters(), lr=1e-3) for m in (d, g))
    (d(torch.randn(5, 3)).sum() + g(torch.randn(5, 3)).sum()).backward()
    opt_d.step(), opt_g.step()
    save_training_state(tmp_path / "s.safetensors", {"d": d}, {"opt_d": opt_d, "opt_g": opt_g})

    grown = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 4))  # the generator gained a layer
    d2 = nn.Linear(3, 4)
    opt_d2, opt_g2 = torch.optim.Adam(d2.parameters()), torch.optim.Adam(grown.parameters())
    with pytest.raises(ValueError, match="do not fit"):
        load_training_state(tmp_path / "s.safetensors", {"d": d2}, {"opt_d": opt_d2, "opt_g": opt_g2})
    dropped = load_training_state(tmp_path / "s.safetensors", {"d": d2}, {"opt_d": opt_d2, "opt_g": opt_g2},
                                  lenient=("opt_g",))
    assert dropped == ["opt_g"] and not opt_g2.state
    assert torch.equal(d2.weight, d.weight)
    assert torch.equal(opt_d2.state[d2.weight]["exp_avg"], opt_d.state[d.weight]["exp_avg"])
    # where they fit, lenient optimisers load as any other
    g3 = nn.Linear(3, 4)
    opt_g3 = torch.optim.Adam(g3.parameters())
    assert load_training_state(tmp_path / "s.safetensors", {"d": nn.Linear(3, 4)},
                               {"opt_d": torch.optim.Adam(nn.Linear(3, 4).parameters()), "opt_g": opt_g3},
                               lenient=("opt_g",)) == []
    assert torch.equal(opt_g3.state[g3.weight]["exp_avg"], opt_g.state[g.weight]["exp_avg"])


def test_train_script_passes_device_and_trainer_arguments_and_writes_the_folder(tmp_path, capsys):
    import importlib.util
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "scripts" / "train.py"
    spec = importlib.util.spec_from_file_location("_zoo_script_train", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)

    out = tmp_path / "runs" / "vae"
    args = ["vae", "--config", "tiny", "--out", str(out), "--epochs", "1", "--device", "cpu", "--threads", "1",
            "-K", "max_steps=2"]
    assert script.main(args) == 0
    report = json.loads((out / "training.json").read_text())
    assert report["config_name"] == "tiny" and report["recipe"]["device"] == "cpu, torch threads: 1"
    assert report["recipe"]["steps"] == 2  # -K max_steps=2 reached the trainer
    assert (out / "model.safetensors").exists() and (tmp_path / "runs" / "vae-samples.png").exists()
    assert script.main(["vae", "--config", "tiny", "--out", str(tmp_path / "x"), "-K", "no_such_arg=1"]) == 2
    assert "unexpected keyword" in capsys.readouterr().err and not (tmp_path / "x").exists()
    # a value the trainer refuses, or a config it does not have: one line, nothing written
    for bad in (["-K", "r_num=0"], ["--config", "huge"]):
        assert script.main(["attngan", "--config", "tiny", "--out", str(tmp_path / "y"), *bad]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err and not (tmp_path / "y").exists()
    assert "choose one of" in err
