"""Letter accuracy of an int8 model file on a split, as the board computes it.

Engine `dactyl` (default): runs the Swift `dactyl decode CLIP.y4m --model M.dmdl --format jsonl`
on every .y4m clip of the split, in parallel, and scores its letters. Engine `reference`: the
numpy int8 reference (`dactyl_quant.reference`), bit-exact with the Swift encoder, for machines
without the Swift build (slower).

`--lexicon`, `--lm`, `--lm-weight` and `--insertion-bonus` go to `dactyl decode` (the reference
engine applies the same rules, `ctc.make_vocabulary`). A clip whose decoding fails (the engine's
error, a time-out, output it cannot parse; with `--skip-bad` also a missing clip file) counts as all
errors (an empty hypothesis) and is counted in `failed`: a failure never leaves the split.

Clips: ChicagoFSWild layout → DIR/y4m/<filename>.y4m; CSV corpora → the `clip` column's .y4m.
With `--crop-policy bbox` each clip gets the same signing-hand crop as in training (`--crop`).
"""

import json
import multiprocessing
import os
import shutil
import subprocess
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .. import ctc
from ..alphabet import CHICAGO
from ..corpus import DataError, Sample, Skipped, read_corpus
from ..export import read_model
from ..preprocess import Crop
from ..y4m import Y4MReader
from .cache import CacheSpec, choose_crop
from .metrics import LetterCount
from .progress import Progress

REPO = Path(__file__).resolve().parents[3]
DEFAULT_LM_WEIGHT = 0.3  # dactyl decode's default --lm-weight


def single_threaded(workers: int) -> None:
    """One BLAS thread per process when running several: N processes × N BLAS threads each made the
    reference engine ~50x slower on a 16-core machine. Child processes inherit the environment."""
    if workers > 1:
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(name, "1")


def find_dactyl(explicit: str | None) -> str:
    candidates = [explicit] if explicit else [os.environ.get("DACTYL"), str(REPO / ".build" / "release" / "dactyl"),
                                              shutil.which("dactyl")]
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise DataError(f"dactyl binary {explicit!r} not found" if explicit else
                    "no dactyl binary: build it (swift build -c release --product dactyl) or give --dactyl PATH")


def clip_crop(sample: Sample, spec: CacheSpec | None) -> Crop | None:
    """The training crop for `bbox` (None: the model's default crop, as in training with `fixed`)."""
    if spec is None or spec.crop_policy != "bbox" or not sample.bbox_dir:
        return None
    fmt = Y4MReader(sample.source).format
    frames = sample.frames or sum(1 for _ in Y4MReader(sample.source))
    return choose_crop(spec, sample.bbox_dir, frames, fmt.width, fmt.height)


def vocabulary_arguments(args) -> list[str]:
    """The `dactyl decode` options of the lexicon and LM."""
    options = []
    if (args.lexicon or args.lm) and not args.beam:
        raise DataError("--lexicon and --lm need the beam search (--beam N)")
    for flag, value in (("--lexicon", args.lexicon), ("--lm", args.lm), ("--lm-weight", args.lm_weight),
                        ("--insertion-bonus", args.insertion_bonus)):
        if value is not None:
            options += [flag, f"{value:.6f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)]
    return options


def _run_dactyl(job: tuple) -> tuple[str | None, str | None]:
    """(letters, error)."""
    dactyl, model, clip, beam, crop, extra = job
    command = [dactyl, "decode", clip, "--model", model, "--format", "jsonl"]
    if beam:
        command += ["--beam", str(beam)] + extra
    if crop is not None:
        command += ["--crop", f"{crop.x},{crop.y},{crop.width},{crop.height}"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=3600)
    except (OSError, subprocess.TimeoutExpired) as error:
        return None, f"{' '.join(command)}: {error}"
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    if done.returncode != 0 or not lines:
        return None, f"{' '.join(command)}: exit status {done.returncode}: {done.stderr.strip()}"
    try:
        return json.loads(lines[-1])["letters"], None
    except (ValueError, KeyError) as error:
        return None, f"{' '.join(command)}: unexpected output {lines[-1]!r}: {error}"


def _run_reference(job: tuple) -> tuple[str | None, str | None]:
    from ..reference import run_clip  # numpy only, but heavy: imported in the worker

    model_path, clip, beam, crop, lexicon, lm, lm_weight, bonus = job
    try:
        model = read_model(model_path)
        _, log_probs = run_clip(model, clip, crop)
        vocabulary = None
        if lexicon or lm:
            from .. import charlm
            vocabulary = ctc.make_vocabulary(model.alphabet, ctc.read_lexicon(lexicon, model.alphabet) if lexicon else None,
                                             charlm.read(lm) if lm else None,
                                             DEFAULT_LM_WEIGHT if lm_weight is None else lm_weight, bonus or 0.0)
        labels = ctc.beam_search(log_probs, beam, vocabulary) if beam else ctc.greedy(log_probs)
        return model.alphabet.decode(labels), None
    except (ValueError, OSError) as error:
        return None, f"{clip}: {error}"


@dataclass
class Decoded:
    """Every clip of a split with what the engine read ("" where it failed), in corpus order."""

    samples: list[Sample]
    hypotheses: list[str]
    errors: list[str | None]  # why a clip failed (its hypothesis counts as empty: all errors)
    skipped: Skipped
    decoder: str
    precision: str
    info: str

    @property
    def failed(self) -> int:
        return sum(error is not None for error in self.errors)


def decoder_name(args) -> str:
    decoder = f"beam {args.beam}" if args.beam else "greedy"
    if args.lexicon:
        decoder += " + lexicon"
    if args.lm:
        decoder += f" + LM (weight {DEFAULT_LM_WEIGHT if args.lm_weight is None else args.lm_weight:g}"
        decoder += f", bonus {args.insertion_bonus or 0:g})"
    elif args.lexicon and args.insertion_bonus:
        decoder += f" (bonus {args.insertion_bonus:g})"
    return decoder


def decode_split(args) -> Decoded:
    """Run the engine on every .y4m clip of `args.split`. A clip that fails (the engine's error, a
    time-out, unreadable output, or with --skip-bad a missing clip file) is kept with an empty
    hypothesis, so that it counts as all errors, never as skipped."""
    model = read_model(args.model)  # fails early on a bad file
    if model.alphabet != CHICAGO:
        raise DataError(f"{args.model}: its alphabet {model.alphabet} is not ChicagoFSWild's")
    corpus = read_corpus(args.data, args.dataset or "auto", "y4m", partitions=(args.split,), skip_bad=args.skip_bad,
                         csv_name=args.csv, evaluation=True)
    spec = None
    if args.crop_policy == "bbox":
        spec = CacheSpec(model.input_height, model.input_width, tuple(model.default_crop), "bbox", args.bbox_margin)
    engine = args.engine
    extra = vocabulary_arguments(args)
    dactyl = find_dactyl(args.dactyl) if engine == "dactyl" else None
    jobs, samples = [], corpus.split(args.split)
    if not samples:
        raise DataError(f"no clips in the {args.split!r} split of {args.data}")
    errors: list[str | None] = [None] * len(samples)
    for index, sample in enumerate(samples):
        if not sample.source.lower().endswith(".y4m") or not os.path.isfile(sample.source):
            message = f"{sample.where}: {sample.source} is not an existing .y4m clip"
            if not args.skip_bad:
                raise DataError(message + " (with --skip-bad it counts as a failed clip: all errors)")
            errors[index] = message
            continue
        crop = clip_crop(sample, spec)
        jobs.append((index, (dactyl, str(args.model), sample.source, args.beam, crop, extra) if engine == "dactyl"
                     else (str(args.model), sample.source, args.beam, crop, args.lexicon, args.lm, args.lm_weight,
                           args.insertion_bonus)))
    workers = args.jobs or os.cpu_count() or 1
    single_threaded(workers)
    pool = (ThreadPoolExecutor(workers) if engine == "dactyl"
            else ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")))
    hypotheses = [""] * len(samples)
    progress = Progress(len(jobs), f"{engine} {args.split}", enabled=not args.quiet)
    with pool:
        run = _run_dactyl if engine == "dactyl" else _run_reference
        for (index, _), (letters, error) in zip(jobs, pool.map(run, [job for _, job in jobs])):
            progress.update()
            if error is not None:
                errors[index] = error
            else:
                hypotheses[index] = letters
    progress.close()
    if not args.quiet:
        for sample, error in zip(samples, errors):
            if error is not None:
                print(f"{sample.where}: {error}", flush=True)
    precision = "int8 (dactyl)" if engine == "dactyl" else "int8 (numpy reference)"
    return Decoded(samples, hypotheses, errors, corpus.skipped, decoder_name(args), precision, model.info)


def evaluate_model_file(args) -> dict:
    decoded = decode_split(args)
    count = LetterCount()
    words_correct = 0
    predictions = []
    for sample, letters in zip(decoded.samples, decoded.hypotheses):
        count.add(CHICAGO.encode(letters), sample.labels)
        words_correct += CHICAGO.encode(letters) == list(sample.labels)
        predictions.append((sample.key, sample.letters, letters))
    decoder, precision, failed, skipped = decoded.decoder, decoded.precision, decoded.failed, decoded.skipped
    result = {"label": args.label or f"{Path(args.model).stem}, {precision}", "precision": precision,
              "split": args.split, "decoder": decoder, "model": str(args.model), "info": decoded.info,
              "letter_accuracy": count.accuracy, "edits": count.edits, "letters": count.letters,
              "clips": count.clips, "words_correct": words_correct,
              "word_rate": words_correct / count.clips if count.clips else float("nan"), "failed": failed,
              "lexicon": args.lexicon, "lm": args.lm, "skipped": dict(skipped.counts)}
    print(f"{args.split}: letter accuracy {count.accuracy:.4f} ({count.edits} edits / {count.letters} letters, "
          f"{count.clips} clips, {decoder}, {precision}); whole words {words_correct}/{count.clips}; "
          f"{failed} failed (counted as errors); {skipped.summary()}", flush=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as stream:
            json.dump(result, stream, indent=1)
    if args.predictions:
        write_predictions(args.predictions, predictions)
    return result


def write_predictions(path: str | Path, predictions: list[tuple[str, str, str]]) -> None:
    import csv
    with open(path, "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["key", "reference", "hypothesis"])
        writer.writerows(sorted(predictions))

