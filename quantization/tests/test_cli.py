import torch

from dactyl_quant import ctc
from dactyl_quant.cli import main
from dactyl_quant.export import read_model
from dactyl_quant.preprocess import Crop
from dactyl_quant.reference import run_clip
from dactyl_quant.student import CONFIGS, Student


def test_export_then_decode(tmp_path, clip, capsys):
    out = tmp_path / "m.dmdl"
    assert main(["export", "--config", "tiny", "--seed", "4", "--calib", clip[0], "--out", str(out),
                 "--info", "tiny, untrained"]) == 0
    model = read_model(out)
    assert model.info == "tiny, untrained"
    capsys.readouterr()
    assert main(["decode", str(out), clip[0], "--spans"]) == 0
    printed = capsys.readouterr().out.splitlines()
    _, log_probs = run_clip(model, clip[0])
    labels = ctc.greedy(log_probs)
    assert printed[0] == model.alphabet.decode(labels)
    assert len(printed) == 1 + len(labels)
    assert main(["decode", str(out), clip[0], "--beam", "3", "--crop", "0,0,40,40"]) == 0
    _, cropped = run_clip(model, clip[0], crop=Crop(0, 0, 40, 40))
    assert capsys.readouterr().out.strip("\n") == model.alphabet.decode(ctc.beam_search(cropped, 3))


def test_export_from_a_checkpoint(tmp_path, clip):
    torch.manual_seed(11)
    student = Student(CONFIGS["tiny"])
    checkpoint = tmp_path / "student.pt"
    torch.save(student.state_dict(), checkpoint)
    out = tmp_path / "trained.dmdl"
    assert main(["export", "--config", "tiny", "--checkpoint", str(checkpoint), "--calib", clip[0],
                 "--out", str(out), "--info", "test checkpoint"]) == 0
    model = read_model(out)
    linear = model.head_ops[-2]
    assert torch.equal(torch.from_numpy(linear.weights), student.head.classifier.weight.detach())


def test_errors_are_reported_without_a_traceback(tmp_path, clip, capsys):
    bad = tmp_path / "bad.dmdl"
    bad.write_bytes(b"not a model")
    assert main(["decode", str(bad), clip[0]]) == 1
    assert f"error: {bad}: offset 11: truncated" in capsys.readouterr().err
