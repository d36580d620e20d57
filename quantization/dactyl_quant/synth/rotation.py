"""Rotations as unit quaternions (w, x, y, z): composition, interpolation, and the 6D form."""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Rotation:
    quaternion: np.ndarray  # [4] unit (w, x, y, z), w ≥ 0

    @staticmethod
    def identity() -> "Rotation":
        return Rotation(np.array([1.0, 0.0, 0.0, 0.0]))

    @staticmethod
    def from_quaternion(q: np.ndarray) -> "Rotation":
        q = np.asarray(q, dtype=np.float64)
        q = q / np.linalg.norm(q)
        return Rotation(-q if q[0] < 0 else q)

    @staticmethod
    def from_rotvec(vector: np.ndarray) -> "Rotation":
        """Rotation by |v| radians about v."""
        vector = np.asarray(vector, dtype=np.float64)
        angle = np.linalg.norm(vector)
        if angle < 1e-12:
            return Rotation.identity()
        return Rotation.from_quaternion(np.concatenate([[np.cos(angle / 2)], np.sin(angle / 2) * vector / angle]))

    @staticmethod
    def from_euler_degrees(x: float, y: float, z: float) -> "Rotation":
        """About the fixed x axis first, then y, then z."""
        about = np.eye(3)
        return (Rotation.from_rotvec(about[2] * np.radians(z)) * Rotation.from_rotvec(about[1] * np.radians(y))
                * Rotation.from_rotvec(about[0] * np.radians(x)))

    @staticmethod
    def hand_facing(fingers: np.ndarray, palm: np.ndarray) -> "Rotation":
        """The rotation that points a hand's fingers (its +y) along `fingers` and its palm (+z) as near
        to `palm` as a rotation can while keeping the fingers exact."""
        y = np.asarray(fingers, dtype=np.float64)
        y = y / np.linalg.norm(y)
        z = np.asarray(palm, dtype=np.float64)
        z = z - y * (z @ y)
        z = z / np.linalg.norm(z)
        return Rotation.from_matrix(np.stack([np.cross(y, z), y, z], axis=1))

    @staticmethod
    def from_matrix(matrix: np.ndarray) -> "Rotation":
        """Of a proper rotation matrix (Shepperd's method: the largest of the four candidates is stable)."""
        m = np.asarray(matrix, dtype=np.float64)
        trace = np.trace(m)
        candidates = [trace, m[0, 0], m[1, 1], m[2, 2]]
        largest = int(np.argmax(candidates))
        if largest == 0:
            w = np.sqrt(1.0 + trace) / 2
            q = [w, (m[2, 1] - m[1, 2]) / (4 * w), (m[0, 2] - m[2, 0]) / (4 * w), (m[1, 0] - m[0, 1]) / (4 * w)]
        else:
            i = largest - 1
            j, k = (i + 1) % 3, (i + 2) % 3
            v = np.sqrt(1.0 + m[i, i] - m[j, j] - m[k, k]) / 2
            q = [0.0, 0.0, 0.0, 0.0]
            q[0] = (m[k, j] - m[j, k]) / (4 * v)
            q[1 + i] = v
            q[1 + j] = (m[j, i] + m[i, j]) / (4 * v)
            q[1 + k] = (m[k, i] + m[i, k]) / (4 * v)
        return Rotation.from_quaternion(np.array(q))

    def __mul__(self, other: "Rotation") -> "Rotation":
        """self ∘ other: apply `other` first."""
        w1, x1, y1, z1 = self.quaternion
        w2, x2, y2, z2 = other.quaternion
        return Rotation.from_quaternion(np.array([
            w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
            w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
            w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
            w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2]))

    def matrix(self) -> np.ndarray:
        w, x, y, z = self.quaternion
        return np.array([
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]])

    def angle(self) -> float:
        """The rotation angle in radians, in [0, π]."""
        return 2.0 * float(np.arccos(np.clip(self.quaternion[0], -1.0, 1.0)))

    def slerp(self, other: "Rotation", fraction: float) -> "Rotation":
        """The rotation `fraction` of the way from self to other along the shorter arc."""
        q0, q1 = self.quaternion, other.quaternion
        dot = float(q0 @ q1)
        if dot < 0:
            q1, dot = -q1, -dot
        if dot > 0.9995:  # nearly equal: the linear blend is exact enough and avoids 0/0
            return Rotation.from_quaternion(q0 + fraction * (q1 - q0))
        theta = np.arccos(dot)
        return Rotation.from_quaternion((np.sin((1 - fraction) * theta) * q0 + np.sin(fraction * theta) * q1)
                                        / np.sin(theta))

    def six_d(self) -> np.ndarray:
        """The first two columns of the matrix (Zhou et al., CVPR 2019): continuous, unlike quaternions."""
        return self.matrix()[:, :2].T.reshape(-1)
