#!/usr/bin/env python3
"""Golden vectors of the hand localiser (LMET, LTEN, LOPS; docs/model-format.md, "The hand localiser").

Run from the repository root: `python Tests/golden/localiser/make_localiser_golden.py`. It writes,
next to itself:

- tiny-localiser.dmdl: the tiny recogniser of ../make_golden.py (seeded random weights) plus the tiny
  localiser (64x48 input, 8x6 cells), trained here for a few seconds in float64 on integer-drawn
  frames of a skin-coloured blob ("the hand") on a textured background, so that its box is real;
- frames.y4m: 160x120 4:2:0 limited range, three frames: the blob upper left, the blob lower right
  and a frame without it;
- per frame f: frame<f>.input.bin (int8 localiser input, 48 x 64 x 3 HWC), frame<f>.heat.bin (int8,
  Hh x Wh x 1), frame<f>.box.bin (int8, Hh x Wh x 4);
- expected.json: shapes, quantisation of the heat and box tensors, and per frame the box read by the
  spec's rule (peak cell, peak logit, present, centre and size in frame pixels) and the blob's true box.

Input, heat and box tensors are bit-exact contracts; the read box's pixel values are rounded to 4
decimals (compare with a tolerance of 1e-3). Deterministic: integer frames, float64 training from a
fixed seed on one thread, calibration ranges rounded to 12 significant bits.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "quantization"))

from dactyl_quant.build import build  # noqa: E402
from dactyl_quant.export import write_model  # noqa: E402
from dactyl_quant.localiser.build import frames_to_tensor, quantize_localiser, with_localiser  # noqa: E402
from dactyl_quant.localiser.config import CONFIGS  # noqa: E402
from dactyl_quant.localiser.net import LocaliserNet  # noqa: E402
from dactyl_quant.localiser.targets import box_loss, encode_box, focal_loss  # noqa: E402
from dactyl_quant.reference import localiser_input, read_box, run_localiser  # noqa: E402
from dactyl_quant.student import CONFIGS as STUDENT_CONFIGS  # noqa: E402
from dactyl_quant.y4m import Y4MFormat, read_rgb, write_rgb  # noqa: E402

GOLDEN_DIR = Path(__file__).resolve().parent
MODEL_FILE = "tiny-localiser.dmdl"
CLIP_FILE = "frames.y4m"
WIDTH, HEIGHT = 160, 120
RECOGNISER_SEED = 5
SEED = 14
STEPS = 250
BATCH = 32
PRESENCE_LOGIT = 0.0
# (centre x, centre y, radius) of the blob per golden frame, or None for a frame without a hand.
FRAMES = ((44, 38, 17), (112, 82, 24), None)


def draw_frame(rng: np.random.Generator, blob: tuple[int, int, int] | None) -> np.ndarray:
    """A textured grey-blue background and, if given, a skin-coloured disc with a darker rim; integers only."""
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH]
    base = np.stack([60 + xs // 4, 70 + ys // 3, 110 + (xs + ys) // 8], axis=-1)
    image = base + rng.integers(-20, 21, size=(HEIGHT, WIDTH, 3))
    if blob is not None:
        cx, cy, r = blob
        distance2 = (xs - cx) ** 2 + (ys - cy) ** 2
        skin = np.array([205, 150, 120]) + rng.integers(-8, 9, size=3)
        image = np.where((distance2 <= r * r)[..., None], skin + rng.integers(-6, 7, size=(HEIGHT, WIDTH, 3)), image)
        image = np.where(((distance2 > (r - 2) ** 2) & (distance2 <= r * r))[..., None], skin - 50, image)
    return np.clip(image, 0, 255).astype(np.uint8)


def blob_box(blob: tuple[int, int, int]) -> tuple[float, float, float, float]:
    """The blob's crop: a square of twice its diameter around it, (cx, cy, w, h) in frame fractions."""
    cx, cy, r = blob
    side = 4 * r
    return cx / WIDTH, cy / HEIGHT, side / WIDTH, side / HEIGHT


def training_batch(rng: np.random.Generator) -> tuple[np.ndarray, list]:
    frames, boxes = [], []
    for _ in range(BATCH):
        if rng.random() < 0.2:
            blob = None
        else:
            r = int(rng.integers(10, 28))
            blob = (int(rng.integers(r, WIDTH - r)), int(rng.integers(r, HEIGHT - r)), r)
        frames.append(draw_frame(rng, blob))
        boxes.append(None if blob is None else blob_box(blob))
    return np.stack(frames), boxes


def train_localiser(seed: int) -> tuple[LocaliserNet, np.ndarray]:
    """The tiny localiser after STEPS steps; also returns calibration frames."""
    config = CONFIGS["tiny"]
    torch.manual_seed(seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        net = LocaliserNet(config).double()
        optimiser = torch.optim.Adam(net.parameters(), lr=3e-3)
        rng = np.random.default_rng(seed)
        cells_h, cells_w = config.cells
        for _ in range(STEPS):
            frames, boxes = training_batch(rng)
            encoded = [encode_box(box, cells_h, cells_w) for box in boxes]
            x = frames_to_tensor(config, frames).double()
            heat_t = torch.from_numpy(np.stack([e[0] for e in encoded])).double()
            box_t = torch.from_numpy(np.stack([e[1] for e in encoded])).double()
            cells = torch.from_numpy(np.stack([e[2] for e in encoded]))
            heat, box = net(x)
            loss = focal_loss(heat[:, 0], heat_t) + 5 * box_loss(box, box_t, cells)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        net = net.float().eval()
        calibration, _ = training_batch(np.random.default_rng(seed + 1))
    finally:
        torch.set_num_threads(threads)
    return net, calibration


def _round(value: float) -> float:
    return round(float(value), 4)


def generate(out_dir: Path, seed: int = SEED) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed + 2)
    frames = np.stack([draw_frame(rng, blob) for blob in FRAMES])
    fmt = Y4MFormat(WIDTH, HEIGHT, "420jpeg", False, (30, 1))
    write_rgb(out_dir / CLIP_FILE, fmt, frames)
    _, decoded = read_rgb(out_dir / CLIP_FILE)  # what a reader of the clip sees after 4:2:0

    # The tiny recogniser of ../make_golden.py, calibrated on these frames.
    recogniser = build(STUDENT_CONFIGS["tiny"], [decoded],
                       "tiny recogniser and localiser, golden vectors (untrained recogniser, localiser trained "
                       "on blobs)", seed=RECOGNISER_SEED).model
    net, calibration = train_localiser(seed)
    localiser = quantize_localiser(net, frames_to_tensor(net.config, calibration), PRESENCE_LOGIT)
    model = with_localiser(recogniser, localiser)
    write_model(model, out_dir / MODEL_FILE)

    entries = []
    for index, (rgb, blob) in enumerate(zip(decoded, FRAMES)):
        heat, box = run_localiser(localiser, rgb)
        read = read_box(localiser, heat, box, WIDTH, HEIGHT)
        names = {kind: f"frame{index}.{kind}.bin" for kind in ("input", "heat", "box")}
        (out_dir / names["input"]).write_bytes(localiser_input(localiser, rgb).astype(np.int8).tobytes())
        (out_dir / names["heat"]).write_bytes(heat.astype(np.int8).tobytes())
        (out_dir / names["box"]).write_bytes(box.astype(np.int8).tobytes())
        truth = None
        if blob is not None:
            cx, cy, w, h = blob_box(blob)
            truth = {"centre_x": cx * WIDTH, "centre_y": cy * HEIGHT, "width": w * WIDTH, "height": h * HEIGHT}
        entries.append({
            "frame": index,
            "input": names["input"], "heat": names["heat"], "box": names["box"],
            "peak_cell": list(read.cell),
            "peak_q": int(heat[read.cell[0], read.cell[1], 0]),
            "peak_logit": _round(read.peak_logit),
            "present": read.present,
            "centre_x": _round(read.centre_x), "centre_y": _round(read.centre_y),
            "width": _round(read.width), "height": _round(read.height),
            "true_box": truth,
        })
    heat_params = localiser.tensors[localiser.heat_tensor]
    box_params = localiser.tensors[localiser.box_tensor]
    cells_h, cells_w = net.config.cells
    expected = {
        "model": MODEL_FILE,
        "clip": {"file": CLIP_FILE, "width": WIDTH, "height": HEIGHT, "frames": len(FRAMES), "colour_space": "C420jpeg",
                 "full_range": False},
        "localiser": {
            "input_height": localiser.input_height, "input_width": localiser.input_width,
            "heat_tensor": localiser.heat_tensor, "box_tensor": localiser.box_tensor,
            "cells_h": cells_h, "cells_w": cells_w,
            "heat_scale": heat_params.scale, "heat_zero_point": heat_params.zero_point,
            "box_scale": box_params.scale, "box_zero_point": box_params.zero_point,
            "presence_logit": localiser.presence_logit, "interval": localiser.interval,
        },
        "layouts": {"input": "int8 H x W x 3", "heat": "int8 Hh x Wh x 1", "box": "int8 Hh x Wh x 4 (ox, oy, w, h)"},
        "notes": ("input, heat and box are bit-exact; centre and size are in frame pixels, rounded to 4 "
                  "decimals; true_box is the blob's crop the localiser was trained to find"),
        "frames": entries,
    }
    (out_dir / "expected.json").write_text(json.dumps(expected, indent=2) + "\n")
    return expected


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out-dir", type=Path, default=GOLDEN_DIR)
    args = parser.parse_args()
    expected = generate(args.out_dir)
    for frame in expected["frames"]:
        print(frame["frame"], frame["present"], frame["peak_logit"], frame["centre_x"], frame["centre_y"],
              frame["width"], frame["height"], frame["true_box"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
