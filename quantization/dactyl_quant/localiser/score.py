"""Letter accuracy of the composed evaluation clips, decoded by `dactyl decode` with a crop rule.

`decode_clips` runs `DACTYL decode CLIP --model MODEL --format jsonl --crop ...` on every clip of a
sidecar (clips.json) with the true crop (`--crop X,Y,W,H`) or the localiser's (`--crop auto`) and
writes one line per clip (`--crop model`, the model's default crop, is the no-localiser baseline): `CLIP<TAB>LETTERS`, or `CLIP<TAB>!ERROR` when it failed. `score_clips`
reads such files back: letter accuracy = 1 − (summed edit distance) / (summed letters), a failed clip
counting as every one of its letters wrong. `table` prints seeds side by side with mean ± sd.
"""

import json
import statistics
import subprocess
from pathlib import Path

from ..train.metrics import edit_distance
from .clips import SIDECAR, read_sidecar

CROP_RULES = ("true", "auto", "model")  # the sidecar's crop, the localiser, the model's default (whole frame)


def decode_command(dactyl: str, model: str, clip: Path, crop: str) -> list[str]:
    return [dactyl, "decode", str(clip), "--model", model, "--format", "jsonl", "--crop", crop]


def letters_of(stdout: str) -> str:
    """The letters of a `dactyl decode --format jsonl` run: the last line's "letters"."""
    lines = [line for line in stdout.splitlines() if line.strip()]
    if not lines:
        raise ValueError("no output")
    record = json.loads(lines[-1])
    if "letters" not in record:
        raise ValueError(f"last line has no 'letters': {lines[-1][:200]!r}")
    return str(record["letters"])


def decode_clips(dactyl: str, model: str, clips: Path, rule: str, out: Path, log=print) -> Path:
    if rule not in CROP_RULES:
        raise ValueError(f"crop rule {rule!r}: expected one of {', '.join(CROP_RULES)}")
    lines = []
    for spec in read_sidecar(clips / SIDECAR):
        crop = ",".join(str(v) for v in spec.crop) if rule == "true" else rule
        command = decode_command(dactyl, model, clips / spec.name, crop)
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=1800)
            if done.returncode != 0:
                raise ValueError(f"exit status {done.returncode}: {done.stderr.strip()[:300]}")
            result = letters_of(done.stdout)
        except (OSError, subprocess.TimeoutExpired, ValueError) as error:
            result = "!" + " ".join(str(error).split())
            log(f"{' '.join(command)}: {result[1:]}")
        lines.append(f"{spec.name}\t{result}")
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def read_decoded(path: Path) -> dict[str, str | None]:
    """CLIP -> letters (None: the clip failed). Errors name the file and the line."""
    results: dict[str, str | None] = {}
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        if "\t" not in line:
            raise ValueError(f"{path}: line {number}: expected 'CLIP<TAB>LETTERS', got {line[:80]!r}")
        clip, letters = line.split("\t", 1)
        results[clip] = None if letters.startswith("!") else letters
    return results


def score_clips(clips: Path, decoded: dict[str, Path]) -> dict:
    """For each decoder: letter accuracy, words right, failed clips over the sidecar's clips (a clip
    missing from a results file counts as failed)."""
    specs = read_sidecar(clips / SIDECAR)
    scores = {}
    for name, path in decoded.items():
        results = read_decoded(path)
        edits = letters = words = failed = 0
        for spec in specs:
            hypothesis = results.get(spec.name)
            letters += len(spec.word)
            if hypothesis is None:
                failed += 1
                edits += len(spec.word)
                continue
            distance = edit_distance(hypothesis, spec.word)
            edits += distance
            words += distance == 0
        scores[name] = {"clips": len(specs), "letters": letters, "edits": edits, "failed": failed,
                        "words_correct": words, "letter_accuracy": 1 - edits / letters if letters else float("nan")}
    return scores


def table(per_seed: dict[str, dict[str, dict]]) -> str:
    """Seeds as rows, decoders as columns (letter accuracy in %), then mean ± sample sd."""
    seeds = list(per_seed)
    decoders = list(per_seed[seeds[0]]) if seeds else []
    lines = ["| seed | " + " | ".join(f"{d} letters" for d in decoders) + " |",
             "|---|" + "---:|" * len(decoders)]
    for seed in seeds:
        cells = [f"{100 * per_seed[seed][d]['letter_accuracy']:.1f} % ({per_seed[seed][d]['failed']} failed)"
                 for d in decoders]
        lines.append(f"| {seed} | " + " | ".join(cells) + " |")
    summary = []
    for d in decoders:
        values = [100 * per_seed[s][d]["letter_accuracy"] for s in seeds]
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        summary.append(f"{statistics.fmean(values):.1f} ± {sd:.1f} %")
    lines.append("| mean ± sd | " + " | ".join(summary) + " |")
    return "\n".join(lines)
