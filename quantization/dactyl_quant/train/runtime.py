"""What `fit` (loop.py) and `pretrain` (pretrain.py) share: the processes, the data prepared for
them, checkpoint files, the learning-rate schedule and the optimiser. Neither command's module
imports the other's for these (pretrain.py once imported loop.py, which imports pretrain.py)."""

import csv
import math
import os
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as torch_dist

from ..alphabet import CHICAGO
from ..corpus import DataError, Skipped, read_corpus
from ..student import StudentConfig
from .cache import CacheSpec, ClipCache, default_workers
from .config import DataOptions
from .data import Item
from .teacher import check_teacher, mask_path, teacher_dir, teacher_path

# ---- processes -----------------------------------------------------------------------------------

@dataclass
class Dist:
    rank: int
    world: int
    local_rank: int
    device: torch.device
    enabled: bool

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled:
            if self.device.type == "cuda":
                torch_dist.barrier(device_ids=[self.device.index])
            else:
                torch_dist.barrier()

    def reduce(self, values: list[float], op: str = "sum") -> list[float]:
        if not self.enabled:
            return list(values)
        tensor = torch.tensor(values, dtype=torch.float64, device=self.device)
        torch_dist.all_reduce(tensor, op={"sum": torch_dist.ReduceOp.SUM, "max": torch_dist.ReduceOp.MAX,
                                          "min": torch_dist.ReduceOp.MIN}[op])
        return tensor.tolist()


def init_distributed(device: str) -> Dist:
    """torchrun sets RANK, WORLD_SIZE and LOCAL_RANK; without them, one process."""
    enabled = "RANK" in os.environ and "WORLD_SIZE" in os.environ
    rank = int(os.environ.get("RANK", 0))
    world = int(os.environ.get("WORLD_SIZE", 1))
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        if not torch.cuda.is_available():
            raise DataError("--device cuda: no CUDA device is available")
        torch_device = torch.device("cuda", local_rank)
        torch.cuda.set_device(torch_device)
    elif device == "cpu":
        torch_device = torch.device("cpu")
    else:
        raise ValueError(f"device {device!r}: expected auto, cuda or cpu")
    if enabled and not torch_dist.is_initialized():
        torch_dist.init_process_group(backend="nccl" if torch_device.type == "cuda" else "gloo")
    return Dist(rank, world, local_rank, torch_device, enabled)


def close_distributed(dist: Dist) -> None:
    if dist.enabled and torch_dist.is_initialized():
        torch_dist.destroy_process_group()


def log(dist: Dist, message: str) -> None:
    if dist.main:
        print(message, flush=True)


# ---- data ----------------------------------------------------------------------------------------

@dataclass
class Prepared:
    items: dict[str, list[Item]]
    teacher_dim: int | None
    skipped: Skipped
    spec: CacheSpec
    root: Path


def prepare_data(options: DataOptions, config: StudentConfig, splits: tuple[str, ...], teacher: str | None,
                 dist: Dist, teacher_splits: tuple[str, ...] = ("train",)) -> Prepared:
    """Read the corpus, make sure every clip of `splits` is cached (rank 0 builds, the others wait),
    check the teacher files of `teacher_splits`; Items per split."""
    corpus = read_corpus(options.data, options.dataset, options.frames, partitions=splits, alphabet=CHICAGO,
                         skip_bad=options.skip_bad, csv_name=options.csv)
    spec = CacheSpec(config.input_height, config.input_width, config.default_crop, options.crop_policy,
                     options.bbox_margin)
    cache_root = options.cache or os.path.join(corpus.root, "cache")
    skipped = corpus.skipped
    workers = options.cache_workers if options.cache_workers is not None else default_workers()
    error = None
    if dist.main:
        try:
            ClipCache(cache_root, spec).ensure(corpus.samples, Skipped(options.skip_bad), workers,
                                               show_progress=not options.quiet)
        except DataError as failure:
            error = failure
    if dist.reduce([1.0 if error else 0.0], "max")[0]:
        if error:
            raise error
        raise DataError("rank 0 could not build the clip cache")
    dist.barrier()
    # Every rank (rank 0 again, now with nothing to build) takes the cached clips' entries.
    samples, entries = ClipCache(cache_root, spec).ensure(corpus.samples, skipped, 0, show_progress=False)
    frames = {key: entry.frames for key, entry in entries.items()}
    teacher_dim = None
    teacher_folder = teacher_dir(corpus.root, teacher, options.teachers_dir) if teacher else None
    items: dict[str, list[Item]] = {}
    for split in splits:
        split_samples = [s for s in samples if s.partition == split]
        use_teacher = teacher_folder is not None and split in teacher_splits and split_samples
        if use_teacher:
            split_samples, teacher_dim = check_teacher(split_samples, teacher_folder, frames, skipped)
        items[split] = [Item(s.key, entries[s.key].path, s.labels, entries[s.key].frames,
                             teacher_path(teacher_folder, s.key) if use_teacher else None,
                             mask_path(teacher_folder, s.key) if use_teacher and options.kd_mask
                             else None)
                        for s in split_samples]
    return Prepared(items, teacher_dim, skipped, spec, corpus.root)


def prepare_kd_only(data: str, options: DataOptions, config: StudentConfig, teacher: str, dist: Dist,
                    teacher_dim: int | None) -> list[Item]:
    """The KD-only clips of `data` (a clips CSV or a folder with clips.csv; letters ignored), cached in
    DATA/cache like any corpus, with their teacher files, whose dimension must be `teacher_dim`."""
    corpus = read_corpus(data, "auto", options.frames, partitions=("train",), alphabet=None,
                         skip_bad=options.skip_bad)
    spec = CacheSpec(config.input_height, config.input_width, config.default_crop, "fixed", options.bbox_margin)
    cache = ClipCache(os.path.join(corpus.root, "cache"), spec)
    if dist.main:
        cache.ensure(corpus.samples, Skipped(options.skip_bad), options.cache_workers or default_workers(),
                     show_progress=not options.quiet)
    dist.barrier()
    samples, entries = cache.ensure(corpus.samples, corpus.skipped, 0, show_progress=False)
    folder = teacher_dir(corpus.root, teacher)
    samples, dim = check_teacher(samples, folder, {k: e.frames for k, e in entries.items()}, corpus.skipped)
    if teacher_dim is not None and dim != teacher_dim:
        raise DataError(f"{folder}: KD-only teacher files have dimension {dim}, the training clips' {teacher_dim} "
                        f"(make them with the same features: realhands crops --features)")
    return [Item(s.key, entries[s.key].path, (), entries[s.key].frames, teacher_path(folder, s.key),
                 mask_path(folder, s.key) if options.kd_mask else None) for s in samples]


# ---- checkpoints ---------------------------------------------------------------------------------

def cpu_state(module: torch.nn.Module) -> dict:
    return {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}


def save_atomic(obj: dict, path: Path) -> None:
    temporary = path.with_name(path.name + ".tmp")
    torch.save(obj, temporary)
    os.replace(temporary, path)


def load_checkpoint(path: str | Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


# ---- schedule ------------------------------------------------------------------------------------

def learning_rate(step: int, total: int, base: float, warmup_fraction: float, floor: float = 0.02) -> float:
    """Linear warmup over warmup_fraction of the steps, then cosine from base to floor·base."""
    warmup = max(1, round(warmup_fraction * total))
    if step < warmup:
        return base * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return base * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


def make_optimizer(parameters, lr: float, weight_decay: float) -> torch.optim.AdamW:
    """AdamW with decoupled weight decay on weights only: not on biases, BatchNorm or GRU gains."""
    parameters = list(parameters)
    return torch.optim.AdamW([{"params": [p for p in parameters if p.ndim >= 2], "weight_decay": weight_decay},
                              {"params": [p for p in parameters if p.ndim < 2], "weight_decay": 0.0}], lr=lr)


def optimise(optimizer: torch.optim.Optimizer, loss: torch.Tensor, lr: float, clip_grad: float) -> None:
    """One step at learning rate `lr`: the loss's gradients, their norm clipped to `clip_grad` (0: not)."""
    for group in optimizer.param_groups:
        group["lr"] = lr
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if clip_grad > 0:
        torch.nn.utils.clip_grad_norm_([p for group in optimizer.param_groups for p in group["params"]], clip_grad)
    optimizer.step()


# ---- seeds and logs ------------------------------------------------------------------------------

def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def write_csv_log(path: Path, history: list[dict], columns: tuple[str, ...]) -> None:
    """Rewrite a run's CSV log atomically (a reader never sees half a file)."""
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=columns)
        writer.writeheader()
        for row in history:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    os.replace(temporary, path)
