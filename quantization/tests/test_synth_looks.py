"""The generator's appearance: mirrored signers, shadows and creases, cameras, photo backgrounds."""

import json

import numpy as np
import pytest
from PIL import Image

from dactyl_quant.synth import photos
from dactyl_quant.synth.alphabet_shapes import LETTER_SHAPES
from dactyl_quant.synth.clip import FrameRenderer, pose_features
from dactyl_quant.synth.hand import HandProportions
from dactyl_quant.synth.imaging import CameraModel, develop, motion_blur
from dactyl_quant.synth.render import (SKIN, Camera, Fragments, Primitives, cast_shadow, joint_creases,
                                       rasterise)
from dactyl_quant.synth.scene import (CAMERA_KINDS, LIGHTING_SETUPS, SPLIT_RANGES, Viewpoint, make_signers,
                                      sample_camera, sample_lighting, sample_look)
from dactyl_quant.synth.sequence import word_sequence
from dactyl_quant.synth.sheet import studio_look

SIZE = 64


def _renderer(mirrored: bool, look=None) -> FrameRenderer:
    return FrameRenderer(HandProportions(), Viewpoint(0.0, 0.0, 0.0, 0.6, (0.0, 0.0)), look or studio_look(SIZE),
                         SIZE, SIZE, mirrored)


def test_a_left_handed_signer_is_the_mirror_image_of_a_right_handed_one():
    shape = LETTER_SHAPES["l"]  # asymmetric: the thumb sticks out to one side
    pose = (shape.angles, shape.orientation, np.zeros(3), shape.forearm_follow)
    right = rasterise(_renderer(False).primitives(*pose), _renderer(False).camera)
    left = rasterise(_renderer(True).primitives(*pose), _renderer(True).camera)
    right_mask = np.zeros(SIZE * SIZE, bool)
    right_mask[right.pixel] = True
    left_mask = np.zeros(SIZE * SIZE, bool)
    left_mask[left.pixel] = True
    right_mask, left_mask = right_mask.reshape(SIZE, SIZE), left_mask.reshape(SIZE, SIZE)
    assert not np.array_equal(right_mask, right_mask[:, ::-1])  # the hand is not symmetric ...
    np.testing.assert_array_equal(left_mask, right_mask[:, ::-1])  # ... and the left one is its mirror


def test_mirrored_pose_features_describe_the_mirrored_hand():
    sequence = word_sequence("kg", np.random.default_rng(3))
    proportions = HandProportions()
    right = pose_features(sequence, proportions)
    left = pose_features(sequence, proportions, mirrored=True)
    mirror = np.diag([-1.0, 1.0, 1.0])
    for frame in (0, sequence.num_frames // 2):
        keypoints_right, keypoints_left = right[frame, :63].reshape(21, 3), left[frame, :63].reshape(21, 3)
        np.testing.assert_allclose(keypoints_left, keypoints_right @ mirror, atol=1e-6)
        rotation = sequence.orientation(frame).matrix()
        first, second = left[frame, 63:66], left[frame, 66:69]
        rotation_left = np.stack([first, second, np.cross(first, second)], axis=1)
        # The mirrored hand in the signer frame is the mirror image of the right hand there.
        np.testing.assert_allclose(rotation_left @ keypoints_left.T, mirror @ rotation @ keypoints_right.T, atol=1e-5)
        assert np.linalg.det(rotation_left) == pytest.approx(1.0, abs=1e-5)


def _slab_and_rod(rod_gap_mm: float) -> Primitives:
    """A flat plate facing the camera, its surface at 397 mm, and a finger-thick rod (radius 6 mm)
    whose axis is `rod_gap_mm` in front of that surface."""
    starts = np.array([[-60.0, 0.0, 400.0], [-40.0, 0.0, 397.0 - rod_gap_mm]])
    ends = np.array([[60.0, 0.0, 400.0], [40.0, 0.0, 397.0 - rod_gap_mm]])
    radii = np.array([60.0, 6.0])
    return Primitives(starts, ends, radii, radii, np.full(2, SKIN), np.tile([0.0, 0.0, -1.0], (2, 1)),
                      np.zeros(2, bool), np.tile([0.0, 0.0, 1.0], (2, 1)), np.array([0.05, 1.0]),
                      ("palm", "index proximal"))


def test_a_finger_casts_a_shadow_away_from_the_light_and_not_towards_it():
    camera = Camera.with_field_of_view(96, 96, 30.0)
    prims = _slab_and_rod(15.0)
    fragments = rasterise(prims, camera)
    light_from_above = np.array([0.0, -0.6, -0.8])  # camera y points down
    shadow = cast_shadow(fragments, camera, light_from_above)
    on_plate = fragments.primitive == 0
    rows, columns = fragments.pixel // camera.width, fragments.pixel % camera.width
    rod_rows, rod_columns = rows[fragments.primitive == 1], columns[fragments.primitive == 1]
    under_rod = on_plate & (columns > rod_columns.min() + 3) & (columns < rod_columns.max() - 3)
    below = under_rod & (rows > rod_rows.max()) & (rows <= rod_rows.max() + 6)
    above = under_rod & (rows < rod_rows.min()) & (rows >= rod_rows.min() - 6)
    assert shadow[below].mean() > 0.4  # the light comes from above: the shadow falls below the rod
    assert shadow[above].mean() < 0.05
    assert shadow[fragments.primitive == 1].max() < 0.05  # nothing in front of the rod itself
    # A light from behind the hand casts no shadow the camera sees on the lit side.
    assert not cast_shadow(fragments, camera, np.array([0.0, -0.6, 0.8])).any()


def test_joint_creases_darken_the_skin_at_the_joints_only():
    prims = _slab_and_rod(15.0)
    count = 4
    fragments = Fragments(np.arange(count), np.full(count, 400.0), np.tile([0.0, 0.0, 1.0], (count, 1)),
                          np.array([1, 1, 1, 0]), np.array([0.0, 0.5, 1.0, 0.0]))
    # Normals facing away from the volar side: the back of the finger, wrinkled over the knuckle.
    creases = joint_creases(fragments, prims)
    assert creases[0] < 0.9 and creases[1] == pytest.approx(1.0, abs=1e-3) and creases[3] == 1.0


def test_cameras_differ_as_their_kinds_say():
    grey = np.full((128, 128, 3), 0.45, dtype=np.float32)
    lighting = sample_lighting(np.random.default_rng(0), "overhead")

    def noise_and_banding(kind: str) -> tuple[float, float]:
        """Pixel noise (levels), and how much more the row means vary than the column means."""
        noises, bands = [], []
        for seed in range(4):
            camera = sample_camera(np.random.default_rng(seed), kind, lighting, 0.5)
            camera = CameraModel(**{**camera.__dict__, "jpeg_quality": 0, "vignette": 0.0, "blur_sigma": 0.0})
            frame = develop(np.random.default_rng(seed), grey, camera).astype(float)
            noises.append(frame.std(axis=(0, 1)).mean())
            bands.append(frame.mean(axis=(1, 2)).std() / frame.mean(axis=(0, 2)).std())
        return float(np.mean(noises)), float(np.mean(bands))

    phone, low_light, cheap = noise_and_banding("phone"), noise_and_banding("low-light"), noise_and_banding("cheap-usb")
    assert low_light[0] > 2 * phone[0]  # high gain: far more noise
    assert cheap[1] > 1.6 and phone[1] < 1.25 and low_light[1] < 1.25  # only the cheap sensor bands by rows
    with pytest.raises(ValueError, match="camera kind 'film'"):
        sample_camera(np.random.default_rng(0), "film", lighting, 1.0)


def test_motion_blur_smears_a_moving_layer_and_keeps_its_coverage():
    alpha = np.zeros((32, 32))
    alpha[12:20, 12:20] = 1.0
    layer = alpha[..., None] * [0.8, 0.6, 0.5]
    smeared_layer, smeared = motion_blur(layer, alpha, np.array([8.0, 0.0]), 5)
    assert smeared.sum() == pytest.approx(alpha.sum())
    assert ((smeared > 0.05) & (smeared < 0.95)).sum() > 40  # soft edges along the motion ...
    assert np.array_equal(smeared[:, 16] > 0, alpha[:, 16] > 0)  # ... none across it
    np.testing.assert_allclose(smeared_layer, smeared[..., None] * [0.8, 0.6, 0.5])


def test_a_fast_hand_is_blurred_only_with_an_open_shutter():
    shape = LETTER_SHAPES["b"]
    frames = {}
    for shutter in (0.0, 1.0):
        look = studio_look(SIZE)
        look = type(look)(**{**look.__dict__, "camera": CameraModel(shutter=shutter)})
        renderer = _renderer(False, look)
        rng = np.random.default_rng(0)
        renderer.render(shape.angles, shape.orientation, np.zeros(3), shape.forearm_follow, rng)
        frames[shutter], _ = renderer.render(shape.angles, shape.orientation, np.array([40.0, 0.0, 0.0]),
                                             shape.forearm_follow, rng)
    sharp, blurred = (np.abs(np.diff(frames[s].astype(float), axis=1)).sum() for s in (0.0, 1.0))
    assert blurred < 0.85 * sharp  # horizontal motion softens the vertical edges


def test_held_out_lighting_cameras_and_photos_are_disjoint_from_training():
    held_out, trained = SPLIT_RANGES["test"], SPLIT_RANGES["train"]
    assert not set(held_out.lighting) & set(trained.lighting)
    assert not set(held_out.cameras) & set(trained.cameras)
    assert set(held_out.lighting) | set(trained.lighting) == set(LIGHTING_SETUPS)
    assert set(held_out.cameras) | set(trained.cameras) == set(CAMERA_KINDS)
    assert held_out.photo_pool != trained.photo_pool == SPLIT_RANGES["dev"].photo_pool
    pools = {source.name: source.pool for source in photos.SOURCES}
    assert len(pools) == len(photos.SOURCES)  # one stored name per photo
    assert 0.2 < list(pools.values()).count("test") / len(pools) < 0.5


def _fake_cache(folder, colours):
    for pool, colour in colours.items():
        (folder / pool).mkdir(parents=True)
        for n in range(2):
            Image.new("RGB", (96, 64), colour).save(folder / pool / f"{pool}-{n}.jpg")


def test_splits_draw_photos_from_their_own_pool(tmp_path, monkeypatch):
    _fake_cache(tmp_path, {"train": (200, 30, 30), "test": (30, 30, 200)})
    monkeypatch.setenv("DACTYL_BACKGROUNDS", str(tmp_path))
    rng = np.random.default_rng(5)
    for split, pool in (("train", "train"), ("dev", "train"), ("test", "test")):
        signer = make_signers(split, 1, rng)[0]
        kinds = [sample_look(rng, split, signer, 32, 32).background_kind for _ in range(24)]
        shown = {kind.split(":")[1] for kind in kinds if kind.startswith("photo:")}
        assert shown and all(name.startswith(pool) for name in shown), (split, kinds)
        assert any(not kind.startswith("photo:") for kind in kinds)  # procedural rooms as well


def test_without_the_cache_every_room_is_procedural(tmp_path, monkeypatch):
    monkeypatch.setenv("DACTYL_BACKGROUNDS", str(tmp_path / "absent"))
    rng = np.random.default_rng(1)
    signer = make_signers("train", 1, rng)[0]
    assert {sample_look(rng, "train", signer, 32, 32).background_kind for _ in range(10)} == {"gradient"}


def test_collect_scales_photos_down_and_records_their_sources(tmp_path):
    original = tmp_path / "wall.jpg"
    Image.new("RGB", (1600, 1200), (120, 90, 60)).save(original)
    sources = (photos.PhotoSource("wall", "some-backgrounds", str(original), "A. Author", "CC0-1.0", "test"),
               photos.PhotoSource("gone", "absent-backgrounds", str(tmp_path / "gone.jpg"), "B", "CC0-1.0", "train"))
    said = []
    stored = photos.collect(tmp_path / "cache", sources, skimage=False, log=said.append)
    assert [s.name for s in stored] == ["wall"]
    with Image.open(tmp_path / "cache" / "test" / "wall.jpg") as image:
        assert min(image.size) == photos.STORED_SHORT_SIDE and image.size[0] > image.size[1]
    record = json.loads((tmp_path / "cache" / "sources.json").read_text())
    assert record == [{"name": "wall", "origin": "some-backgrounds", "path": str(original), "author": "A. Author",
                       "licence": "CC0-1.0", "pool": "test"}]
    assert said == ["absent-backgrounds: not installed, its photos skipped (apt-get install absent-backgrounds)"]
    assert photos.pool_photos("test", tmp_path / "cache") == (tmp_path / "cache" / "test" / "wall.jpg",)
    assert photos.pool_photos("train", tmp_path / "cache") == ()


def test_the_corpus_records_how_each_clip_looks(tmp_path):
    from dactyl_quant.synth.cli import main
    words = tmp_path / "words.txt"
    words.write_text("ox\n")
    for split in ("train", "test"):
        assert main(["generate", "--words", str(words), "--out", str(tmp_path), "--seed", "1", "--clips", "3",
                     "--size", "24x24", "--split", split]) == 0
    manifest = json.loads((tmp_path / "synth.json").read_text())
    for split in ("train", "test"):
        looks = manifest[split]["looks"]
        assert len(looks) == 3 and all(name.startswith(f"synth_{split}/") for name in looks)
        for look in looks.values():
            assert look["lighting"] in SPLIT_RANGES[split].lighting
            assert look["camera"] in SPLIT_RANGES[split].cameras
            assert look["background"] in SPLIT_RANGES[split].backgrounds  # no photos in tests
            assert isinstance(look["left_handed"], bool) and isinstance(look["off_centre"], bool)
