"""Training the localiser on CPU: composed frames (data.py's cache) and, where given, real photos
labelled by the teacher; CenterNet's focal loss on the heatmap and L1 on the box at the centre cells.

Augmentation on the cached input-size frames: horizontal mirror (a right hand becomes a left one),
per-channel gain, brightness and contrast, and a small shift. Every epoch ends with a check on the
validation frames (float model): mean IoU of the read box with the truth, detection rate at IoU ≥
0.5, false positives on frames without a hand; the presence threshold that best separates the two
(most frames right) is stored with the checkpoint and becomes LMET's presence_logit at export.
"""

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..preprocess import normalise
from .build import save_checkpoint
from .data import MAX_BOXES, Shard, iterate_boxes
from .config import CONFIGS
from .net import LocaliserNet
from .targets import box_loss, decode, encode_boxes, focal_loss, iou

BOX_WEIGHT = 5.0


@dataclass
class TrainSettings:
    config: str = "small"
    batch: int = 64
    lr: float = 3e-3
    weight_decay: float = 1e-4
    time_budget_min: float = 25.0  # CPU minutes of this process (so that runs sharing a machine compare)
    max_epochs: int = 200
    real_share: float = 0.0  # share of each batch drawn from the real photos (when there are any)
    seed: int = 0
    threads: int = 1


def _augment(frames: np.ndarray, boxes: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Mirror, colour and shift a batch of uint8 frames [B, H, W, 3] and their boxes [B, K, 4]."""
    frames = frames.astype(np.float32)
    boxes = boxes.copy()
    batch, height, width, _ = frames.shape
    for b in range(batch):
        if rng.random() < 0.5:
            frames[b] = frames[b, :, ::-1]
            boxes[b, :, 0] = 1.0 - boxes[b, :, 0]
        dx, dy = (int(v) for v in rng.integers(-8, 9, 2))
        if dx or dy:
            frames[b] = np.roll(frames[b], (dy, dx), axis=(0, 1))
            # What rolled round is replaced by the edge it left (no wrapped-round hand).
            if dy > 0:
                frames[b, :dy] = frames[b, dy:dy + 1]
            elif dy < 0:
                frames[b, dy:] = frames[b, dy - 1:dy]
            if dx > 0:
                frames[b, :, :dx] = frames[b, :, dx:dx + 1]
            elif dx < 0:
                frames[b, :, dx:] = frames[b, :, dx - 1:dx]
            boxes[b, :, 0] += dx / width
            boxes[b, :, 1] += dy / height
    gain = rng.uniform(0.8, 1.2, (batch, 1, 1, 3)) * rng.uniform(0.7, 1.3, (batch, 1, 1, 1))
    mean = frames.mean(axis=(1, 2, 3), keepdims=True)
    contrast = rng.uniform(0.75, 1.25, (batch, 1, 1, 1))
    frames = (frames - mean) * contrast + mean
    frames = frames * gain + rng.normal(0, 2.0, frames.shape).astype(np.float32) * rng.uniform(0, 1, (batch, 1, 1, 1))
    return np.clip(frames + 0.5, 0, 255).astype(np.uint8), boxes


def _tensors(frames: np.ndarray, boxes: np.ndarray, config) -> tuple[torch.Tensor, ...]:
    cells_h, cells_w = config.cells
    x = torch.from_numpy(np.stack([normalise(f, config.mean, config.std) for f in frames]))
    encoded = [encode_boxes(list(iterate_boxes(b)), cells_h, cells_w, MAX_BOXES) for b in boxes]
    heat = torch.from_numpy(np.stack([e[0] for e in encoded]))
    targets = torch.from_numpy(np.stack([e[1] for e in encoded]))
    cells = torch.from_numpy(np.stack([e[2] for e in encoded]))
    return x, heat, targets, cells


@torch.no_grad()
def predict(net: LocaliserNet, frames: np.ndarray, batch: int = 256) -> list[tuple[float, tuple]]:
    """(peak logit, (cx, cy, w, h) fractions) of every input-size frame, float model."""
    net.eval()
    config = net.config
    out = []
    for start in range(0, len(frames), batch):
        x = torch.from_numpy(np.stack([normalise(f, config.mean, config.std) for f in frames[start:start + batch]]))
        heat, box = net(x)
        out += [decode(h[0].numpy(), b.numpy()) for h, b in zip(heat, box)]
    return out


def box_quality(predictions: list[tuple[float, tuple]], boxes: np.ndarray, presence_logit: float,
                frame_aspect: float = 4 / 3) -> dict:
    """IoU (in frame pixels of a frame of `frame_aspect`), detection rate at IoU ≥ 0.5 with the hand
    said present, misses, false positives on frames without a hand."""
    ious, detected, missed, hand_frames, empty_frames, false_positive = [], 0, 0, 0, 0, 0
    for (peak, box), truth_row in zip(predictions, boxes):
        truths = list(iterate_boxes(truth_row))
        present = peak >= presence_logit
        if not truths:
            empty_frames += 1
            false_positive += present
            continue
        hand_frames += 1
        scaled = (box[0] * frame_aspect, box[1], box[2] * frame_aspect, box[3])
        best = max(iou(scaled, (t[0] * frame_aspect, t[1], t[2] * frame_aspect, t[3])) for t in truths)
        ious.append(best)
        detected += present and best >= 0.5
        missed += not present
    return {"frames": len(predictions), "hand_frames": hand_frames, "empty_frames": empty_frames,
            "mean_iou": float(np.mean(ious)) if ious else math.nan,
            "detection_rate": detected / hand_frames if hand_frames else math.nan,
            "miss_rate": missed / hand_frames if hand_frames else math.nan,
            "false_positive_rate": false_positive / empty_frames if empty_frames else math.nan}


def choose_presence_logit(predictions: list[tuple[float, tuple]], boxes: np.ndarray) -> float:
    """The threshold that gets most frames right: a hand frame right when said present, an empty one
    right when said absent (balanced: each kind weighs half)."""
    peaks = np.array([p for p, _ in predictions])
    has = np.array([not np.isnan(b[0, 0]) for b in boxes])
    if has.all() or not has.any():
        return 0.0
    best, best_score = 0.0, -1.0
    for threshold in np.unique(np.round(peaks, 2)):
        score = 0.5 * (peaks[has] >= threshold).mean() + 0.5 * (peaks[~has] < threshold).mean()
        if score > best_score:
            best, best_score = float(threshold), score
    return best


def fit(train: Shard, valid: Shard, out: Path, settings: TrainSettings, real: Shard | None = None,
        log=print) -> dict:
    """Train, writing out/last.pt, out/best.pt (best validation detection rate) and out/log.jsonl."""
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(settings.seed)
    torch.set_num_threads(settings.threads)
    rng = np.random.default_rng(settings.seed)
    config = CONFIGS[settings.config]
    net = LocaliserNet(config)
    optimiser = torch.optim.AdamW(net.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    start, wall_start = time.process_time(), time.monotonic()
    budget = settings.time_budget_min * 60
    steps_per_epoch = max(1, len(train.frames) // settings.batch)
    real_per_batch = int(round(settings.batch * settings.real_share)) if real is not None and len(real.frames) else 0
    best_rate, history = -1.0, []
    step = 0
    # The learning rate follows a cosine over the CPU-time budget (the number of epochs is what fits).
    for epoch in range(settings.max_epochs):
        net.train()
        order = rng.permutation(len(train.frames))
        losses = []
        for s in range(steps_per_epoch):
            elapsed = time.process_time() - start
            if elapsed > budget:
                break
            for group in optimiser.param_groups:
                group["lr"] = settings.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, elapsed / budget)))
            index = order[s * settings.batch:(s + 1) * settings.batch - real_per_batch]
            frames, boxes = train.frames[index], train.boxes[index]
            if real_per_batch:
                pick = rng.integers(len(real.frames), size=real_per_batch)
                frames = np.concatenate([frames, real.frames[pick]])
                boxes = np.concatenate([boxes, real.boxes[pick]])
            frames, boxes = _augment(frames, boxes, rng)
            x, heat_t, box_t, cells = _tensors(frames, boxes, config)
            heat, box = net(x)
            loss_heat = focal_loss(heat[:, 0], heat_t)
            loss_box = box_loss(box, box_t, cells)
            loss = loss_heat + BOX_WEIGHT * loss_box
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses.append((loss_heat.item(), loss_box.item()))
            step += 1
        if not losses:
            break
        predictions = predict(net, valid.frames)
        threshold = choose_presence_logit(predictions, valid.boxes)
        quality = box_quality(predictions, valid.boxes, threshold)
        record = {"epoch": epoch, "step": step, "minutes": round((time.process_time() - start) / 60, 2),
                  "wall_minutes": round((time.monotonic() - wall_start) / 60, 2),
                  "heat_loss": float(np.mean([a for a, _ in losses])),
                  "box_loss": float(np.mean([b for _, b in losses])), "presence_logit": threshold, **quality}
        history.append(record)
        with open(out / "log.jsonl", "a") as stream:
            stream.write(json.dumps(record) + "\n")
        log(f"epoch {epoch} step {step} {record['minutes']} min: heat {record['heat_loss']:.3f} box "
            f"{record['box_loss']:.4f} | valid IoU {quality['mean_iou']:.3f} det {quality['detection_rate']:.3f} "
            f"FP {quality['false_positive_rate']:.3f} (presence {threshold:.2f})")
        save_checkpoint(net, out / "last.pt", threshold, {"epoch": epoch, "quality": quality})
        if quality["detection_rate"] > best_rate:
            best_rate = quality["detection_rate"]
            save_checkpoint(net, out / "best.pt", threshold, {"epoch": epoch, "quality": quality})
        if time.process_time() - start > budget:
            break
    return {"history": history, "best_detection_rate": best_rate}
