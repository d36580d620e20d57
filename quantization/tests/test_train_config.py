"""The typed fit configuration that cli.py builds: options given, defaults, and a resumed run's values."""

import pytest

from dactyl_quant.corpus import DataError
from dactyl_quant.train.cli import build_parser
from dactyl_quant.train.config import RESUMABLE, DataOptions, FitConfig


def _config(*argv):
    return FitConfig.from_namespace(build_parser().parse_args(["fit", "--out", "RUN", *argv]))


def test_cli_builds_the_config_and_records_what_was_given():
    config = _config("--data", "D", "--teacher", "synthpose", "--lr", "0.002", "--kd-all-frames", "--quiet")
    assert (config.out, config.data, config.teacher, config.lr, config.kd_mask, config.quiet) == (
        "RUN", "D", "synthpose", 0.002, False, True)
    assert config.given == {"data", "teacher", "lr", "kd_mask"}  # --quiet belongs to this invocation only
    assert (config.batch, config.epochs, config.kd_weight) == (32, 30, None)  # defaults; kd_weight unresolved
    assert set(RESUMABLE) <= {f for f in FitConfig.__dataclass_fields__}
    assert config.data_options() == DataOptions(data="D", kd_mask=False, quiet=True)


def test_a_fresh_run_takes_the_defaults_and_kd_weight_follows_the_teacher():
    notes = []
    assert _config("--data", "D").resolved({}, notes.append).kd_weight == 0.0
    resolved = _config("--data", "D", "--teacher", "synthpose").resolved({}, notes.append)
    assert resolved.kd_weight == 1.0 and resolved.use_kd and notes == []
    assert not _config("--data", "D", "--teacher", "synthpose", "--kd-weight", "0").resolved({}, notes.append).use_kd
    with pytest.raises(DataError, match="give --data"):
        _config().resolved({}, notes.append)


def test_a_resumed_run_keeps_its_options_unless_given_again():
    stored = _config("--data", "D", "--teacher", "synthpose", "--epochs", "4").resolved({}, print).stored()
    assert "given" not in stored and stored["kd_weight"] == 1.0
    notes = []
    resumed = _config("--resume", "--epochs", "6", "--batch", "32").resolved(stored, notes.append)
    assert (resumed.data, resumed.teacher, resumed.kd_weight, resumed.epochs, resumed.resume) == (
        "D", "synthpose", 1.0, 6, True)
    assert notes == ["resume: epochs = 6 (the run had 4)"]  # --batch 32 is what the run had: no note
