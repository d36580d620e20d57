"""MediaPipe post-processing in numpy: anchors, box decoding, weighted NMS, ROIs, crops, pose metrics."""

import math

import numpy as np
import pytest

from dactyl_quant.teachers import palm as P
from dactyl_quant.teachers.pose_metrics import palm_size, pose_agreement, procrustes_align, wrist_relative
from dactyl_quant.teachers.roi import CropTransform, Rect, normalize_radians, sample_bilinear, square_around_box


# ---- anchors -------------------------------------------------------------------------------------

def test_full_palm_model_has_2016_anchors():
    anchors = P.generate_anchors()
    assert anchors.shape == (2016, 4)
    # stride 8: 24x24 cells, 2 anchors each (aspect 1 and the interpolated scale); then the three
    # stride-16 layers share a 12x12 map with 6 anchors per cell
    assert 24 * 24 * 2 + 12 * 12 * 6 == 2016
    assert np.all(anchors[:, 2:] == 1.0)  # fixed_anchor_size
    np.testing.assert_allclose(anchors[0, :2], [0.5 / 24, 0.5 / 24])
    np.testing.assert_allclose(anchors[1, :2], [0.5 / 24, 0.5 / 24])
    np.testing.assert_allclose(anchors[2, :2], [1.5 / 24, 0.5 / 24])  # row-major: x first
    np.testing.assert_allclose(anchors[1151, :2], [23.5 / 24, 23.5 / 24])
    np.testing.assert_allclose(anchors[1152:1158, :2], [[0.5 / 12, 0.5 / 12]] * 6)
    np.testing.assert_allclose(anchors[-1, :2], [11.5 / 12, 11.5 / 12])


def test_anchor_sizes_when_not_fixed():
    options = P.AnchorOptions(fixed_anchor_size=False)
    anchors = P.generate_anchors(options)
    # first layer: scale 0.1484375, then sqrt(scale * next scale)
    s0, s1 = 0.1484375, 0.1484375 + (0.75 - 0.1484375) / 3
    np.testing.assert_allclose(anchors[0, 2:], [s0, s0], rtol=1e-6)
    np.testing.assert_allclose(anchors[1, 2:], [math.sqrt(s0 * s1)] * 2, rtol=1e-6)
    assert anchors[-1, 2] == pytest.approx(math.sqrt(0.75 * 1.0))  # the last layer's next scale is 1


# ---- decoding ------------------------------------------------------------------------------------

def _raw(n=2016):
    return np.zeros((n, 18), dtype=np.float32), np.full(n, -10.0, dtype=np.float32)


def test_decode_boxes_and_keypoints():
    anchors = P.generate_anchors()
    raw, logits = _raw()
    i = 300
    raw[i, :4] = [19.2, -9.6, 38.4, 57.6]  # x, y offsets; w, h (192 = the whole input)
    raw[i, 4:6] = [0.0, 19.2]               # keypoint 0
    logits[i] = 2.0
    dets = P.decode_detections(raw, logits, anchors)
    assert len(dets) == 1
    d = dets[0]
    ax, ay = anchors[i, :2]
    xc, yc, w, h = ax + 0.1, ay - 0.05, 0.2, 0.3
    np.testing.assert_allclose(d.box, [xc - w / 2, yc - h / 2, xc + w / 2, yc + h / 2], atol=1e-6)
    np.testing.assert_allclose(d.keypoints[0], [ax, ay + 0.1], atol=1e-6)
    np.testing.assert_allclose(d.keypoints[1], [ax, ay], atol=1e-6)
    assert d.score == pytest.approx(1 / (1 + math.exp(-2.0)))


def test_decode_drops_low_scores_and_negative_sizes():
    anchors = P.generate_anchors()
    raw, logits = _raw()
    logits[[5, 6, 7]] = [0.1, -0.1, 3.0]  # sigmoid 0.525, 0.475 (< 0.5), 0.95
    raw[7, 2] = -5.0                      # negative width
    dets = P.decode_detections(raw, logits, anchors)
    assert len(dets) == 1 and dets[0].score == pytest.approx(1 / (1 + math.exp(-0.1)))


def test_score_clipping():
    scores = P.scores_from_logits(np.array([-1000.0, 1000.0, 0.0]))
    np.testing.assert_allclose(scores, [1 / (1 + math.exp(100)), 1 / (1 + math.exp(-100)), 0.5])


def test_decode_rejects_wrong_count():
    with pytest.raises(ValueError, match="raw boxes"):
        P.decode_boxes(np.zeros((10, 18)), P.generate_anchors())


# ---- NMS -----------------------------------------------------------------------------------------

def _det(score, box, kp=(0.0, 0.0)):
    return P.Detection(score, np.array(box, dtype=float), np.array([kp] * 7, dtype=float))


def test_iou():
    assert P.iou(np.array([0, 0, 2, 2]), np.array([1, 1, 3, 3])) == pytest.approx(1 / 7)
    assert P.iou(np.array([0, 0, 1, 1]), np.array([2, 2, 3, 3])) == 0.0


def test_weighted_nms_merges_overlaps_and_keeps_the_best_score():
    a = _det(0.9, [0.0, 0.0, 1.0, 1.0], (0.0, 0.0))
    b = _det(0.6, [0.1, 0.0, 1.1, 1.0], (1.0, 1.0))   # IoU 0.82 with a
    c = _det(0.7, [3.0, 3.0, 4.0, 4.0], (5.0, 5.0))   # separate
    out = P.weighted_nms([b, c, a])
    assert [d.score for d in out] == [0.9, 0.7]
    np.testing.assert_allclose(out[0].box, [0.06 / 1.5, 0.0, 1.56 / 1.5, 1.0])
    np.testing.assert_allclose(out[0].keypoints[0], [0.4, 0.4])
    np.testing.assert_allclose(out[1].box, c.box)


def test_weighted_nms_threshold_and_degenerate_boxes():
    a = _det(0.9, [0.0, 0.0, 1.0, 1.0])
    b = _det(0.8, [0.0, 0.0, 1.0, 1.0])
    assert len(P.weighted_nms([a, b], threshold=0.999)) == 1   # IoU 1 > 0.999: merged
    b = _det(0.8, [0.5, 0.0, 1.5, 1.0])                        # IoU 1/3
    assert len(P.weighted_nms([a, b], threshold=0.3)) == 1
    assert len(P.weighted_nms([a, b], threshold=0.34)) == 2
    # as MediaPipe: a box overlapping nothing, not even itself, ends the loop
    zero = _det(0.95, [0.5, 0.5, 0.5, 0.5])
    assert len(P.weighted_nms([zero, a])) == 1
    assert P.weighted_nms([]) == []


# ---- ROIs ----------------------------------------------------------------------------------------

def _palm(wrist, middle, box=(90.0, 90.0, 110.0, 110.0)):
    kp = np.zeros((7, 2))
    kp[0], kp[2] = wrist, middle
    return P.Detection(0.9, np.array(box), kp)


@pytest.mark.parametrize("middle, rotation", [((100, 50), 0.0), ((150, 100), math.pi / 2),
                                              ((50, 100), -math.pi / 2), ((100, 150), -math.pi)])
def test_palm_rotation(middle, rotation):
    rect = P.detection_to_rect(_palm((100, 100), middle))
    assert normalize_radians(rect.rotation - rotation) == pytest.approx(0.0, abs=1e-9)


def test_palm_to_roi_scale_and_shift():
    # upright hand: the ROI moves up (towards the fingers) by half the box height, then grows 2.6x
    roi = P.palm_to_roi(_palm((100, 110), (100, 90), box=(90, 90, 110, 120)))
    assert (roi.x_center, roi.y_center) == pytest.approx((100.0, 105.0 - 15.0))
    assert roi.width == roi.height == pytest.approx(30 * 2.6)
    # pointing right (rotation pi/2): the shift goes right instead
    roi = P.palm_to_roi(_palm((90, 100), (110, 100), box=(90, 90, 110, 110)))
    assert (roi.x_center, roi.y_center) == pytest.approx((110.0, 100.0))
    assert roi.rotation == pytest.approx(math.pi / 2)


def _upright_hand(scale=10.0):
    """21 image landmarks of an upright open hand (wrist at the bottom)."""
    pts = np.zeros((21, 2))
    pts[0] = [0, 0]
    for finger, x in enumerate([-3.0, -1.5, 0.0, 1.5, 3.0]):
        for joint in range(4):
            pts[1 + 4 * finger + joint] = [x * (1 + 0.1 * joint), -3.0 - 1.5 * joint]
    return pts * scale


def test_landmarks_to_rect_upright_and_rotation_equivariant():
    pts = _upright_hand() + [200.0, 300.0]
    rect = P.landmarks_to_rect(pts)
    assert rect.rotation == pytest.approx(0.0, abs=1e-9)
    stable = pts[list(P.STABLE_LANDMARKS)]
    assert rect.width == pytest.approx(np.ptp(stable[:, 0]))
    assert rect.height == pytest.approx(np.ptp(stable[:, 1]))
    angle = 0.7
    c, s = math.cos(angle), math.sin(angle)
    turned = (pts - [200.0, 300.0]) @ np.array([[c, -s], [s, c]]).T + [200.0, 300.0]
    rect2 = P.landmarks_to_rect(turned)
    assert rect2.rotation == pytest.approx(angle)
    assert (rect2.width, rect2.height) == pytest.approx((rect.width, rect.height))
    expected_centre = (rect.center - [200, 300]) @ np.array([[c, -s], [s, c]]).T + [200, 300]
    np.testing.assert_allclose(rect2.center, expected_centre, atol=1e-9)
    roi = P.landmarks_to_roi(pts)
    assert roi.width == roi.height == pytest.approx(2.0 * max(rect.width, rect.height))
    assert roi.y_center == pytest.approx(rect.y_center - 0.1 * rect.height)


def test_rect_maps_and_bounds():
    rect = Rect(50.0, 40.0, 20.0, 10.0, math.pi / 2)
    np.testing.assert_allclose(rect.to_image([0.0, -0.5]), [55.0, 40.0], atol=1e-12)  # crop top -> image right
    q = np.array([[0.3, -0.2], [-0.5, 0.5]])
    np.testing.assert_allclose(rect.from_image(rect.to_image(q)), q, atol=1e-12)
    np.testing.assert_allclose(rect.bounds(), [45.0, 30.0, 55.0, 50.0], atol=1e-12)
    assert square_around_box(np.array([0, 0, 10, 4]), 2.0) == Rect(5.0, 2.0, 20.0, 20.0, 0.0)


# ---- crops ---------------------------------------------------------------------------------------

def test_bilinear_sampling_and_borders():
    img = np.arange(12, dtype=np.uint8).reshape(3, 4, 1) * 10
    pts = np.array([[0.5, 0.5], [1.0, 0.5], [1.0, 1.0], [3.5, 2.5], [-0.5, 0.5], [np.nan, 1.0]])
    zero = sample_bilinear(img, pts, "zero")[:, 0]
    np.testing.assert_allclose(zero, [0.0, 5.0, 25.0, 110.0, 0.0, 0.0])
    rep = sample_bilinear(img, pts, "replicate")[:, 0]
    np.testing.assert_allclose(rep, [0.0, 5.0, 25.0, 110.0, 0.0, 0.0])
    edge = sample_bilinear(img, np.array([[0.0, 0.5], [4.0, 0.5]]), "zero")[:, 0]
    np.testing.assert_allclose(edge, [0.0, 15.0])  # half of the pixel outside counts as 0
    edge = sample_bilinear(img, np.array([[4.0, 0.5]]), "replicate")[:, 0]
    np.testing.assert_allclose(edge, [30.0])
    with pytest.raises(ValueError):
        sample_bilinear(img, pts, "wrap")


def test_letterboxed_crop_of_a_wide_image():
    img = np.full((50, 100, 3), 200, dtype=np.uint8)
    t = CropTransform(Rect(50.0, 25.0, 100.0, 50.0), 20)
    crop = t.crop(img)
    assert crop.shape == (20, 20, 3) and crop.dtype == np.float32
    assert np.all(crop[:5] == 0) and np.all(crop[15:] == 0)       # letterbox bands
    np.testing.assert_allclose(crop[5:15], 200 / 255, rtol=1e-6)
    # tensor coordinates back to the image, padding removed
    np.testing.assert_allclose(t.tensor_to_image(np.array([[0.0, 0.25], [1.0, 0.75], [0.5, 0.5]])),
                               [[0.0, 0.0], [100.0, 50.0], [50.0, 25.0]], atol=1e-9)


def test_rotated_crop_reads_the_right_pixels():
    img = np.zeros((64, 64, 3), dtype=np.uint8)
    img[10:20, 40:50] = 255  # a bright square right of centre, above it
    rect = Rect(40.0, 20.0, 16.0, 16.0, math.pi / 2)  # crop "up" = image right
    crop = CropTransform(rect, 16).crop(img)
    # the image's bright part (x >= 40) lies towards the crop's top (small rows)
    assert crop[:8].mean() > 0.4 and crop[8:].mean() < 0.1


# ---- pose metrics --------------------------------------------------------------------------------

def _pose(seed=0):
    rng = np.random.default_rng(seed)
    pose = rng.normal(size=(21, 3))
    pose[9] = pose[0] + [0.0, 1.0, 0.0]
    return pose


def _rotation(seed=1):
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    return q if np.linalg.det(q) > 0 else -q


def test_procrustes_recovers_similarity():
    ref = _pose()
    pred = 0.37 * ref @ _rotation().T + [1.0, -2.0, 3.0]
    np.testing.assert_allclose(procrustes_align(pred, ref), ref, atol=1e-9)
    a = pose_agreement([pred], [ref])
    assert a.frames == 1 and a.mean_error == pytest.approx(0.0, abs=1e-9) and a.pck == 1.0


def test_procrustes_does_not_reflect_unless_asked():
    ref = _pose()
    mirrored = ref * [-1.0, 1.0, 1.0]
    a = pose_agreement([mirrored], [ref])
    assert a.mean_error > 0.1 and a.mean_error_mirror == pytest.approx(0.0, abs=1e-9)


def test_wrist_relative_and_palm_size():
    pose = _pose() * 3.0 + 5.0
    rel = wrist_relative(pose).reshape(21, 3)
    np.testing.assert_allclose(rel[0], 0.0)
    assert palm_size(pose) == pytest.approx(3.0)
    assert palm_size(rel) == pytest.approx(1.0)
