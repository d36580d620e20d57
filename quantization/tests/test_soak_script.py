"""scripts/soak.py's parsing, /proc sampling and checks (the soak itself is a measurement, not a test)."""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "soak.py"
spec = importlib.util.spec_from_file_location("soak", SCRIPT)
soak = importlib.util.module_from_spec(spec)
spec.loader.exec_module(soak)


def write_y4m(path, width, height, chroma, frames, truncate=0):
    payload = {"C444": 3 * width * height, "C420jpeg": width * height + 2 * ((width + 1) // 2) * ((height + 1) // 2)}[chroma]
    data = f"YUV4MPEG2 W{width} H{height} F30:1 Ip {chroma}\n".encode()
    for index in range(frames):
        data += (b"FRAME Ixyz\n" if index == 1 else b"FRAME\n") + bytes(payload)
    path.write_bytes(data[:len(data) - truncate])
    return path


def test_counts_the_frames_of_420_and_444_clips_and_rejects_a_truncated_one(tmp_path):
    assert soak.y4m_frame_count(write_y4m(tmp_path / "a.y4m", 5, 3, "C420jpeg", 7)) == 7
    assert soak.y4m_frame_count(write_y4m(tmp_path / "b.y4m", 4, 4, "C444", 3)) == 3
    with pytest.raises(ValueError, match="frame 2 truncated"):
        soak.y4m_frame_count(write_y4m(tmp_path / "c.y4m", 4, 4, "C444", 3, truncate=1))
    (tmp_path / "d.y4m").write_bytes(b"RIFF....")
    with pytest.raises(ValueError, match="not a YUV4MPEG2"):
        soak.y4m_frame_count(tmp_path / "d.y4m")


def commit(text, start, end, final=True, piece=0):
    return json.dumps({"type": "commit", "segment": 0, "piece": piece, "final": final, "text": text,
                       "start_frame": start, "end_frame": end, "letters": []})


def test_commits_are_grouped_by_loop_and_a_misread_word_is_not_a_lost_one():
    lines = soak.JsonLines()
    events = [
        '{"type":"partial","segment":0,"text":"ja","t_ms":1}',
        commit("jade", 10, 30), commit("yara", 40, 60), commit("tess", 70, 90),             # loop 0
        commit("jade", 110, 130), commit("yarn", 140, 160), commit("tess", 170, 190),       # loop 1: a misread
        commit("jade", 210, 230), commit("te", 270, 280, final=False), commit("ss", 281, 290, piece=1),  # loop 2: one lost, pieces
        commit("ja", 310, 320),                                                            # the partial loop at the end
        "not json",
        '{"type":"stats","frames_seen":330,"frames_encoded":330,"frames_dropped":0,"words_committed":10}',
    ]
    for line in events:
        lines.feed(line + "\n")
    assert lines.commits[-2] == (270, 290, "tess"), "pieces are joined into one word from the first piece's start"
    assert lines.stats["words_committed"] == 10 and lines.bad_lines == 1
    report = soak.loops_report(lines.commits, frames=330, clip_frames=100, expected_words=["jade", "yara", "tess"])
    assert report["loops"] == 3
    assert report["loops_with_all_words"] == 2
    assert report["loops_read_right"] == 1
    assert report["loops_short"] == [2]
    assert report["misread"] == {"yara->yarn": 1}


def summary_for(samples, committed=9, reached=9, loops_short=()):
    return {"curves": soak.flatness(samples, warmup_seconds=1.0),
            "words": {"committed_by_recogniser": committed, "reached_sink": reached},
            "loops": {"loops_short": list(loops_short)}, "stats": {"frames_seen": 300},
            "frames": 300, "frames_requested": 300, "dropped": 0, "exit_status": 0}


def test_checks_pass_flat_curves_and_name_growth_lost_words_and_short_loops():
    flat = [{"t": t, "rss_kb": 9000 if t < 1 else 15000, "fds": 4, "threads": 1 if t < 1 else 3} for t in range(6)]
    assert soak.checks(summary_for(flat), rss_slack_kb=1024, fast=True) == []
    growing = [dict(sample, rss_kb=15000 + 500 * sample["t"], fds=4 + sample["t"] // 5) for sample in flat]
    failures = soak.checks(summary_for(growing, committed=9, reached=8, loops_short=[1]), rss_slack_kb=1024, fast=True)
    assert any("RSS grew by 2000 kB" in failure for failure in failures)
    assert any("fds changed after the warm-up: 4..5" in failure for failure in failures)
    assert any("9 words committed, 8 reached stdout" in failure for failure in failures)
    assert any("1 loops committed fewer words" in failure for failure in failures)


def test_samples_a_running_process_from_proc():
    child = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, threading, os\n"
         "files = [open(os.devnull) for _ in range(6)]\n"
         "gate = threading.Event()\n"
         "threads = [threading.Thread(target=gate.wait) for _ in range(2)]\n"
         "[thread.start() for thread in threads]\n"
         "print('ready', flush=True)\n"
         "sys.stdin.readline()\n"
         "gate.set()\n"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        sample = soak.proc_sample(child.pid)
        assert sample["threads"] == 3
        assert sample["fds"] >= 3 + 6
        assert 1000 < sample["rss_kb"] < 10_000_000
    finally:
        child.communicate("\n")
