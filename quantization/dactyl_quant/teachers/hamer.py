"""The HaMeR teacher (the paper's): the MANO Transformer head's output token, 1024-d per frame.

HaMeR (github.com/geopavlakos/hamer) needs its own install (`pip install -e .[all]` in a checkout,
its data via `bash fetch_demo_data.sh`, the MANO model) and a GPU to be practical; none of that is a
dependency of this package. Where it is installed, this module:

- loads the model with `hamer.models.load_hamer(checkpoint)` (a `HAMER` LightningModule);
- crops each frame's hand as HaMeR's `ViTDetDataset` does: a square of side
  max(expand_to_aspect_ratio(rescale x box size, [192, 256])) around the box centre, 256x256,
  anti-alias blur first when shrinking a lot, left hands mirrored (HaMeR is a right-hand model),
  ImageNet mean/std;
- runs `model.backbone(x[:, :, :, 32:-32])` then `model.mano_head(features)` (what
  `HAMER.forward_step` does before MANO) with a forward hook on `model.mano_head.transformer`
  (the `TransformerDecoder` of `MANOTransformerDecoderHead`): its output [B, 1, 1024] is the token
  that `decpose`, `decshape` and `deccam` read out. With several IEF iterations the last one counts.

Hand boxes: the corpus's BBox (flag 1) where there is one, else the MediaPipe hand tracker's
landmark box (where LiteRT and the models are available), else the previous frame's box, else a
centred square. `.detected.npy` marks the frames whose box came from BBox or the tracker.
"""

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..corpus import Corpus, Sample, read_frames, signing_boxes
from .files import teacher_path, write_teacher
from .roi import sample_bilinear

TEACHER = "hamer"
HAMER_URL = "https://github.com/geopavlakos/hamer"
TOKEN_DIM = 1024
IMAGE_SIZE = 256
BBOX_SHAPE = (192, 256)  # load_hamer sets MODEL.BBOX_SHAPE so for the ViT backbone
RESCALE_FACTOR = 2.0     # demo.py's --rescale_factor default
IMAGE_MEAN = (0.485, 0.456, 0.406)
IMAGE_STD = (0.229, 0.224, 0.225)


class HamerNotInstalled(RuntimeError):
    pass


def import_hamer():
    """hamer.models.load_hamer, or HamerNotInstalled with what to do."""
    try:
        from hamer.models import load_hamer
    except ImportError as error:
        raise HamerNotInstalled(
            f"HaMeR is not installed: see {HAMER_URL} (clone it with --recursive, `pip install -e .[all]` and "
            "`pip install -v -e third-party/ViTPose` in the checkout, `bash fetch_demo_data.sh` for the "
            "checkpoint, and the MANO model from mano.is.tue.mpg.de into _DATA/data/mano); it needs "
            f"PyTorch with CUDA to run at a useful speed. ({type(error).__name__}: {error})") from error
    return load_hamer


def load_model(checkpoint: str | Path, device: str = "cuda"):
    load_hamer = import_hamer()
    checkpoint = Path(checkpoint)
    if not checkpoint.is_file():
        raise FileNotFoundError(f"{checkpoint}: no such HaMeR checkpoint (fetch_demo_data.sh puts it at "
                                "_DATA/hamer_ckpts/checkpoints/hamer.ckpt, with model_config.yaml two folders up)")
    model, _cfg = load_hamer(str(checkpoint))
    return model.to(device).eval()


# ---- crops ---------------------------------------------------------------------------------------

def expand_to_aspect_ratio(wh: np.ndarray, target: tuple[float, float] = BBOX_SHAPE) -> np.ndarray:
    """HaMeR's expand_to_aspect_ratio: grow (w, h) to the target aspect ratio (w_t, h_t)."""
    w, h = (float(v) for v in wh)
    w_t, h_t = target
    if h / w < h_t / w_t:
        return np.array([w, max(w * h_t / w_t, h)])
    return np.array([max(h * w_t / h_t, w), h])


def crop_square(box: np.ndarray, rescale: float = RESCALE_FACTOR) -> tuple[np.ndarray, float]:
    """Centre and side (pixels) of the square HaMeR crops around a box (x1, y1, x2, y2)."""
    box = np.asarray(box, dtype=np.float64)
    center = (box[:2] + box[2:4]) / 2
    size = float(expand_to_aspect_ratio(rescale * (box[2:4] - box[:2])).max())
    return center, size


def crop_patch(image: np.ndarray, center: np.ndarray, size: float, flip: bool = False,
               patch: int = IMAGE_SIZE) -> np.ndarray:
    """The normalised model input [3, patch, patch] float32 for an RGB uint8 image, as ViTDetDataset:
    the square (center, size) mapped onto the patch with pixel centres at integers (OpenCV's
    warpAffine convention, border 0), after a Gaussian blur when it shrinks by more than 2.2x."""
    img = np.asarray(image)
    cx, cy = float(center[0]), float(center[1])
    downsampling = size / patch / 2.0
    if downsampling > 1.1:
        from scipy.ndimage import gaussian_filter  # skimage.filters.gaussian's engine, same defaults
        sigma = (downsampling - 1) / 2
        img = gaussian_filter(img.astype(np.float64), sigma=(sigma, sigma, 0), mode="nearest", truncate=4.0)
    if flip:
        img = img[:, ::-1]
        cx = img.shape[1] - cx - 1
    grid = np.arange(patch, dtype=np.float64) - patch / 2
    gx, gy = np.meshgrid(cx + grid * size / patch, cy + grid * size / patch, indexing="xy")
    # sample_bilinear takes continuous coordinates (pixel centres at +0.5)
    rgb = sample_bilinear(img, np.stack([gx + 0.5, gy + 0.5], axis=-1), border="zero")
    mean = 255.0 * np.array(IMAGE_MEAN, dtype=np.float32)
    std = 255.0 * np.array(IMAGE_STD, dtype=np.float32)
    return ((rgb - mean) / std).transpose(2, 0, 1).astype(np.float32)


# ---- the token -----------------------------------------------------------------------------------

class TokenCapture:
    """A forward hook on a MANOTransformerDecoderHead's `transformer`: the last output token [B, 1024]."""

    def __init__(self, head):
        for name in ("transformer", "decpose", "decshape", "deccam"):
            if not hasattr(head, name):
                raise TypeError(f"expected HaMeR's MANOTransformerDecoderHead (with transformer, decpose, decshape, "
                                f"deccam), got {type(head).__name__} without {name!r}")
        self.module = head.transformer
        self.tokens = None
        self.calls = 0
        self._handle = None

    def _hook(self, module, inputs, output):
        self.tokens = output.detach()[:, 0, :]  # [B, 1, dim] -> [B, dim]; the token before decpose & co
        self.calls += 1

    def __enter__(self) -> "TokenCapture":
        self.tokens, self.calls = None, 0
        self._handle = self.module.register_forward_hook(self._hook)
        return self

    def __exit__(self, *exc) -> None:
        self._handle.remove()
        self._handle = None


def embed(model, patches: np.ndarray, device: str = "cpu") -> np.ndarray:
    """Tokens [B, 1024] for normalised patches [B, 3, 256, 256]: backbone on the central 256x192
    columns (as HAMER.forward_step), then the MANO head, the hook catching its transformer's output."""
    import torch
    x = torch.from_numpy(np.ascontiguousarray(patches)).to(device)
    with torch.no_grad(), TokenCapture(model.mano_head) as capture:
        features = model.backbone(x[:, :, :, 32:-32])
        model.mano_head(features)
    if capture.tokens is None:
        raise RuntimeError("the MANO head's transformer did not run")
    return capture.tokens.float().cpu().numpy()


# ---- boxes ---------------------------------------------------------------------------------------

@dataclass
class BoxSource:
    """Per-frame hand boxes: BBox, else the MediaPipe tracker (optional), else the previous, else centre."""
    tracker: object | None = None  # a mediapipe_teacher.HandTracker
    rescale: float = RESCALE_FACTOR

    def boxes(self, frames: list[np.ndarray], bboxes: list[np.ndarray | None]) -> tuple[list[np.ndarray], np.ndarray]:
        if self.tracker is not None:
            self.tracker.reset()
        out, found, previous = [], [], None
        for frame, bbox in zip(frames, bboxes):
            box = bbox
            if self.tracker is not None:
                record = self.tracker.step(frame, bbox)
                if box is None and record.detected:
                    xy = record.result.landmarks[:, :2]
                    box = np.array([*xy.min(axis=0), *xy.max(axis=0)])
            if box is not None:
                previous = box
                found.append(True)
            else:
                found.append(False)
                if previous is None:
                    height, width = frame.shape[:2]
                    half = min(width, height) / self.rescale / 2  # the crop is then the centred square
                    previous = np.array([width / 2 - half, height / 2 - half, width / 2 + half, height / 2 + half])
                box = previous
            out.append(np.asarray(box, dtype=np.float64))
        return out, np.array(found, dtype=bool)


def extract_clip(clip: Sample, model, boxes: BoxSource, flip: bool = False, batch_size: int = 32,
                 device: str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    frames = read_frames(clip)
    hand_boxes, found = boxes.boxes(frames, signing_boxes(clip.bbox_dir, len(frames)))
    tokens = []
    for start in range(0, len(frames), batch_size):
        patches = []
        for frame, box in zip(frames[start:start + batch_size], hand_boxes[start:start + batch_size]):
            center, size = crop_square(box, boxes.rescale)
            patches.append(crop_patch(frame, center, size, flip))
        tokens.append(embed(model, np.stack(patches), device))
    return np.concatenate(tokens).astype(np.float32), found


def run_corpus(corpus: Corpus, model, boxes: BoxSource, flip: bool = False, batch_size: int = 32,
               device: str = "cpu", overwrite: bool = False, log=sys.stderr) -> tuple[int, int, int]:
    """ROOT/teachers/hamer/<key>.npy for every clip: (written, kept, failed)."""
    written = kept = failed = 0
    start = time.time()
    for n, clip in enumerate(corpus.samples, 1):
        if not overwrite and teacher_path(corpus.root, TEACHER, clip.key).exists():
            kept += 1
            continue
        try:
            tokens, found = extract_clip(clip, model, boxes, flip, batch_size, device)
        except (OSError, ValueError) as error:
            print(f"[{n}/{len(corpus.samples)}] {clip.key}: error: {error}", file=log)
            failed += 1
            continue
        write_teacher(corpus.root, TEACHER, clip.key, tokens, found)
        written += 1
        print(f"[{n}/{len(corpus.samples)}] {clip.key}: {len(tokens)} frames, box found in {int(found.sum())}, "
              f"{time.time() - start:.0f} s", file=log)
    return written, kept, failed
