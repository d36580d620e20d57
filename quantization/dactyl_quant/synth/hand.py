"""A parametric right hand: joint angles → 21 keypoints by forward kinematics.

Hand frame (millimetres, origin at the wrist): +Y runs from the wrist along the middle finger, +Z
points out of the palm, +X = Y × Z points to the thumb side. With the identity wrist rotation the
palm faces the camera, fingers up, thumb on the viewer's right: a right-handed signer facing the
camera. Keypoints are in MediaPipe's order (0 wrist; thumb 1-4 CMC, MCP, IP, TIP; index 5-8 MCP,
PIP, DIP, TIP; middle 9-12; ring 13-16; pinky 17-20).

Joint angles (radians), `NUM_ANGLES` of them, in this order:
- thumb: splay (in the palm plane, away from the index), palmar (out of the palm, towards +Z),
  twist (about the metacarpal, turning the pad towards the fingers: opposition), MCP and IP flexion;
- each finger (index, middle, ring, pinky): MCP flexion, MCP abduction (towards the thumb is
  positive), PIP and DIP flexion.
Flexion is positive towards the palm (+Z), so a fist has large positive angles.
"""

from dataclasses import dataclass

import numpy as np

NUM_KEYPOINTS = 21
FINGERS = ("thumb", "index", "middle", "ring", "pinky")
# Keypoint indices of each finger, from its base joint to its tip.
FINGER_JOINTS = {name: tuple(range(1 + 4 * i, 5 + 4 * i)) for i, name in enumerate(FINGERS)}
# The parent of every keypoint (the wrist has none): bones are (PARENT[k], k) for k ≥ 1.
PARENT = (-1,) + tuple(0 if k % 4 == 1 else k - 1 for k in range(1, NUM_KEYPOINTS))

THUMB_ANGLES = ("splay", "palmar", "twist", "mcp", "ip")
FINGER_ANGLES = ("mcp", "abduction", "pip", "dip")
ANGLE_NAMES: tuple[str, ...] = (tuple(f"thumb_{a}" for a in THUMB_ANGLES)
                                + tuple(f"{f}_{a}" for f in FINGERS[1:] for a in FINGER_ANGLES))
NUM_ANGLES = len(ANGLE_NAMES)

# An adult hand of about 190 mm from wrist crease to middle fingertip and 80 mm across the
# knuckles (anthropometric means, rounded). MCP joints sit on a slight arch: the ring and
# pinky knuckles lie a little towards the palm side, which cups the palm.
_MCP_POSITIONS = np.array([[25.0, 89.0, 0.0], [6.0, 93.0, 0.0], [-12.0, 89.0, 2.0], [-28.0, 80.0, 5.0]])
# The fingers fan out slightly at rest (radians, towards the thumb positive).
_REST_FAN = np.radians([5.0, 0.0, -5.0, -11.0])
# Proximal, middle and distal phalanx (distal to the fingertip), index to pinky.
_PHALANX_LENGTHS = np.array([[41.0, 24.0, 21.0], [45.0, 28.0, 22.0], [42.0, 27.0, 22.0], [33.0, 19.0, 19.0]])
_THUMB_CMC = np.array([21.0, 24.0, 6.0])
_THUMB_LENGTHS = np.array([44.0, 32.0, 27.0])  # metacarpal, proximal, distal
# At zero angles the thumb's metacarpal leaves the palm this far towards the thumb side and its
# pad faces partly across the palm: a relaxed, not a stretched, thumb.
_THUMB_REST_SPLAY = np.radians(38.0)
_THUMB_REST_TWIST = np.radians(-70.0)


def rotation_x(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def rotation_y(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def rotation_z(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


# Ranges of (finger length, palm width, thickness) by build. Train and dev signers have average
# hands; the test split's have the other builds only (SPLIT_BUILDS), so its hands differ in kind.
HAND_BUILDS = {
    "average": ((0.94, 1.06), (0.93, 1.07), (0.9, 1.1)),
    "slender": ((1.06, 1.12), (0.88, 0.94), (0.82, 0.9)),
    "stocky": ((0.88, 0.94), (1.06, 1.12), (1.1, 1.18)),
}
SPLIT_BUILDS = {"train": ("average",), "dev": ("average",), "test": ("slender", "stocky")}


@dataclass(frozen=True)
class HandProportions:
    """One person's hand: an overall size and the relative lengths that differ between people."""

    scale: float = 1.0          # overall size (1 = the adult mean above)
    finger_length: float = 1.0  # finger length relative to the palm
    palm_width: float = 1.0     # knuckle spacing relative to the mean
    thickness: float = 1.0      # radius of fingers and palm relative to the mean

    @staticmethod
    def sample(rng: np.random.Generator, build: str = "average") -> "HandProportions":
        """Plausible adult variation of one build (`HAND_BUILDS`): ±12 % in size, a few percent on
        each ratio for an average hand; long fingers on a narrow palm (slender) or short fingers
        on a wide, thick one (stocky)."""
        finger_length, palm_width, thickness = HAND_BUILDS[build]
        return HandProportions(scale=float(rng.uniform(0.88, 1.12)), finger_length=float(rng.uniform(*finger_length)),
                               palm_width=float(rng.uniform(*palm_width)), thickness=float(rng.uniform(*thickness)))

    def mcp_positions(self) -> np.ndarray:
        return _MCP_POSITIONS * [self.palm_width, 1.0, 1.0] * self.scale

    def phalanx_lengths(self) -> np.ndarray:
        return _PHALANX_LENGTHS * self.finger_length * self.scale

    def thumb_cmc(self) -> np.ndarray:
        return _THUMB_CMC * [self.palm_width, 1.0, 1.0] * self.scale

    def thumb_lengths(self) -> np.ndarray:
        return _THUMB_LENGTHS * self.finger_length * self.scale

    def bone_lengths(self) -> np.ndarray:
        """Length of the bone ending at every keypoint (0 for the wrist), in keypoint order."""
        lengths = np.zeros(NUM_KEYPOINTS)
        lengths[1] = np.linalg.norm(self.thumb_cmc())
        lengths[2:5] = self.thumb_lengths()
        for finger, (mcp, phalanges) in enumerate(zip(self.mcp_positions(), self.phalanx_lengths())):
            base = FINGER_JOINTS[FINGERS[finger + 1]][0]
            lengths[base] = np.linalg.norm(mcp)
            lengths[base + 1:base + 4] = phalanges
        return lengths

    def palm_size(self) -> float:
        """Wrist to middle-finger MCP: the length that normalised poses are divided by."""
        return float(np.linalg.norm(self.mcp_positions()[1]))


def sample_hand(rng: np.random.Generator, split: str) -> HandProportions:
    """A hand of one of the split's builds."""
    builds = SPLIT_BUILDS[split]
    return HandProportions.sample(rng, builds[rng.integers(len(builds))])


@dataclass(frozen=True)
class Skeleton:
    """The posed hand in the hand frame."""

    points: np.ndarray  # [21, 3] keypoints, mm
    # [21, 3, 3]: for every keypoint, the rotation of the bone that leaves it (columns: flexion axis,
    # bone direction, palm-side normal); a fingertip keeps the frame of its distal phalanx and the
    # wrist has the palm's (identity).
    frames: np.ndarray


def forward_kinematics(angles: np.ndarray, proportions: HandProportions) -> Skeleton:
    """The 21 keypoints and bone frames of a hand with these joint angles (see the module doc)."""
    angles = np.asarray(angles, dtype=np.float64)
    if angles.shape != (NUM_ANGLES,):
        raise ValueError(f"expected {NUM_ANGLES} joint angles, got shape {angles.shape}")
    points = np.zeros((NUM_KEYPOINTS, 3))
    frames = np.tile(np.eye(3), (NUM_KEYPOINTS, 1, 1))

    splay, palmar, twist, thumb_mcp, thumb_ip = angles[:5]
    # Splay swings the metacarpal in the palm plane, palmar abduction then lifts it out of the
    # palm, and the twist about its own axis turns the flexion direction (the pad) towards the
    # fingers; MCP and IP then flex about the twisted axis, as the real thumb does in opposition.
    rotation = (rotation_z(-(_THUMB_REST_SPLAY + splay)) @ rotation_x(palmar)
                @ rotation_y(_THUMB_REST_TWIST + twist))
    points[1] = proportions.thumb_cmc()
    for joint, (length, flexion) in enumerate(zip(proportions.thumb_lengths(), (0.0, thumb_mcp, thumb_ip))):
        rotation = rotation @ rotation_x(flexion)
        frames[1 + joint] = rotation
        points[2 + joint] = points[1 + joint] + rotation[:, 1] * length
    frames[4] = rotation

    for finger, (mcp, lengths, fan) in enumerate(zip(proportions.mcp_positions(), proportions.phalanx_lengths(),
                                                     _REST_FAN)):
        flex_mcp, abduction, flex_pip, flex_dip = angles[5 + 4 * finger:9 + 4 * finger]
        base = FINGER_JOINTS[FINGERS[finger + 1]][0]
        rotation = rotation_z(-(fan + abduction))
        points[base] = mcp
        for joint, (length, flexion) in enumerate(zip(lengths, (flex_mcp, flex_pip, flex_dip))):
            rotation = rotation @ rotation_x(flexion)
            frames[base + joint] = rotation
            points[base + joint + 1] = points[base + joint] + rotation[:, 1] * length
        frames[base + 3] = rotation
    return Skeleton(points, frames)


def palm_centre(proportions: HandProportions) -> np.ndarray:
    """The middle of the palm, between the wrist and the knuckles (the point the hand turns about)."""
    return 0.55 * proportions.mcp_positions()[1]
