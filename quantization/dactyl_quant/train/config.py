"""Typed options of the training commands, built by cli.py from the command line.

`DataOptions`: where the clips come from and how they are cached (fit, pretrain, evaluate).
`FitConfig`: everything a `fit` run needs. Its options in `RESUMABLE` belong to the run: a
resumed run takes them from its checkpoint unless given again (then the new value wins, noted in
the log); the others belong to this invocation only.
"""

import argparse
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace

from ..corpus import DataError

# FitConfig's options that a resumed run takes from its checkpoint when they are not given again.
RESUMABLE = ("data", "dataset", "csv", "frames", "crop_policy", "bbox_margin", "cache", "config", "teacher",
             "teachers_dir", "kd_weight", "kd_loss", "kd_hidden", "kd_mask", "seed", "batch", "lr", "weight_decay",
             "warmup", "epochs", "clip_grad", "train_split", "dev_split", "amp", "no_augment", "init", "kd_only_data",
             "kd_only_weight", "kd_only_batch")


@dataclass(frozen=True)
class DataOptions:
    data: str | None = None  # a ChicagoFSWild folder or a clips CSV
    dataset: str = "auto"  # auto, chicagofswild or csv
    csv: str | None = None  # which CSV in `data`
    frames: str = "auto"  # auto, jpg or y4m
    crop_policy: str = "fixed"  # fixed or bbox (cache.CacheSpec)
    bbox_margin: float = 1.6
    cache: str | None = None  # default: DATA/cache
    cache_workers: int | None = None  # default: the cores
    skip_bad: bool = False  # skip and count bad rows instead of stopping
    teachers_dir: str | None = None  # default: DATA/teachers
    kd_mask: bool = True  # distil only the frames where the teacher saw a hand
    quiet: bool = False  # no progress bars

    @classmethod
    def from_namespace(cls, args: argparse.Namespace) -> "DataOptions":
        """The data options a command's parsed arguments hold (those it lacks keep their defaults)."""
        return cls(**{f.name: getattr(args, f.name) for f in fields(cls) if getattr(args, f.name, None) is not None})


@dataclass(frozen=True)
class FitConfig:
    out: str  # RUN_DIR: checkpoints, log.csv, plots, summary.json
    # The run's options (RESUMABLE).
    data: str | None = None
    dataset: str = "auto"
    csv: str | None = None
    frames: str = "auto"
    crop_policy: str = "fixed"
    bbox_margin: float = 1.6
    cache: str | None = None
    config: str = "pi"  # student config name (student.CONFIGS)
    teacher: str = "none"
    teachers_dir: str | None = None
    kd_weight: float | None = None  # None until resolved: 1 with a teacher, 0 without (the no-KD ablation)
    kd_loss: str = "mse"
    kd_hidden: int = 256
    kd_mask: bool = True
    seed: int = 0
    batch: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup: float = 0.05  # fraction of all steps
    epochs: int = 30
    clip_grad: float = 1.0  # 0: off
    train_split: str = "train"
    dev_split: str = "dev"  # '' for none
    amp: str = "auto"  # auto (bf16 on CUDA) or off
    no_augment: bool = False
    init: str | None = None  # a pretrain checkpoint to start from
    # KD-only samples (real hand crops without letters, realhands/crops.py): a clips CSV or a folder
    # with clips.csv and teachers/<teacher>/; each step adds `kd_only_batch` of its clips, whose KD
    # loss (never CTC) joins the total with `kd_only_weight`.
    kd_only_data: str | None = None
    kd_only_weight: float = 1.0
    kd_only_batch: int = 16
    # This invocation's options.
    resume: bool = False
    time_budget: float | None = None  # minutes
    device: str = "auto"
    workers: int | None = None  # DataLoader workers per process
    eval_batch: int | None = None  # default: 2 x batch
    quiet: bool = False
    skip_bad: bool = False
    cache_workers: int | None = None
    given: frozenset[str] = field(default=frozenset(), compare=False)  # the RESUMABLE options given

    @classmethod
    def from_options(cls, **options) -> "FitConfig":
        """A configuration from command-line options; None means not given (the default, or on
        --resume the run's value)."""
        given = {name: value for name, value in options.items() if value is not None}
        return cls(**given, given=frozenset(name for name in given if name in RESUMABLE))

    @classmethod
    def from_namespace(cls, args: argparse.Namespace) -> "FitConfig":
        names = {f.name for f in fields(cls)} - {"given"}
        return cls.from_options(**{name: getattr(args, name) for name in names if hasattr(args, name)})

    def resolved(self, stored: dict, note: Callable[[str], None]) -> "FitConfig":
        """The run's configuration: options not given take `stored` (a resumed run's checkpoint
        "args"; {} for a fresh run) or their defaults; kd_weight follows the teacher if unset.
        `note` hears of each given option that differs from the run's."""
        changes = {}
        for name in RESUMABLE:
            if name not in self.given:
                if name in stored:
                    changes[name] = stored[name]
            elif name in stored and stored[name] != getattr(self, name):
                note(f"resume: {name} = {getattr(self, name)!r} (the run had {stored[name]!r})")
        config = replace(self, **changes)
        if config.kd_weight is None:
            config = replace(config, kd_weight=1.0 if config.teacher not in (None, "none") else 0.0)
        if config.data is None:
            raise DataError("give --data (the corpus folder, or a CSV of clips)")
        return config

    @property
    def use_kd_only(self) -> bool:
        return bool(self.kd_only_data) and self.kd_only_weight > 0 and self.kd_only_batch > 0

    @property
    def use_kd(self) -> bool:
        return bool(self.kd_weight) and self.kd_weight > 0 and self.teacher not in (None, "none")

    def data_options(self) -> DataOptions:
        return DataOptions(**{f.name: getattr(self, f.name) for f in fields(DataOptions)})

    def stored(self) -> dict:
        """What a checkpoint keeps ("args"): primitives only (checkpoints load with weights_only)."""
        return {name: value for name, value in asdict(self).items() if name != "given"}
