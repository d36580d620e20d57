"""Evaluation clips: held-out words composed into whole 640x480 frames, with the true crop beside them.

Each clip is one word of the generator's held-out (test) split, signed by a held-out signer, rendered
by the generator's clip machinery (the same viewpoint framing, look and pose sequence as a test
clip) and placed at a random position and scale, fixed for the clip, in a room with the signer's
face and body and often their other hand in view; the generator's camera model then develops every
whole frame. The sidecar (clips.json) gives each clip's letters and its true crop, the pasted clip
square (x, y, w, h in pixels), so `dactyl decode CLIP --crop X,Y,W,H` is the true-crop baseline and
`--crop auto` the localiser's.

    python -m dactyl_quant localiser clips --out DIR --seed S [--count 20] [--size 640x480]
"""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..synth.alphabet_shapes import signer_alphabet
from ..synth.clip import FrameRenderer, SynthSettings
from ..synth.imaging import develop, gaussian_blur, vignetting
from ..synth.photos import pool_photos
from ..synth.background import room
from ..synth.render import Camera
from ..synth.scene import PHOTO_SHARE, SKIN_TONES, SPLIT_RANGES, Signer, random_signer, sample_camera, sample_look
from ..synth.scene import sample_viewpoint
from ..synth.sequence import word_sequence
from ..y4m import Y4MFormat, write_rgb
from .compose import CANVAS_MARGIN, LEFT_HANDED, _paste, _paste_other_hand, _resize, draw_person, render_layer
from .data import frame_rng, split_words

SIDECAR = "clips.json"
CLIP_SIDE = (0.35, 0.8)  # the clip square's side as a share of the frame height
MAX_RENDER = 240         # the hand is rendered at most this big and scaled up


@dataclass(frozen=True)
class ClipSpec:
    name: str
    word: str
    crop: tuple[int, int, int, int]  # x, y, w, h: the true crop, inside the frame
    frames: int


def compose_clip(rng: np.random.Generator, word: str, width: int, height: int, split: str = "test"
                 ) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """uint8 frames [T, height, width, 3] of `word` and the true crop (x, y, side, side)."""
    ranges = SPLIT_RANGES[split]
    signer = random_signer(split, rng)
    signer = Signer(signer.id, signer.skin_tone, signer.proportions, signer.style, bool(rng.random() < LEFT_HANDED))
    side = int(round(rng.uniform(*CLIP_SIDE) * height))
    x0, y0 = int(rng.integers(0, width - side + 1)), int(rng.integers(0, height - side + 1))
    render = min(side, MAX_RENDER)
    full = CANVAS_MARGIN * render
    look = sample_look(rng, split, signer, full, full)
    settings = SynthSettings(split, render, render)
    viewpoint = sample_viewpoint(rng, split)
    sequence = word_sequence(word, rng, settings.fps, settings.signer_timing(signer),
                             signer_alphabet(signer.style, signer.proportions))
    renderer = FrameRenderer(signer.proportions, viewpoint, look, render, render, signer.left_handed)
    camera = Camera(full, full, renderer.camera.focal)

    # The still scene: a room, the signer (head beside the hand, on the other side from it), the other hand.
    photos = pool_photos(split)
    scene, _ = room(rng, height, width, ranges.backgrounds, ranges.clutter,
                    photos if rng.random() < PHOTO_SHARE else ())
    scene = np.clip(gaussian_blur(scene, float(rng.uniform(0.5, 2.0))), 0.0, 1.0).astype(np.float64)
    hand_side = 1.0 if signer.left_handed else -1.0
    head_height = side / rng.uniform(1.1, 1.8)
    cx, cy = x0 + side / 2, y0 + side / 2
    head = (cx - hand_side * head_height * rng.uniform(0.7, 1.6), cy - head_height * rng.uniform(0.0, 1.2))
    draw_person(rng, scene, head, head_height, SKIN_TONES[signer.skin_tone], look.lighting.direction)
    if rng.random() < 0.8:
        _paste_other_hand(rng, scene, signer, look, side, head, head_height, hand_side, {})

    device = sample_camera(rng, look.camera_kind, look.lighting, height / 256)
    vignette = vignetting(height, width, device.vignette) if device.vignette > 0 else None
    scale_side = CANVAS_MARGIN * side
    margin = (scale_side - side) // 2
    frames = np.empty((sequence.num_frames, height, width, 3), dtype=np.uint8)
    for f in range(sequence.num_frames):
        prims = renderer.primitives(sequence.angles[f], sequence.orientation(f), sequence.positions[f],
                                    sequence.forearm_follow[f])
        layer, alpha = render_layer(prims, camera, look, look.albedo_variation)
        layer = _resize(layer, scale_side)
        alpha = _resize(alpha[..., None], scale_side)[..., 0]
        image = scene.copy()
        _paste(image, layer, alpha, x0 - margin, y0 - margin)
        frames[f] = develop(rng, image.astype(np.float32), device, vignette)
    return frames, (x0, y0, side, side)


def write_clips(out: Path, seed: int, count: int, width: int = 640, height: int = 480, split: str = "test",
                log=print) -> list[ClipSpec]:
    """`count` clips of `split`'s words (shuffled by the seed) into out/, and out/clips.json."""
    out.mkdir(parents=True, exist_ok=True)
    words = split_words(split)
    order = np.random.default_rng([seed, 14]).permutation(len(words))
    specs = []
    for n in range(count):
        word = words[order[n % len(words)]]
        name = f"{split}-{seed}-{n:03d}.y4m"
        frames, crop = compose_clip(frame_rng(seed, f"clip-{split}", n), word, width, height, split)
        write_rgb(out / name, Y4MFormat(width, height, "420jpeg", False, (30, 1)), frames)
        specs.append(ClipSpec(name, word, crop, len(frames)))
        log(f"{out / name}: {word!r}, {len(frames)} frames, true crop {crop}")
    (out / SIDECAR).write_text(json.dumps({
        "seed": seed, "split": split, "width": width, "height": height, "fps": [30, 1],
        "clips": [{"clip": s.name, "letters": s.word, "crop": list(s.crop), "frames": s.frames} for s in specs]},
        indent=1) + "\n")
    return specs


def read_sidecar(path: Path) -> list[ClipSpec]:
    """clips.json: every clip's name, letters and true crop; errors name the file and the clip."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    specs = []
    for index, entry in enumerate(data.get("clips", [])):
        try:
            crop = tuple(int(v) for v in entry["crop"])
            if len(crop) != 4:
                raise ValueError(f"crop {entry['crop']} is not x, y, w, h")
            specs.append(ClipSpec(str(entry["clip"]), str(entry["letters"]), crop, int(entry.get("frames", 0))))
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"{path}: clip {index}: {error}") from None
    if not specs:
        raise ValueError(f"{path}: no clips")
    return specs
