"""Warm-up before `fit` (`pretrain`): KD on single frames, then the temporal head on frozen features.

The paper's loss is CTC + λ·KD on whole clips. Where compute is short (a CPU), a joint run spends
most of its first steps on CTC's blank plateau, and each step sees only a batch of clips. This
command does two cheap stages first, then `fit --init RUN/pretrained.pt` trains the paper's joint
CTC + KD loss from their weights:

1. Frames: encoder + KD head learn the teacher's per-frame embedding on batches of single frames
   drawn at random from all training clips (KD needs no alignment: every frame has its target, and
   the gradient is dense from the first step).
2. Head: the encoder is frozen; each clip's features are computed once, and the temporal head
   learns CTC on them (thousands of steps a minute, since the encoder no longer runs).

Stage 1 is KD alone, so the command exists only for a run with a teacher: the no-KD ablation has
nothing to warm up on. Writes RUN/pretrained.pt (the student's state_dict, the KD head with the
teacher statistics) and RUN/pretrain.csv (per evaluation: train and dev KD loss, then the head's
train CTC loss and dev letter accuracy), and prints the same. One process (no torchrun).
"""

import math
import os
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch.nn.utils.rnn import pad_sequence

from .. import ctc
from ..corpus import DataError
from ..student import CONFIGS, Student
from .config import DataOptions
from .data import Augment, Item, prepare_frames
from .metrics import LetterCount
from .model import KDHead, ctc_loss, head_forward, kd_loss
from .progress import Progress
from .runtime import (close_distributed, cpu_state, init_distributed, learning_rate, load_checkpoint, make_optimizer,
                      optimise, prepare_data, save_atomic, seed_everything, write_csv_log)
from .teacher import teacher_stats

PRETRAIN_FORMAT = "dactyl-kd-pretrain-v1"
PRETRAIN_COLUMNS = ("stage", "step", "seconds", "lr", "train_kd", "dev_kd", "train_ctc", "dev_letter_acc")
HEAD_EVAL_STEPS = 1000  # the head stage reports dev letter accuracy this often
PACE_STEPS = 20  # steps timed before a time budget fixes the schedule's length


class FrameBank:
    """Every frame of a split in memory (uint8 [N, H, W, 3]) with its teacher row and mask; the
    clips' frames lie one after the other, in the order of `items`."""

    def __init__(self, items: list[Item]):
        if not items:
            raise DataError("no clips with teacher features to warm up on")
        self.items = items
        # Filled in place: a concatenate would briefly hold the (gigabytes of) frames twice.
        first = np.load(items[0].clip, mmap_mode="r")
        shape = (sum(item.frames for item in items), *first.shape[1:])
        needed = int(np.prod(shape))
        available = available_memory()
        if available is not None and needed > 0.8 * available:
            raise DataError(f"the warm-up holds every frame of its split in memory: {shape[0]} frames of "
                            f"{'x'.join(map(str, shape[1:]))} need {needed / 2**30:.1f} GiB, and "
                            f"{available / 2**30:.1f} GiB are free; warm up on a smaller partition "
                            "(--train-split) or train with fit alone")
        self.frames = torch.empty(shape, dtype=torch.uint8)
        start = 0
        for item in items:
            clip = torch.from_numpy(np.load(item.clip))
            self.frames[start:start + len(clip)] = clip
            start += len(clip)
        self.teacher = torch.from_numpy(np.concatenate([np.load(item.teacher).astype(np.float32) for item in items]))
        self.mask = torch.from_numpy(np.concatenate([
            np.load(item.teacher_mask).astype(bool) if item.teacher_mask else np.ones(item.frames, bool)
            for item in items]))

    def __len__(self) -> int:
        return len(self.frames)

    def clips(self) -> Iterator[torch.Tensor]:
        """Each clip's frames, uint8 [T, H, W, 3] (views, no copies)."""
        start = 0
        for item in self.items:
            yield self.frames[start:start + item.frames]
            start += item.frames


def available_memory() -> int | None:
    """Bytes of memory the system can still give (Linux: MemAvailable), or None where unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as stream:
            for line in stream:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _frame_loss(encoder, kd_head: KDHead, bank: FrameBank, index: torch.Tensor, config, kind: str,
                augment: Augment | None) -> torch.Tensor:
    ones = torch.ones(len(index), dtype=torch.int64)  # each frame its own "clip": its own augmentation
    device = kd_head.teacher_mean.device
    x = prepare_frames(bank.frames[index].to(device), ones, config.mean, config.std, augment)
    return kd_loss(kind, kd_head(encoder(x)), kd_head.target(bank.teacher[index].to(device)),
                   bank.mask[index].to(device))


@torch.no_grad()
def _dev_loss(encoder, kd_head: KDHead, bank: FrameBank, config, kind: str, batch: int) -> float:
    encoder.eval()
    total, count = 0.0, 0
    for start in range(0, len(bank), batch):
        index = torch.arange(start, min(start + batch, len(bank)))
        weight = int(bank.mask[index].sum())
        if weight:
            total += float(_frame_loss(encoder, kd_head, bank, index, config, kind, None)) * weight
            count += weight
    encoder.train()
    return total / count if count else float("nan")


def pretrain(args) -> dict:
    started = time.monotonic()
    if args.config not in CONFIGS:
        raise DataError(f"config {args.config!r}: expected one of {', '.join(sorted(CONFIGS))}")
    if args.teacher in (None, "none"):
        raise DataError("pretrain distils a teacher: give --teacher (synthpose, mediapipe, hamer)")
    if args.steps is None and args.time_budget is None:
        raise DataError("give --steps or --time-budget")
    config = CONFIGS[args.config]
    out = Path(args.out)
    path = out / "pretrained.pt"
    if path.exists():
        raise DataError(f"{path} exists: choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    dist = init_distributed(args.device)
    if dist.enabled:
        close_distributed(dist)
        raise DataError("pretrain runs in one process: start it with python, not torchrun")
    splits = tuple(dict.fromkeys([args.train_split] + ([args.dev_split] if args.dev_split else [])))
    prepared = prepare_data(DataOptions.from_namespace(args), config, splits, args.teacher, dist, teacher_splits=splits)
    train_items = prepared.items[args.train_split]
    dev_items = prepared.items.get(args.dev_split, []) if args.dev_split else []
    bank = FrameBank(train_items)
    dev_bank = FrameBank(dev_items) if dev_items else None
    print(f"pretrain: config {config.name}, KD {args.teacher} ({args.kd_loss}) on single frames: "
          f"{len(bank)} train frames of {len(train_items)} clips, {len(dev_bank) if dev_bank else 0} dev frames; "
          f"{prepared.skipped.summary()}", flush=True)

    seed_everything(args.seed)
    student = Student(config)
    kd_head = KDHead(config.feature_dim, prepared.teacher_dim, args.kd_hidden)
    mean, std = teacher_stats([i.teacher for i in train_items], args.seed, [i.teacher_mask for i in train_items])
    kd_head.teacher_mean.copy_(torch.from_numpy(mean))
    kd_head.teacher_std.copy_(torch.from_numpy(std))
    student.to(dist.device)
    kd_head.to(dist.device)
    optimizer = make_optimizer(list(student.encoder.parameters()) + list(kd_head.parameters()), args.lr,
                               args.weight_decay)
    augment = None if args.no_augment else Augment()
    generator = torch.Generator().manual_seed(args.seed)
    budget = args.time_budget * 60 if args.time_budget else None
    total_steps = args.steps or 10**9
    history: list[dict] = []
    sum_loss, sum_count = 0.0, 0
    dev_seconds = 0.0
    progress = Progress(total_steps if args.steps else 0, "pretrain", enabled=not args.quiet)
    step = 0
    loop_started = time.monotonic()

    def evaluate_and_log(note_step: int) -> None:
        nonlocal sum_loss, sum_count, dev_seconds
        dev_started = time.monotonic()
        dev = _dev_loss(student.encoder, kd_head, dev_bank, config, args.kd_loss, args.batch) if dev_bank else float("nan")
        dev_seconds = time.monotonic() - dev_started
        row = {"stage": "frames", "step": note_step, "seconds": round(time.monotonic() - started, 1), "lr": lr,
               "train_kd": sum_loss / max(sum_count, 1), "dev_kd": dev}
        history.append(row)
        write_csv_log(out / "pretrain.csv", history, PRETRAIN_COLUMNS)
        print(f"pretrain step {note_step} lr {lr:.2e} | train kd {row['train_kd']:.4f} | dev kd {dev:.4f} "
              f"| {row['seconds']:.0f} s", flush=True)
        sum_loss, sum_count = 0.0, 0

    lr = args.lr
    while step < total_steps:
        lr = learning_rate(step, total_steps, args.lr, args.warmup)
        index = torch.randint(len(bank), (args.batch,), generator=generator)
        loss = _frame_loss(student.encoder, kd_head, bank, index, config, args.kd_loss, augment)
        optimise(optimizer, loss, lr, args.clip_grad)
        step += 1
        sum_loss += float(loss.detach())
        sum_count += 1
        progress.update(1, kd=sum_loss / sum_count, lr=lr)
        if budget is not None and step == PACE_STEPS and args.steps is None:
            # Fit the cosine schedule into the budget, keeping room for the evaluations and the save.
            pace = (time.monotonic() - loop_started) / step
            evaluations = 1 + math.ceil(budget / 60 / max(args.eval_minutes, 1e-3))
            reserve = 10.0 + evaluations * _dev_estimate(dev_bank, pace, args.batch)
            remaining = budget - (time.monotonic() - started) - reserve
            total_steps = max(step + 1, step + int(0.95 * remaining / pace))
            print(f"pretrain: {total_steps} steps of {args.batch} frames fit in the time budget "
                  f"({pace * 1000:.0f} ms a step)", flush=True)
        if args.eval_minutes and time.monotonic() - loop_started > args.eval_minutes * 60 * (len(history) + 1):
            evaluate_and_log(step)
        if budget is not None and time.monotonic() - started > budget - 2 * dev_seconds - 10.0:
            break
    progress.close()
    evaluate_and_log(step)
    head_accuracy = float("nan")
    if args.head_steps:
        head_accuracy = train_head(student, bank, dev_bank, config, args, history, out, started)
    save_atomic({"format": PRETRAIN_FORMAT, "model": cpu_state(student), "kd_head": cpu_state(kd_head),
                 "config": config.name, "teacher": args.teacher, "kd_loss": args.kd_loss, "kd_hidden": args.kd_hidden,
                 "steps": step, "history": history}, path)
    dev_kd = next(row["dev_kd"] for row in reversed(history) if row["stage"] == "frames")
    summary = {"steps": step, "frames_seen": step * args.batch, "dev_kd": dev_kd, "head_steps": args.head_steps,
               "dev_letter_accuracy": head_accuracy, "seconds": round(time.monotonic() - started, 1), "out": str(path)}
    print(f"pretrain: {step} frame steps ({summary['frames_seen']} frames), dev KD loss {dev_kd:.4f}; "
          f"{args.head_steps} head steps, dev letter accuracy {head_accuracy:.4f}; {summary['seconds']} s -> {path}",
          flush=True)
    return summary


@torch.no_grad()
def clip_features(encoder, bank: FrameBank | None, config, device: torch.device) -> list[torch.Tensor]:
    """Each clip's per-frame features [T, F] (eval mode, no augmentation: what the board computes)."""
    if bank is None:
        return []
    encoder.eval()
    features = []
    for frames in bank.clips():
        x = prepare_frames(frames.to(device), torch.tensor([len(frames)]), config.mean, config.std)
        features.append(encoder(x).float())
    encoder.train()
    return features


def _head_batch(features: list[torch.Tensor], labels: list[tuple[int, ...]], index: list[int]):
    lengths = torch.tensor([len(features[i]) for i in index], dtype=torch.int64)
    padded = pad_sequence([features[i] for i in index], batch_first=True)
    targets = torch.tensor([label for i in index for label in labels[i]], dtype=torch.int64)
    target_lengths = torch.tensor([len(labels[i]) for i in index], dtype=torch.int64)
    return padded, lengths, targets, target_lengths


@torch.no_grad()
def _head_accuracy(head, features: list[torch.Tensor], labels: list[tuple[int, ...]], batch: int) -> float:
    head.eval()
    count = LetterCount()
    for start in range(0, len(features), batch):
        index = list(range(start, min(start + batch, len(features))))
        padded, lengths, _, _ = _head_batch(features, labels, index)
        log_probs = head_forward(head, padded, lengths).cpu().numpy()
        for row, i in enumerate(index):
            count.add(ctc.greedy(log_probs[row, :int(lengths[row])]), list(labels[i]))
    head.train()
    return count.accuracy


def train_head(student: Student, bank: FrameBank, dev_bank: FrameBank | None, config, args,
               history: list[dict], out: Path, started: float) -> float:
    """Stage 2: CTC on the temporal head over the frozen encoder's features of the stage-1 frames
    (already in memory); dev letter accuracy."""
    device = next(student.parameters()).device
    train_features = clip_features(student.encoder, bank, config, device)
    dev_features = clip_features(student.encoder, dev_bank, config, device)
    train_labels = [item.labels for item in bank.items]
    dev_labels = [item.labels for item in dev_bank.items] if dev_bank else []
    head = student.head
    optimizer = make_optimizer(head.parameters(), args.head_lr, args.weight_decay)
    rng = np.random.default_rng(args.seed)
    sum_loss, sum_count = 0.0, 0
    accuracy = float("nan")
    progress = Progress(args.head_steps, "pretrain head", enabled=not args.quiet)
    for step in range(args.head_steps):
        lr = learning_rate(step, args.head_steps, args.head_lr, args.warmup)
        index = rng.integers(len(train_features), size=min(args.head_batch, len(train_features))).tolist()
        padded, lengths, targets, target_lengths = _head_batch(train_features, train_labels, index)
        loss = ctc_loss(head_forward(head, padded, lengths), lengths, targets.to(device), target_lengths)
        optimise(optimizer, loss, lr, args.clip_grad)
        sum_loss += float(loss.detach())
        sum_count += 1
        progress.update(1, ctc=sum_loss / sum_count)
        if (step + 1) % HEAD_EVAL_STEPS == 0 or step + 1 == args.head_steps:
            accuracy = (_head_accuracy(head, dev_features, dev_labels, 2 * args.head_batch) if dev_features
                        else float("nan"))
            row = {"stage": "head", "step": step + 1, "seconds": round(time.monotonic() - started, 1), "lr": lr,
                   "train_ctc": sum_loss / sum_count, "dev_letter_acc": accuracy}
            history.append(row)
            write_csv_log(out / "pretrain.csv", history, PRETRAIN_COLUMNS)
            print(f"pretrain head step {step + 1} lr {lr:.2e} | train ctc {row['train_ctc']:.4f} | dev letter "
                  f"accuracy {accuracy:.4f} | {row['seconds']:.0f} s", flush=True)
            sum_loss, sum_count = 0.0, 0
    progress.close()
    return accuracy


def _dev_estimate(dev_bank: FrameBank | None, pace: float, batch: int) -> float:
    """Seconds one dev evaluation takes: a forward pass is about a third of a training step."""
    return 0.0 if dev_bank is None else pace / 3 * math.ceil(len(dev_bank) / batch)


def load_pretrained(path: str | os.PathLike, config_name: str, teacher: str | None) -> dict:
    """A `pretrain` checkpoint for `fit --init`, checked against the run's config and teacher."""
    checkpoint = load_checkpoint(path)
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != PRETRAIN_FORMAT:
        raise DataError(f"--init {path}: not a pretrain checkpoint (format "
                        f"{checkpoint.get('format') if isinstance(checkpoint, dict) else type(checkpoint).__name__!r}, "
                        f"expected {PRETRAIN_FORMAT})")
    if checkpoint["config"] != config_name:
        raise DataError(f"--init {path}: warmed up config {checkpoint['config']!r}, this run trains {config_name!r}")
    if teacher not in (None, "none") and checkpoint["teacher"] != teacher:
        raise DataError(f"--init {path}: warmed up on teacher {checkpoint['teacher']!r}, this run distils {teacher!r}")
    return checkpoint


