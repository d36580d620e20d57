"""loss.png and accuracy.png per epoch, when matplotlib is installed (the GPU machine may lack it:
then nothing is drawn and log.csv has the same numbers)."""

import math
from pathlib import Path


def _pyplot():
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def write_plots(history: list[dict], out: str | Path) -> list[Path]:
    """The files written (none without matplotlib or without history)."""
    plt = _pyplot()
    if plt is None or not history:
        return []
    out = Path(out)
    epochs = [row["epoch"] for row in history]
    written = []
    panels = (
        ("loss.png", "loss", (("train_loss", "train (total)"), ("train_ctc", "train CTC"), ("train_kd", "train KD"),
                              ("dev_loss", "dev CTC"))),
        ("accuracy.png", "letter accuracy", (("train_letter_acc", "train (augmented, greedy)"),
                                             ("dev_letter_acc", "dev (greedy)"))),
    )
    for name, ylabel, series in panels:
        figure, axes = plt.subplots(figsize=(6, 4), dpi=100)
        for key, label in series:
            values = [row.get(key) for row in history]
            if all(v is None or (isinstance(v, float) and math.isnan(v)) for v in values):
                continue
            axes.plot(epochs, [float("nan") if v is None else v for v in values], marker="o", markersize=3,
                      label=label)
        plotted = [v for line in axes.get_lines() for v in line.get_ydata() if v == v]
        if name == "loss.png" and plotted and min(plotted) > 0:
            axes.set_yscale("log")  # losses fall by orders of magnitude
        axes.set_xlabel("epoch")
        axes.set_ylabel(ylabel)
        axes.grid(True, alpha=0.3)
        axes.legend()
        figure.tight_layout()
        path = out / name
        figure.savefig(path)
        plt.close(figure)
        written.append(path)
    return written
