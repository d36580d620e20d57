"""Where the thumb goes: its chain by forward kinematics, batched, and a small inverse kinematics.

The ASL letters that look alike differ mostly by where the thumb tip is (A beside the index, S
across the front of the fingers, T/N/M between index-middle/middle-ring/ring-little, E under the
fingertips). Those places are easy to say relative to the posed fingers and hard to hit with
hand-written angles, all the more once every signer's hand and style moves the fingers: so each
letter names the place (`ThumbPlace`) and the thumb's five angles are solved for it here.
"""

from dataclasses import dataclass

import numpy as np

from .hand import HandProportions, _THUMB_REST_SPLAY, _THUMB_REST_TWIST

# Bounds of the thumb's angles (splay, palmar, twist, MCP, IP), radians: what a thumb can do.
THUMB_LOWER = np.radians([-75.0, -30.0, -50.0, -25.0, -25.0])
THUMB_UPPER = np.radians([55.0, 95.0, 90.0, 80.0, 95.0])


@dataclass(frozen=True)
class ThumbPlace:
    """A point of the posed hand: a weighted mean of keypoints plus an offset (mm at the mean hand,
    hand frame: x to the thumb side, y along the fingers, z out of the palm). The offset grows with
    the hand's size, its depth (z: mostly finger and thumb radii) with their girth too; a `reach`
    offset (where an extended thumb points) grows with the thumb's length instead."""

    anchors: tuple[tuple[int, float], ...]
    offset: tuple[float, float, float] = (0.0, 0.0, 0.0)
    reach: bool = False

    def at(self, points: np.ndarray, proportions: HandProportions, shift: np.ndarray | None = None) -> np.ndarray:
        scale = proportions.scale
        if self.reach:
            sizes = np.full(3, scale * proportions.finger_length)
        else:
            sizes = np.array([scale, scale, scale * proportions.thickness])
        target = sum(weight * points[k] for k, weight in self.anchors) + np.asarray(self.offset) * sizes
        return target if shift is None else target + shift * scale


@dataclass(frozen=True)
class ThumbGoal:
    """Where the thumb tip goes, optionally where its IP joint goes (which side of the fingers the
    thumb passes), and the angles (degrees) to start from and stay near."""

    tip: ThumbPlace
    prior: tuple[float, float, float, float, float]
    ip: ThumbPlace | None = None
    ip_weight: float = 0.5
    # mm per radian away from the prior, per angle: a gentle pull, stronger where the letter wants
    # a joint kept (A's straight thumb).
    stiffness: tuple[float, float, float, float, float] = (4.0, 4.0, 4.0, 4.0, 4.0)


def _rotations(axis: int, angles: np.ndarray) -> np.ndarray:
    """[B, 3, 3] rotations about a coordinate axis."""
    c, s = np.cos(angles), np.sin(angles)
    out = np.zeros(angles.shape + (3, 3))
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    out[..., axis, axis] = 1.0
    out[..., i, i] = c
    out[..., j, j] = c
    out[..., i, j] = -s
    out[..., j, i] = s
    return out


def thumb_chain(angles: np.ndarray, proportions: HandProportions) -> np.ndarray:
    """[B, 4, 3] thumb CMC, MCP, IP and tip of [B, 5] thumb angles: `hand.forward_kinematics`'s
    thumb, batched."""
    angles = np.atleast_2d(angles)
    splay, palmar, twist, mcp, ip = angles.T
    rotation = (_rotations(2, -(_THUMB_REST_SPLAY + splay)) @ _rotations(0, palmar)
                @ _rotations(1, _THUMB_REST_TWIST + twist))
    lengths = proportions.thumb_lengths()
    points = np.empty((len(angles), 4, 3))
    points[:, 0] = proportions.thumb_cmc()
    points[:, 1] = points[:, 0] + rotation[:, :, 1] * lengths[0]
    rotation = rotation @ _rotations(0, mcp)
    points[:, 2] = points[:, 1] + rotation[:, :, 1] * lengths[1]
    rotation = rotation @ _rotations(0, ip)
    points[:, 3] = points[:, 2] + rotation[:, :, 1] * lengths[2]
    return points


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cross product (np.cross costs more than the rest of the thumb's search)."""
    return a[:, [1, 2, 0]] * b[:, [2, 0, 1]] - a[:, [2, 0, 1]] * b[:, [1, 2, 0]]


def _chain_with_axes(angles: np.ndarray, proportions: HandProportions) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The thumb's 4 points, and for each of its 5 angles the joint's axis and a point on it (the
    derivative of a point p beyond the joint is axis × (p − pivot))."""
    splay, palmar, twist, mcp, ip = angles
    about_z = _rotations(2, np.array(-(_THUMB_REST_SPLAY + splay)))
    about_zx = about_z @ _rotations(0, np.array(palmar))
    rotation = about_zx @ _rotations(1, np.array(_THUMB_REST_TWIST + twist))
    lengths = proportions.thumb_lengths()
    points = np.empty((4, 3))
    points[0] = proportions.thumb_cmc()
    points[1] = points[0] + rotation[:, 1] * lengths[0]
    mcp_axis = rotation[:, 0]
    rotation = rotation @ _rotations(0, np.array(mcp))
    points[2] = points[1] + rotation[:, 1] * lengths[1]
    ip_axis = rotation[:, 0]
    rotation = rotation @ _rotations(0, np.array(ip))
    points[3] = points[2] + rotation[:, 1] * lengths[2]
    axes = np.stack([[0.0, 0.0, -1.0], about_z[:, 0], about_zx[:, 1], mcp_axis, ip_axis])
    pivots = np.stack([points[0], points[0], points[0], points[1], points[2]])
    return points, axes, pivots


def solve_thumb(goal: ThumbGoal, finger_points: np.ndarray, proportions: HandProportions,
                shift: np.ndarray | None = None, start: np.ndarray | None = None, iterations: int = 40) -> np.ndarray:
    """Thumb angles (radians, [5]) that put the tip (and IP) where `goal` says on a hand whose
    keypoints are `finger_points`; `shift` (mm at mean size) moves the tip's place (a signer's habit);
    `start` (radians) is where the search begins (default: the prior). Damped Gauss-Newton
    (Levenberg-Marquardt) within the thumb's bounds; the prior keeps the rest of the thumb natural."""
    tip = goal.tip.at(finger_points, proportions, shift)
    ip = goal.ip.at(finger_points, proportions) if goal.ip is not None else None
    prior = np.radians(goal.prior)
    stiffness = np.asarray(goal.stiffness)

    def residual_and_jacobian(angles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        points, axes, pivots = _chain_with_axes(angles, proportions)
        parts = [points[3] - tip]
        rows = [_cross(axes, points[3] - pivots).T]
        if ip is not None:
            parts.append(goal.ip_weight * (points[2] - ip))
            ip_rows = _cross(axes, points[2] - pivots).T
            ip_rows[:, 4] = 0.0  # the IP joint does not move itself
            rows.append(goal.ip_weight * ip_rows)
        parts.append(stiffness * (angles - prior))
        rows.append(np.diag(stiffness))
        return np.concatenate(parts), np.concatenate(rows)

    angles = np.clip(prior.copy() if start is None else np.asarray(start, dtype=np.float64), THUMB_LOWER, THUMB_UPPER)
    damping = 1e-2
    current, jacobian = residual_and_jacobian(angles)
    for _ in range(iterations):
        normal = jacobian.T @ jacobian
        candidate = np.clip(angles - np.linalg.solve(normal + damping * np.diag(np.diag(normal) + 1e-6),
                                                     jacobian.T @ current), THUMB_LOWER, THUMB_UPPER)
        trial, trial_jacobian = residual_and_jacobian(candidate)
        if trial @ trial < current @ current:
            moved = float(np.abs(candidate - angles).max())
            angles, current, jacobian, damping = candidate, trial, trial_jacobian, max(damping * 0.3, 1e-4)
            if moved < 2e-3:  # a tenth of a degree: converged
                break
        else:
            damping *= 10.0
    return angles
