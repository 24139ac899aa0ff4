"""`zoo eval` on the command line: a JSON report, and one clear line for every bad input."""
from __future__ import annotations

import json

import pytest

from zoo_core.cli import main

from .test_eval import catalog_has, eval_env, shared_dirs  # noqa: F401  (fixtures)


def run(capsys, *args):
    code = main(["eval", *args])
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("Error: ") and "Traceback" not in err
    return lines[0]


def test_json_report_and_output_file(eval_env, tmp_path, capsys):
    out_file = tmp_path / "report.json"
    code, out, err = run(capsys, "real:digits:test", "--metrics", "fid,isc", "-n", "40", "--seed", "2",
                         "--json", "-o", str(out_file), "-q")
    assert code == 0, err
    report = json.loads(out)
    assert set(report["metrics"]) == {"fid", "isc", "isc_std"}
    assert report["protocol"]["num_samples"] == 40 and report["protocol"]["seed"] == 2
    assert json.loads(out_file.read_text()) == report


def test_human_output(eval_env, capsys):
    code, out, err = run(capsys, "real:digits:test", "--metrics", "fid", "-n", "30", "-q")
    assert code == 0, err
    assert out.splitlines()[0].split() == ["METRIC", "VALUE"] and "fid" in out
    assert "zoo-digits-classifier" in err and "torch-fidelity 0.4.0" in err


@pytest.mark.parametrize("args, words", [
    (["real:digits:test", "--metrics", "fid,sharpness"], ["unknown metric 'sharpness'", "fid", "memorization"]),
    (["real:digits:test", "--metrics", "nll"], ["nll does not apply", "no tractable likelihood"]),
    (["real:digits:test", "--metrics", "isc", "-n", "5"], ["isc needs at least 20 samples", "5"]),
    (["real:digits:test", "--metrics", "fid", "-n", "0"], ["positive"]),
    (["real:digits:test", "--metrics", "fid", "--feature-extractor", "inception-v3-compat"],
     ["weights-inception-2015-12-05-6726825d.pth", "--feature-extractor-weights", "checkpoints"]),
    (["real:digits:test", "--metrics", "fid", "--feature-extractor", "nope"], ["unknown feature extractor 'nope'"]),
    (["real:digits:test", "--reference", "cifar"], ["unknown data set 'cifar'"]),
])
def test_bad_input_is_one_clear_line(eval_env, capsys, args, words):
    code, out, err = run(capsys, *args, "-q")
    assert code == 1 and out == ""
    line = one_error_line(err)
    for word in words:
        assert word in line, line


def test_wrong_inception_file_is_refused(eval_env, tmp_path, capsys):
    fake = tmp_path / "weights-inception-2015-12-05-6726825d.pth"
    fake.write_bytes(b"not the weights")
    code, _, err = run(capsys, "real:digits:test", "--metrics", "fid", "--feature-extractor",
                       "inception-v3-compat", "--feature-extractor-weights", str(fake), "-q")
    assert code == 1 and "is not torch-fidelity's Inception file" in one_error_line(err)


def test_nll_on_a_gan_and_a_bad_sampler_option_are_refused(eval_env, capsys):
    if not catalog_has("dcgan.digits"):
        pytest.skip("dcgan.digits is not in the catalog yet")
    code, _, err = run(capsys, "dcgan.digits", "--metrics", "nll", "-q")
    assert code == 1 and "nll does not apply to dcgan.digits" in one_error_line(err)
    code, _, err = run(capsys, "dcgan.digits", "--metrics", "fid", "-O", "foo=1", "-q")
    assert code == 1 and "has no option 'foo'" in one_error_line(err)


def test_a_model_folder_is_compared_with_the_data_set_its_card_names(eval_env, tmp_path, capsys):
    import torch

    from plugins.dcgan.config import get_config
    from plugins.dcgan.model import DCGAN

    torch.manual_seed(0)
    model = DCGAN(**get_config("tiny"))
    model.save_pretrained(tmp_path / "anonymous")
    model.dataset = "digits"
    model.save_pretrained(tmp_path / "trained")
    code, _, err = run(capsys, str(tmp_path / "anonymous"), "--metrics", "fid", "-n", "20", "-q")
    assert code == 1 and "--reference DATASET" in one_error_line(err)
    code, out, err = run(capsys, str(tmp_path / "trained"), "--metrics", "fid", "-n", "20", "-q", "--json")
    assert code == 0, err
    assert json.loads(out)["protocol"]["reference"]["dataset"] == "digits"
