"""MediaPipe's palm detection post-processing and hand ROIs, in numpy.

The options are those of MediaPipe's graphs for the full models (mediapipe/modules/palm_detection/
palm_detection_cpu.pbtxt, hand_landmark/palm_detection_detection_to_roi.pbtxt and
hand_landmark_landmarks_to_roi.pbtxt); the algorithms follow SsdAnchorsCalculator,
TensorsToDetectionsCalculator, NonMaxSuppressionCalculator (WEIGHTED), DetectionsToRectsCalculator,
RectTransformationCalculator and HandLandmarksToRectCalculator.
"""

import math
from dataclasses import dataclass, field

import numpy as np

from .roi import Rect, normalize_radians


@dataclass(frozen=True)
class AnchorOptions:
    """SsdAnchorsCalculatorOptions (the fields the palm model uses)."""
    input_size_width: int = 192
    input_size_height: int = 192
    min_scale: float = 0.1484375
    max_scale: float = 0.75
    anchor_offset_x: float = 0.5
    anchor_offset_y: float = 0.5
    strides: tuple[int, ...] = (8, 16, 16, 16)
    aspect_ratios: tuple[float, ...] = (1.0,)
    fixed_anchor_size: bool = True
    interpolated_scale_aspect_ratio: float = 1.0  # the proto's default
    reduce_boxes_in_lowest_layer: bool = False

    @property
    def num_layers(self) -> int:
        return len(self.strides)


PALM_FULL_ANCHORS = AnchorOptions()


@dataclass(frozen=True)
class DecodeOptions:
    """TensorsToDetectionsCalculatorOptions of palm_detection_cpu.pbtxt."""
    num_boxes: int = 2016
    num_coords: int = 18
    box_coord_offset: int = 0
    keypoint_coord_offset: int = 4
    num_keypoints: int = 7
    num_values_per_keypoint: int = 2
    sigmoid_score: bool = True
    score_clipping_thresh: float = 100.0
    reverse_output_order: bool = True  # x before y, w before h
    x_scale: float = 192.0
    y_scale: float = 192.0
    w_scale: float = 192.0
    h_scale: float = 192.0
    min_score_thresh: float = 0.5


PALM_FULL_DECODE = DecodeOptions()
NMS_MIN_SUPPRESSION_THRESHOLD = 0.3  # NonMaxSuppressionCalculatorOptions, IoU, WEIGHTED

# PalmDetectionDetectionToRoi: keypoint 0 = centre of the wrist, 2 = MCP of the middle finger.
ROI_FROM_PALM = dict(scale_x=2.6, scale_y=2.6, shift_y=-0.5, square_long=True)
PALM_ROTATION_START, PALM_ROTATION_END = 0, 2
# HandLandmarkLandmarksToRoi: a box around wrist, MCP/PIP of the five fingers, rotated, then expanded.
ROI_FROM_LANDMARKS = dict(scale_x=2.0, scale_y=2.0, shift_y=-0.1, square_long=True)
STABLE_LANDMARKS = (0, 1, 2, 3, 5, 6, 9, 10, 13, 14, 17, 18)
WRIST, INDEX_MCP, MIDDLE_MCP, RING_MCP = 0, 5, 9, 13


def _scale(min_scale: float, max_scale: float, index: int, count: int) -> float:
    if count == 1:
        return (min_scale + max_scale) * 0.5
    return min_scale + (max_scale - min_scale) * index / (count - 1.0)


def generate_anchors(options: AnchorOptions = PALM_FULL_ANCHORS) -> np.ndarray:
    """SsdAnchorsCalculator: [N, 4] anchors (x_center, y_center, w, h), normalised to the input.

    Consecutive layers with the same stride share one feature map; each feature-map cell gets one
    anchor per (aspect ratio, scale) pair of those layers, cells in row-major order.
    """
    anchors = []
    strides = options.strides
    layer = 0
    while layer < options.num_layers:
        heights, widths = [], []
        last = layer
        while last < len(strides) and strides[last] == strides[layer]:
            scale = _scale(options.min_scale, options.max_scale, last, len(strides))
            if last == 0 and options.reduce_boxes_in_lowest_layer:
                pairs = [(1.0, 0.1), (2.0, scale), (0.5, scale)]
            else:
                pairs = [(ratio, scale) for ratio in options.aspect_ratios]
                if options.interpolated_scale_aspect_ratio > 0.0:
                    scale_next = (1.0 if last == len(strides) - 1 else
                                  _scale(options.min_scale, options.max_scale, last + 1, len(strides)))
                    pairs.append((options.interpolated_scale_aspect_ratio, math.sqrt(scale * scale_next)))
            for ratio, s in pairs:
                heights.append(s / math.sqrt(ratio))
                widths.append(s * math.sqrt(ratio))
            last += 1
        stride = strides[layer]
        fm_h = math.ceil(options.input_size_height / stride)
        fm_w = math.ceil(options.input_size_width / stride)
        for y in range(fm_h):
            for x in range(fm_w):
                for h, w in zip(heights, widths):
                    xc = (x + options.anchor_offset_x) / fm_w
                    yc = (y + options.anchor_offset_y) / fm_h
                    if options.fixed_anchor_size:
                        anchors.append((xc, yc, 1.0, 1.0))
                    else:
                        anchors.append((xc, yc, w, h))
        layer = last
    return np.array(anchors, dtype=np.float32)


@dataclass
class Detection:
    """A palm: score, box (xmin, ymin, xmax, ymax) and keypoints [K, 2] (x, y) in one coordinate frame
    (normalised to the detector input after decoding; pixels after `to_image`)."""
    score: float
    box: np.ndarray
    keypoints: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))

    def mapped(self, fn) -> "Detection":
        """The detection with its points mapped by fn ([N, 2] -> [N, 2]); the box stays axis-aligned."""
        corners = fn(np.array([[self.box[0], self.box[1]], [self.box[2], self.box[3]]]))
        return Detection(self.score, np.array([*corners.min(axis=0), *corners.max(axis=0)]),
                         fn(self.keypoints) if len(self.keypoints) else self.keypoints)


def decode_boxes(raw_boxes: np.ndarray, anchors: np.ndarray,
                 options: DecodeOptions = PALM_FULL_DECODE) -> tuple[np.ndarray, np.ndarray]:
    """TensorsToDetectionsCalculator::DecodeBoxes: raw [N, num_coords] -> boxes [N, 4]
    (xmin, ymin, xmax, ymax) and keypoints [N, K, 2] (x, y), normalised to the input."""
    raw = np.asarray(raw_boxes, dtype=np.float64).reshape(-1, options.num_coords)
    if raw.shape[0] != anchors.shape[0]:
        raise ValueError(f"{raw.shape[0]} raw boxes for {anchors.shape[0]} anchors")
    ax, ay, aw, ah = (anchors[:, i].astype(np.float64) for i in range(4))
    b = raw[:, options.box_coord_offset:options.box_coord_offset + 4]
    if options.reverse_output_order:
        xc, yc, w, h = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    else:
        yc, xc, h, w = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    xc = xc / options.x_scale * aw + ax
    yc = yc / options.y_scale * ah + ay
    w = w / options.w_scale * aw
    h = h / options.h_scale * ah
    boxes = np.stack([xc - w / 2, yc - h / 2, xc + w / 2, yc + h / 2], axis=1)
    k = options.num_keypoints
    start = options.keypoint_coord_offset
    kp = raw[:, start:start + k * options.num_values_per_keypoint].reshape(-1, k, options.num_values_per_keypoint)
    if options.reverse_output_order:
        kx, ky = kp[..., 0], kp[..., 1]
    else:
        ky, kx = kp[..., 0], kp[..., 1]
    keypoints = np.stack([kx / options.x_scale * aw[:, None] + ax[:, None],
                          ky / options.y_scale * ah[:, None] + ay[:, None]], axis=-1)
    return boxes, keypoints


def scores_from_logits(raw_scores: np.ndarray, options: DecodeOptions = PALM_FULL_DECODE) -> np.ndarray:
    s = np.asarray(raw_scores, dtype=np.float64).reshape(-1)
    if options.score_clipping_thresh:
        s = np.clip(s, -options.score_clipping_thresh, options.score_clipping_thresh)
    return 1.0 / (1.0 + np.exp(-s)) if options.sigmoid_score else s


def decode_detections(raw_boxes: np.ndarray, raw_scores: np.ndarray, anchors: np.ndarray,
                      options: DecodeOptions = PALM_FULL_DECODE) -> list[Detection]:
    """Decoded detections at or above min_score_thresh with non-negative size, in anchor order."""
    boxes, keypoints = decode_boxes(raw_boxes, anchors, options)
    scores = scores_from_logits(raw_scores, options)
    keep = (scores >= options.min_score_thresh) & (boxes[:, 2] >= boxes[:, 0]) & (boxes[:, 3] >= boxes[:, 1])
    return [Detection(float(scores[i]), boxes[i], keypoints[i]) for i in np.flatnonzero(keep)]


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boxes (xmin, ymin, xmax, ymax)."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def weighted_nms(detections: list[Detection], threshold: float = NMS_MIN_SUPPRESSION_THRESHOLD,
                 max_detections: int = -1) -> list[Detection]:
    """NonMaxSuppressionCalculator's WeightedNonMaxSuppression with IoU overlap.

    Repeatedly take the best remaining detection; every remaining detection overlapping it by more
    than `threshold` (itself included) is merged into a score-weighted average of boxes and
    keypoints, keeping the best one's score; the rest carry on to the next round.
    """
    order = sorted(range(len(detections)), key=lambda i: -detections[i].score)  # stable: ties by index
    remaining = order
    out: list[Detection] = []
    while remaining and (max_detections < 0 or len(out) < max_detections):
        best = detections[remaining[0]]
        candidates, rest = [], []
        for i in remaining:
            (candidates if iou(detections[i].box, best.box) > threshold else rest).append(i)
        if not candidates:  # a degenerate (zero-area) box overlaps nothing, not even itself
            out.append(best)
            break
        weights = np.array([detections[i].score for i in candidates])
        total = weights.sum()
        box = sum(detections[i].box * w for i, w in zip(candidates, weights)) / total
        keypoints = sum(detections[i].keypoints * w for i, w in zip(candidates, weights)) / total
        out.append(Detection(best.score, np.asarray(box), np.asarray(keypoints)))
        if len(rest) == len(remaining):
            break
        remaining = rest
    return out


def detection_to_rect(detection: Detection) -> Rect:
    """DetectionsToRectsCalculator (rotation from keypoint 0 to 2, target 90 degrees), pixels."""
    x1, y1, x2, y2 = (float(v) for v in detection.box)
    p0 = detection.keypoints[PALM_ROTATION_START]
    p1 = detection.keypoints[PALM_ROTATION_END]
    rotation = normalize_radians(math.pi / 2 - math.atan2(-(p1[1] - p0[1]), p1[0] - p0[0]))
    return Rect((x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1, rotation)


def palm_to_roi(detection: Detection) -> Rect:
    """PalmDetectionDetectionToRoi: the hand ROI (pixels) for the landmark model from a palm (pixels)."""
    return detection_to_rect(detection).transformed(**ROI_FROM_PALM)


def landmarks_to_rect(landmarks: np.ndarray) -> Rect:
    """HandLandmarksToRectCalculator on the stable subset of the 21 image landmarks [21, >=2] (pixels)."""
    pts = np.asarray(landmarks, dtype=np.float64)[list(STABLE_LANDMARKS), :2]
    wrist = pts[0]
    # subset indices 4, 6, 8 = index, middle and ring MCP
    x1 = ((pts[4, 0] + pts[8, 0]) / 2 + pts[6, 0]) / 2
    y1 = ((pts[4, 1] + pts[8, 1]) / 2 + pts[6, 1]) / 2
    rotation = normalize_radians(math.pi / 2 - math.atan2(-(y1 - wrist[1]), x1 - wrist[0]))
    reverse = normalize_radians(-rotation)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    aa_center = (lo + hi) / 2
    c, s = math.cos(reverse), math.sin(reverse)
    d = pts - aa_center
    proj = np.stack([d[:, 0] * c - d[:, 1] * s, d[:, 0] * s + d[:, 1] * c], axis=1)
    plo, phi = proj.min(axis=0), proj.max(axis=0)
    pc = (plo + phi) / 2
    c, s = math.cos(rotation), math.sin(rotation)
    center = np.array([pc[0] * c - pc[1] * s, pc[0] * s + pc[1] * c]) + aa_center
    return Rect(float(center[0]), float(center[1]), float(phi[0] - plo[0]), float(phi[1] - plo[1]), rotation)


def landmarks_to_roi(landmarks: np.ndarray) -> Rect:
    """HandLandmarkLandmarksToRoi: the next frame's ROI from this frame's image landmarks (pixels)."""
    return landmarks_to_rect(landmarks).transformed(**ROI_FROM_LANDMARKS)
