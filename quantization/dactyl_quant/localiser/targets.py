"""CenterNet targets and loss for the localiser: a Gaussian heatmap around the crop centre's cell,
focal loss on it, and L1 on the box (ox, oy, w, h) at the centre cell only.

A box is (cx, cy, w, h) in fractions of the frame (centre and size), the format's "Reading the box"
inverted: the centre cell is (floor(cy·Hh), floor(cx·Wh)) and ox, oy the centre's place inside it.
"""

import math

import numpy as np
import torch

# A crop centre outside the frame (a hand cut by the edge) is pulled just inside it: the runtime
# keeps the crop inside the frame anyway, and the heatmap has no cell outside.
_EDGE = 1e-4


def encode_box(box: tuple[float, float, float, float] | None, cells_h: int, cells_w: int
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(heat target float32 `[Hh, Wh]` in [0, 1], box target float32 `[4]`, centre cell int `[2]`).

    No box (no hand): an all-zero heat target and cell (−1, −1)."""
    heat = np.zeros((cells_h, cells_w), dtype=np.float32)
    if box is None:
        return heat, np.zeros(4, dtype=np.float32), np.array([-1, -1], dtype=np.int64)
    cx, cy, w, h = box
    gx = min(max(cx, _EDGE), 1 - _EDGE) * cells_w
    gy = min(max(cy, _EDGE), 1 - _EDGE) * cells_h
    j, i = int(gx), int(gy)
    # CenterNet's object-size-adaptive spread: about a sixth of the box in cells, at least half a cell.
    sigma_x = max(0.5, w * cells_w / 6)
    sigma_y = max(0.5, h * cells_h / 6)
    ys = np.arange(cells_h, dtype=np.float64)[:, None]
    xs = np.arange(cells_w, dtype=np.float64)[None, :]
    gaussian = np.exp(-((xs - j) ** 2 / (2 * sigma_x ** 2) + (ys - i) ** 2 / (2 * sigma_y ** 2)))
    heat[:] = gaussian
    heat[i, j] = 1.0  # exactly one positive cell
    return heat, np.array([gx - j, gy - i, w, h], dtype=np.float32), np.array([i, j], dtype=np.int64)


def encode_boxes(boxes: list[tuple[float, float, float, float]], cells_h: int, cells_w: int, max_boxes: int
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Several boxes (a real photo may show more than one hand): the heat targets' maximum, and
    `max_boxes` box targets `[K, 4]` and cells `[K, 2]` (−1 rows unused)."""
    heat = np.zeros((cells_h, cells_w), dtype=np.float32)
    targets = np.zeros((max_boxes, 4), dtype=np.float32)
    cells = np.full((max_boxes, 2), -1, dtype=np.int64)
    for k, box in enumerate(boxes[:max_boxes]):
        one_heat, targets[k], cells[k] = encode_box(box, cells_h, cells_w)
        heat = np.maximum(heat, one_heat)
    return heat, targets, cells


def focal_loss(logits: torch.Tensor, target: torch.Tensor, alpha: float = 2.0, beta: float = 4.0) -> torch.Tensor:
    """CenterNet's penalty-reduced focal loss, summed and divided by the number of positive cells (at
    least 1, so a batch of empty frames still learns to say nothing). logits, target `[N, Hh, Wh]`."""
    p = torch.sigmoid(logits).clamp(1e-6, 1 - 1e-6)
    positive = target >= 1.0
    log_p = torch.nn.functional.logsigmoid(logits)
    log_not_p = torch.nn.functional.logsigmoid(-logits)
    pos_loss = -((1 - p) ** alpha) * log_p
    neg_loss = -((1 - target) ** beta) * (p ** alpha) * log_not_p
    loss = torch.where(positive, pos_loss, neg_loss).sum()
    return loss / max(1, int(positive.sum()))


def box_loss(box: torch.Tensor, target: torch.Tensor, cells: torch.Tensor) -> torch.Tensor:
    """L1 between the predicted box channels at each hand's centre cell and its target. box
    `[N, 4, Hh, Wh]`, target `[N, 4]` or `[N, K, 4]`, cells `[N, 2]` or `[N, K, 2]` (−1 rows: no hand,
    left out)."""
    if target.dim() == 2:
        target, cells = target[:, None], cells[:, None]
    frame, slot = torch.nonzero(cells[..., 0] >= 0, as_tuple=True)
    if len(frame) == 0:
        return box.sum() * 0.0
    i, j = cells[frame, slot, 0], cells[frame, slot, 1]
    picked = box[frame, :, i, j]
    return torch.nn.functional.l1_loss(picked, target[frame, slot], reduction="mean")


def decode(heat: np.ndarray, box: np.ndarray) -> tuple[float, tuple[float, float, float, float]]:
    """Float counterpart of reference.read_box: (peak logit, (cx, cy, w, h) in frame fractions) of one
    frame's heat `[Hh, Wh]` and box `[4, Hh, Wh]`."""
    cells_h, cells_w = heat.shape
    i, j = divmod(int(np.argmax(heat)), cells_w)
    ox, oy, w, h = (float(v) for v in box[:, i, j])
    return float(heat[i, j]), ((j + ox) / cells_w, (i + oy) / cells_h, w, h)


def iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Intersection over union of two (cx, cy, w, h) boxes in the same units."""
    ax0, ay0, ax1, ay1 = a[0] - a[2] / 2, a[1] - a[3] / 2, a[0] + a[2] / 2, a[1] + a[3] / 2
    bx0, by0, bx1, by1 = b[0] - b[2] / 2, b[1] - b[3] / 2, b[0] + b[2] / 2, b[1] + b[3] / 2
    inter = max(0.0, min(ax1, bx1) - max(ax0, bx0)) * max(0.0, min(ay1, by1) - max(ay0, by0))
    union = max(a[2], 0) * max(a[3], 0) + max(b[2], 0) * max(b[3], 0) - inter
    return inter / union if union > 0 and math.isfinite(union) else 0.0
