"""Training end to end on a miniature corpus (tiny config, CPU): run files, resume, time budget, DDP
(gloo, one process), checkpoint → export → model file, evaluation through a `dactyl` binary, report."""

import csv
import json
import os
import socket
import stat
import sys

import pytest
import torch
from minicorpus import standard_clips, write_chicago

from dactyl_quant.build import load_student
from dactyl_quant.cli import main as quant_main
from dactyl_quant.export import read_model
from dactyl_quant.train.cli import main

FAST = ["--config", "tiny", "--batch", "2", "--device", "cpu", "--workers", "0", "--cache-workers", "0", "--quiet"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """y4m clips only: no Pillow needed (like the GPU machine)."""
    root = tmp_path_factory.mktemp("corpus")
    write_chicago(root, standard_clips(), jpg=False)
    return root


def fit(root, out, *extra):
    return main(["fit", "--data", str(root), "--frames", "y4m", "--out", str(out), *FAST, *extra])


def log_rows(run):
    with open(run / "log.csv", newline="") as stream:
        return list(csv.DictReader(stream))


@pytest.fixture(scope="module")
def trained(corpus, tmp_path_factory):
    run = tmp_path_factory.mktemp("run")
    assert fit(corpus, run, "--teacher", "synthpose", "--epochs", "1", "--seed", "3") == 0
    return run


def test_fit_writes_the_run_and_resumes(corpus, trained, tmp_path, capsys):
    run = tmp_path / "run"
    assert fit(corpus, run, "--teacher", "synthpose", "--epochs", "1", "--seed", "3") == 0
    for name in ("last.pt", "best.pt", "log.csv", "summary.json"):
        assert (run / name).is_file(), name
    try:
        import matplotlib  # noqa: F401
        assert (run / "loss.png").stat().st_size > 0 and (run / "accuracy.png").stat().st_size > 0
    except ImportError:
        pass
    rows = log_rows(run)
    assert len(rows) == 1 and rows[0]["epoch"] == "1" and rows[0]["step"] == "2"  # 4 train clips, batch 2
    assert float(rows[0]["train_kd"]) > 0 and rows[0]["dev_letter_acc"] != ""
    last = torch.load(run / "last.pt", weights_only=True)
    assert last["format"] == "dactyl-train-v1" and last["kd_head"] is not None and last["epoch"] == 1
    assert last["args"]["teacher"] == "synthpose" and last["args"]["kd_weight"] == 1.0
    # Same seed, same data: the same weights as the module's run.
    reference = torch.load(trained / "last.pt", weights_only=True)
    assert all(torch.equal(reference["model"][k], v) for k, v in last["model"].items())

    capsys.readouterr()
    assert fit(corpus, run, "--epochs", "1") == 1
    assert "last.pt exists: use --resume" in capsys.readouterr().err
    assert main(["fit", "--out", str(run), "--resume", "--epochs", "2", *FAST]) == 0
    rows = log_rows(run)
    assert [r["step"] for r in rows] == ["2", "4"]
    assert torch.load(run / "last.pt", weights_only=True)["epoch"] == 2


def test_best_checkpoint_exports_and_evaluates(corpus, trained, tmp_path, capsys):
    best = trained / "best.pt"
    checkpoint = torch.load(best, weights_only=True)
    assert checkpoint["format"] == "dactyl-student-v1" and checkpoint["config"] == "tiny"
    assert not any(k.startswith("kd_head") or k.startswith("module.") for k in checkpoint["model"])
    student = load_student(__import__("dactyl_quant.student", fromlist=["CONFIGS"]).CONFIGS["tiny"], str(best))
    model_path = tmp_path / "m.dmdl"
    calib = str(corpus / "y4m" / "aslized" / "alice_0001.y4m")
    assert quant_main(["export", "--config", "tiny", "--checkpoint", str(best), "--calib", calib,
                       "--out", str(model_path), "--info", "tiny, KD test run"]) == 0
    model = read_model(model_path)
    assert model.info == "tiny, KD test run"
    assert torch.equal(torch.from_numpy(model.head_ops[-2].weights), student.head.classifier.weight.detach())

    capsys.readouterr()
    result_path = tmp_path / "fp32.json"
    predictions = tmp_path / "predictions.csv"
    assert main(["evaluate", "--checkpoint", str(best), "--split", "test", "--beam", "2", "--device", "cpu",
                 "--workers", "0", "--json", str(result_path), "--predictions", str(predictions)]) == 0
    assert "test: letter accuracy" in capsys.readouterr().out
    result = json.loads(result_path.read_text())
    assert result["clips"] == 2 and result["letters"] == 6 and result["decoder"] == "beam 2"
    assert result["precision"] == "fp32 (PyTorch)" and result["teacher"] == "synthpose"
    assert result["letter_accuracy"] == pytest.approx(1 - result["edits"] / 6)
    assert predictions.read_text().splitlines()[0] == "key,reference,hypothesis"


def test_no_kd_needs_no_teacher_and_kd_needs_its_files(tmp_path, capsys):
    root = tmp_path / "plain"
    write_chicago(root, standard_clips()[:6], jpg=False, teacher=None)
    assert fit(root, tmp_path / "nokd", "--teacher", "none", "--epochs", "1") == 0
    assert torch.load(tmp_path / "nokd" / "last.pt", weights_only=True)["kd_head"] is None
    capsys.readouterr()
    assert fit(root, tmp_path / "kd", "--teacher", "synthpose", "--epochs", "1") == 1
    assert "teacher file" in capsys.readouterr().err
    assert fit(root, tmp_path / "kd2", "--teacher", "synthpose", "--epochs", "1", "--skip-bad") == 1
    assert "no usable teacher file" in capsys.readouterr().err


def test_time_budget_stops_cleanly_and_resume_finishes_the_epoch(corpus, tmp_path):
    run = tmp_path / "budget"
    assert fit(corpus, run, "--teacher", "none", "--epochs", "3", "--time-budget", "0.0001") == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["stop"].startswith("time budget") and summary["steps"] == 1
    rows = log_rows(run)
    assert rows[-1]["note"] == "stopped at batch 1/2"
    assert (run / "best.pt").is_file()
    assert main(["fit", "--out", str(run), "--resume", *FAST]) == 0
    rows = log_rows(run)
    assert [r["step"] for r in rows] == ["1", "2", "4", "6"]
    assert json.loads((run / "summary.json").read_text())["stop"] == "done"


def test_time_budget_schedule_follows_the_measured_pace():
    """A slow start (the first 50 steps) must not cut the schedule short for good: the end of an
    epoch refits it, in steps, at that epoch's pace (a no-KD run once stopped 19 of 70 minutes early)."""
    import time as clock

    from dactyl_quant.train.loop import _fit_horizon_after_epoch, _fit_horizon_within_epoch
    from dactyl_quant.train.runtime import Dist

    one = Dist(0, 1, 0, torch.device("cpu"), False)
    now = clock.monotonic()
    state = {"step": 50, "total_steps": 10_000, "horizon_fixed": False}
    # 50 slow steps in 10 s of a 110 s budget: the guess is 0.9 x 95 s / 0.2 s a step more.
    _fit_horizon_within_epoch(state, now - 10, 110, 0.0, 0.0, now - 10, one)
    assert 50 + 420 <= state["total_steps"] <= 50 + 428 and not state["horizon_fixed"]
    # The first epoch (100 steps) took 10 s with its evaluation: 0.1 s a step, so the remaining
    # 93.75 s (a last evaluation and save held back) hold ~937 more steps, beyond the first guess and
    # not rounded down to whole epochs.
    state["step"] = 100
    _fit_horizon_after_epoch(state, 100, now - 10, 110, 9.0, 0.5, 0.5, 100, one,
                             final=False)
    assert 100 + 930 <= state["total_steps"] <= 100 + 938 and not state["horizon_fixed"]
    _fit_horizon_after_epoch(state, 5, now - 10, 110, 9.0, 0.5, 0.5, 100, one,
                             final=True)
    assert state["total_steps"] == 500 and state["horizon_fixed"]  # never past --epochs


def test_distributed_data_parallel_with_gloo(corpus, tmp_path, monkeypatch):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    for name, value in {"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1",
                        "MASTER_PORT": str(port)}.items():
        monkeypatch.setenv(name, value)
    assert fit(corpus, tmp_path / "ddp", "--teacher", "synthpose", "--epochs", "1") == 0
    assert not torch.distributed.is_initialized()
    assert len(log_rows(tmp_path / "ddp")) == 1


def test_evaluate_dactyl_runs_the_binary_and_report_tabulates(corpus, tiny_file, tmp_path, capsys):
    fake = tmp_path / "dactyl"
    # Stands in for the Swift binary: checks the arguments, answers one JSON line.
    fake.write_text(f"""#!{sys.executable}
import json, sys
args = sys.argv[1:]
assert args[0] == "decode" and args[2:6] == ["--model", {tiny_file!r}, "--format", "jsonl"], args
assert args[6:] == ["--beam", "3"], args
print("noise on stdout before the result")
print(json.dumps({{"clip": args[1], "letters": "abc" if "0007" in args[1] else "bq", "spans": []}}))
""")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    out = tmp_path / "int8.json"
    capsys.readouterr()
    assert main(["evaluate-dactyl", "--data", str(corpus), "--model", tiny_file, "--dactyl", str(fake),
                 "--beam", "3", "--jobs", "2", "--json", str(out), "--quiet"]) == 0
    result = json.loads(out.read_text())
    # x@y ← abc: 3 edits; b&q ← bq: 1 edit; 6 letters.
    assert (result["edits"], result["letters"], result["clips"]) == (4, 6, 2)
    assert result["letter_accuracy"] == pytest.approx(1 / 3)
    assert result["precision"] == "int8 (dactyl)"
    fp32 = tmp_path / "fp32.json"
    fp32.write_text(json.dumps({"label": "tiny KD", "precision": "fp32 (PyTorch)", "split": "test",
                                "decoder": "greedy", "clips": 2, "letters": 6, "letter_accuracy": 0.5}))
    table = tmp_path / "table.md"
    assert main(["report", str(fp32), f"tiny KD int8={out}", "--out", str(table)]) == 0
    lines = table.read_text().splitlines()
    assert lines[2] == "| model | precision | split | decoder | clips | letters | letter accuracy |"
    assert lines[4] == "| tiny KD | fp32 (PyTorch) | test | greedy | 2 | 6 | 50.0 % |"
    assert lines[5] == "| tiny KD int8 | int8 (dactyl) | test | beam 3 | 2 | 6 | 33.3 % |"
    os.remove(fake)
    capsys.readouterr()
    assert main(["evaluate-dactyl", "--data", str(corpus), "--model", tiny_file, "--dactyl", str(fake)]) == 1
    assert "error:" in capsys.readouterr().err


def test_cache_and_configs_commands(corpus, tmp_path, capsys):
    assert main(["cache", "--data", str(corpus), "--frames", "y4m", "--config", "tiny", "--cache", str(tmp_path),
                 "--cache-workers", "0", "--splits", "dev", "test"]) == 0
    assert "4 clips, 32 frames; no rows skipped" in capsys.readouterr().out
    assert len(list((tmp_path / "24x32-fixed-125-0-750-1000").rglob("*.npy"))) == 4
    assert main(["configs"]) == 0
    assert "| pi | 96x96 | (1, 1, 1, 1) | 32 | 256 |" in capsys.readouterr().out


def test_text_progress_without_tqdm():
    import io

    from dactyl_quant.train.progress import Progress
    stream = io.StringIO()
    progress = Progress(20, "epoch 1/3", stream=stream)
    for step in range(20):
        progress.update(1, loss=1.0 / (step + 1))
    progress.close()
    lines = stream.getvalue().splitlines()
    assert 1 < len(lines) <= 11  # a line per 10 %, not per step, in a log file
    assert lines[-1].startswith("epoch 1/3 [########################] 20/20 ") and "loss 0.05" in lines[-1]


def test_fit_distils_only_detected_frames(tmp_path):
    import numpy as np
    root = tmp_path / "masked"
    write_chicago(root, standard_clips()[:6], jpg=False, teacher="mediapipe")
    for path in list((root / "teachers" / "mediapipe").rglob("*.npy")):
        flags = np.zeros(8, dtype=bool)
        flags[::2] = True
        np.save(str(path)[:-4] + ".detected.npy", flags)
    assert fit(root, tmp_path / "run", "--teacher", "mediapipe", "--epochs", "1", "--kd-loss", "cosine") == 0
    assert float(log_rows(tmp_path / "run")[0]["train_kd"]) > 0


def pretrain(root, out, *extra):
    return main(["pretrain", "--data", str(root), "--frames", "y4m", "--out", str(out), "--config", "tiny",
                 "--device", "cpu", "--cache-workers", "0", "--quiet", *extra])


def test_kd_warm_up_learns_the_teacher_and_fit_starts_from_it(corpus, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("dactyl_quant.train.pretrain.HEAD_EVAL_STEPS", 20)
    run = tmp_path / "warm"
    assert pretrain(corpus, run, "--teacher", "synthpose", "--steps", "40", "--batch", "16", "--lr", "3e-3",
                    "--eval-minutes", "0", "--head-steps", "60", "--head-batch", "4") == 0
    warm = torch.load(run / "pretrained.pt", weights_only=True)
    assert warm["format"] == "dactyl-kd-pretrain-v1" and warm["steps"] == 40 and warm["teacher"] == "synthpose"
    with open(run / "pretrain.csv", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert [(r["stage"], r["step"]) for r in rows] == [("frames", "40"), ("head", "20"), ("head", "40"), ("head", "60")]
    head_rows, rows = rows[1:], rows[:1]
    # The head learns CTC on the frozen features: its loss falls from one report to the next.
    ctc_losses = [float(r["train_ctc"]) for r in head_rows]
    assert ctc_losses[-1] < ctc_losses[0] and all(r["dev_letter_acc"] != "" for r in head_rows)
    # Standardised targets: a head that predicts the mean scores ~1; 40 steps on 4 clips' frames do better
    # (on the dev frames, 4 clips are too few to say anything but that the loss was measured).
    assert float(rows[-1]["train_kd"]) < 0.9 and 0 < float(rows[-1]["dev_kd"]) < float("inf")

    out = tmp_path / "fit"
    assert fit(corpus, out, "--teacher", "synthpose", "--epochs", "1", "--init", str(run / "pretrained.pt")) == 0
    assert "init: " in capsys.readouterr().out
    last = torch.load(out / "last.pt", weights_only=True)
    assert last["args"]["init"] == str(run / "pretrained.pt")
    # The KD head (with its teacher statistics) carried over: fit did not recompute them.
    assert torch.equal(last["kd_head"]["teacher_std"], warm["kd_head"]["teacher_std"])
    # One epoch moved the weights away from the warm-up's, but not back to a random start.
    stem = "encoder.stem.conv.weight"
    assert not torch.equal(last["model"][stem], warm["model"][stem])
    assert (last["model"][stem] - warm["model"][stem]).abs().max() < 0.1


def test_kd_warm_up_errors(corpus, tmp_path, capsys, monkeypatch):
    assert pretrain(corpus, tmp_path / "a", "--steps", "1") == 1
    assert "give --teacher" in capsys.readouterr().err
    assert pretrain(corpus, tmp_path / "b", "--teacher", "synthpose") == 1
    assert "give --steps or --time-budget" in capsys.readouterr().err
    # Every training frame is held in memory: too little memory is an error before any loading.
    monkeypatch.setattr("dactyl_quant.train.pretrain.available_memory", lambda: 1000)
    assert pretrain(corpus, tmp_path / "m", "--teacher", "synthpose", "--steps", "1") == 1
    error = capsys.readouterr().err
    assert "holds every frame of its split in memory" in error and "GiB are free" in error
    monkeypatch.undo()
    not_warm = tmp_path / "not-warm.pt"
    torch.save({"format": "dactyl-student-v1"}, not_warm)
    assert fit(corpus, tmp_path / "c", "--teacher", "synthpose", "--epochs", "1", "--init", str(not_warm)) == 1
    assert "not a pretrain checkpoint" in capsys.readouterr().err
