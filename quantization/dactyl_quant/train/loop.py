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
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from .. import ctc
from ..alphabet import CHICAGO
from ..corpus import DataError
from ..student import CONFIGS, Student, StudentConfig
from .config import DataOptions, FitConfig
from .data import Augment, ClipDataset, EpochBatches, Item, collate, prepare_frames
from .metrics import LetterCount
from .model import KDHead, TrainModel, ctc_loss, kd_loss, macs_per_frame, pad_frames
from .plots import write_plots
from .pretrain import load_pretrained
from .progress import Progress
from .runtime import (Dist, Prepared, close_distributed, cpu_state, init_distributed, learning_rate, load_checkpoint,
                      log, make_optimizer, optimise, prepare_data, prepare_kd_only, save_atomic, seed_everything,
                      write_csv_log)
from .teacher import teacher_stats

TRAIN_FORMAT = "dactyl-train-v1"
PAD_FRAMES = 128  # CUDA: packed frame counts rounded up to this (model.pad_frames)
HORIZON_EPOCHS = 8  # a budget-limited fresh run refits its schedule after each of its first epochs
STUDENT_FORMAT = "dactyl-student-v1"
LOG_COLUMNS = ("epoch", "step", "seconds", "lr", "train_loss", "train_ctc", "train_kd", "train_letter_acc",
               "dev_loss", "dev_letter_acc", "note", "train_kd_only")


# ---- data ----------------------------------------------------------------------------------------

def make_loader(items: list[Item], sampler: EpochBatches, workers: int, speed: float, pin: bool) -> DataLoader:
    return DataLoader(ClipDataset(items, speed), batch_sampler=sampler, num_workers=workers, collate_fn=collate,
                      pin_memory=pin, persistent_workers=workers > 0, prefetch_factor=4 if workers > 0 else None)


def eval_loader(items: list[Item], batch: int, workers: int, dist: Dist) -> DataLoader:
    sampler = EpochBatches(len(items), batch, dist.rank, dist.world, shuffle=False)
    return make_loader(items, sampler, workers, 0.0, dist.device.type == "cuda")


# ---- checkpoints ---------------------------------------------------------------------------------

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

def fit(config: FitConfig) -> dict:
    started = time.monotonic()
    dist = init_distributed(config.device)
    try:
        return _fit(config, dist, started)
    finally:
        close_distributed(dist)


@dataclass
class _Clock:
    """The time budget and what stopping still has to do (evaluate, save, plot), measured as it goes."""
    started: float
    budget: float | None  # seconds
    eval_seconds: float
    save_seconds: float = 1.0  # until measured (log, plots, checkpoints: ~0.2 s for pi on the H100 machine)

    def deadline_passed(self, dist: Dist) -> bool:
        if self.budget is None:
            return False
        reserve = 1.5 * self.eval_seconds + self.save_seconds + 5.0
        late = time.monotonic() - self.started > self.budget - reserve
        return bool(dist.reduce([1.0 if late else 0.0], "max")[0]) if dist.enabled else late


@dataclass
class _Run:
    """A fit run's parts, built by the steps of `_fit`."""
    config: FitConfig
    dist: Dist
    out: Path
    student_config: StudentConfig
    cuda: bool
    amp: bool
    train_items: list[Item]
    dev_items: list[Item]
    student: Student
    kd_head: KDHead | None
    model: TrainModel
    optimizer: torch.optim.Optimizer
    sampler: EpochBatches
    state: dict
    clock: _Clock
    train_model: torch.nn.Module | None = None  # the model, wrapped in DDP under torchrun
    loader: DataLoader | None = None
    dev_loader: DataLoader | None = None
    augment: Augment | None = None
    workers: int = 0  # DataLoader worker processes
    kd_only_items: list[Item] = field(default_factory=list)  # --kd-only-data: KD loss only, never CTC
    kd_only_batches: Iterator[dict] | None = None

    @property
    def last_path(self) -> Path:
        return self.out / "last.pt"

    @property
    def best_path(self) -> Path:
        return self.out / "best.pt"


@dataclass
class _EpochResult:
    lr: float
    sums: torch.Tensor  # loss, ctc, kd, kd-only, each summed over (labelled) clips
    clips_seen: int
    train_count: LetterCount
    train_seconds: float
    epoch_started: float
    stop_reason: str


def _fit(config: FitConfig, dist: Dist, started: float) -> dict:
    out = Path(config.out)
    checkpoint = _open_run(out, config.resume)
    config = config.resolved(checkpoint.get("args", {}) if checkpoint else {}, lambda note: log(dist, note))
    run = _set_up(config, dist, out, checkpoint, started)
    stop_reason = ""
    epoch = run.state["epoch"]
    while epoch < config.epochs and run.state["step"] < run.state["total_steps"] and not stop_reason:
        result = _train_epoch(run, epoch)
        epoch, stop_reason = _end_epoch(run, epoch, result, resumed=checkpoint is not None)
    if not stop_reason:
        stop_reason = "done" if epoch >= config.epochs or run.state["step"] >= run.state["total_steps"] else "stopped"
    return _write_summary(run, epoch, stop_reason)


def _open_run(out: Path, resume: bool) -> dict | None:
    """The run's last.pt with --resume (None without); a fresh run must not overwrite one."""
    last_path = out / "last.pt"
    if not resume:
        if last_path.exists():
            raise DataError(f"{last_path} exists: use --resume to continue that run, or another --out")
        return None
    if not last_path.is_file():
        raise DataError(f"--resume: {last_path} does not exist")
    checkpoint = load_checkpoint(last_path)
    if checkpoint.get("format") != TRAIN_FORMAT:
        raise DataError(f"{last_path}: not a training checkpoint (format {checkpoint.get('format')!r})")
    return checkpoint


def _set_up(config: FitConfig, dist: Dist, out: Path, checkpoint: dict | None, started: float) -> _Run:
    """Device, data, model, optimiser and loaders; the state of a resumed run restored."""
    if config.config not in CONFIGS:
        raise DataError(f"config {config.config!r}: expected one of {', '.join(sorted(CONFIGS))}")
    student_config = CONFIGS[config.config]
    if config.kd_weight > 0 and not config.use_kd:
        raise DataError("--kd-weight > 0 needs a --teacher (or use --kd-weight 0 / --teacher none)")
    if dist.main:
        out.mkdir(parents=True, exist_ok=True)
    cuda = dist.device.type == "cuda"
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    amp = cuda and config.amp != "off"
    encoder_macs, _ = macs_per_frame(student_config)
    kd_text = f"KD {config.teacher} x{config.kd_weight:g} ({config.kd_loss})" if config.use_kd else "no KD"
    log(dist, f"fit: config {student_config.name} ({student_config.input_width}x{student_config.input_height}, "
              f"blocks {student_config.blocks}, width {student_config.width}; {encoder_macs / 1e6:.1f} M encoder "
              f"MACs/frame), {kd_text}, device {dist.device}{' bf16' if amp else ''}, {dist.world} process(es)")

    prepared, train_items, dev_items = _load_items(config, student_config, dist)
    kd_only_items = _load_kd_only(config, student_config, prepared, dist)
    student, kd_head = _build_student(config, student_config, prepared, train_items, checkpoint, dist)
    model = TrainModel(student, kd_head).to(dist.device)
    if cuda:
        model = model.to(memory_format=torch.channels_last)
    optimizer = make_optimizer(model.parameters(), config.lr, config.weight_decay)
    sampler = EpochBatches(len(train_items), config.batch, dist.rank, dist.world, config.seed, shuffle=True)
    state = {"epoch": 0, "batch": 0, "step": 0, "total_steps": config.epochs * sampler.steps,
             "horizon_fixed": False, "best": None, "history": [], "train_seconds": 0.0}
    budget = config.time_budget * 60 if config.time_budget else None
    run = _Run(config, dist, out, student_config, cuda, amp, train_items, dev_items, student, kd_head, model,
               optimizer, sampler, state, _Clock(started, budget, 0.05 * budget if budget else 0.0),
               kd_only_items=kd_only_items)
    if checkpoint is not None:
        _restore(run, checkpoint)
    seed_everything(config.seed + 1000 * dist.rank + 7919 * state["step"])
    _make_loaders(run)
    return run


def _load_items(config: FitConfig, student_config: StudentConfig,
                dist: Dist) -> tuple[Prepared, list[Item], list[Item]]:
    """The train and dev splits, cached, with their teacher files when the run distils."""
    splits = (config.train_split,) + (
        (config.dev_split,) if config.dev_split and config.dev_split != config.train_split else ())
    prepared = prepare_data(config.data_options(), student_config, splits, config.teacher if config.use_kd else None,
                            dist)
    train_items = prepared.items[config.train_split]
    dev_items = prepared.items.get(config.dev_split, []) if config.dev_split else []
    if not train_items:
        raise DataError(f"no usable clips in the {config.train_split!r} split")
    log(dist, f"data: {len(train_items)} train clips ({sum(i.frames for i in train_items)} frames), "
              f"{len(dev_items)} {config.dev_split or 'dev'} clips; {prepared.skipped.summary()}")
    for note in prepared.skipped.notes[:5]:
        log(dist, f"  skipped: {note}")
    return prepared, train_items, dev_items


def _load_kd_only(config: FitConfig, student_config: StudentConfig, prepared: Prepared, dist: Dist) -> list[Item]:
    """--kd-only-data's clips with their teacher files ([] without the option)."""
    if not config.use_kd_only:
        return []
    if not config.use_kd:
        raise DataError("--kd-only-data is distilled: it needs a --teacher and a --kd-weight > 0")
    items = prepare_kd_only(config.kd_only_data, config.data_options(), student_config, config.teacher, dist,
                            prepared.teacher_dim)
    log(dist, f"KD-only data: {len(items)} clips ({sum(i.frames for i in items)} frames) from {config.kd_only_data}, "
              f"{config.kd_only_batch} a step, KD weight {config.kd_only_weight:g}")
    return items


def kd_only_stream(items: list[Item], batch: int, dist: Dist, seed: int) -> Iterator[dict]:
    """Endless batches of KD-only clips: a seeded permutation per pass, sharded like the training clips."""
    passes = 0
    while True:
        sampler = EpochBatches(len(items), batch, dist.rank, dist.world, seed, shuffle=True)
        sampler.set_epoch(passes)
        yield from DataLoader(ClipDataset(items), batch_sampler=sampler, num_workers=0, collate_fn=collate)
        passes += 1


def _build_student(config: FitConfig, student_config: StudentConfig, prepared: Prepared, train_items: list[Item],
                   checkpoint: dict | None, dist: Dist) -> tuple[Student, KDHead | None]:
    """The student and KD head: random, or a KD warm-up's (--init); the KD targets' statistics
    from the training set in a fresh run."""
    # The same initial weights on every rank (DDP also broadcasts rank 0's), then per-rank randomness.
    seed_everything(config.seed)
    student = Student(student_config)
    kd_head = None
    pretrained = None
    if checkpoint is None and config.init:
        pretrained = load_pretrained(config.init, student_config.name, config.teacher if config.use_kd else None)
        student.load_state_dict(pretrained["model"])
        if config.use_kd and pretrained["kd_hidden"] != config.kd_hidden:
            raise DataError(f"--init {config.init}: its KD head has {pretrained['kd_hidden']} hidden units, this run "
                            f"{config.kd_hidden} (--kd-hidden)")
        log(dist, f"init: {config.init} (KD warm-up of {pretrained['steps']} steps)")
    if config.use_kd:
        kd_head = KDHead(student_config.feature_dim, prepared.teacher_dim, config.kd_hidden)
        if pretrained is not None:
            kd_head.load_state_dict(pretrained["kd_head"])
        elif checkpoint is None:
            mean, std = teacher_stats([i.teacher for i in train_items], config.seed,
                                      [i.teacher_mask for i in train_items])
            kd_head.teacher_mean.copy_(torch.from_numpy(mean))
            kd_head.teacher_std.copy_(torch.from_numpy(std))
    return student, kd_head


def _restore(run: _Run, checkpoint: dict) -> None:
    """A resumed run's weights, optimiser and state; its schedule refitted where the data or
    --epochs changed."""
    config, state, dist = run.config, run.state, run.dist
    steps_per_epoch = run.sampler.steps
    run.student.load_state_dict(checkpoint["model"])
    if run.kd_head is not None:
        if checkpoint.get("kd_head") is None:
            raise DataError(f"{run.last_path}: the run had no KD head; resume with the same --teacher/--kd-weight")
        run.kd_head.load_state_dict(checkpoint["kd_head"])
    run.optimizer.load_state_dict(checkpoint["optimizer"])
    for key in state:
        if key in checkpoint:
            state[key] = checkpoint[key]
    if checkpoint.get("steps_per_epoch") != steps_per_epoch:
        log(dist, f"resume: {steps_per_epoch} steps per epoch, the checkpoint had "
                  f"{checkpoint.get('steps_per_epoch')} (data or world size changed): restarting the epoch")
        state["batch"] = 0
        state["total_steps"] = max(state["total_steps"], state["step"] + 1)
    if "epochs" in config.given and checkpoint.get("args", {}).get("epochs") != config.epochs:
        state["total_steps"], state["horizon_fixed"] = config.epochs * steps_per_epoch, True
        log(dist, f"resume: the learning-rate schedule now ends at step {state['total_steps']} "
                  f"({config.epochs} epochs)")
    log(dist, f"resume: {run.last_path} at epoch {state['epoch'] + 1}, batch {state['batch']}, step {state['step']}")


def _make_loaders(run: _Run) -> None:
    config, dist = run.config, run.dist
    run.train_model = run.model
    if dist.enabled:
        run.train_model = torch.nn.parallel.DistributedDataParallel(
            run.model, device_ids=[dist.local_rank] if run.cuda else None)
    run.augment = None if config.no_augment else Augment()
    workers = config.workers if config.workers is not None else min(8, max(1, (os.cpu_count() or 1) // dist.world - 1))
    run.workers = workers
    run.loader = make_loader(run.train_items, run.sampler, workers, run.augment.speed if run.augment else 0.0,
                             run.cuda)
    run.dev_loader = eval_loader(run.dev_items, config.eval_batch or 2 * config.batch, workers,
                                 dist) if run.dev_items else None
    if run.kd_only_items:
        # Its own order: a resumed run starts a new pass (the KD-only clips carry no schedule).
        run.kd_only_batches = kd_only_stream(run.kd_only_items, config.kd_only_batch, dist,
                                             config.seed + 7919 * run.state["step"] + 1)


def _train_epoch(run: _Run, epoch: int) -> _EpochResult:
    """Train until the epoch's end, the schedule's end or the time budget."""
    config, dist, state = run.config, run.dist, run.state
    steps_per_epoch = run.sampler.steps
    run.sampler.set_epoch(epoch, state["batch"])
    epoch_started = time.monotonic()
    progress = Progress(len(run.sampler), f"epoch {epoch + 1}/{config.epochs}", enabled=dist.main and not config.quiet)
    sums = torch.zeros(4, dtype=torch.float64, device=dist.device)  # loss, ctc, kd, kd-only (weighted by clips)
    clips_seen = 0
    train_count = LetterCount()
    stop_reason = ""
    run.train_model.train()
    lr = learning_rate(state["step"], state["total_steps"], config.lr, config.warmup)
    for data in run.loader:
        if state["step"] >= state["total_steps"]:
            break
        lr = learning_rate(state["step"], state["total_steps"], config.lr, config.warmup)
        loss, loss_ctc, loss_kd, loss_kd_only, log_probs = _train_step(run, data, lr)
        state["step"] += 1
        state["batch"] += 1
        lengths = data["lengths"]
        count = len(lengths)
        clips_seen += count
        sums += torch.stack([loss.detach(), loss_ctc.detach(), loss_kd.detach(), loss_kd_only.detach()]).double() * count
        best_classes = log_probs.detach().argmax(-1).cpu().numpy()
        start = 0
        for row, (length, label_count) in enumerate(zip(lengths.tolist(), data["target_lengths"].tolist())):
            train_count.add(_greedy_path(best_classes[row, :length]),
                            data["targets"][start:start + label_count].tolist())
            start += label_count
        if dist.main and not config.quiet:
            stats = {"loss": float(sums[0]) / clips_seen, "lr": lr} if state["batch"] % 10 == 0 else {}
            progress.update(1, **stats)
        clock = run.clock
        if clock.budget is not None and not state["horizon_fixed"] and state["step"] == 50 and steps_per_epoch > 100:
            _fit_horizon_within_epoch(state, clock.started, clock.budget, clock.eval_seconds, clock.save_seconds,
                                      epoch_started, dist)
        if clock.deadline_passed(dist):
            stop_reason = f"time budget ({config.time_budget:g} min)"
            break
    progress.close()
    train_seconds = time.monotonic() - epoch_started
    state["train_seconds"] += train_seconds
    return _EpochResult(lr, sums, clips_seen, train_count, train_seconds, epoch_started, stop_reason)


def _train_step(run: _Run, data: dict,
                lr: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """One optimiser step on a batch (and a batch of KD-only clips, with --kd-only-data): the loss,
    its CTC, KD and KD-only parts, and the log-probabilities of the labelled clips."""
    config, dist, student_config = run.config, run.dist, run.student_config
    lengths = data["lengths"]
    x = prepare_frames(data["frames"].to(dist.device, non_blocking=True), lengths, student_config.mean,
                       student_config.std, run.augment, channels_last=run.cuda)
    kd_only = next(run.kd_only_batches) if run.kd_only_batches is not None else None
    extra = 0
    if kd_only is not None:  # through the encoder with the labelled frames (one pass, shared BatchNorm statistics)
        x_kd = prepare_frames(kd_only["frames"].to(dist.device, non_blocking=True), kd_only["lengths"],
                              student_config.mean, student_config.std, run.augment, channels_last=run.cuda)
        x, extra = torch.cat([x, x_kd]), len(x_kd)
    if run.cuda:
        x = pad_frames(x, PAD_FRAMES)
    targets = data["targets"].to(dist.device, non_blocking=True)
    with torch.autocast(device_type=dist.device.type, dtype=torch.bfloat16, enabled=run.amp):
        log_probs, predicted = run.train_model(x, lengths, extra)
    loss_ctc = ctc_loss(log_probs, lengths, targets, data["target_lengths"])
    loss = loss_ctc
    loss_kd = torch.zeros((), device=dist.device)
    loss_kd_only = torch.zeros((), device=dist.device)
    if run.kd_head is not None:
        labelled = int(lengths.sum())
        target = run.kd_head.target(data["teacher"].to(dist.device, non_blocking=True))
        loss_kd = kd_loss(config.kd_loss, predicted[:labelled], target,
                          data["teacher_mask"].to(dist.device, non_blocking=True))
        loss = loss + config.kd_weight * loss_kd
        if kd_only is not None:
            target = run.kd_head.target(kd_only["teacher"].to(dist.device, non_blocking=True))
            loss_kd_only = kd_loss(config.kd_loss, predicted[labelled:], target,
                                   kd_only["teacher_mask"].to(dist.device, non_blocking=True))
            loss = loss + config.kd_only_weight * loss_kd_only
    optimise(run.optimizer, loss, lr, config.clip_grad)
    return loss, loss_ctc, loss_kd, loss_kd_only, log_probs


def _end_epoch(run: _Run, epoch: int, result: _EpochResult, resumed: bool) -> tuple[int, str]:
    """Evaluate on the dev split, log, keep the best, refit the schedule to the budget, save;
    the next epoch's index and a reason to stop ('' to go on)."""
    config, dist, state, clock = run.config, run.dist, run.state, run.clock
    steps_per_epoch = run.sampler.steps
    epoch_done = state["batch"] >= steps_per_epoch or state["step"] >= state["total_steps"]
    eval_started = time.monotonic()
    dev = evaluate_items(run.model, run.dev_items, run.student_config, dist, config.eval_batch or 2 * config.batch,
                         run.workers, loader=run.dev_loader)
    clock.eval_seconds = time.monotonic() - eval_started
    totals = dist.reduce(result.sums.tolist() + [result.clips_seen, result.train_count.edits,
                                                 result.train_count.letters])
    clips_all = max(1.0, totals[4])
    train_acc = LetterCount(int(totals[5]), int(totals[6])).accuracy
    row = {"epoch": epoch + 1, "step": state["step"], "seconds": round(state["train_seconds"], 2), "lr": result.lr,
           "train_loss": totals[0] / clips_all, "train_ctc": totals[1] / clips_all,
           "train_kd": totals[2] / clips_all if run.kd_head is not None else float("nan"),
           "train_kd_only": totals[3] / clips_all if run.kd_only_items else float("nan"),
           "train_letter_acc": train_acc, "dev_loss": dev["loss"], "dev_letter_acc": dev["letter_accuracy"],
           "note": "" if epoch_done else f"stopped at batch {state['batch']}/{steps_per_epoch}"}
    state["history"].append(row)
    if epoch_done:
        epoch += 1
        state["epoch"], state["batch"] = epoch, 0
    # Best: highest dev letter accuracy, ties broken by lower dev loss (no dev split: train loss).
    score = [dev["letter_accuracy"], -dev["loss"]] if run.dev_items else [-row["train_loss"], 0.0]
    improved = not any(math.isnan(v) for v in score) and (state["best"] is None or score > state["best"]["score"])
    if improved:
        state["best"] = {"score": score, "epoch": row["epoch"], "dev_letter_accuracy": dev["letter_accuracy"]}
    if (clock.budget is not None and not state["horizon_fixed"] and not resumed and epoch_done
            and row["epoch"] <= HORIZON_EPOCHS):
        # The first epochs include start-up (workers, kernel plans, caches): refit on the latest
        # epoch's pace until it settles.
        _fit_horizon_after_epoch(state, config.epochs, clock.started, clock.budget, result.train_seconds,
                                 clock.eval_seconds, clock.save_seconds, steps_per_epoch, dist,
                                 final=row["epoch"] == HORIZON_EPOCHS)
    if dist.main:
        _save_epoch(run, row, improved)
        kd_text = f" kd {row['train_kd']:.4f}" if run.kd_head is not None else ""
        kd_text += f" kd-only {row['train_kd_only']:.4f}" if run.kd_only_items else ""
        print(f"epoch {row['epoch']} step {row['step']} lr {result.lr:.2e} | train loss {row['train_loss']:.4f} "
              f"(ctc {row['train_ctc']:.4f}{kd_text}) acc {train_acc:.4f} | {config.dev_split or 'dev'} "
              f"loss {dev['loss']:.4f} acc {dev['letter_accuracy']:.4f} | "
              f"{result.train_seconds:.1f}+{clock.eval_seconds:.1f} s" + (" *" if improved else ""), flush=True)
    dist.barrier()
    stop_reason = result.stop_reason
    if not stop_reason and clock.budget is not None and epoch < config.epochs and clock.deadline_passed(dist):
        stop_reason = f"time budget ({config.time_budget:g} min)"
    return epoch, stop_reason


def _save_epoch(run: _Run, row: dict, improved: bool) -> None:
    """log.csv, the plots, last.pt, and best.pt when the epoch improved on it (rank 0)."""
    save_started = time.monotonic()
    run_args = run.config.stored()
    write_csv_log(run.out / "log.csv", run.state["history"], LOG_COLUMNS)
    write_plots(run.state["history"], run.out)
    save_atomic({"format": TRAIN_FORMAT, "model": cpu_state(run.student),
                 "kd_head": cpu_state(run.kd_head) if run.kd_head is not None else None,
                 "optimizer": run.optimizer.state_dict(), "config": run.student_config.name,
                 "alphabet": list(CHICAGO.symbols), "args": run_args,
                 "steps_per_epoch": run.sampler.steps, **run.state}, run.last_path)
    if improved or not run.best_path.exists():
        save_atomic(student_checkpoint(run.student, run_args, row["epoch"],
                                       {k: row[k] for k in ("dev_letter_acc", "dev_loss", "train_loss")}),
                    run.best_path)
    run.clock.save_seconds = time.monotonic() - save_started


def _write_summary(run: _Run, epoch: int, stop_reason: str) -> dict:
    best = run.state["best"] or {}
    summary = {"stop": stop_reason, "epochs": epoch, "steps": run.state["step"], "best_epoch": best.get("epoch"),
               "best_dev_letter_accuracy": best.get("dev_letter_accuracy"), "run": str(run.out),
               "seconds": round(time.monotonic() - run.clock.started, 1)}
    accuracy = best.get("dev_letter_accuracy", float("nan"))
    log(run.dist, f"fit: {stop_reason} after {run.state['step']} steps ({summary['seconds']} s); best "
                  f"{run.config.dev_split or 'dev'} letter accuracy {accuracy:.4f} at epoch {best.get('epoch')} "
                  f"-> {run.best_path}")
    if run.dist.main:
        with open(run.out / "summary.json", "w", encoding="utf-8") as stream:
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


def _fit_horizon_after_epoch(state: dict, epochs: int, started: float, budget: float, train_seconds: float,
                             eval_seconds: float, save_seconds: float, steps_per_epoch: int, dist: Dist,
                             final: bool) -> None:
    """End the cosine schedule at the step the budget allows at the last epoch's pace, its
    evaluation and saving spread over its steps (the run may then end inside an epoch)."""
    remaining = budget - (time.monotonic() - started) - 1.5 * eval_seconds - save_seconds - 5.0
    per_step = (train_seconds + eval_seconds + save_seconds) / steps_per_epoch
    more = int(dist.reduce([max(0, int(remaining / per_step))], "min")[0])
    total = min(epochs * steps_per_epoch, state["step"] + more)
    state["horizon_fixed"] = final
    if total != state["total_steps"]:
        state["total_steps"] = max(total, state["step"])
        log(dist, f"fit: {state['total_steps']} steps ({state['total_steps'] / steps_per_epoch:.1f} of {epochs} "
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
    prepared = prepare_data(DataOptions.from_namespace(args), config, (args.split,), None, dist)
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
