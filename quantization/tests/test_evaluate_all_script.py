"""scripts/evaluate_all.sh runs every evaluation and collects the tables (on tiny ready-made data and a
stand-in for `dactyl decode`; generating the real splits is the measurement, not the test)."""

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from dactyl_quant.holdout import mark_evaluation_only
from minicorpus import Clip, write_chicago

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "quantization" / "scripts" / "evaluate_all.sh"
GOLDEN = ROOT / "Tests" / "golden"


def test_evaluate_all_collects_still_real_and_seed_tables(tmp_path):
    if shutil.which("bash") is None:
        pytest.skip("no bash")
    fake = tmp_path / "dactyl"
    fake.write_text("#!/bin/sh\nname=$(basename \"$2\" .y4m)\necho \"{\\\"letters\\\":\\\"${name##*_}\\\"}\"\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    work = tmp_path / "work"
    # Ready-made splits, so that the script generates nothing: still letters, real photos, three seeds.
    write_chicago(work / "still", [Clip("still_test/s_a_a", "a", "test"), Clip("still_test/s_b_bb", "b", "test"),
                                   Clip("still_test/s_j_j", "j", "test")], jpg=False, bbox=False, teacher=None)
    real = tmp_path / "real"
    real.mkdir()
    for name in ("a_a", "v_u"):
        (real / f"{name}.y4m").write_bytes(b"YUV4MPEG2 W2 H2\n")
    (real / "clips.csv").write_text("clip,letters,partition\na_a.y4m,a,test\nv_u.y4m,v,test\n")
    mark_evaluation_only(real, "test")
    for seed in (13, 14, 15):
        write_chicago(work / "seeds" / f"seed-{seed}", [Clip("synth_test/s_ox", "ox", "test")], jpg=False,
                      bbox=False, teacher=None)
    docs = tmp_path / "docs"
    environment = dict(os.environ, DACTYL=str(fake), REAL=str(real), JOBS="1", DOCS=str(docs))
    done = subprocess.run(["bash", str(SCRIPT), str(GOLDEN / "tiny.dmdl"), str(work)], env=environment,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = (work / "summary.md").read_text()
    for title in ("Still letters (held 0.3-2 s), greedy", "Still letters (held 0.3-2 s), beam 8",
                  "Real photos of the 24 static letters, greedy", "Held-out words over seeds 13 14 15"):
        assert f"## {title}" in summary
    assert "| static letters (ab) | 2 | 50.0 % |" in summary  # "bb" for b: not exact
    assert "| beam 8 + lexicon | 100.0 ± 0.0 % |" in summary
    assert {p.name for p in docs.iterdir() if p.name.startswith("real-greedy")} == {
        "real-greedy-confusion.csv", "real-greedy-letters.csv"} | (
        {"real-greedy-confusion.png"} if (work / "real-greedy" / "confusion.png").exists() else set())
