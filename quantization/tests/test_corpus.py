"""The corpus reader (dactyl_quant/corpus.py: the trainer's and the teachers'), the clip cache and
teacher files, on miniature corpora in the published layouts."""

import csv
import os

import numpy as np
import pytest
from minicorpus import Clip, standard_clips, write_chicago

from dactyl_quant import corpus as corpus_module
from dactyl_quant.corpus import (DataError, Sample, Skipped, read_bbox, read_chicagofswild, read_corpus,
                                 read_csv_corpus, read_frames, signing_boxes)
from dactyl_quant.preprocess import Crop, crop_and_resize
from dactyl_quant.train import cache as cache_module
from dactyl_quant.train.cache import CacheSpec, ClipCache, hand_crop, read_signing_boxes
from dactyl_quant.teachers.files import teacher_path, write_teacher
from dactyl_quant.train.teacher import check_teacher, teacher_dir, teacher_stats
from dactyl_quant.y4m import Y4MFormat, write_rgb

SPEC = CacheSpec(24, 32, (125, 0, 750, 1000))


@pytest.fixture(scope="module")
def chicago(tmp_path_factory):
    pytest.importorskip("PIL")
    root = tmp_path_factory.mktemp("chicago")
    frames = write_chicago(root, standard_clips() + [Clip("aslized/eve_0009", "", "train")])
    return root, frames


def _rewrite_csv(src, dst, edit):
    """Copy a ChicagoFSWild CSV, passing each data row (a dict) through `edit`."""
    with open(src, newline="") as stream:
        rows = list(csv.reader(stream))
    with open(dst, "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(rows[0])
        for row in rows[1:]:
            writer.writerow([edit(dict(zip(rows[0], row))).get(k, "") for k in rows[0]])


def test_chicago_reader_reads_the_published_layout(chicago):
    root, _ = chicago
    with open(root / "ChicagoFSWild.csv") as stream:
        assert stream.readline().startswith(",filename,url,start_time,number_of_frames,width,height,label_proc,")
    corpus = read_chicagofswild(root)
    assert [s.key for s in corpus.split("dev")] == ["aslized/carol_0005", "aslized/carol_0006"]
    first = corpus.samples[0]
    assert first.key == "aslized/alice_0001" and first.letters == "abc" and first.labels == (1, 2, 3)
    assert first.frames == 8 and first.numbered_jpeg
    assert first.source == str(root / "ChicagoFSWild-Frames" / "aslized" / "alice_0001")
    assert first.bbox_dir == str(root / "BBox" / "aslized" / "alice_0001")
    assert "ChicagoFSWild.csv line 2" in first.where
    # Space, apostrophe, full stop, @ and & are symbols of the alphabet.
    assert {s.letters for s in corpus.samples} >= {"a b", "it's", "no.", "x@y", "b&q"}
    # The row with an empty label_proc is skipped and counted, without --skip-bad.
    assert len(corpus.samples) == 8 and corpus.skipped.counts == {"empty label": 1}
    assert [s.partition for s in read_chicagofswild(root, partitions=("test",)).samples] == ["test", "test"]
    y4m = read_chicagofswild(root, frames="y4m")
    assert y4m.samples[0].source == str(root / "y4m" / "aslized" / "alice_0001.y4m")


def test_unknown_character_is_an_error_naming_row_and_character_or_skipped(chicago, tmp_path):
    root, _ = chicago
    for name in ("ChicagoFSWild-Frames", "BBox", "y4m"):
        os.symlink(root / name, tmp_path / name)
    _rewrite_csv(root / "ChicagoFSWild.csv", tmp_path / "ChicagoFSWild.csv",
                 lambda row: {**row, "label_proc": "h#i"} if row["filename"].endswith("0002") else row)
    with pytest.raises(DataError, match=r"ChicagoFSWild.csv line 3 \(aslized/alice_0002\).*'#' at position 1"):
        read_chicagofswild(tmp_path)
    corpus = read_chicagofswild(tmp_path, skip_bad=True)
    assert corpus.skipped.counts == {"bad label": 1, "empty label": 1}
    assert "aslized/alice_0002" not in [s.key for s in corpus.samples]


def test_plus_layout_and_ambiguous_folder(tmp_path):
    pytest.importorskip("PIL")
    write_chicago(tmp_path, [Clip("a/b_1", "ok")], csv_name="ChicagoFSWildPlus.csv", y4m=False, bbox=False)
    corpus = read_corpus(tmp_path)
    assert corpus.name == "ChicagoFSWildPlus"
    assert corpus.samples[0].source == str(tmp_path / "ChicagoFSWildPlus-Frames" / "a" / "b_1")
    assert corpus.samples[0].bbox_dir is None
    (tmp_path / "ChicagoFSWild.csv").write_text((tmp_path / "ChicagoFSWildPlus.csv").read_text())
    with pytest.raises(DataError, match="choose one with --csv"):
        read_corpus(tmp_path)
    assert read_corpus(tmp_path, csv_name="ChicagoFSWild.csv").name == "ChicagoFSWild"


def test_generic_csv_reader(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (5, 20, 30, 3), dtype=np.uint8)
    (tmp_path / "clips").mkdir()
    write_rgb(tmp_path / "clips" / "one.y4m", Y4MFormat(30, 20, "444"), rgb)
    (tmp_path / "clips.csv").write_text("clip,letters,partition\nclips/one.y4m,ab,train\nclips/two,c d,dev\n"
                                        "clips/three.y4m,,train\n")
    corpus = read_corpus(tmp_path)  # a folder with clips.csv
    assert [(s.key, s.letters, s.partition) for s in corpus.samples] == [("clips/one", "ab", "train"),
                                                                          ("clips/two", "c d", "dev")]
    assert corpus.skipped.counts == {"empty label": 1}
    (tmp_path / "greek.csv").write_text("clip,letters\nclips/one.y4m,αβ\n")
    with pytest.raises(DataError, match=r"greek.csv line 2 \(clips/one.y4m\).*'α'"):
        read_csv_corpus(tmp_path / "greek.csv")
    assert read_csv_corpus(tmp_path / "greek.csv", skip_bad=True).skipped.counts == {"bad label": 1}
    # No partition column: every row is train. The y4m clip caches to the board's pixels.
    (tmp_path / "plain.csv").write_text("clip,letters\nclips/one.y4m,ab\n")
    corpus = read_csv_corpus(tmp_path / "plain.csv")
    samples, entries = ClipCache(tmp_path / "cache", SPEC).ensure(corpus.samples, corpus.skipped)
    cached = np.load(entries["clips/one"].path)
    from dactyl_quant.y4m import read_rgb
    decoded = read_rgb(tmp_path / "clips" / "one.y4m")[1]
    crop = Crop.from_thousandths(SPEC.default_crop, 30, 20)
    assert np.array_equal(cached, np.stack([crop_and_resize(f, crop, 24, 32) for f in decoded]))


def test_cache_holds_the_boards_pixels_and_is_reused(chicago, tmp_path):
    from PIL import Image
    root, _ = chicago
    corpus = read_chicagofswild(root, partitions=("train",))
    cache = ClipCache(tmp_path, SPEC)
    samples, entries = cache.ensure(corpus.samples, corpus.skipped, show_progress=False)
    assert len(samples) == 4
    entry = entries["aslized/alice_0001"]
    assert entry.frames == 8 and entry.crop == (8, 0, 48, 48)  # 125..875 thousandths of 64 x 48
    jpeg = [np.asarray(Image.open(root / "ChicagoFSWild-Frames" / "aslized" / "alice_0001" / f"{t:04d}.jpg")
                       .convert("RGB")) for t in range(1, 9)]
    expected = np.stack([crop_and_resize(f, Crop(8, 0, 48, 48), 24, 32) for f in jpeg])
    assert np.array_equal(np.load(entry.path), expected)
    # A second cache over the same folder builds nothing.
    calls = []
    real = cache_module._build_one
    cache_module._build_one = lambda job: calls.append(job) or real(job)
    try:
        ClipCache(tmp_path, SPEC).ensure(corpus.samples, Skipped(), show_progress=False)
        assert calls == []
    finally:
        cache_module._build_one = real


def test_cache_without_pillow_names_the_remedies(chicago, tmp_path, monkeypatch):
    root, _ = chicago
    monkeypatch.setattr(corpus_module, "pillow", lambda: None)
    corpus = read_chicagofswild(root, frames="jpg", partitions=("dev",))
    with pytest.raises(DataError, match="needs Pillow.*--frames y4m.*carry"):
        ClipCache(tmp_path, SPEC).ensure(corpus.samples, corpus.skipped, show_progress=False)
    # y4m frames need no Pillow; a cache carried to a machine without the frames is used as it is.
    corpus = read_chicagofswild(root, frames="y4m", partitions=("dev",))
    ClipCache(tmp_path, SPEC).ensure(corpus.samples, corpus.skipped, workers=2, show_progress=False)
    moved = [s.__class__(**{**s.__dict__, "source": str(tmp_path / "gone.y4m")}) for s in corpus.samples]
    kept, entries = ClipCache(tmp_path, SPEC).ensure(moved, Skipped(), show_progress=False)
    assert len(kept) == 2 and all(os.path.isfile(e.path) for e in entries.values())


def test_missing_clip_and_frame_count_mismatch(chicago, tmp_path):
    root, _ = chicago
    corpus = read_chicagofswild(root, frames="y4m", partitions=("train",))
    missing = corpus.samples[0].__class__(**{**corpus.samples[0].__dict__, "key": "nope",
                                             "source": str(tmp_path / "nope.y4m")})
    wrong = corpus.samples[1].__class__(**{**corpus.samples[1].__dict__, "frames": 9})
    with pytest.raises(DataError, match=r"line 2 .*nope.y4m does not exist"):
        ClipCache(tmp_path, SPEC).ensure([missing], Skipped(), show_progress=False)
    with pytest.raises(DataError, match=r"line 3 \(aslized/alice_0002\).* has 8 frames, the corpus says 9"):
        ClipCache(tmp_path, SPEC).ensure([wrong], Skipped(), show_progress=False)
    skipped = Skipped(skip_bad=True)
    kept, _ = ClipCache(tmp_path, SPEC).ensure([missing, wrong] + corpus.samples[2:], skipped, show_progress=False)
    assert len(kept) == 2 and skipped.counts == {"missing clip": 1, "unreadable clip": 1}


def test_bbox_crop_is_around_the_signing_hand(chicago, tmp_path):
    root, _ = chicago
    boxes = read_signing_boxes(str(root / "BBox" / "aslized" / "alice_0001"), 8)
    assert len(boxes) == 8 and boxes[0] == (43.0, 10.0, 59.0, 30.0)  # flag 1, not the flag-0 hand at 2,4
    crop = hand_crop(boxes, 64, 48, aspect=32 / 24, margin=1.6)
    assert crop.x <= 43 and crop.x + crop.width >= 60 and crop.y <= 10 and crop.y + crop.height >= 30
    assert crop.x > 12  # the other hand is left out
    assert crop.x + crop.width <= 64 and crop.y + crop.height <= 48
    assert abs(crop.width / crop.height - 32 / 24) < 0.1
    spec = CacheSpec(24, 32, (125, 0, 750, 1000), "bbox")
    corpus = read_chicagofswild(root, frames="y4m", partitions=("dev",))
    _, entries = ClipCache(tmp_path, spec).ensure(corpus.samples, corpus.skipped, show_progress=False)
    assert entries["aslized/carol_0005"].crop == (crop.x, crop.y, crop.width, crop.height)


def test_teacher_files_checked_against_the_clip(chicago, tmp_path):
    root, _ = chicago
    corpus = read_chicagofswild(root, partitions=("train",))
    directory = teacher_dir(root, "synthpose")
    frames = {s.key: 8 for s in corpus.samples}
    kept, dim = check_teacher(corpus.samples, directory, frames, Skipped())
    assert len(kept) == 4 and dim == 6
    frames["aslized/alice_0002"] = 9
    with pytest.raises(DataError, match=r"line 3 \(aslized/alice_0002\): teacher file .*alice_0002.npy has 8 frames, "
                                        r"the clip has 9"):
        check_teacher(corpus.samples, directory, frames, Skipped())
    skipped = Skipped(skip_bad=True)
    kept, _ = check_teacher(corpus.samples, directory, frames, skipped)
    assert len(kept) == 3 and skipped.counts == {"teacher frames": 1}
    with pytest.raises(DataError, match="hamer.*does not exist"):
        check_teacher(corpus.samples, teacher_dir(root, "hamer"), frames, Skipped())
    mean, std = teacher_stats([str(directory / f"{s.key}.npy") for s in kept])
    assert mean.shape == std.shape == (6,) and np.all(std > 0)


def test_teacher_detection_sidecar(tmp_path):
    directory = tmp_path / "teachers" / "mediapipe"
    (directory / "a").mkdir(parents=True)
    np.save(directory / "a" / "x.npy", np.array([[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]], np.float32))
    np.save(directory / "a" / "x.detected.npy", np.array([True, True, False]))
    sample = Sample("a/x", "a/x.y4m", "ab", (1, 2), "train", "clips.csv line 2 (a/x)")
    kept, dim = check_teacher([sample], directory, {"a/x": 3}, Skipped())
    assert dim == 2 and len(kept) == 1
    mean, std = teacher_stats([str(directory / "a" / "x.npy")], masks=[str(directory / "a" / "x.detected.npy")])
    assert mean.tolist() == [2.0, 3.0] and std.tolist() == [1.0, 1.0]  # the undetected frame is left out
    np.save(directory / "a" / "x.detected.npy", np.array([True, True]))
    with pytest.raises(DataError, match=r"line 2 \(a/x\): .*x.detected.npy has shape \(2,\), the clip has 3"):
        check_teacher([sample], directory, {"a/x": 3}, Skipped())


# ---- the teachers' use: no alphabet, frames and boxes read from the corpus ------------------------

HEADER = ",filename,url,start_time,number_of_frames,width,height,label_proc,label_raw,label_notes,partition,signer\n"


def _frames(count, seed=0, size=(24, 32)):
    rng = np.random.default_rng(seed)
    return (rng.random((count, *size, 3)) * 255).astype(np.uint8)


def make_chicago(root, clips, jpeg=True, bbox=True):
    """A tiny ChicagoFSWild layout: clips = [(filename, frames, partition)]."""
    lines = [HEADER]
    for i, (name, frames, partition) in enumerate(clips):
        lines.append(f"{i},{name},http://x,0:00,{len(frames)},32,24,ab,AB,,{partition},s{i}\n")
        if jpeg:
            from PIL import Image
            folder = root / "ChicagoFSWild-Frames" / name
            folder.mkdir(parents=True)
            for t, frame in enumerate(frames):
                Image.fromarray(frame).save(folder / f"{t + 1:04d}.jpg", quality=95)
        else:
            path = root / "y4m" / f"{name}.y4m"
            path.parent.mkdir(parents=True, exist_ok=True)
            write_rgb(path, Y4MFormat(frames.shape[2], frames.shape[1], "444"), frames)
        if bbox:
            folder = root / "BBox" / name
            folder.mkdir(parents=True)
            (folder / "0001.txt").write_text("1,2,10,12,0\n4,5,20,22,1\n")
    (root / "ChicagoFSWild.csv").write_text("".join(lines))


def test_chicago_jpeg_layout_frames_and_boxes(tmp_path):
    pytest.importorskip("PIL")
    make_chicago(tmp_path, [("aslized/a_001", _frames(3), "train"), ("b_002", _frames(2, 1), "dev")])
    corpus = read_corpus(tmp_path, alphabet=None)
    assert [c.key for c in corpus.samples] == ["aslized/a_001", "b_002"]
    clip = corpus.samples[0]
    assert clip.frames == 3 and clip.numbered_jpeg and clip.partition == "train" and clip.labels == ()
    frames = read_frames(clip)
    assert len(frames) == 3 and frames[0].shape == (24, 32, 3)
    boxes = signing_boxes(clip.bbox_dir, 3)
    np.testing.assert_array_equal(boxes[0], [4, 5, 20, 22])  # the flag-1 line
    assert boxes[1] is None and boxes[2] is None
    assert [c.key for c in read_corpus(tmp_path, partitions=("dev",), alphabet=None).samples] == ["b_002"]
    # The CSV itself names the corpus too.
    assert [c.key for c in read_corpus(tmp_path / "ChicagoFSWild.csv", alphabet=None).samples] == [
        "aslized/a_001", "b_002"]


def test_chicago_y4m_layout_and_frame_count_check(tmp_path):
    make_chicago(tmp_path, [("c_003", _frames(4), "test")], jpeg=False, bbox=False)
    clip = read_corpus(tmp_path, alphabet=None).samples[0]
    assert clip.is_y4m and clip.bbox_dir is None
    assert len(read_frames(clip)) == 4
    (tmp_path / "ChicagoFSWild.csv").write_text(HEADER + "0,c_003,u,0,5,32,24,ab,AB,,test,s\n")
    with pytest.raises(DataError, match="has 4 frames, the corpus says 5"):
        read_frames(read_corpus(tmp_path, alphabet=None).samples[0])


def test_clip_csv_without_letters_and_single_y4m(tmp_path):
    clip_path = tmp_path / "clips" / "one.y4m"
    clip_path.parent.mkdir()
    write_rgb(clip_path, Y4MFormat(32, 24, "444"), _frames(2))
    (tmp_path / "clips.csv").write_text("clip,letters,partition\nclips/one.y4m,ab,train\n")
    corpus = read_corpus(tmp_path, alphabet=None)
    assert corpus.root == tmp_path and [c.key for c in corpus.samples] == ["clips/one"]
    # Unlabelled clips (for the KD term): no letters column is needed without an alphabet.
    (tmp_path / "unlabelled.csv").write_text("path\nclips/one.y4m\n")
    assert [c.key for c in read_corpus(tmp_path / "unlabelled.csv", alphabet=None).samples] == ["clips/one"]
    with pytest.raises(DataError, match="expected a column named letters or label or text"):
        read_corpus(tmp_path / "unlabelled.csv")
    single = read_corpus(clip_path, alphabet=None)
    assert single.root == clip_path.parent and single.samples[0].key == "one"
    assert len(read_frames(single.samples[0])) == 2
    with pytest.raises(DataError, match="has no letters"):
        read_corpus(clip_path)
    with pytest.raises(DataError, match="neither"):
        read_corpus(tmp_path / "clips", alphabet=None)


def test_read_bbox_formats(tmp_path):
    path = tmp_path / "b.txt"
    path.write_text("\n1 2 3 4 1\n")
    np.testing.assert_array_equal(read_bbox(path), [1, 2, 3, 4])
    path.write_text("1,2,3,4,0\n")
    assert read_bbox(path) is None
    assert read_bbox(tmp_path / "missing.txt") is None
    path.write_text("1,2,3,4,0\njunk\n1,2,3,4,1\n")
    with pytest.raises(DataError, match=r"b.txt line 2: expected x1,y1,x2,y2,flag, found 'junk'"):
        read_bbox(path)


def test_write_teacher(tmp_path):
    feats = np.arange(12, dtype=np.float64).reshape(3, 4)
    path = write_teacher(tmp_path, "mediapipe", "dir/clip", feats, np.array([1, 0, 1]))
    assert path == teacher_path(tmp_path, "mediapipe", "dir/clip")
    loaded = np.load(path)
    assert loaded.dtype == np.float32 and loaded.shape == (3, 4)
    detected = np.load(teacher_path(tmp_path, "mediapipe", "dir/clip", ".detected.npy"))
    assert detected.dtype == bool and detected.tolist() == [True, False, True]
    assert not list(path.parent.glob("*.tmp"))
    with pytest.raises(ValueError, match="do not match"):
        write_teacher(tmp_path, "t", "c", feats, np.ones(2))
    with pytest.raises(ValueError, match=r"\[T, D\]"):
        write_teacher(tmp_path, "t", "c", np.zeros(3))
    with pytest.raises(ValueError, match="NaN"):
        write_teacher(tmp_path, "t", "c", np.full((2, 2), np.nan))
