"""The synthetic hand: kinematics, the ASL letter poses, rotations and letter sequences."""

import numpy as np
import pytest

from dactyl_quant.synth.alphabet_shapes import LETTER_SHAPES, LETTERS
from dactyl_quant.synth.clip import POSE_DIM, pose_features
from dactyl_quant.synth.hand import (ANGLE_NAMES, FINGER_JOINTS, NUM_ANGLES, NUM_KEYPOINTS, PARENT, HandProportions,
                                     forward_kinematics)
from dactyl_quant.synth.rotation import Rotation
from dactyl_quant.synth.sequence import DOUBLE_LETTER_SLIDE_MM, word_sequence

MEAN_HAND = HandProportions()


def letter_pose(letter: str) -> np.ndarray:
    """Teacher features of a letter's pose (keypoints over palm size, then 6D rotation); J and Z
    halfway through their movement, which is what tells J from I."""
    shape = LETTER_SHAPES[letter]
    orientation = shape.orientation
    if shape.motion is not None:
        orientation = Rotation.from_rotvec(shape.motion.at(np.array([0.5]))[1][0]) * orientation
    points = forward_kinematics(shape.angles, MEAN_HAND).points / MEAN_HAND.palm_size()
    return np.concatenate([points.reshape(-1), orientation.six_d()])


def test_bone_lengths_do_not_depend_on_the_joint_angles():
    rng = np.random.default_rng(0)
    for _ in range(20):
        proportions = HandProportions.sample(rng)
        points = forward_kinematics(rng.uniform(-1.5, 1.5, NUM_ANGLES), proportions).points
        lengths = [np.linalg.norm(points[k] - points[PARENT[k]]) for k in range(1, NUM_KEYPOINTS)]
        np.testing.assert_allclose(lengths, proportions.bone_lengths()[1:], rtol=1e-9)


def test_fingers_flex_towards_the_palm():
    for finger in ("index", "middle", "ring", "pinky"):
        mcp, _, _, tip = FINGER_JOINTS[finger]
        straight = forward_kinematics(np.zeros(NUM_ANGLES), MEAN_HAND).points
        assert straight[tip, 1] > straight[mcp, 1] + 60  # an open finger points up, away from the wrist
        assert abs(straight[tip, 2] - straight[mcp, 2]) < 1e-9
        previous_z = straight[tip, 2]
        for flexion in (0.3, 0.6, 0.9):
            angles = np.zeros(NUM_ANGLES)
            angles[ANGLE_NAMES.index(f"{finger}_mcp")] = flexion
            z = forward_kinematics(angles, MEAN_HAND).points[tip, 2]
            assert z > previous_z  # +z is the palm side
            previous_z = z
    fist = forward_kinematics(LETTER_SHAPES["s"].angles, MEAN_HAND).points
    open_hand = forward_kinematics(LETTER_SHAPES["b"].angles, MEAN_HAND).points
    for finger in ("index", "middle", "ring", "pinky"):
        tip = FINGER_JOINTS[finger][3]
        assert fist[tip, 1] < open_hand[tip, 1] - 80  # curled back down over the palm
        assert fist[tip, 2] > 10


def test_default_hand_is_a_right_hand_facing_the_camera():
    points = forward_kinematics(np.zeros(NUM_ANGLES), MEAN_HAND).points
    assert points[FINGER_JOINTS["thumb"][3], 0] > points[FINGER_JOINTS["index"][0], 0]  # thumb on the viewer's right
    assert points[FINGER_JOINTS["pinky"][0], 0] < 0
    assert 170 < points[FINGER_JOINTS["middle"][3], 1] < 210  # wrist to middle fingertip, adult mean


def test_every_letter_has_a_distinct_pose():
    assert sorted(LETTER_SHAPES) == list(LETTERS)
    poses = {letter: letter_pose(letter) for letter in LETTERS}
    distances = {(a, b): np.linalg.norm(poses[a] - poses[b]) for a in LETTERS for b in LETTERS if a < b}
    closest = min(distances, key=distances.get)
    assert distances[closest] > 0.2, f"letters {closest} are too alike: {distances[closest]:.3f}"


def test_look_alike_letters_differ_by_the_thumb_as_in_asl():
    # The thumb's IP joint and tip together: N's and S's tips lie close, but S's thumb crosses in
    # front of the fingers and N's passes under them (test_synth_handshapes.py checks each letter).
    thumb = {letter: forward_kinematics(LETTER_SHAPES[letter].angles, MEAN_HAND).points[3:5].reshape(-1)
             for letter in "aestmn"}
    for a in "aestmn":
        for b in "aestmn":
            if a < b:
                assert np.linalg.norm(thumb[a] - thumb[b]) > 12, (a, b)
    thumb_tip = {letter: points[3:] for letter, points in thumb.items()}
    # Across the palm from the index side to the little-finger side: T, N, M.
    assert thumb_tip["t"][0] > thumb_tip["n"][0] > thumb_tip["m"][0]
    # A's thumb stands straight beside the index; the others fold across the front.
    assert thumb_tip["a"][0] > max(thumb_tip[letter][0] for letter in "estmn")


@pytest.mark.parametrize("letter, finger", [("f", "index"), ("o", "index"), ("d", "middle")])
def test_thumb_touches_the_finger_it_closes_a_ring_with(letter, finger):
    points = forward_kinematics(LETTER_SHAPES[letter].angles, MEAN_HAND).points
    assert np.linalg.norm(points[4] - points[FINGER_JOINTS[finger][3]]) < 16


def test_letters_point_where_asl_points_them():
    def finger_direction(letter):
        return LETTER_SHAPES[letter].orientation.matrix()[:, 1]
    assert finger_direction("b")[1] > 0.9                           # up
    assert finger_direction("g")[0] > 0.9 and finger_direction("h")[0] > 0.9  # sideways
    assert finger_direction("p")[1] < -0.6 and finger_direction("q")[1] < -0.6  # down
    assert LETTER_SHAPES["j"].motion is not None and LETTER_SHAPES["z"].motion is not None


def test_rotation_matrix_round_trip_and_6d():
    rng = np.random.default_rng(1)
    for _ in range(50):
        rotation = Rotation.from_rotvec(rng.normal(size=3) * 1.5)
        np.testing.assert_allclose(Rotation.from_matrix(rotation.matrix()).matrix(), rotation.matrix(), atol=1e-9)
        np.testing.assert_allclose(rotation.six_d(), rotation.matrix()[:, :2].T.reshape(-1))
    a, b = Rotation.from_rotvec([0.0, 0.0, 0.2]), Rotation.from_rotvec([0.0, 0.0, 1.0])
    assert a.slerp(b, 0.5).angle() == pytest.approx(0.6)


def test_word_sequence_holds_letters_in_order_at_30_fps():
    sequence = word_sequence("jazz", np.random.default_rng(3))
    assert [span.letter for span in sequence.spans] == list("jazz")
    previous_end = 0
    for span in sequence.spans:
        assert previous_end < span.start < span.end <= sequence.num_frames
        previous_end = span.end
    j, _, z1, z2 = sequence.spans
    assert j.end - j.start >= 8 and 3 <= z1.end - z1.start  # J and Z are held longer for their movement
    # J's hook moves the hand during its hold; a repeated letter slides to the signer's right.
    assert np.linalg.norm(sequence.positions[j.end - 1] - sequence.positions[j.start]) > 20
    z1_start = sequence.positions[z1.start]
    z2_start = sequence.positions[z2.start]
    assert z2_start[0] - z1_start[0] < -DOUBLE_LETTER_SLIDE_MM / 2
    assert np.allclose(np.linalg.norm(sequence.orientations, axis=1), 1.0)
    # Keypoints in the signer frame are the hand-frame ones moved rigidly.
    signer = sequence.signer_keypoints(MEAN_HAND)
    local = sequence.hand_keypoints(MEAN_HAND)
    assert signer.shape == local.shape == (sequence.num_frames, NUM_KEYPOINTS, 3)
    np.testing.assert_allclose(np.linalg.norm(signer[:, 1:] - signer[:, :1], axis=2),
                               np.linalg.norm(local[:, 1:] - local[:, :1], axis=2), rtol=1e-9)


def test_spaces_are_pauses_and_other_characters_are_refused():
    sequence = word_sequence("an ox", np.random.default_rng(4))
    assert "".join(span.letter for span in sequence.spans) == "an ox"
    with pytest.raises(ValueError, match="only letters a-z"):
        word_sequence("o'neil", np.random.default_rng(4))


def test_pose_features_are_wrist_relative_and_palm_normalised():
    sequence = word_sequence("hi", np.random.default_rng(5))
    proportions = HandProportions(scale=1.1)
    features = pose_features(sequence, proportions)
    assert features.shape == (sequence.num_frames, POSE_DIM) and features.dtype == np.float32
    assert np.all(features[:, :3] == 0)
    middle_mcp = features[:, 3 * FINGER_JOINTS["middle"][0]:3 * FINGER_JOINTS["middle"][0] + 3]
    np.testing.assert_allclose(np.linalg.norm(middle_mcp, axis=1), 1.0, rtol=1e-5)
    # The same word by a bigger hand has the same normalised keypoints.
    np.testing.assert_allclose(pose_features(sequence, HandProportions()), features, atol=1e-5)
