#!/usr/bin/env python3
"""The bundled session clip: samples/session.y4m and samples/session.json.

Run from the repository root: `python samples/make_session.py [--dactyl .build/release/dactyl]`
(the shipped clip: with `--dactyl` and the default model; it is session 35 of seed 7).
Three held-out test words of 3-4 letters, signed by a held-out test signer in a held-out room
(synth/session.py, the test split), with idle stretches of every kind between them, 20-30 frames
each (as long as the generator's sessions that the segmenter is measured on; with the hand moving
down and up around them, the letters of two words lie about 1.5 s apart). To stay under 5 MB the
frames are 96x96 (the model sees 64x64).

The final idle stretch may be cut short (to no fewer than 6 frames) to fit. The first session
index from 0 that fits is taken; with `--dactyl`, only one whose every word,
cut out with 8 frames either side, `dactyl decode` (greedy, default model) reads right, and
`dactyl run --fast` prints the three words, so that the sample shows the segmenter's job rather
than the recogniser's errors. Deterministic.
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "quantization"))

from dactyl_quant.synth.clip import SynthSettings  # noqa: E402
from dactyl_quant.synth.corpus import DEFAULT_WORDS, read_words  # noqa: E402
from dactyl_quant.synth.session import write_sessions  # noqa: E402
from dactyl_quant.y4m import Y4MFormat, read_rgb, write_rgb  # noqa: E402

SEED = 7
SIZE = 96
MAX_FRAMES = 5_000_000 // (SIZE * SIZE * 3 // 2 + len("FRAME\n"))  # 361 frames of 96x96 4:2:0
IDLE_FRAMES = (20, 30)
MARGIN = 8
MIN_LAST_IDLE = 6


def decodes_right(dactyl: str, clip: Path, record: dict) -> bool:
    _, frames = read_rgb(clip)
    for word in record["words"]:
        first, last = max(0, word["first_frame"] - MARGIN), min(len(frames), word["last_frame"] + 1 + MARGIN)
        with tempfile.TemporaryDirectory() as scratch:
            part = Path(scratch) / "word.y4m"
            write_rgb(part, Y4MFormat(record["width"], record["height"], fps=(record["fps"], 1)), frames[first:last])
            letters = subprocess.run([dactyl, "decode", str(part)], capture_output=True, text=True,
                                     check=True).stdout.strip().splitlines()[-1]
        print(f"  {word['text']}: frames {first}-{last - 1} read as {letters!r}")
        if letters != word["text"]:
            return False
    return True


def runs_right(dactyl: str, clip: Path, record: dict) -> bool:
    words = subprocess.run([dactyl, "run", str(clip), "--fast"], capture_output=True, text=True,
                           check=True).stdout.split()
    print(f"  dactyl run: {words}")
    return words == [word["text"] for word in record["words"]]


def fits(clip: Path, record: dict) -> bool:
    """Whether the session fits in MAX_FRAMES once its final idle stretch is cut to no fewer than
    MIN_LAST_IDLE frames (the clip and its timings are cut to match)."""
    last = record["idle"][-1]
    if last["last_frame"] != record["frames"] - 1:
        return record["frames"] <= MAX_FRAMES
    keep = max(MAX_FRAMES, last["first_frame"] + MIN_LAST_IDLE)
    if keep > MAX_FRAMES:
        return False
    if record["frames"] > keep:
        _, frames = read_rgb(clip)
        write_rgb(clip, Y4MFormat(record["width"], record["height"], fps=(record["fps"], 1)), frames[:keep])
        record["frames"] = keep
        last["last_frame"] = keep - 1
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dactyl", help="check that every word decodes right (the binary to use)")
    parser.add_argument("--out", type=Path, default=REPO / "samples")
    args = parser.parse_args()
    words = [w for w in read_words(DEFAULT_WORDS["test"]) if 3 <= len(w) <= 4]
    with tempfile.TemporaryDirectory() as scratch:
        for index in range(200):
            record = write_sessions(words, scratch, SEED, SynthSettings("test", width=SIZE, height=SIZE), 1, True,
                                    IDLE_FRAMES, (3, 3),
                                    first_index=index)[0]
            clip = Path(scratch) / record["clip"]
            print(f"session {index}: {record['frames']} frames, {' '.join(w['text'] for w in record['words'])}")
            if not fits(clip, record) or (args.dactyl and not (decodes_right(args.dactyl, clip, record)
                                                               and runs_right(args.dactyl, clip, record))):
                continue
            record["clip"] = "session.y4m"
            record["made_by"] = "samples/make_session.py"
            (args.out / "session.y4m").write_bytes(clip.read_bytes())
            (args.out / "session.json").write_text(json.dumps(record, indent=1) + "\n")
            print(f"{args.out / 'session.y4m'}: {record['frames']} frames, "
                  f"{(args.out / 'session.y4m').stat().st_size} bytes")
            return 0
    print("no session fits", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
