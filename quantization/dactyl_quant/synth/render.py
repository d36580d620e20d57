"""A numpy software rasteriser for the hand: tapered capsules, a z-buffer, skin shading.

Every bone, the palm, the thenar and hypothenar pads and the forearm are round cones (two spheres
joined by their tangent cone), optionally flattened along one axis perpendicular to their own (the
palm is a slab, the wrist an ellipse); a flattened cone is intersected in the space where it is
round, so the hit stays exact. Each pixel of a primitive's screen bounding box casts
its camera ray at it in closed form (Inigo Quilez's round-cone intersector, vectorised over every
(primitive, pixel) pair of the frame at once, so the Python cost does not grow with the number of
primitives); the nearest hit per pixel wins. That gives exact depth, silhouettes and normals, so
self-occlusion and smooth shading come for free.

Camera coordinates are OpenCV's: x right, y down, z forward from a pinhole at the origin.
Shading is done in linear light and encoded as sRGB at the end.
"""

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from .hand import FINGER_JOINTS, FINGERS, HandProportions, Skeleton

# Materials of the primitives.
SKIN = 0
FOREARM = 1  # skin up to the sleeve, cloth beyond it

# Finger radii (mm) at the MCP, PIP, DIP joint and at the tip, for an index finger of the mean
# hand; the other fingers are scaled by _FINGER_GIRTH. Real phalanges are about 20 mm wide at the
# base and 15 mm at the tip.
_PHALANX_RADII = np.array([10.3, 9.2, 8.3, 7.6])
_FINGER_BONES = ("proximal", "middle", "distal")
_THUMB_BONES = ("metacarpal", "proximal", "distal")
_FINGER_GIRTH = {"index": 1.0, "middle": 1.03, "ring": 0.96, "pinky": 0.86}
_THUMB_RADII = np.array([15.0, 11.2, 10.2, 9.0])  # CMC (the thenar pad), MCP, IP, tip
# The palm (hand frame, mm): a flattened slab between the heel and the knuckles, with the
# metacarpals under its sides and a pad on the little-finger side; (start, end, radii, flatten).
_PALM_SLAB = (np.array([-2.0, 30.0, 2.0]), np.array([-1.0, 70.0, 2.0]), 30.0, 33.0, 0.42)
_METACARPAL_BASES = np.array([[13.0, 16.0, 0.0], [4.0, 14.0, 0.0], [-7.0, 14.0, 1.0], [-16.0, 18.0, 3.0]])
_METACARPAL_RADII = (13.0, 11.5, 0.85)
_HYPOTHENAR = (np.array([-19.0, 22.0, 5.0]), np.array([-26.0, 62.0, 4.0]), 13.0, 11.5, 0.9)
_FOREARM_RADII = (26.0, 33.0, 0.72)  # at the wrist and 250 mm down the arm; the wrist is oval
_FOREARM_LENGTH = 250.0
# How much of a fingertip's dorsal side is nail: the far part of the distal phalanx whose surface
# faces away from the pad.
_NAIL_START = 0.35
_NAIL_FACING = 0.45
# Skin folds at the finger joints (mm from the joint along the bone): wrinkled, darker skin over
# the back of each knuckle and a flexion crease line on the palm side.
_KNUCKLE_WRINKLE_MM = 7.0
_FLEXION_CREASE_MM = (2.0, 1.6)  # centre and half-width
# Screen-space cast shadows: points marched from each surface point towards the key light (mm).
_SHADOW_STEPS_MM = np.array([3.0, 6.0, 9.0, 13.0, 17.0, 22.0, 28.0, 35.0, 44.0, 55.0])
_SHADOW_THICKNESS_MM = 28.0  # an occluder is a surface this close in front of the marched point


@dataclass(frozen=True)
class Camera:
    width: int
    height: int
    focal: float  # pixels

    @staticmethod
    def with_field_of_view(width: int, height: int, vertical_degrees: float) -> "Camera":
        return Camera(width, height, 0.5 * height / np.tan(np.radians(vertical_degrees) / 2))

    @cached_property
    def ray_directions(self) -> np.ndarray:
        """Unit ray of every pixel centre, [height * width, 3], row-major."""
        v, u = np.mgrid[0:self.height, 0:self.width]
        rays = np.stack([(u + 0.5 - self.width / 2) / self.focal, (v + 0.5 - self.height / 2) / self.focal,
                         np.ones(u.shape)], axis=-1).reshape(-1, 3)
        return rays / np.linalg.norm(rays, axis=1, keepdims=True)

    def project(self, points: np.ndarray) -> np.ndarray:
        """Pixel coordinates [..., 2] of camera-space points [..., 3]."""
        return (points[..., :2] / points[..., 2:3]) * self.focal + [self.width / 2, self.height / 2]


@dataclass
class Primitives:
    """Round cones: sphere (start, start_radius) to sphere (end, end_radius), each scaled by
    `flatten` along `flatten_axis` (a unit vector perpendicular to start → end) about its axis."""

    start: np.ndarray         # [K, 3]
    end: np.ndarray           # [K, 3]
    start_radius: np.ndarray  # [K]
    end_radius: np.ndarray    # [K]
    material: np.ndarray      # [K] SKIN or FOREARM
    volar: np.ndarray         # [K, 3] unit normal of the palm side of that part (lighter skin there)
    has_nail: np.ndarray      # [K] bool: distal phalanges
    flatten_axis: np.ndarray  # [K, 3]
    flatten: np.ndarray       # [K] 1 for a round cross-section
    names: tuple[str, ...]    # what each primitive is ("index distal", "palm", ...)

    def transformed(self, rotation: np.ndarray, translation: np.ndarray) -> "Primitives":
        return Primitives(self.start @ rotation.T + translation, self.end @ rotation.T + translation,
                          self.start_radius, self.end_radius, self.material, self.volar @ rotation.T, self.has_nail,
                          self.flatten_axis @ rotation.T, self.flatten, self.names)

    def mirrored(self) -> "Primitives":
        """The mirror image across the camera's x = 0 plane: a right hand becomes a left hand.

        A mirrored round cone is a round cone, so the rasteriser needs nothing else."""
        flip = np.array([-1.0, 1.0, 1.0])
        return Primitives(self.start * flip, self.end * flip, self.start_radius, self.end_radius, self.material,
                          self.volar * flip, self.has_nail, self.flatten_axis * flip, self.flatten, self.names)

    @property
    def is_phalanx(self) -> np.ndarray:
        """[K] bool: the finger and thumb bones beyond the palm (where the joint creases are)."""
        return np.array([name.endswith(("proximal", "middle", "distal")) for name in self.names])

    def subset(self, names: set[str]) -> "Primitives":
        keep = np.array([name in names for name in self.names])
        return Primitives(self.start[keep], self.end[keep], self.start_radius[keep], self.end_radius[keep],
                          self.material[keep], self.volar[keep], self.has_nail[keep], self.flatten_axis[keep],
                          self.flatten[keep], tuple(n for n in self.names if n in names))


def hand_primitives(skeleton: Skeleton, proportions: HandProportions, forearm_direction: np.ndarray) -> Primitives:
    """The hand's primitives in the hand frame; the forearm leaves the wrist along `forearm_direction`.

    Names: "<finger> <bone>" for the phalanges (the thumb's: metacarpal, proximal, distal), "<finger>
    metacarpal" for the palm's bones of the four fingers, "palm", "hypothenar", "forearm".
    """
    points, frames = skeleton.points, skeleton.frames
    girth = proportions.scale * proportions.thickness
    palm_normal = np.array([0.0, 0.0, 1.0])
    parts = []  # (name, start, end, start radius, end radius, volar normal, nail, material, flatten)

    for finger in FINGERS:
        joints = FINGER_JOINTS[finger]
        radii = (_THUMB_RADII if finger == "thumb" else _PHALANX_RADII * _FINGER_GIRTH[finger]) * girth
        bones = _THUMB_BONES if finger == "thumb" else _FINGER_BONES
        for bone in range(3):
            start, end = points[joints[bone]], points[joints[bone + 1]]
            if bone == 2:
                # The round end of the distal phalanx ends at the fingertip keypoint.
                end = end - (end - start) / np.linalg.norm(end - start) * radii[3]
            parts.append((f"{finger} {bones[bone]}", start, end, radii[bone], radii[bone + 1],
                          frames[joints[bone]][:, 2], bone == 2, SKIN, 1.0))

    palm_scale = np.array([proportions.palm_width, 1.0, 1.0]) * proportions.scale
    start, end, start_radius, end_radius, flatten = _PALM_SLAB
    slab_girth = girth * proportions.palm_width
    parts.append(("palm", start * palm_scale, end * palm_scale, start_radius * slab_girth, end_radius * slab_girth,
                  palm_normal, False, SKIN, flatten))
    base_radius, knuckle_radius, flatten = _METACARPAL_RADII
    for base, finger in zip(_METACARPAL_BASES, FINGERS[1:]):
        parts.append((f"{finger} metacarpal", base * palm_scale, points[FINGER_JOINTS[finger][0]], base_radius * girth,
                      knuckle_radius * girth, palm_normal, False, SKIN, flatten))
    start, end, start_radius, end_radius, flatten = _HYPOTHENAR
    parts.append(("hypothenar", start * palm_scale, end * palm_scale, start_radius * girth, end_radius * girth,
                  palm_normal, False, SKIN, flatten))
    wrist = np.array([0.0, 8.0, 0.0]) * proportions.scale
    wrist_radius, elbow_radius, flatten = _FOREARM_RADII
    parts.append(("forearm", wrist, wrist + forearm_direction * _FOREARM_LENGTH * proportions.scale,
                  wrist_radius * girth, elbow_radius * girth, palm_normal, False, FOREARM, flatten))

    names = tuple(part[0] for part in parts)
    starts, ends, start_radii, end_radii, volars, nails, materials, flattens = (
        np.array(column) for column in list(zip(*parts))[1:])
    # Flatten every part along its palm normal, made perpendicular to the part's own axis.
    axes = ends - starts
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    flatten_axes = volars - axes * np.einsum("ij,ij->i", volars, axes)[:, None]
    flatten_axes /= np.maximum(np.linalg.norm(flatten_axes, axis=1, keepdims=True), 1e-9)
    return Primitives(starts, ends, start_radii, end_radii, materials, volars, nails.astype(bool), flatten_axes,
                      flattens, names)


@dataclass(frozen=True)
class Fragments:
    """The visible surface: one entry per covered pixel."""

    pixel: np.ndarray      # [M] flat pixel index (row-major)
    depth: np.ndarray      # [M] camera z, mm
    normal: np.ndarray     # [M, 3] unit surface normal, camera space
    primitive: np.ndarray  # [M] index of the primitive seen
    axial: np.ndarray      # [M] position along the primitive, 0 at its start, 1 at its end


def _screen_boxes(prims: Primitives, camera: Camera) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pixel bounds [x0, x1) × [y0, y1) that contain each primitive's projection."""
    centres = np.stack([prims.start, prims.end])  # [2, K, 3]
    radii = np.stack([prims.start_radius, prims.end_radius])
    depth = np.maximum(centres[..., 2] - radii, 1.0)
    uv = camera.project(centres)
    # A sphere of radius r at depth z projects inside a circle of radius f·r/(z − r).
    extent = camera.focal * radii / depth + 1.0
    x0 = np.clip(np.floor((uv[..., 0] - extent).min(axis=0)), 0, camera.width).astype(np.int64)
    x1 = np.clip(np.ceil((uv[..., 0] + extent).max(axis=0)), 0, camera.width).astype(np.int64)
    y0 = np.clip(np.floor((uv[..., 1] - extent).min(axis=0)), 0, camera.height).astype(np.int64)
    y1 = np.clip(np.ceil((uv[..., 1] + extent).max(axis=0)), 0, camera.height).astype(np.int64)
    return x0, x1, y0, y1


def rasterise(prims: Primitives, camera: Camera) -> Fragments:
    """Cast the rays of every primitive's bounding box at it and keep the nearest hit per pixel."""
    x0, x1, y0, y1 = _screen_boxes(prims, camera)
    box_w, box_h = np.maximum(x1 - x0, 0), np.maximum(y1 - y0, 0)
    counts = box_w * box_h
    k = np.repeat(np.arange(len(counts)), counts)  # the primitive of every (primitive, pixel) entry
    local = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    width = box_w[k]
    pixel = (y0[k] + local // width) * camera.width + x0[k] + local % width
    ray = camera.ray_directions[pixel]

    # Undo the flattening: in the primitive's own space the camera sits at `origin` (scaling is
    # about the primitive's axis) and the ray runs along `direction`, `stretch` times as long.
    unflatten = 1.0 / prims.flatten - 1.0
    axis_height = np.einsum("ij,ij->i", prims.flatten_axis, prims.start)
    origin = -(unflatten * axis_height)[:, None] * prims.flatten_axis
    axis = prims.flatten_axis[k]
    direction = ray + (unflatten[k] * np.einsum("ij,ij->i", ray, axis))[:, None] * axis
    stretch = np.linalg.norm(direction, axis=1)
    direction /= stretch[:, None]

    # Inigo Quilez's round-cone intersector; per-primitive terms first.
    pa, pb = prims.start, prims.end
    ra, rb = prims.start_radius, prims.end_radius
    ba = pb - pa
    oa = origin - pa
    ob = origin - pb
    rr = ra - rb
    m0 = np.einsum("ij,ij->i", ba, ba)
    m1 = np.einsum("ij,ij->i", ba, oa)
    m5 = np.einsum("ij,ij->i", oa, oa)
    m7 = np.einsum("ij,ij->i", ob, ob)
    d2 = m0 - rr * rr
    k0 = d2 * m5 - m1 * m1 + 2.0 * m1 * rr * ra - m0 * ra * ra

    m2 = np.einsum("ij,ij->i", direction, ba[k])
    m3 = np.einsum("ij,ij->i", direction, oa[k])
    m6 = np.einsum("ij,ij->i", direction, ob[k])
    d2k, m1k, rrk, rak = d2[k], m1[k], rr[k], ra[k]
    k2 = d2k - m2 * m2
    k1 = d2k * m3 - m1k * m2 + m2 * rrk * rak
    h = k1 * k1 - k0[k] * k2
    with np.errstate(invalid="ignore", divide="ignore"):
        t_body = (-np.sqrt(h) - k1) / k2
        y = m1k - rak * rrk + t_body * m2
        on_body = (h >= 0) & (y > 0) & (y < d2k)
        h1 = m3 * m3 - m5[k] + rak * rak
        h2 = m6 * m6 - m7[k] + rb[k] ** 2
        t_start = np.where(h1 > 0, -m3 - np.sqrt(h1), np.inf)
        t_end = np.where(h2 > 0, -m6 - np.sqrt(h2), np.inf)
    t = np.where(on_body, t_body, np.minimum(t_start, t_end))
    hit = (h >= 0) & np.isfinite(t) & (t > 0)
    depth = t / stretch * ray[:, 2]

    # The nearest hit per pixel: sort by (pixel, depth) and keep the first of each pixel.
    candidates = np.flatnonzero(hit)
    order = candidates[np.lexsort((depth[candidates], pixel[candidates]))]
    sorted_pixels = pixel[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = sorted_pixels[1:] != sorted_pixels[:-1]
    win = order[first]

    kw = k[win]
    offset = origin[kw] + direction[win] * t[win, None] - pa[kw]  # hit point from the start, own space
    use_start_cap = ~on_body[win] & (t_start[win] <= t_end[win])
    normal = np.where(on_body[win, None], d2[kw, None] * offset - ba[kw] * y[win, None],
                      np.where(use_start_cap[:, None], offset, offset - ba[kw]))
    # Normals of a flattened surface: the inverse scaling (it is symmetric) applied to the round one.
    axis = prims.flatten_axis[kw]
    normal += (unflatten[kw] * np.einsum("ij,ij->i", normal, axis))[:, None] * axis
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)
    axial = np.clip(np.einsum("ij,ij->i", offset, ba[kw]) / m0[kw], 0.0, 1.0)
    return Fragments(pixel[win], depth[win], normal, kw, axial)


@dataclass(frozen=True)
class SkinMaterial:
    """Albedos in linear RGB."""

    back: np.ndarray      # back of the hand and the forearm
    palm: np.ndarray      # palm side: lighter and pinker than the back in every skin tone
    nail: np.ndarray
    sleeve: np.ndarray
    sleeve_start: float   # where the sleeve begins along the forearm (0 wrist, 1 the far end)
    specular: float       # strength of the soft highlight (skin is slightly glossy)
    shininess: float


def _front() -> np.ndarray:
    return np.array([0.0, 0.0, -1.0])


@dataclass(frozen=True)
class Lighting:
    """A key light, a broad fill light and ambient light from the room, all in camera space."""

    direction: np.ndarray  # unit vector towards the key light, camera space
    colour: np.ndarray     # linear RGB of the key light
    ambient: np.ndarray    # linear RGB of the light bounced round the room (brighter from above)
    wrap: float            # 0 is Lambert; > 0 lets light wrap past the terminator, as it does on skin
    fill_direction: np.ndarray = field(default_factory=_front)  # unit vector towards the fill light
    fill: np.ndarray = field(default_factory=lambda: np.zeros(3))  # linear RGB of the fill (a large, soft source)
    shadow: float = 0.0    # how much of the key light a finger's cast shadow takes away (0: no shadows)


def box_sum(image: np.ndarray, radius: int) -> np.ndarray:
    """Sum over the (2r+1)² window around every pixel (zero outside), via an integral image."""
    height, width = image.shape
    padded = np.zeros((height + 2 * radius + 1, width + 2 * radius + 1), dtype=np.float32)
    padded[radius + 1:radius + 1 + height, radius + 1:radius + 1 + width] = image
    integral = padded.cumsum(0).cumsum(1)
    size = 2 * radius + 1
    return (integral[size:, size:] - integral[:-size, size:] - integral[size:, :-size] + integral[:-size, :-size])


def contact_occlusion(fragments: Fragments, camera: Camera,
                      scales: tuple[tuple[int, float], ...]) -> list[np.ndarray]:
    """Screen-space ambient occlusion in [0, 1] per fragment, for each (radius px, falloff mm).

    A surface that lies behind the mean depth of the hand around it is in a crease or under a
    finger, where little light reaches: this darkens the palm beside a folded finger and the
    gaps of a fist, which is what makes closed handshapes readable. One integral image of depth
    and coverage serves every radius; only the windows at the fragments are read.
    """
    pad = max(radius for radius, _ in scales) + 1
    height, width = camera.height, camera.width
    rows, columns = fragments.pixel // width + pad, fragments.pixel % width + pad
    padded = np.zeros((2, height + 2 * pad, width + 2 * pad), dtype=np.float32)  # float32: mm sums stay exact enough
    padded[0, rows, columns] = fragments.depth
    padded[1, rows, columns] = 1.0
    integral = padded.cumsum(1).cumsum(2)
    result = []
    for radius, falloff_mm in scales:
        top, bottom, left, right = rows - radius - 1, rows + radius, columns - radius - 1, columns + radius
        window = (integral[:, bottom, right] - integral[:, top, right] - integral[:, bottom, left]
                  + integral[:, top, left])
        result.append(np.clip((fragments.depth - window[0] / window[1]) / falloff_mm, 0.0, 1.0))
    return result


def cast_shadow(fragments: Fragments, camera: Camera, towards_light: np.ndarray) -> np.ndarray:
    """Share of the key light blocked by the hand itself, in [0, 1] per fragment (screen-space).

    From each visible point a few points are marched towards the light; one that lies just
    behind the visible surface at its pixel is inside a finger, so the light is blocked there.
    The nearer the occluder, the darker its shadow: a finger on the palm casts a dark one, a
    finger held away a lighter one (a real light is not a point, so its shadow thins out). A
    light from behind the hand (towards +z) casts none that the camera sees on the lit side, so
    it is skipped.
    """
    if towards_light[2] > -0.05 or len(fragments.pixel) == 0:
        return np.zeros(len(fragments.pixel))
    size = camera.width * camera.height
    depth_map = np.full(size + 1, np.inf)  # the last entry stands for "outside the frame"
    depth_map[fragments.pixel] = fragments.depth
    rays = camera.ray_directions[fragments.pixel]
    points = rays * (fragments.depth / rays[:, 2])[:, None]
    marched = points[None, :, :] + _SHADOW_STEPS_MM[:, None, None] * towards_light  # [S, M, 3]
    uv = camera.project(marched)
    u, v = np.floor(uv[..., 0]).astype(np.int64), np.floor(uv[..., 1]).astype(np.int64)
    inside = (u >= 0) & (u < camera.width) & (v >= 0) & (v < camera.height)
    surface = depth_map[np.where(inside, v * camera.width + u, size)]
    gap = marched[..., 2] - surface
    blocked = (gap > 1.5 + 0.08 * _SHADOW_STEPS_MM[:, None]) & (gap < _SHADOW_THICKNESS_MM)
    darkness = 1.0 / (1.0 + _SHADOW_STEPS_MM / 60.0)
    return (blocked * darkness[:, None]).max(axis=0)


def joint_creases(fragments: Fragments, prims: Primitives) -> np.ndarray:
    """Albedo multiplier in (0, 1] per fragment: knuckle wrinkles and palm-side flexion creases."""
    k = fragments.primitive
    phalanx = prims.is_phalanx[k]
    length = np.linalg.norm(prims.end - prims.start, axis=1)[k]
    from_joint = fragments.axial * length  # mm from the joint at the bone's start
    palm_side = np.einsum("ij,ij->i", fragments.normal, prims.volar[k])
    wrinkles = np.exp(-(from_joint / _KNUCKLE_WRINKLE_MM) ** 2) * np.clip(-palm_side * 2.0, 0.0, 1.0)
    centre, half_width = _FLEXION_CREASE_MM
    crease = np.exp(-((from_joint - centre) / half_width) ** 2) * np.clip(palm_side * 2.0, 0.0, 1.0)
    return np.where(phalanx, 1.0 - 0.16 * wrinkles - 0.3 * crease, 1.0)


def shade(fragments: Fragments, prims: Primitives, camera: Camera, material: SkinMaterial, lighting: Lighting,
          albedo_variation: np.ndarray) -> np.ndarray:
    """Linear RGB [M, 3] of the visible fragments.

    `albedo_variation` [height * width] multiplies the albedo (blotches and pores, in screen
    space: at these frame sizes nobody can tell).
    """
    normal, k = fragments.normal, fragments.primitive
    view = -camera.ray_directions[fragments.pixel]
    facing_palm = np.clip(1.5 * np.einsum("ij,ij->i", normal, prims.volar[k]) + 0.3, 0.0, 1.0)[:, None]
    albedo = material.back + (material.palm - material.back) * facing_palm
    dorsal_facing = -np.einsum("ij,ij->i", normal, prims.volar[k])
    is_nail = prims.has_nail[k] & (fragments.axial > _NAIL_START) & (dorsal_facing > _NAIL_FACING)
    albedo = np.where(is_nail[:, None], material.nail, albedo)
    in_sleeve = (prims.material[k] == FOREARM) & (fragments.axial > material.sleeve_start)
    albedo = np.where(in_sleeve[:, None], material.sleeve, albedo) * albedo_variation[fragments.pixel, None]
    albedo = albedo * np.where(in_sleeve | is_nail, 1.0, joint_creases(fragments, prims))[:, None]

    cosine = normal @ lighting.direction
    diffuse = np.clip((cosine + lighting.wrap) / (1.0 + lighting.wrap), 0.0, 1.0)
    if lighting.shadow > 0:
        diffuse = diffuse * (1.0 - lighting.shadow * cast_shadow(fragments, camera, lighting.direction))
    half = view + lighting.direction
    half /= np.linalg.norm(half, axis=1, keepdims=True)
    highlight = material.specular * np.clip(np.einsum("ij,ij->i", normal, half), 0.0, 1.0) ** material.shininess
    highlight = np.where(in_sleeve, 0.2 * highlight, highlight) * (cosine > 0)
    # The fill is a large source: light wraps far round, soft as an overcast window.
    fill = np.clip((normal @ lighting.fill_direction + 0.6) / 1.6, 0.0, 1.0)
    # Light bounced round a room comes mostly from above (camera y points down).
    sky = 0.8 - 0.25 * normal[:, 1]
    # Skin darkens towards the silhouette, where the view grazes the surface.
    rim = 0.7 + 0.3 * np.clip(np.einsum("ij,ij->i", normal, view), 0.0, 1.0)
    # Occlusion at two scales: creases and touching fingers, then the gaps between fingers and
    # the inside of a fist, which little of the room's light reaches.
    creases, gaps = contact_occlusion(fragments, camera, ((max(2, camera.height // 40), 18.0),
                                                          (max(4, camera.height // 16), 35.0)))
    occlusion = (1.0 - 0.55 * creases) * (1.0 - 0.35 * gaps)
    indirect = (lighting.ambient * sky[:, None] + fill[:, None] * lighting.fill) * occlusion[:, None]
    direct = diffuse[:, None] * lighting.colour * (0.35 + 0.65 * occlusion)[:, None]
    return albedo * (indirect + direct) * rim[:, None] + highlight[:, None] * lighting.colour


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    return np.clip(linear, 0.0, 1.0) ** (1 / 2.2)


def srgb_to_linear(srgb: np.ndarray) -> np.ndarray:
    return np.asarray(srgb, dtype=np.float64) ** 2.2
