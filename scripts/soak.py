#!/usr/bin/env python3
"""Soak test of the live box: `dactyl run` over a looped clip for --frames frames.

Runs `dactyl run CLIP --loop --fast --format jsonl --stats --max-frames N` (real time with
--realtime), samples the process's resident memory (VmRSS), open file descriptors and threads
from /proc every --interval seconds, and reads its JSON lines as they come. At the end it checks:

- memory, descriptors and threads stay flat: after the warm-up (the first complete loop of the
  clip) RSS grows by at most --rss-slack-kb, and descriptors and threads do not change;
- every committed word reaches the sink: the final commits on stdout equal the recogniser's count
  in the stats line, and every complete loop of the clip produced --expect's number of words
  (a word read differently is a recognition error, counted apart, not a lost word);
- nothing is dropped in --fast mode (a clip played as fast as it goes has nothing to skip).

Writes the samples as CSV and a summary as JSON under --out, and with --plot a PNG of the curves
(needs matplotlib). Exit status 0 when every check passes. docs/live-box.md, "Soak".

usage: scripts/soak.py [--frames 100000] [--clip samples/session.y4m] [--dactyl BIN] [--realtime]
                       [--interval 1.0] [--expect "jade yara tess"] [--out DIR] [--plot FILE.png]
                       [-- EXTRA DACTYL RUN OPTIONS]
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


# --- parsing and checks (tested by quantization/tests/test_soak_script.py) -------------------

def y4m_frame_count(path) -> int:
    """Frames in a YUV4MPEG2 clip, walking its FRAME headers (4:2:0 unless the header says C444/C422)."""
    data = Path(path).read_bytes()
    end = data.find(b"\n")
    if not data.startswith(b"YUV4MPEG2 ") or end < 0:
        raise ValueError(f"{path}: not a YUV4MPEG2 clip (expected 'YUV4MPEG2 ' and a header line)")
    fields = data[:end].split()[1:]
    width = height = None
    chroma = "420"
    for field in fields:
        key, value = chr(field[0]), field[1:].decode("ascii")
        if key == "W":
            width = int(value)
        elif key == "H":
            height = int(value)
        elif key == "C":
            chroma = value[:3]
    if width is None or height is None:
        raise ValueError(f"{path}: header without W and H")
    luma = width * height
    payload = {"444": 3 * luma, "422": 2 * luma}.get(chroma, luma + 2 * ((width + 1) // 2) * ((height + 1) // 2))
    frames, offset = 0, end + 1
    while offset < len(data):
        line_end = data.find(b"\n", offset)
        if not data.startswith(b"FRAME", offset) or line_end < 0:
            raise ValueError(f"{path}: expected FRAME at offset {offset}")
        offset = line_end + 1 + payload
        if offset > len(data):
            raise ValueError(f"{path}: frame {frames} truncated")
        frames += 1
    return frames


def proc_sample(pid: int) -> dict:
    """Resident memory (kB), open descriptors and threads of a running process, from /proc."""
    rss_kb = threads = None
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                rss_kb = int(line.split()[1])
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    if rss_kb is None or threads is None:
        raise ValueError(f"/proc/{pid}/status without VmRSS or Threads (a zombie?)")
    return {"rss_kb": rss_kb, "fds": fds, "threads": threads}


class JsonLines:
    """`dactyl run --format jsonl` output, read line by line: final commits, the last frame seen, the stats line."""

    def __init__(self):
        self.commits = []          # (start_frame, end_frame, text) of each final commit (pieces joined)
        self.pieces = []           # texts of the pieces of the word being committed
        self.stats = None
        self.last_frame = 0
        self.bad_lines = 0

    def feed(self, line: str):
        line = line.strip()
        if not line:
            return
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            self.bad_lines += 1
            return
        kind = event.get("type")
        if kind == "commit":
            self.last_frame = max(self.last_frame, event["end_frame"])
            self.pieces.append(event["text"])
            if event["final"]:
                start = event["start_frame"] if len(self.pieces) == 1 else self.piece_start
                self.commits.append((start, event["end_frame"], "".join(self.pieces)))
                self.pieces = []
            elif len(self.pieces) == 1:
                self.piece_start = event["start_frame"]
        elif kind == "stats":
            self.stats = event


def loops_report(commits, frames: int, clip_frames: int, expected_words) -> dict:
    """Per complete loop of the clip (the trailing partial loop left out): words committed, words read right.

    A commit belongs to the loop its first frame is in (the clip's rests keep words inside a loop)."""
    loops = frames // clip_frames
    per_loop = [[] for _ in range(loops)]
    for start, _end, text in commits:
        index = start // clip_frames
        if index < loops:
            per_loop[index].append(text)
    expected = list(expected_words)
    counts = [len(words) for words in per_loop]
    misread = {}
    for words in per_loop:
        if len(words) != len(expected):
            continue  # a lost or extra word, counted below; its neighbours cannot be paired by position
        for got, want in zip(words, expected):
            if got != want:
                key = f"{want}->{got}"
                misread[key] = misread.get(key, 0) + 1
    return {
        "loops": loops,
        "loops_with_all_words": sum(1 for count in counts if count == len(expected)),
        "loops_read_right": sum(1 for words in per_loop if words == expected),
        "loops_short": [index for index, count in enumerate(counts) if count < len(expected)],
        "loops_extra": [index for index, count in enumerate(counts) if count > len(expected)],
        "misread": misread,
    }


def flatness(samples, warmup_seconds: float) -> dict:
    """Start (first sample after the warm-up), end and maximum of each curve, and the growth after the warm-up."""
    if not samples:
        raise ValueError("no samples: the run ended before the first one")
    settled = [sample for sample in samples if sample["t"] >= warmup_seconds] or samples[-1:]
    report = {}
    for key in ("rss_kb", "fds", "threads"):
        values = [sample[key] for sample in samples]
        after = [sample[key] for sample in settled]
        report[key] = {"first": values[0], "start": after[0], "end": values[-1], "max": max(values),
                       "min_after_warmup": min(after), "max_after_warmup": max(after),
                       "growth_after_warmup": max(after) - after[0]}
    return report


def checks(summary: dict, rss_slack_kb: int, fast: bool) -> list:
    """The failed checks, one line each (empty: the soak passed)."""
    failures = []
    curves, words, loops = summary["curves"], summary["words"], summary["loops"]
    if curves["rss_kb"]["growth_after_warmup"] > rss_slack_kb:
        failures.append(f"RSS grew by {curves['rss_kb']['growth_after_warmup']} kB after the warm-up (bound {rss_slack_kb} kB)")
    for key in ("fds", "threads"):
        if curves[key]["min_after_warmup"] != curves[key]["max_after_warmup"]:
            failures.append(f"{key} changed after the warm-up: {curves[key]['min_after_warmup']}..{curves[key]['max_after_warmup']}")
    if summary["stats"] is None:
        failures.append("no stats line (did dactyl run end normally?)")
    else:
        if words["committed_by_recogniser"] != words["reached_sink"]:
            failures.append(f"{words['committed_by_recogniser']} words committed, {words['reached_sink']} reached stdout")
        if summary["frames"] != summary["frames_requested"]:
            failures.append(f"{summary['frames']} frames seen, {summary['frames_requested']} requested")
        if fast and summary["dropped"] != 0:
            failures.append(f"{summary['dropped']} frames dropped with --fast")
    if loops["loops_short"]:
        failures.append(f"{len(loops['loops_short'])} loops committed fewer words than expected (first: loop {loops['loops_short'][0]})")
    if summary["exit_status"] != 0:
        failures.append(f"dactyl run exited with {summary['exit_status']}")
    return failures


# --- the run -------------------------------------------------------------------------------

def sample_run(command, interval: float, on_line, stderr_path):
    """Runs `command`, feeding stdout's lines to on_line, sampling /proc every `interval` s. Returns (samples, exit status)."""
    with open(stderr_path, "w") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True, bufsize=1)
        reader = threading.Thread(target=lambda: [on_line(line) for line in process.stdout], daemon=True)
        reader.start()
        samples, started = [], time.monotonic()
        while process.poll() is None:
            try:
                sample = proc_sample(process.pid)
            except (FileNotFoundError, ProcessLookupError, ValueError):
                break  # ended between poll and read
            sample["t"] = round(time.monotonic() - started, 3)
            samples.append(sample)
            time.sleep(interval)
        status = process.wait()
        reader.join()
    return samples, status


def plot(samples, summary, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    times = [sample["t"] for sample in samples]
    figure, axes = plt.subplots(3, 1, figsize=(8, 6.5), sharex=True)
    for axis, key, label in zip(axes, ("rss_kb", "fds", "threads"),
                                ("resident memory (MB)", "open file descriptors", "threads")):
        values = [sample[key] / 1024 if key == "rss_kb" else sample[key] for sample in samples]
        axis.plot(times, values, linewidth=1)
        axis.set_ylabel(label)
        axis.grid(alpha=0.3)
        if key != "rss_kb":
            axis.set_ylim(min(values) - 2, max(values) + 2)
    axes[-1].set_xlabel("seconds")
    words = summary["words"]
    figure.suptitle(f"dactyl run {Path(summary['clip']).name} --loop{' --fast' if summary['fast'] else ''}: "
                    f"{summary['frames']} frames, {words['reached_sink']} words, {summary['dropped']} dropped", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=90)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--clip", default=str(ROOT / "samples" / "session.y4m"))
    parser.add_argument("--dactyl", default=str(ROOT / ".build" / "release" / "dactyl"))
    parser.add_argument("--realtime", action="store_true", help="play the clip in real time (default: --fast)")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between /proc samples")
    parser.add_argument("--expect", default="jade yara tess", help="the words of one loop of the clip, in order")
    parser.add_argument("--rss-slack-kb", type=int, default=1024, help="RSS growth after the warm-up that still passes")
    parser.add_argument("--out", default=str(ROOT / "out" / "soak"))
    parser.add_argument("--plot", help="write a PNG of the curves here")
    parser.add_argument("extra", nargs="*", help="more `dactyl run` options (after --)")
    options = parser.parse_args()
    if options.frames < 1:
        parser.error("--frames must be at least 1")

    clip_frames = y4m_frame_count(options.clip)
    fast = not options.realtime
    command = [options.dactyl, "run", options.clip, "--loop", "--format", "jsonl", "--stats",
               "--max-frames", str(options.frames)] + (["--fast"] if fast else []) + options.extra
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    lines = JsonLines()
    print("soak:", " ".join(command), flush=True)
    began = time.monotonic()
    samples, status = sample_run(command, options.interval, lines.feed, out / "stderr.txt")
    seconds = time.monotonic() - began

    stats = lines.stats or {}
    frames = stats.get("frames_seen", lines.last_frame)
    # Warm-up: the first complete loop (every buffer, the pool's threads and the stdout buffer in use).
    warmup_seconds = seconds * min(1.0, clip_frames / max(frames, 1))
    summary = {
        "clip": options.clip, "clip_frames": clip_frames, "fast": fast, "command": command,
        "frames_requested": options.frames, "frames": frames, "frames_encoded": stats.get("frames_encoded"),
        "dropped": stats.get("frames_dropped"), "seconds": round(seconds, 1), "exit_status": status,
        "words": {"committed_by_recogniser": stats.get("words_committed"), "reached_sink": len(lines.commits)},
        "loops": loops_report(lines.commits, frames, clip_frames, options.expect.split()),
        "curves": flatness(samples, warmup_seconds), "warmup_seconds": round(warmup_seconds, 2),
        "samples": len(samples), "stats": lines.stats, "bad_lines": lines.bad_lines,
    }
    failures = checks(summary, options.rss_slack_kb, fast)
    summary["failures"] = failures
    with open(out / "samples.csv", "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=["t", "rss_kb", "fds", "threads"])
        writer.writeheader()
        writer.writerows(samples)
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    if options.plot:
        plot(samples, summary, options.plot)

    curves, loops = summary["curves"], summary["loops"]
    print(f"soak: {frames} frames ({loops['loops']} complete loops of {clip_frames}) in {seconds:.0f} s, "
          f"{summary['dropped']} dropped; words: {summary['words']['reached_sink']} reached stdout of "
          f"{summary['words']['committed_by_recogniser']} committed; loops with all {len(options.expect.split())} words: "
          f"{loops['loops_with_all_words']}/{loops['loops']}, read right: {loops['loops_read_right']}/{loops['loops']}"
          + (f", misread {loops['misread']}" if loops["misread"] else ""))
    for key, unit in (("rss_kb", " kB"), ("fds", ""), ("threads", "")):
        curve = curves[key]
        print(f"soak: {key}: first {curve['first']}{unit}, after warm-up {curve['start']}, end {curve['end']}, "
              f"max {curve['max']}, growth after warm-up {curve['growth_after_warmup']}")
    print(f"soak: samples, summary{' and plot' if options.plot else ''} in {out}")
    for failure in failures:
        print("soak: FAIL", failure)
    print("soak: PASS" if not failures else "soak: FAIL")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
