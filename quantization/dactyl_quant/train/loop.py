"""KD + CTC training (`fit`) and fp32 evaluation (`evaluate`) of the student.

One process per GPU under `torchrun` (DistributedDataParallel: NCCL on CUDA, gloo on CPU), or a
plain single process. bf16 autocast on CUDA; AdamW with decoupled weight decay on weights only;
linear warmup then cosine decay; gradient clipping. Each epoch: train, evaluate letter accuracy on
the dev split (fp32, greedy), append to RUN/log.csv, redraw RUN/loss.png and RUN/accuracy.png,
save RUN/last.pt (everything needed to resume) and RUN/best.pt (the student alone, best dev letter
accuracy: what `python -m dactyl_quant export --checkpoint` reads).

`--time-budget M` stops cleanly before M minutes (counted from the start of the command,
evaluation and saving included) and saves; in a fresh run it also fits the cosine schedule into
the budget, measured on the first epoch, so a budget-limited run still ends at a low learning rate.
"""

import csv
import json
import math
import os
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from .. import ctc
from ..alphabet import CHICAGO
from ..corpus import DataError
from ..student import CONFIGS, Student, StudentConfig
from .data import Augment, ClipDataset, EpochBatches, Item, collate, prepare_frames
from .metrics import LetterCount
from .model import KDHead, TrainModel, ctc_loss, kd_loss, macs_per_frame, pad_frames
from .plots import write_plots
from .pretrain import load_pretrained
from .progress import Progress
from .runtime import (Dist, close_distributed, cpu_state, init_distributed, learning_rate, load_checkpoint, log,
                      make_optimizer, optimise, prepare_data, save_atomic, seed_everything, write_csv_log)
from .teacher import teacher_stats

TRAIN_FORMAT = "dactyl-train-v1"
PAD_FRAMES = 128  # CUDA: packed frame counts rounded up to this (model.pad_frames)
HORIZON_EPOCHS = 8  # a budget-limited fresh run refits its schedule after each of its first epochs
STUDENT_FORMAT = "dactyl-student-v1"
LOG_COLUMNS = ("epoch", "step", "seconds", "lr", "train_loss", "train_ctc", "train_kd", "train_letter_acc",
               "dev_loss", "dev_letter_acc", "note")
# The options of a run, with their defaults. The CLI leaves them None when not given, so that a
# resumed run takes them from its checkpoint (a value given again on the command line wins).
FIT_DEFAULTS = {"data": None, "dataset": "auto", "csv": None, "frames": "auto", "crop_policy": "fixed",
                "bbox_margin": 1.6, "cache": None, "config": "pi", "teacher": "none", "teachers_dir": None,
                "kd_weight": None, "kd_loss": "mse", "kd_hidden": 256, "kd_mask": True, "seed": 0, "batch": 32,
                "lr": 1e-3, "weight_decay": 0.01, "warmup": 0.05, "epochs": 30, "clip_grad": 1.0,
                "train_split": "train", "dev_split": "dev", "amp": "auto", "no_augment": False, "init": None}


# ---- data ----------------------------------------------------------------------------------------

def make_loader(items: list[Item], sampler: EpochBatches, workers: int, speed: float, pin: bool) -> DataLoader:
    return DataLoader(ClipDataset(items, speed), batch_sampler=sampler, num_workers=workers, collate_fn=collate,
                      pin_memory=pin, persistent_workers=workers > 0, prefetch_factor=4 if workers > 0 else None)


def eval_loader(items: list[Item], batch: int, workers: int, dist: Dist) -> DataLoader:
    sampler = EpochBatches(len(items), batch, dist.rank, dist.world, shuffle=False)
    return make_loader(items, sampler, workers, 0.0, dist.device.type == "cuda")


# ---- checkpoints ---------------------------------------------------------------------------------

def plain_args(args) -> dict:
    """The argparse namespace as primitives (checkpoints are loaded with weights_only=True)."""
    return {k: v for k, v in vars(args).items() if isinstance(v, (str, int, float, bool, type(None)))}


def student_checkpoint(student: Student, args: dict, epoch: int, metrics: dict) -> dict:
    """best.pt: `build.load_student` reads its 'model' (the Student's state_dict, BatchNorm unfolded)."""
    return {"format": STUDENT_FORMAT, "model": cpu_state(student), "config": student.config.name,
            "alphabet": list(CHICAGO.symbols), "epoch": epoch, "metrics": metrics, "args": args}


# ---- evaluation ----------------------------------------------------------------------------------

@torch.no_grad()
def evaluate_items(model: TrainModel, items: list[Item], config: StudentConfig, dist: Dist, batch: int,
                   workers: int, beam: int = 0, predictions: list | None = None,
                   loader: DataLoader | None = None) -> dict:
    """fp32 CTC loss and letter accuracy over `items` (sharded across ranks, totals all-reduced)."""
    was_training = model.training
    model.eval()
    count = LetterCount()
    loss_sum = 0.0
    if items:
        if loader is None:
            loader = eval_loader(items, batch, workers, dist)
        for data in loader:
            lengths = data["lengths"]
            x = prepare_frames(data["frames"].to(dist.device, non_blocking=True), lengths, config.mean, config.std,
                               channels_last=dist.device.type == "cuda")
            if dist.device.type == "cuda":
                x = pad_frames(x, PAD_FRAMES)  # eval mode: padding cannot change the clips' outputs
            log_probs, _ = model(x, lengths)
            targets = data["targets"].to(dist.device)
            loss = ctc_loss(log_probs, lengths, targets, data["target_lengths"])
            loss_sum += float(loss) * len(lengths)
            log_probs = log_probs.float().cpu().numpy()
            start = 0
            for row, (index, length, label_count) in enumerate(
                    zip(data["indices"], lengths.tolist(), data["target_lengths"].tolist())):
                lp = log_probs[row, :length]
                hypothesis = ctc.beam_search(lp, beam) if beam else ctc.greedy(lp)
                reference = data["targets"][start:start + label_count].tolist()
                start += label_count
                count.add(hypothesis, reference)
                if predictions is not None:
                    predictions.append((items[index].key, CHICAGO.decode(reference), CHICAGO.decode(hypothesis)))
    loss_sum, edits, letters, clips = dist.reduce([loss_sum, count.edits, count.letters, count.clips])
    model.train(was_training)
    total = LetterCount(int(edits), int(letters), int(clips))
    return {"loss": loss_sum / clips if clips else float("nan"), "letter_accuracy": total.accuracy,
            "edits": total.edits, "letters": total.letters, "clips": total.clips}


# ---- fit -----------------------------------------------------------------------------------------

def fit(args) -> dict:
    started = time.monotonic()
    dist = init_distributed(args.device)
    try:
        return _fit(args, dist, started)
    finally:
        close_distributed(dist)


def resolve_fit_args(args, checkpoint: dict | None, dist: Dist) -> None:
    stored = checkpoint.get("args", {}) if checkpoint else {}
    for name, default in FIT_DEFAULTS.items():
        value = getattr(args, name, None)
        if value is None:
            value = stored.get(name, default)
        elif name in stored and stored[name] != value:
            log(dist, f"resume: {name} = {value!r} (the run had {stored[name]!r})")
        setattr(args, name, value)
    if args.kd_weight is None:
        args.kd_weight = 1.0 if args.teacher not in (None, "none") else 0.0
    if args.data is None:
        raise DataError("give --data (the corpus folder, or a CSV of clips)")


def _fit(args, dist: Dist, started: float) -> dict:
    out = Path(args.out)
    last_path, best_path = out / "last.pt", out / "best.pt"
    checkpoint = None
    if args.resume:
        if not last_path.is_file():
            raise DataError(f"--resume: {last_path} does not exist")
        checkpoint = load_checkpoint(last_path)
        if checkpoint.get("format") != TRAIN_FORMAT:
            raise DataError(f"{last_path}: not a training checkpoint (format {checkpoint.get('format')!r})")
    elif last_path.exists():
        raise DataError(f"{last_path} exists: use --resume to continue that run, or another --out")
    explicit_epochs = args.epochs is not None
    resolve_fit_args(args, checkpoint, dist)
    if args.config not in CONFIGS:
        raise DataError(f"config {args.config!r}: expected one of {', '.join(sorted(CONFIGS))}")
    config = CONFIGS[args.config]
    use_kd = args.kd_weight > 0 and args.teacher not in (None, "none")
    if args.kd_weight > 0 and not use_kd:
        raise DataError("--kd-weight > 0 needs a --teacher (or use --kd-weight 0 / --teacher none)")
    if dist.main:
        out.mkdir(parents=True, exist_ok=True)
    cuda = dist.device.type == "cuda"
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    amp = cuda and args.amp != "off"

    encoder_macs, head_macs = macs_per_frame(config)
    log(dist, f"fit: config {config.name} ({config.input_width}x{config.input_height}, blocks {config.blocks}, "
              f"width {config.width}; {encoder_macs / 1e6:.1f} M encoder MACs/frame), "
              f"{'KD ' + args.teacher + f' x{args.kd_weight:g} ({args.kd_loss})' if use_kd else 'no KD'}, "
              f"device {dist.device}{' bf16' if amp else ''}, {dist.world} process(es)")

    splits = (args.train_split,) + ((args.dev_split,) if args.dev_split and args.dev_split != args.train_split else ())
    prepared = prepare_data(args, config, splits, args.teacher if use_kd else None, dist)
    train_items = prepared.items[args.train_split]
    dev_items = prepared.items.get(args.dev_split, []) if args.dev_split else []
    if not train_items:
        raise DataError(f"no usable clips in the {args.train_split!r} split")
    log(dist, f"data: {len(train_items)} train clips ({sum(i.frames for i in train_items)} frames), "
              f"{len(dev_items)} {args.dev_split or 'dev'} clips; {prepared.skipped.summary()}")
    for note in prepared.skipped.notes[:5]:
        log(dist, f"  skipped: {note}")

    # The same initial weights on every rank (DDP also broadcasts rank 0's), then per-rank randomness.
    seed_everything(args.seed)
    student = Student(config)
    kd_head = None
    pretrained = None
    if checkpoint is None and args.init:
        pretrained = load_pretrained(args.init, config.name, args.teacher if use_kd else None)
        student.load_state_dict(pretrained["model"])
        if use_kd and pretrained["kd_hidden"] != args.kd_hidden:
            raise DataError(f"--init {args.init}: its KD head has {pretrained['kd_hidden']} hidden units, this run "
                            f"{args.kd_hidden} (--kd-hidden)")
        log(dist, f"init: {args.init} (KD warm-up of {pretrained['steps']} steps)")
    if use_kd:
        kd_head = KDHead(config.feature_dim, prepared.teacher_dim, args.kd_hidden)
        if pretrained is not None:
            kd_head.load_state_dict(pretrained["kd_head"])
        elif checkpoint is None:
            mean, std = teacher_stats([i.teacher for i in train_items], args.seed,
                                      [i.teacher_mask for i in train_items])
            kd_head.teacher_mean.copy_(torch.from_numpy(mean))
            kd_head.teacher_std.copy_(torch.from_numpy(std))
    model = TrainModel(student, kd_head).to(dist.device)
    if cuda:
        model = model.to(memory_format=torch.channels_last)
    optimizer = make_optimizer(model.parameters(), args.lr, args.weight_decay)

    sampler = EpochBatches(len(train_items), args.batch, dist.rank, dist.world, args.seed, shuffle=True)
    steps_per_epoch = sampler.steps
    state = {"epoch": 0, "batch": 0, "step": 0, "total_steps": args.epochs * steps_per_epoch, "horizon_fixed": False,
             "best": None, "history": [], "train_seconds": 0.0}
    if checkpoint is not None:
        student.load_state_dict(checkpoint["model"])
        if kd_head is not None:
            if checkpoint.get("kd_head") is None:
                raise DataError(f"{last_path}: the run had no KD head; resume with the same --teacher/--kd-weight")
            kd_head.load_state_dict(checkpoint["kd_head"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        for key in state:
            if key in checkpoint:
                state[key] = checkpoint[key]
        if checkpoint.get("steps_per_epoch") != steps_per_epoch:
            log(dist, f"resume: {steps_per_epoch} steps per epoch, the checkpoint had "
                      f"{checkpoint.get('steps_per_epoch')} (data or world size changed): restarting the epoch")
            state["batch"] = 0
            state["total_steps"] = max(state["total_steps"], state["step"] + 1)
        if explicit_epochs and checkpoint.get("args", {}).get("epochs") != args.epochs:
            state["total_steps"], state["horizon_fixed"] = args.epochs * steps_per_epoch, True
            log(dist, f"resume: the learning-rate schedule now ends at step {state['total_steps']} ({args.epochs} epochs)")
        log(dist, f"resume: {last_path} at epoch {state['epoch'] + 1}, batch {state['batch']}, step {state['step']}")
    seed_everything(args.seed + 1000 * dist.rank + 7919 * state["step"])

    train_model = model
    if dist.enabled:
        train_model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[dist.local_rank] if cuda else None)
    augment = None if args.no_augment else Augment()
    workers = args.workers if args.workers is not None else min(8, max(1, (os.cpu_count() or 1) // dist.world - 1))
    loader = make_loader(train_items, sampler, workers, augment.speed if augment else 0.0, cuda)
    dev_loader = eval_loader(dev_items, args.eval_batch or 2 * args.batch, workers, dist) if dev_items else None

    budget = args.time_budget * 60 if args.time_budget else None
    eval_seconds = 0.05 * budget if budget else 0.0  # until measured
    save_seconds = 1.0  # until measured (log, plots, checkpoints: ~0.2 s for pi on the H100 machine)
    run_args = plain_args(args)
    stop_reason = ""
    summary = {}

    def deadline_passed() -> bool:
        if budget is None:
            return False
        # What the stop still has to do: evaluate, save, plot.
        reserve = 1.5 * eval_seconds + save_seconds + 5.0
        late = time.monotonic() - started > budget - reserve
        return bool(dist.reduce([1.0 if late else 0.0], "max")[0]) if dist.enabled else late

    epoch = state["epoch"]
    while epoch < args.epochs and state["step"] < state["total_steps"] and not stop_reason:
        sampler.set_epoch(epoch, state["batch"])
        epoch_started = time.monotonic()
        progress = Progress(len(sampler), f"epoch {epoch + 1}/{args.epochs}", enabled=dist.main and not args.quiet)
        sums = torch.zeros(3, dtype=torch.float64, device=dist.device)  # loss, ctc, kd (weighted by clips)
        clips_seen = 0
        train_count = LetterCount()
        train_model.train()
        lr = learning_rate(state["step"], state["total_steps"], args.lr, args.warmup)
        for data in loader:
            if state["step"] >= state["total_steps"]:
                break
            lr = learning_rate(state["step"], state["total_steps"], args.lr, args.warmup)
            lengths = data["lengths"]
            x = prepare_frames(data["frames"].to(dist.device, non_blocking=True), lengths, config.mean, config.std,
                               augment, channels_last=cuda)
            if cuda:
                x = pad_frames(x, PAD_FRAMES)
            targets = data["targets"].to(dist.device, non_blocking=True)
            with torch.autocast(device_type=dist.device.type, dtype=torch.bfloat16, enabled=amp):
                log_probs, predicted = train_model(x, lengths)
            loss_ctc = ctc_loss(log_probs, lengths, targets, data["target_lengths"])
            loss = loss_ctc
            loss_kd = torch.zeros((), device=dist.device)
            if kd_head is not None:
                target = kd_head.target(data["teacher"].to(dist.device, non_blocking=True))
                loss_kd = kd_loss(args.kd_loss, predicted, target,
                                  data["teacher_mask"].to(dist.device, non_blocking=True))
                loss = loss + args.kd_weight * loss_kd
            optimise(optimizer, loss, lr, args.clip_grad)
            state["step"] += 1
            state["batch"] += 1
            count = len(lengths)
            clips_seen += count
            sums += torch.stack([loss.detach(), loss_ctc.detach(), loss_kd.detach()]).double() * count
            best_classes = log_probs.detach().argmax(-1).cpu().numpy()
            start = 0
            for row, (length, label_count) in enumerate(zip(lengths.tolist(), data["target_lengths"].tolist())):
                train_count.add(_greedy_path(best_classes[row, :length]),
                                data["targets"][start:start + label_count].tolist())
                start += label_count
            if dist.main and not args.quiet:
                stats = {"loss": float(sums[0]) / clips_seen, "lr": lr} if state["batch"] % 10 == 0 else {}
                progress.update(1, **stats)
            if budget is not None and not state["horizon_fixed"] and state["step"] == 50 and steps_per_epoch > 100:
                _fit_horizon_within_epoch(state, started, budget, eval_seconds, save_seconds, epoch_started, dist)
            if deadline_passed():
                stop_reason = f"time budget ({args.time_budget:g} min)"
                break
        progress.close()
        epoch_done = state["batch"] >= steps_per_epoch or state["step"] >= state["total_steps"]
        train_seconds = time.monotonic() - epoch_started
        state["train_seconds"] += train_seconds

        eval_started = time.monotonic()
        dev = evaluate_items(model, dev_items, config, dist, args.eval_batch or 2 * args.batch, workers,
                             loader=dev_loader)
        eval_seconds = time.monotonic() - eval_started
        totals = dist.reduce(sums.tolist() + [clips_seen, train_count.edits, train_count.letters])
        clips_all = max(1.0, totals[3])
        train_acc = LetterCount(int(totals[4]), int(totals[5])).accuracy
        row = {"epoch": epoch + 1, "step": state["step"], "seconds": round(state["train_seconds"], 2), "lr": lr,
               "train_loss": totals[0] / clips_all, "train_ctc": totals[1] / clips_all,
               "train_kd": totals[2] / clips_all if kd_head is not None else float("nan"),
               "train_letter_acc": train_acc, "dev_loss": dev["loss"], "dev_letter_acc": dev["letter_accuracy"],
               "note": "" if epoch_done else f"stopped at batch {state['batch']}/{steps_per_epoch}"}
        state["history"].append(row)
        if epoch_done:
            epoch += 1
            state["epoch"], state["batch"] = epoch, 0
        # Best: highest dev letter accuracy, ties broken by lower dev loss (no dev split: train loss).
        score = [dev["letter_accuracy"], -dev["loss"]] if dev_items else [-row["train_loss"], 0.0]
        improved = not any(math.isnan(v) for v in score) and (
            state["best"] is None or score > state["best"]["score"])
        if improved:
            state["best"] = {"score": score, "epoch": row["epoch"], "dev_letter_accuracy": dev["letter_accuracy"]}
        if (budget is not None and not state["horizon_fixed"] and checkpoint is None and epoch_done
                and row["epoch"] <= HORIZON_EPOCHS):
            # The first epochs include start-up (workers, kernel plans, caches): refit on the latest
            # epoch's pace until it settles.
            _fit_horizon_after_epoch(state, args, started, budget, train_seconds, eval_seconds, save_seconds,
                                     steps_per_epoch, dist, final=row["epoch"] == HORIZON_EPOCHS)
        if dist.main:
            save_started = time.monotonic()
            write_csv_log(out / "log.csv", state["history"], LOG_COLUMNS)
            write_plots(state["history"], out)
            save_atomic({"format": TRAIN_FORMAT, "model": cpu_state(student),
                         "kd_head": cpu_state(kd_head) if kd_head is not None else None,
                         "optimizer": optimizer.state_dict(), "config": config.name,
                         "alphabet": list(CHICAGO.symbols), "args": run_args,
                         "steps_per_epoch": steps_per_epoch, **state}, last_path)
            if improved or not best_path.exists():
                save_atomic(student_checkpoint(student, run_args, row["epoch"],
                                               {k: row[k] for k in ("dev_letter_acc", "dev_loss", "train_loss")}),
                            best_path)
            save_seconds = time.monotonic() - save_started
            kd_text = f" kd {row['train_kd']:.4f}" if kd_head is not None else ""
            print(f"epoch {row['epoch']} step {row['step']} lr {lr:.2e} | train loss {row['train_loss']:.4f} "
                  f"(ctc {row['train_ctc']:.4f}{kd_text}) acc {train_acc:.4f} | {args.dev_split or 'dev'} "
                  f"loss {dev['loss']:.4f} acc {dev['letter_accuracy']:.4f} | {train_seconds:.1f}+{eval_seconds:.1f} s"
                  + (" *" if improved else ""), flush=True)
        dist.barrier()
        if not stop_reason and budget is not None and epoch < args.epochs and deadline_passed():
            stop_reason = f"time budget ({args.time_budget:g} min)"
    if not stop_reason:
        stop_reason = "done" if epoch >= args.epochs or state["step"] >= state["total_steps"] else "stopped"
    best = state["best"] or {}
    summary = {"stop": stop_reason, "epochs": epoch, "steps": state["step"], "best_epoch": best.get("epoch"),
               "best_dev_letter_accuracy": best.get("dev_letter_accuracy"), "run": str(out),
               "seconds": round(time.monotonic() - started, 1)}
    log(dist, f"fit: {stop_reason} after {state['step']} steps ({summary['seconds']} s); best "
              f"{args.dev_split or 'dev'} letter accuracy {best.get('dev_letter_accuracy', float('nan')):.4f} "
              f"at epoch {best.get('epoch')} -> {best_path}")
    if dist.main:
        with open(out / "summary.json", "w", encoding="utf-8") as stream:
            json.dump(summary, stream, indent=1)
    return summary


def _greedy_path(best: np.ndarray) -> list[int]:
    """ctc.greedy on a per-frame arg-max path."""
    classes = []
    previous = None
    for c in best.tolist():
        if c != previous and c != 0:
            classes.append(c)
        previous = c
    return classes


def _fit_horizon_after_epoch(state: dict, args, started: float, budget: float, train_seconds: float,
                             eval_seconds: float, save_seconds: float, steps_per_epoch: int, dist: Dist,
                             final: bool) -> None:
    """End the cosine schedule at the step the budget allows at the last epoch's pace, its
    evaluation and saving spread over its steps (the run may then end inside an epoch)."""
    remaining = budget - (time.monotonic() - started) - 1.5 * eval_seconds - save_seconds - 5.0
    per_step = (train_seconds + eval_seconds + save_seconds) / steps_per_epoch
    more = int(dist.reduce([max(0, int(remaining / per_step))], "min")[0])
    total = min(args.epochs * steps_per_epoch, state["step"] + more)
    state["horizon_fixed"] = final
    if total != state["total_steps"]:
        state["total_steps"] = max(total, state["step"])
        log(dist, f"fit: {state['total_steps']} steps ({state['total_steps'] / steps_per_epoch:.1f} of {args.epochs} "
                  f"epochs) fit in the time budget; the learning-rate schedule now ends there")


def _fit_horizon_within_epoch(state: dict, started: float, budget: float, eval_seconds: float, save_seconds: float,
                              epoch_started: float, dist: Dist) -> None:
    """For long epochs, a first guess from the first 50 steps' pace; the epochs' ends refine it
    (the first steps run while the machine is still busy starting up, or another run's data loads)."""
    pace = (time.monotonic() - epoch_started) / state["step"]
    remaining = budget - (time.monotonic() - started) - 1.5 * eval_seconds - save_seconds - 5.0
    steps_fit = state["step"] + int(0.9 * remaining / pace)
    steps_fit = int(dist.reduce([steps_fit], "min")[0])
    if steps_fit < state["total_steps"]:
        state["total_steps"] = max(state["step"] + 1, steps_fit)
        log(dist, f"fit: about {steps_fit} steps fit in the time budget; the learning-rate schedule now ends there")


# ---- evaluate ------------------------------------------------------------------------------------

def evaluate(args) -> dict:
    """fp32 letter accuracy of a checkpoint on a split (greedy or prefix beam search)."""
    dist = init_distributed(args.device)
    try:
        return _evaluate(args, dist)
    finally:
        close_distributed(dist)


def _evaluate(args, dist: Dist) -> dict:
    checkpoint = load_checkpoint(args.checkpoint)
    if not isinstance(checkpoint, dict):
        raise DataError(f"{args.checkpoint}: not a checkpoint")
    stored = checkpoint.get("args", {}) if "model" in checkpoint else {}
    for name in ("data", "dataset", "csv", "frames", "crop_policy", "bbox_margin", "cache", "config"):
        if getattr(args, name, None) is None:
            setattr(args, name, stored.get(name))
    args.config = args.config or checkpoint.get("config")
    if args.config not in CONFIGS:
        raise DataError(f"{args.checkpoint}: give --config (one of {', '.join(sorted(CONFIGS))})")
    if args.data is None:
        raise DataError("give --data (the checkpoint does not name its corpus)")
    for name, default in (("dataset", "auto"), ("frames", "auto"), ("crop_policy", "fixed"), ("bbox_margin", 1.6)):
        if getattr(args, name) is None:
            setattr(args, name, default)
    config = CONFIGS[args.config]
    if dist.device.type == "cuda":  # fp32 means fp32: no TF32 convolutions or matmuls
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    prepared = prepare_data(args, config, (args.split,), None, dist)
    items = prepared.items[args.split]
    if not items:
        raise DataError(f"no usable clips in the {args.split!r} split")
    student = Student(config)
    student.load_state_dict(checkpoint["model"] if "model" in checkpoint else checkpoint)
    model = TrainModel(student).to(dist.device)
    workers = args.workers if args.workers is not None else min(8, max(1, (os.cpu_count() or 1) - 1))
    predictions = [] if args.predictions else None
    result = evaluate_items(model, items, config, dist, args.batch, workers, args.beam, predictions)
    decoder = f"beam {args.beam}" if args.beam else "greedy"
    teacher = stored.get("teacher") if stored.get("kd_weight") else "none"
    result.update({"label": args.label or f"{config.name} {'KD ' + str(teacher) if teacher != 'none' else 'no KD'}, "
                                           "fp32 (PyTorch)",
                   "precision": "fp32 (PyTorch)", "split": args.split, "decoder": decoder, "config": config.name,
                   "model": str(args.checkpoint), "teacher": teacher, "kd_weight": stored.get("kd_weight", 0.0),
                   "skipped": dict(prepared.skipped.counts)})
    log(dist, f"{args.split}: letter accuracy {result['letter_accuracy']:.4f} ({result['edits']} edits / "
              f"{result['letters']} letters, {result['clips']} clips, {decoder}, fp32); {prepared.skipped.summary()}")
    if dist.main:
        if args.json:
            with open(args.json, "w", encoding="utf-8") as stream:
                json.dump(result, stream, indent=1)
        if predictions is not None:
            with open(args.predictions, "w", newline="", encoding="utf-8") as stream:
                writer = csv.writer(stream)
                writer.writerow(["key", "reference", "hypothesis"])
                writer.writerows(sorted(predictions))
    return result
