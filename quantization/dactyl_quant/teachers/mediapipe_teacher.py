"""The MediaPipe teacher: palm detector + hand landmark network under LiteRT, per-frame features.

Per frame, as MediaPipe's hand tracking graph does it for one hand: the ROI is the previous frame's
landmarks' ROI while the hand is present (tracking), else a palm detection's ROI; the landmark model
runs on that ROI's 224x224 crop. Where no palm is found the landmark model still runs, on a fallback
ROI (the BBox if the corpus has one, else the previous frame's ROI, else the centred square), so that
every frame has a row; the `.detected.npy` sidecar says where the landmark model saw a hand
(presence >= 0.5).

Features per frame:
- embedding: the 1152-d global-average-pooled feature that feeds all four heads of
  hand_landmark_full.tflite (tensor `model_1/model/global_average_pooling2d/Mean`);
- landmarks: the 21 world landmarks (metres, in-plane rotation of the ROI undone as MediaPipe's
  WorldLandmarkProjectionCalculator does), relative to the wrist and divided by the palm size
  (wrist to middle MCP): 63 values;
- both: embedding then landmarks, 1215 values.
"""

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..corpus import Sample, read_frames, signing_boxes
from . import palm as palm_ops
from .mediapipe_models import ModelFiles
from .pose_metrics import wrist_relative
from .roi import CropTransform, Rect, centre_square, full_image, square_around_box

EMBEDDING_TENSOR = "model_1/model/global_average_pooling2d/Mean"
LANDMARK_HEAD = ("model_1/model/conv_landmarks/MatMul", "model_1/model/conv_landmarks/BiasAdd/ReadVariableOp/resource")
EMBEDDING_DIM = 1152
LANDMARK_DIM = 63
FEATURES = {"embedding": EMBEDDING_DIM, "landmarks": LANDMARK_DIM, "both": EMBEDDING_DIM + LANDMARK_DIM}
PRESENCE_THRESHOLD = 0.5  # HandLandmarkCpu's ThresholdingCalculator
NORMALIZE_Z = 0.4         # TensorsToLandmarksCalculator normalize_z
BBOX_ROI_SCALE = 1.5      # fallback ROI: the annotated hand box's long side x this, unrotated
PALM_SEARCH_SCALE = 3.0   # with a BBox, the palm detector first looks in a square this much larger


def load_interpreter(path: str | Path, preserve_all_tensors: bool = False, num_threads: int = 1):
    """A TFLite interpreter from LiteRT (`ai-edge-litert`), else tflite-runtime, else TensorFlow."""
    kwargs = dict(model_path=str(path), num_threads=num_threads)
    if preserve_all_tensors:
        kwargs["experimental_preserve_all_tensors"] = True
    interpreter_class = None
    for module in ("ai_edge_litert.interpreter", "tflite_runtime.interpreter", "tensorflow.lite"):
        try:
            interpreter_class = __import__(module, fromlist=["Interpreter"]).Interpreter
            break
        except (ImportError, AttributeError):
            continue
    if interpreter_class is None:
        raise RuntimeError("the MediaPipe teacher needs a TFLite runtime: pip install ai-edge-litert")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # preserve_all_tensors' "for debugging" note
        interpreter = interpreter_class(**kwargs)
    interpreter.allocate_tensors()
    return interpreter


class PalmDetector:
    """palm_detection_full.tflite: 192x192 RGB in [0, 1] -> 2016 boxes with 7 keypoints."""
    SIZE = 192

    def __init__(self, path: str | Path, num_threads: int = 1):
        self.interpreter = load_interpreter(path, num_threads=num_threads)
        self.input_index = self.interpreter.get_input_details()[0]["index"]
        outputs = self.interpreter.get_output_details()
        by_shape = {tuple(d["shape"][-1:]): d["index"] for d in outputs}
        self.boxes_index = by_shape[(palm_ops.PALM_FULL_DECODE.num_coords,)]
        self.scores_index = by_shape[(1,)]
        self.anchors = palm_ops.generate_anchors(palm_ops.PALM_FULL_ANCHORS)

    def raw(self, tensor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The model's raw outputs for one [192, 192, 3] input: boxes [2016, 18], score logits [2016]."""
        self.interpreter.set_tensor(self.input_index, tensor[None].astype(np.float32))
        self.interpreter.invoke()
        return (self.interpreter.get_tensor(self.boxes_index)[0],
                self.interpreter.get_tensor(self.scores_index)[0, :, 0])

    def detect(self, image: np.ndarray, region: Rect | None = None) -> list[palm_ops.Detection]:
        """Palms in the image (or in an unrotated region of it, letterboxed), pixels, best first."""
        height, width = image.shape[:2]
        transform = CropTransform(region or full_image(width, height), self.SIZE)
        boxes, scores = self.raw(transform.crop(image, border="zero"))
        detections = palm_ops.weighted_nms(palm_ops.decode_detections(boxes, scores, self.anchors))
        return [d.mapped(transform.tensor_to_image) for d in detections]


@dataclass
class HandResult:
    """The landmark model's outputs for one ROI."""
    embedding: np.ndarray   # [1152]
    landmarks: np.ndarray   # [21, 3] image pixels x, y; z in pixels relative to the wrist depth-ish
    world: np.ndarray       # [21, 3] metres, ROI rotation undone
    presence: float         # hand presence score (sigmoid)
    handedness: float       # MediaPipe's "Left" score (it assumes a mirrored, selfie image)
    roi: Rect

    @property
    def present(self) -> bool:
        return self.presence >= PRESENCE_THRESHOLD

    def features(self, kind: str) -> np.ndarray:
        if kind == "embedding":
            return self.embedding.astype(np.float32)
        if kind == "landmarks":
            return wrist_relative(self.world).astype(np.float32)
        if kind == "both":
            return np.concatenate([self.embedding, wrist_relative(self.world)]).astype(np.float32)
        raise ValueError(f"features must be one of {', '.join(FEATURES)}, not {kind!r}")


def find_embedding_tensor(interpreter, landmark_output_index: int) -> int:
    """The index of the pooled feature feeding the landmark head: by its name, else as the [1, D]
    activation input of the op that produces the landmark output."""
    details = interpreter.get_tensor_details()
    for d in details:
        if d["name"] == EMBEDDING_TENSOR:
            return d["index"]
    shapes = {d["index"]: tuple(d["shape"]) for d in details}
    for op in interpreter._get_ops_details():
        if landmark_output_index in list(op["outputs"]):
            for i in op["inputs"]:
                shape = shapes.get(int(i), ())
                if len(shape) == 2 and shape[0] == 1 and shape[1] > LANDMARK_DIM:
                    return int(i)
    raise RuntimeError("could not find the embedding tensor of the hand landmark model")


class HandLandmarker:
    """hand_landmark_full.tflite: a 224x224 ROI crop -> landmarks, presence, handedness, world landmarks,
    and the pooled embedding (read from the interpreter with all tensors preserved)."""
    SIZE = 224

    def __init__(self, path: str | Path, num_threads: int = 1):
        self.interpreter = load_interpreter(path, preserve_all_tensors=True, num_threads=num_threads)
        self.input_index = self.interpreter.get_input_details()[0]["index"]
        # MediaPipe splits the outputs in this order: landmarks, hand flag, handedness, world landmarks
        outputs = {d["name"]: d["index"] for d in self.interpreter.get_output_details()}
        names = ["Identity", "Identity_1", "Identity_2", "Identity_3"]
        if not all(n in outputs for n in names):
            names = list(outputs)
        self.landmarks_index, self.presence_index, self.handedness_index, self.world_index = (
            outputs[n] for n in names)
        self.embedding_index = find_embedding_tensor(self.interpreter, self.landmarks_index)
        self.embedding_name = next(d["name"] for d in self.interpreter.get_tensor_details()
                                   if d["index"] == self.embedding_index)
        self.check_embedding()

    def check_embedding(self) -> None:
        """The landmark head's own weights applied to the embedding read back must give the landmark
        output; a runtime that does not keep intermediate tensors would fail here, not write garbage."""
        names = {d["name"]: d["index"] for d in self.interpreter.get_tensor_details()}
        weights, bias = LANDMARK_HEAD
        if weights not in names or bias not in names:
            return  # another build of the model: nothing to check against
        out = self.raw(np.random.default_rng(0).random((self.SIZE, self.SIZE, 3), dtype=np.float32))
        w = self.interpreter.get_tensor(names[weights]).astype(np.float32)
        b = self.interpreter.get_tensor(names[bias]).astype(np.float32)
        error = float(np.abs(out["embedding"] @ w.T + b - out["landmarks"].reshape(-1)).max())
        if not error < 0.05:
            raise RuntimeError(f"the tensor {self.embedding_name} read from the TFLite interpreter does not feed the "
                               f"landmark head (error {error:g} px): this runtime does not preserve intermediate "
                               "tensors; use ai-edge-litert")

    def raw(self, tensor: np.ndarray) -> dict[str, np.ndarray]:
        it = self.interpreter
        it.set_tensor(self.input_index, tensor[None].astype(np.float32))
        it.invoke()
        return {"landmarks": it.get_tensor(self.landmarks_index).reshape(21, 3),
                "presence": it.get_tensor(self.presence_index).reshape(()),
                "handedness": it.get_tensor(self.handedness_index).reshape(()),
                "world": it.get_tensor(self.world_index).reshape(21, 3),
                "embedding": it.get_tensor(self.embedding_index).reshape(-1)}

    def run(self, image: np.ndarray, roi: Rect) -> HandResult:
        transform = CropTransform(roi, self.SIZE)
        out = self.raw(transform.crop(image, border="replicate"))
        lm = out["landmarks"].astype(np.float64)
        xy = transform.tensor_to_image(lm[:, :2] / self.SIZE)
        z = lm[:, 2] / self.SIZE / NORMALIZE_Z * max(roi.width, roi.height)
        world = out["world"].astype(np.float64)
        c, s = math.cos(roi.rotation), math.sin(roi.rotation)
        world = np.stack([c * world[:, 0] - s * world[:, 1], s * world[:, 0] + c * world[:, 1], world[:, 2]],
                         axis=1)
        return HandResult(embedding=out["embedding"].astype(np.float32), landmarks=np.column_stack([xy, z]),
                          world=world, presence=float(out["presence"]), handedness=float(out["handedness"]),
                          roi=roi)


@dataclass
class FrameRecord:
    result: HandResult
    source: str         # where the ROI came from: track, palm, bbox, previous, centre
    palm_detected: bool  # the palm detector found a palm in this frame (False when tracking skipped it)

    @property
    def detected(self) -> bool:
        return self.result.present


def _inside_fraction(box: np.ndarray, region: np.ndarray) -> float:
    """How much of box (x1, y1, x2, y2) lies inside region."""
    ix = max(0.0, min(box[2], region[2]) - max(box[0], region[0]))
    iy = max(0.0, min(box[3], region[3]) - max(box[1], region[1]))
    area = (box[2] - box[0]) * (box[3] - box[1])
    return float(ix * iy / area) if area > 0 else 0.0


def choose_detection(detections: list[palm_ops.Detection], bbox: np.ndarray | None) -> palm_ops.Detection | None:
    """The palm to follow: the best scoring one, or, given the signing hand's box, the best one
    mostly inside it (none if no palm overlaps the box)."""
    if not detections:
        return None
    if bbox is None:
        return max(detections, key=lambda d: d.score)
    scored = [(d.score * _inside_fraction(d.box, bbox), d) for d in detections]
    best_score, best = max(scored, key=lambda pair: pair[0])
    return best if best_score > 0 else None


class HandTracker:
    """One hand through a clip (MediaPipe's tracking loop, num_hands = 1), with fallback ROIs."""

    def __init__(self, palm: PalmDetector, landmarker: HandLandmarker, track: bool = True):
        self.palm = palm
        self.landmarker = landmarker
        self.track = track
        self.reset()

    def reset(self) -> None:
        self.previous_roi: Rect | None = None
        self.previous_landmarks: np.ndarray | None = None

    def detect(self, image: np.ndarray, bbox: np.ndarray | None) -> palm_ops.Detection | None:
        if bbox is not None:
            found = choose_detection(self.palm.detect(image, square_around_box(bbox, PALM_SEARCH_SCALE)), bbox)
            if found is not None:
                return found
        return choose_detection(self.palm.detect(image), bbox)

    def step(self, image: np.ndarray, bbox: np.ndarray | None = None) -> FrameRecord:
        height, width = image.shape[:2]
        result, source, palm_found = None, "", False
        if self.track and self.previous_landmarks is not None:
            roi = palm_ops.landmarks_to_roi(self.previous_landmarks)
            grown = None if bbox is None else square_around_box(bbox, 2.0).bounds()
            if grown is None or (grown[0] <= roi.x_center <= grown[2] and grown[1] <= roi.y_center <= grown[3]):
                result = self.landmarker.run(image, roi)
                source = "track"
                if not result.present:
                    result = None
        if result is None:
            detection = self.detect(image, bbox)
            if detection is not None:
                palm_found = True
                result = self.landmarker.run(image, palm_ops.palm_to_roi(detection))
                source = "palm"
        if result is None:
            if bbox is not None:
                roi, source = square_around_box(bbox, BBOX_ROI_SCALE), "bbox"
            elif self.previous_roi is not None:
                roi, source = self.previous_roi, "previous"
            else:
                roi, source = centre_square(width, height), "centre"
            result = self.landmarker.run(image, roi)
        self.previous_roi = result.roi
        self.previous_landmarks = result.landmarks[:, :2] if result.present else None
        return FrameRecord(result, source, palm_found)


def build_tracker(models: ModelFiles, num_threads: int = 1, track: bool = True) -> HandTracker:
    return HandTracker(PalmDetector(models.palm, num_threads), HandLandmarker(models.landmark, num_threads), track)


def extract_clip(clip: Sample, tracker: HandTracker, features: str = "embedding",
                 on_frame: Callable[[int, FrameRecord], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Features [T, D] float32 and detected flags [T] bool for a clip, frames in order."""
    if features not in FEATURES:
        raise ValueError(f"features must be one of {', '.join(FEATURES)}, not {features!r}")
    frames = read_frames(clip)
    bboxes = signing_boxes(clip.bbox_dir, len(frames))
    tracker.reset()
    rows, detected = [], []
    for index, (frame, bbox) in enumerate(zip(frames, bboxes)):
        record = tracker.step(frame, bbox)
        rows.append(record.result.features(features))
        detected.append(record.detected)
        if on_frame:
            on_frame(index, record)
    return np.stack(rows).astype(np.float32), np.array(detected, dtype=bool)
