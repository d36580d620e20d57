"""The synthetic hand's rasteriser and the rendered clips."""

import numpy as np

from dactyl_quant.synth import POSE_DIM, SynthSettings, generate_clip, render_clip
from dactyl_quant.synth.alphabet_shapes import LETTER_SHAPES
from dactyl_quant.synth.clip import FrameRenderer
from dactyl_quant.synth.hand import HandProportions
from dactyl_quant.synth.render import SKIN, Camera, Primitives, rasterise
from dactyl_quant.synth.scene import Viewpoint
from dactyl_quant.synth.sheet import letter_tiles, studio_look

CAMERA = Camera.with_field_of_view(64, 64, 30.0)


def capsules(*specs) -> Primitives:
    """Round cones from (start, end, radius) in camera space (mm), unflattened."""
    count = len(specs)
    return Primitives(np.array([s[0] for s in specs], float), np.array([s[1] for s in specs], float),
                      np.array([s[2] for s in specs], float), np.array([s[2] for s in specs], float),
                      np.full(count, SKIN), np.tile([0.0, 0.0, -1.0], (count, 1)), np.zeros(count, bool),
                      np.tile([0.0, 0.0, 1.0], (count, 1)), np.ones(count), tuple(f"capsule {i}" for i in range(count)))


def test_a_capsule_in_front_occludes_one_behind_whatever_their_order():
    behind = ((-40.0, 0.0, 400.0), (40.0, 0.0, 400.0), 15.0)
    in_front = ((0.0, -40.0, 350.0), (0.0, 40.0, 350.0), 8.0)
    centre = 32 * 64 + 32
    for order in ((behind, in_front), (in_front, behind)):
        fragments = rasterise(capsules(*order), CAMERA)
        seen = dict(zip(fragments.pixel, fragments.primitive))
        assert order[seen[centre]] is in_front
        assert len(fragments.pixel) == len(set(fragments.pixel))  # one fragment per pixel
        # Depth and normals are those of the front capsule's near side.
        at_centre = list(fragments.pixel).index(centre)
        assert abs(fragments.depth[at_centre] - (350.0 - 8.0)) < 1.0
        assert fragments.normal[at_centre, 2] < -0.95  # facing the camera


def test_flattened_cone_is_thinner_along_its_flattened_axis():
    round_one = capsules(((-30.0, 0.0, 400.0), (30.0, 0.0, 400.0), 20.0))
    flat_one = capsules(((-30.0, 0.0, 400.0), (30.0, 0.0, 400.0), 20.0))
    flat_one.flatten_axis[:] = [0.0, 1.0, 0.0]  # squash vertically, in the image plane
    flat_one.flatten[:] = 0.5
    rows_round = np.unique(rasterise(round_one, CAMERA).pixel // 64)
    rows_flat = np.unique(rasterise(flat_one, CAMERA).pixel // 64)
    assert abs(len(rows_flat) - len(rows_round) / 2) <= 1.5


def test_hand_is_shaded_not_flat_and_the_fingers_cover_the_palm():
    tiles = dict(letter_tiles(96))
    fist = tiles["S"].astype(int)
    # A plain backdrop is a smooth vertical ramp: the hand is where a pixel departs from its row.
    backdrop = np.median(fist, axis=1, keepdims=True)
    hand = np.abs(fist - backdrop).sum(axis=2) > 30
    assert hand.sum() > 500
    luma = (fist[hand] @ [77, 150, 29]) >> 8
    assert len(np.unique(luma)) > 60  # smooth shading, creases and highlights, not a silhouette
    assert luma.std() > 12


def test_thumb_folded_across_the_palm_hides_the_palm_behind_it():
    # B: the thumb lies across the palm, between it and the camera.
    renderer = FrameRenderer(HandProportions(), Viewpoint(0.0, 0.0, 0.0, 0.6, (0.0, 0.0)), studio_look(96), 96, 96)
    shape = LETTER_SHAPES["b"]
    prims = renderer.primitives(shape.angles, shape.orientation, np.zeros(3), shape.forearm_follow)
    fragments = rasterise(prims, renderer.camera)
    seen = np.array(prims.names)[fragments.primitive]
    thumb = set(fragments.pixel[seen == "thumb distal"])
    palm_alone = set(rasterise(prims.subset({"palm"}), renderer.camera).pixel)
    assert len(thumb & palm_alone) > 20
    visible_palm = set(fragments.pixel[seen == "palm"])
    assert not thumb & visible_palm


def test_clip_is_deterministic_for_a_seed():
    settings = SynthSettings("train", 48, 48)
    first = generate_clip("ox", np.random.default_rng(11), settings)
    again = generate_clip("ox", np.random.default_rng(11), settings)
    other = generate_clip("ox", np.random.default_rng(12), settings)
    np.testing.assert_array_equal(first.frames, again.frames)
    np.testing.assert_array_equal(first.pose, again.pose)
    assert first.spans == again.spans
    assert first.frames.shape != other.frames.shape or np.any(first.frames != other.frames)


def test_rendered_clip_shapes_and_hand_boxes():
    clip = render_clip("yo", np.random.default_rng(2), SynthSettings("test", 64, 48))
    frames, pose, boxes = clip.frames, clip.pose, clip.boxes
    assert frames.dtype == np.uint8 and frames.shape[1:] == (48, 64, 3)
    assert pose.shape == (len(frames), POSE_DIM) and boxes.shape == (len(frames), 4)
    assert [span.letter for span in clip.spans] == ["y", "o"]
    x1, y1, x2, y2 = boxes.T
    assert np.all((0 <= x1) & (x1 < x2) & (x2 <= 64) & (0 <= y1) & (y1 < y2) & (y2 <= 48))
    # The hand fills a good part of the frame.
    assert np.median(y2 - y1) > 48 * 0.3
    assert clip.signer.id.startswith("synth-test")
