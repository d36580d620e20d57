"""Cached clips as batches: dataset, per-epoch batch order (sharded for DDP), collation, and the
on-device normalisation and augmentation.

A batch packs its clips' frames ([N, H, W, 3] uint8, N the sum of the lengths) with `lengths` for
CTC and the model (see model.py). Augmentations are the ones the deployment can meet: a small
brightness / contrast / colour change and a small shift of the whole clip (lighting and framing
vary, the crop is fixed), and a change of signing speed by dropping or repeating frames. No flips:
the board sees the hand as the camera does.
"""

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset


@dataclass(frozen=True)
class Item:
    key: str
    clip: str  # cache file, uint8 [T, H, W, 3]
    labels: tuple[int, ...]
    frames: int
    teacher: str | None = None  # teacher file, [T, D]
    teacher_mask: str | None = None  # bool [T]: frames where the teacher saw a hand (None: all)


@dataclass(frozen=True)
class Augment:
    brightness: float = 0.1  # added to values in [0, 1]
    contrast: float = 0.2  # scale about the frame's mean: 1 ± contrast
    colour: float = 0.08  # per-channel gain: 1 ± colour
    shift: float = 0.05  # translation of the whole clip, fraction of the input size
    speed: float = 0.2  # signing speed × [1/(1+speed), 1+speed], by dropping / repeating frames


def min_ctc_frames(labels: tuple[int, ...]) -> int:
    """The fewest frames CTC can align `labels` to: one per label, plus a blank between repeats."""
    return len(labels) + sum(1 for a, b in zip(labels, labels[1:]) if a == b)


def speed_indices(frames: int, minimum: int, speed: float, uniform: float) -> np.ndarray:
    """Frame indices that play a clip `factor` times faster, factor = (1+speed)^(2·uniform − 1)."""
    factor = (1.0 + speed) ** (2.0 * uniform - 1.0)
    count = max(round(frames / factor), minimum, 1)
    if count == frames:
        return np.arange(frames)
    return np.minimum(((np.arange(count) + 0.5) * frames / count).astype(np.int64), frames - 1)


class ClipDataset(Dataset):
    def __init__(self, items: list[Item], speed: float = 0.0):
        self.items = items
        self.speed = speed

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict:
        item = self.items[index]
        clip = np.load(item.clip)
        teacher = np.load(item.teacher).astype(np.float32) if item.teacher else None
        mask = None
        if teacher is not None:
            mask = np.load(item.teacher_mask).astype(bool) if item.teacher_mask else np.ones(len(teacher), bool)
        if self.speed > 0:
            # torch's RNG: DataLoader seeds it per worker from the main process's seeded generator.
            chosen = speed_indices(len(clip), min_ctc_frames(item.labels), self.speed, float(torch.rand(())))
            clip = clip[chosen]
            if teacher is not None:
                teacher, mask = teacher[chosen], mask[chosen]
        return {"index": index, "frames": torch.from_numpy(np.ascontiguousarray(clip)),
                "labels": torch.tensor(item.labels, dtype=torch.int64),
                "teacher": torch.from_numpy(np.ascontiguousarray(teacher)) if teacher is not None else None,
                "teacher_mask": torch.from_numpy(np.ascontiguousarray(mask)) if mask is not None else None}


def collate(samples: list[dict]) -> dict:
    teachers = [s["teacher"] for s in samples]
    return {
        "indices": [s["index"] for s in samples],
        "frames": torch.cat([s["frames"] for s in samples]),
        "lengths": torch.tensor([len(s["frames"]) for s in samples], dtype=torch.int64),
        "targets": torch.cat([s["labels"] for s in samples]),
        "target_lengths": torch.tensor([len(s["labels"]) for s in samples], dtype=torch.int64),
        "teacher": torch.cat(teachers) if all(t is not None for t in teachers) else None,
        "teacher_mask": (torch.cat([s["teacher_mask"] for s in samples])
                         if all(t is not None for t in teachers) else None),
    }


class EpochBatches:
    """A batch sampler: the same number of batches on every rank (DDP steps in lockstep).

    Training: a seeded permutation per epoch, wrapped around to a multiple of batch × world; global
    batch g is split across the ranks. `start` skips the batches done before a resumed stop.
    Evaluation: the clips in order, rank r taking every world-th clip (batches may then differ in
    number between ranks; evaluation does no collective per batch).
    """

    def __init__(self, count: int, batch: int, rank: int = 0, world: int = 1, seed: int = 0, shuffle: bool = True):
        if count < 1:
            raise ValueError("no clips to make batches of")
        self.count, self.batch, self.rank, self.world, self.seed, self.shuffle = count, batch, rank, world, seed, shuffle
        self.epoch = 0
        self.start = 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        self.epoch, self.start = epoch, start

    @property
    def steps(self) -> int:
        if self.shuffle:
            return math.ceil(self.count / (self.batch * self.world))
        return math.ceil(len(range(self.rank, self.count, self.world)) / self.batch)

    def batches(self) -> list[list[int]]:
        if not self.shuffle:
            mine = list(range(self.rank, self.count, self.world))
            return [mine[i:i + self.batch] for i in range(0, len(mine), self.batch)]
        order = np.random.default_rng([self.seed, self.epoch]).permutation(self.count)
        span = self.batch * self.world
        total = self.steps * span
        order = np.resize(order, total)  # wraps around
        return [order[g * span + self.rank * self.batch:g * span + (self.rank + 1) * self.batch].tolist()
                for g in range(self.steps)]

    def __iter__(self):
        yield from self.batches()[self.start:]

    def __len__(self) -> int:
        return self.steps - self.start


def prepare_frames(frames: torch.Tensor, lengths: torch.Tensor, mean: tuple[float, float, float],
                   std: tuple[float, float, float], augment: Augment | None = None,
                   channels_last: bool = False) -> torch.Tensor:
    """uint8 [N, H, W, 3] (on the training device) → normalised float [N, 3, H, W].

    Without augmentation the arithmetic is `preprocess.normalise`'s: (v / 255 − mean) / std in
    float32, so training sees the board's (float) input exactly.
    """
    x = frames.float() / 255.0
    if augment is not None:
        x = _augment(x, lengths.to(x.device), augment)
    x = (x - torch.tensor(mean, device=x.device)) / torch.tensor(std, device=x.device)
    x = x.permute(0, 3, 1, 2)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x.contiguous()


def _augment(x: torch.Tensor, lengths: torch.Tensor, augment: Augment) -> torch.Tensor:
    clips = len(lengths)
    device = x.device
    clip_of = torch.repeat_interleave(torch.arange(clips, device=device), lengths)

    def spread(values: torch.Tensor) -> torch.Tensor:  # one value per clip → per frame, [N, 1, 1, C]
        return values[clip_of].reshape(len(x), 1, 1, -1)

    symmetric = lambda *shape: torch.rand(*shape, device=device) * 2 - 1  # noqa: E731
    brightness = spread(symmetric(clips, 1) * augment.brightness)
    contrast = spread(1 + symmetric(clips, 1) * augment.contrast)
    colour = spread(1 + symmetric(clips, 3) * augment.colour)
    frame_mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = ((x - frame_mean) * contrast + frame_mean + brightness) * colour
    x = x.clamp(0.0, 1.0)
    height, width = x.shape[1:3]
    limit_y, limit_x = int(augment.shift * height), int(augment.shift * width)
    if limit_y or limit_x:
        padded = F.pad(x.permute(0, 3, 1, 2), (limit_x, limit_x, limit_y, limit_y), mode="replicate")
        shifted = torch.empty_like(x)
        dy = torch.randint(-limit_y, limit_y + 1, (clips,)).tolist()
        dx = torch.randint(-limit_x, limit_x + 1, (clips,)).tolist()
        start = 0
        for clip, length in enumerate(lengths.tolist()):
            top, left = limit_y + dy[clip], limit_x + dx[clip]
            window = padded[start:start + length, :, top:top + height, left:left + width]
            shifted[start:start + length] = window.permute(0, 2, 3, 1)
            start += length
        x = shifted
    return x
