"""The segmenter of `dactyl run` against generated sessions (synth/session.py): word boundaries and letters.

For every DIR/session-*.json (with its .y4m) it runs `dactyl run CLIP --fast --sink stdout --format
jsonl` and reads the commit lines (schema: the comment at the end of
Sources/DactylPipeline/Sink/SinkEvents.swift; `start_frame` / `end_frame` are source frame numbers
from 0, inclusive). The pieces of one segment (a segment longer than the window is committed in
pieces) are one hypothesis word: their texts joined, from the first piece's start to the last's end.

Metrics, over all sessions:
- word-boundary accuracy: true words matched one-to-one (greedily, highest IoU first) by a
  hypothesis whose frame range overlaps theirs with IoU ≥ 0.5, over all true words;
- of the unmatched true words: split (two or more hypotheses lie mostly inside it), merged (one
  hypothesis covers at least half of it and at least half of another true word), missed (no
  hypothesis overlaps it at all), and misplaced (the rest: overlapped, but IoU < 0.5);
- spurious: hypotheses that overlap no true word (e.g. a commit in an idle stretch);
- boundary error: |start − first frame| and |end − last frame| of matched pairs, in frames (median);
- session letter accuracy: 1 − Σ edit distance / Σ reference letters, the reference being the true
  words joined with single spaces and the hypothesis the committed words likewise; a session whose
  run fails counts as all errors (an empty hypothesis).
"""

import json
import os
import statistics
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ..corpus import DataError
from .evaluate_dactyl import find_dactyl
from .metrics import edit_distance

IOU_MATCH = 0.5


@dataclass(frozen=True)
class Word:
    text: str
    first: int  # inclusive frame numbers
    last: int

    @property
    def frames(self) -> int:
        return self.last - self.first + 1


def overlap(a: Word, b: Word) -> int:
    return max(0, min(a.last, b.last) - max(a.first, b.first) + 1)


def iou(a: Word, b: Word) -> float:
    shared = overlap(a, b)
    return shared / (a.frames + b.frames - shared)


def parse_commits(lines: list[str], where: str = "output") -> list[Word]:
    """The hypothesis words of a run's JSON lines: commit lines, pieces of a segment joined, in order."""
    segments: dict[int, list[dict]] = {}
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line:
            continue
        try:
            event = json.loads(line)
        except ValueError as error:
            raise DataError(f"{where}: line {number}: not a JSON object: {error}") from None
        if not isinstance(event, dict) or event.get("type") != "commit":
            continue
        try:
            segment, piece = int(event["segment"]), int(event.get("piece", 0))
            start, end, text = int(event["start_frame"]), int(event["end_frame"]), str(event["text"])
        except (KeyError, TypeError, ValueError) as error:
            raise DataError(f"{where}: line {number}: a commit needs segment, text, start_frame and end_frame: "
                            f"{error!r}") from None
        segments.setdefault(segment, []).append({"piece": piece, "start": start, "end": end, "text": text})
    words = []
    for segment in sorted(segments):
        pieces = sorted(segments[segment], key=lambda p: p["piece"])
        words.append(Word("".join(p["text"] for p in pieces), min(p["start"] for p in pieces),
                          max(p["end"] for p in pieces)))
    return words


def truth_words(record: dict) -> list[Word]:
    return [Word(w["text"], int(w["first_frame"]), int(w["last_frame"])) for w in record["words"]]


@dataclass
class SessionScore:
    words: int = 0
    matched: int = 0
    split: int = 0
    merged: int = 0
    missed: int = 0
    misplaced: int = 0
    spurious: int = 0
    hypotheses: int = 0
    edits: int = 0
    letters: int = 0
    failed: int = 0
    sessions: int = 0
    start_errors: list[int] = field(default_factory=list)
    end_errors: list[int] = field(default_factory=list)

    def add(self, other: "SessionScore") -> None:
        for name, value in vars(other).items():
            setattr(self, name, getattr(self, name) + value)

    def summary(self) -> dict:
        errors = self.start_errors + self.end_errors
        return {
            "sessions": self.sessions, "failed": self.failed, "words": self.words, "hypotheses": self.hypotheses,
            "boundary_accuracy": self.matched / self.words if self.words else float("nan"),
            "matched": self.matched, "split": self.split, "merged": self.merged, "missed": self.missed,
            "misplaced": self.misplaced, "spurious": self.spurious,
            "median_boundary_error": statistics.median(errors) if errors else None,
            "median_start_error": statistics.median(self.start_errors) if self.start_errors else None,
            "median_end_error": statistics.median(self.end_errors) if self.end_errors else None,
            "letter_accuracy": 1 - self.edits / self.letters if self.letters else float("nan"),
            "edits": self.edits, "letters": self.letters,
        }


def score_session(truth: list[Word], hypotheses: list[Word] | None) -> SessionScore:
    """The scores of one session; `hypotheses` None: the run failed (all errors)."""
    reference = " ".join(w.text for w in truth)
    score = SessionScore(words=len(truth), letters=len(reference), sessions=1)
    if hypotheses is None:
        score.failed, score.edits, score.missed = 1, len(reference), len(truth)
        return score
    score.hypotheses = len(hypotheses)
    score.edits = edit_distance(" ".join(h.text for h in hypotheses), reference)

    pairs = sorted(((iou(t, h), i, j) for i, t in enumerate(truth) for j, h in enumerate(hypotheses)
                    if iou(t, h) >= IOU_MATCH), key=lambda p: (-p[0], p[1], p[2]))
    truth_match: dict[int, int] = {}
    used: set[int] = set()
    for _, i, j in pairs:
        if i not in truth_match and j not in used:
            truth_match[i] = j
            used.add(j)
    score.matched = len(truth_match)
    for i, j in truth_match.items():
        score.start_errors.append(abs(hypotheses[j].first - truth[i].first))
        score.end_errors.append(abs(hypotheses[j].last - truth[i].last))

    for i, t in enumerate(truth):
        if i in truth_match:
            continue
        overlapping = [h for h in hypotheses if overlap(t, h)]
        inside = [h for h in overlapping if 2 * overlap(t, h) > h.frames]
        merging = [h for h in overlapping if 2 * overlap(t, h) >= t.frames
                   and any(k != i and 2 * overlap(other, h) >= other.frames for k, other in enumerate(truth))]
        if not overlapping:
            score.missed += 1
        elif len(inside) >= 2:
            score.split += 1
        elif merging:
            score.merged += 1
        else:
            score.misplaced += 1
    score.spurious = sum(1 for j, h in enumerate(hypotheses)
                         if j not in used and not any(overlap(t, h) for t in truth))
    return score


def run_session(dactyl: str, clip: Path, extra: list[str], timeout: float) -> tuple[list[Word] | None, str | None]:
    command = [dactyl, "run", str(clip), "--fast", "--sink", "stdout", "--format", "jsonl"] + extra
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as error:
        return None, f"{' '.join(command)}: {error}"
    if done.returncode != 0:
        return None, f"{' '.join(command)}: exit status {done.returncode}: {done.stderr.strip()[-500:]}"
    try:
        return parse_commits(done.stdout.splitlines(), f"{' '.join(command)}: standard output"), None
    except DataError as error:
        return None, str(error)


def evaluate_sessions(args) -> dict:
    data = Path(args.data)
    records = sorted(data.glob("session-*.json"))
    if not records:
        raise DataError(f"{data}: no session-*.json (python -m dactyl_quant.synth session --out {data} ...)")
    dactyl = find_dactyl(args.dactyl)
    extra = list(args.run_arg or [])
    if args.model:
        extra += ["--model", str(args.model)]
    if args.lexicon:
        extra += ["--lexicon", str(args.lexicon)]
    sessions = []
    for path in records:
        record = json.loads(path.read_text())
        clip = data / record["clip"]
        if not clip.is_file():
            raise DataError(f"{path}: its clip {clip} does not exist (generate the sessions with --y4m)")
        sessions.append((path, record, clip))
    total = SessionScore()
    per_session = []
    with ThreadPoolExecutor(args.jobs or os.cpu_count() or 1) as pool:
        results = pool.map(lambda s: run_session(dactyl, s[2], extra, args.timeout), sessions)
        for (path, record, _), (hypotheses, error) in zip(sessions, results):
            if error and not args.quiet:
                print(f"{path}: {error}", flush=True)
            score = score_session(truth_words(record), hypotheses)
            total.add(score)
            per_session.append({"session": path.name, "truth": [w["text"] for w in record["words"]],
                                "committed": None if hypotheses is None else [h.text for h in hypotheses],
                                **{k: v for k, v in score.summary().items() if k in ("matched", "words", "edits")}})
    result = {**total.summary(), "options": extra, "per_session": per_session}
    error = result["median_boundary_error"]
    print(f"{data}: {total.sessions} sessions ({total.failed} failed, counted as errors), {total.words} words: "
          f"word-boundary accuracy {result['boundary_accuracy']:.3f} (IoU >= {IOU_MATCH}); split {total.split}, "
          f"merged {total.merged}, missed {total.missed}, misplaced {total.misplaced}, spurious {total.spurious}; "
          f"median boundary error {'n/a' if error is None else f'{error:g}'} frames; "
          f"session letter accuracy {result['letter_accuracy']:.3f} ({total.edits} edits / {total.letters} letters)",
          flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    return result
