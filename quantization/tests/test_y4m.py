import numpy as np
import pytest

from dactyl_quant.y4m import (Y4MFormat, Y4MReader, YUVFrame, read_rgb, rgb_to_yuv, write_rgb, write_y4m,
                              yuv_to_rgb)


def _random_frames(fmt: Y4MFormat, count: int, seed: int) -> list[YUVFrame]:
    rng = np.random.default_rng(seed)
    chroma = fmt.chroma_shape
    return [YUVFrame(rng.integers(0, 256, (fmt.height, fmt.width), dtype=np.uint8),
                     rng.integers(0, 256, chroma, dtype=np.uint8), rng.integers(0, 256, chroma, dtype=np.uint8))
            for _ in range(count)]


@pytest.mark.parametrize("fmt", [Y4MFormat(6, 4), Y4MFormat(7, 5, "420mpeg2"), Y4MFormat(5, 3, "444", True, (25, 1)),
                                 Y4MFormat(7, 3, "422")])
def test_write_read_round_trip(tmp_path, fmt):
    frames = _random_frames(fmt, 3, seed=fmt.width)
    path = tmp_path / "clip.y4m"
    write_y4m(path, fmt, frames)
    reader = Y4MReader(path)
    assert reader.format == fmt
    read = list(reader)
    assert len(read) == 3
    for a, b in zip(frames, read):
        assert np.array_equal(a.y, b.y) and np.array_equal(a.u, b.u) and np.array_equal(a.v, b.v)


def test_odd_sized_420_has_rounded_up_chroma():
    assert Y4MFormat(7, 5).chroma_shape == (3, 4)
    assert Y4MFormat(7, 5).frame_bytes == 35 + 2 * 12
    assert Y4MFormat(7, 5, "422").chroma_shape == (5, 4)


def test_422_chroma_is_shared_by_pixel_pairs_of_a_row():
    fmt = Y4MFormat(3, 2, "422")
    frame = YUVFrame(np.full((2, 3), 128, np.uint8), np.array([[90, 200], [128, 60]], np.uint8),
                     np.array([[128, 30], [240, 128]], np.uint8))
    rgb = yuv_to_rgb(frame, fmt)
    single = lambda u, v: yuv_to_rgb(YUVFrame(*(np.array([[c]], np.uint8) for c in (128, u, v))),  # noqa: E731
                                     Y4MFormat(1, 1, "444"))[0, 0]
    assert np.array_equal(rgb[0, 0], single(90, 128)) and np.array_equal(rgb[0, 1], single(90, 128))
    assert np.array_equal(rgb[0, 2], single(200, 30)) and np.array_equal(rgb[1, 0], single(128, 240))


def test_unknown_tags_other_x_tags_and_long_frame_parameters_are_skipped(tmp_path):
    fmt = Y4MFormat(4, 2)
    path = tmp_path / "clip.y4m"
    data = bytes(range(fmt.frame_bytes))
    path.write_bytes(b"YUV4MPEG2 W4 H2 Q7 XYSCSS=420JPEG XCOLORRANGE I? A0:0\n"
                     + b"FRAME X" + b"y" * 5000 + b"\n" + data + b"FRAME\n" + data)
    reader = Y4MReader(path)
    assert reader.format == fmt
    assert [frame.y.tobytes() for frame in reader] == [data[:8]] * 2


@pytest.mark.parametrize("header, colour_space, full_range", [
    (b"YUV4MPEG2 W4 H2 F30:1 Ip A1:1\n", "420jpeg", False),
    (b"YUV4MPEG2 W4 H2 C420paldv XCOLORRANGE=LIMITED\n", "420paldv", False),
    (b"YUV4MPEG2 W4 H2 C420 XYSCSS=420JPEG\n", "420", False),
    (b"YUV4MPEG2 C444 H2 W4 XCOLORRANGE=FULL\n", "444", True),
])
def test_header_variants(tmp_path, header, colour_space, full_range):
    fmt = Y4MFormat(4, 2, colour_space, full_range)
    path = tmp_path / "clip.y4m"
    path.write_bytes(header + b"FRAME Ixyz\n" + bytes(range(fmt.frame_bytes)))
    reader = Y4MReader(path)
    assert (reader.format.colour_space, reader.format.full_range) == (colour_space, full_range)
    (frame,) = list(reader)
    assert frame.y.tolist() == [[0, 1, 2, 3], [4, 5, 6, 7]]


def _ref_limited(y, u, v):
    c, d, e = y - 16, u - 128, v - 128
    clamp = lambda x: max(0, min(255, x))  # noqa: E731
    return [clamp((298 * c + 409 * e + 128) >> 8), clamp((298 * c - 100 * d - 208 * e + 128) >> 8),
            clamp((298 * c + 516 * d + 128) >> 8)]


def _ref_full(y, u, v):
    d, e = u - 128, v - 128
    clamp = lambda x: max(0, min(255, x))  # noqa: E731
    return [clamp((256 * y + 359 * e + 128) >> 8), clamp((256 * y - 88 * d - 183 * e + 128) >> 8),
            clamp((256 * y + 454 * d + 128) >> 8)]


@pytest.mark.parametrize("full_range, reference", [(False, _ref_limited), (True, _ref_full)])
def test_yuv_to_rgb_is_the_format_formula(full_range, reference):
    rng = np.random.default_rng(4)
    fmt = Y4MFormat(16, 16, "444", full_range)
    frame = _random_frames(fmt, 1, seed=5)[0]
    rgb = yuv_to_rgb(frame, fmt)
    for _ in range(200):
        yy, xx = rng.integers(0, 16, 2)
        assert rgb[yy, xx].tolist() == reference(int(frame.y[yy, xx]), int(frame.u[yy, xx]), int(frame.v[yy, xx]))


def test_known_colours():
    limited = Y4MFormat(1, 1, "444")
    grey = lambda y, fmt: yuv_to_rgb(YUVFrame(*(np.array([[c]], np.uint8) for c in (y, 128, 128))), fmt)  # noqa: E731
    assert grey(16, limited).tolist() == [[[0, 0, 0]]]
    assert grey(235, limited).tolist() == [[[255, 255, 255]]]
    assert grey(0, limited).tolist() == [[[0, 0, 0]]]  # below black clamps
    full = Y4MFormat(1, 1, "444", True)
    assert grey(0, full).tolist() == [[[0, 0, 0]]]
    assert grey(255, full).tolist() == [[[255, 255, 255]]]


def test_420_chroma_is_upsampled_by_nearest_neighbour():
    fmt = Y4MFormat(5, 3, "420jpeg", True)
    u = np.array([[100, 140, 180], [120, 160, 200]], np.uint8)
    frame = YUVFrame(np.full((3, 5), 128, np.uint8), u, np.full((2, 3), 128, np.uint8))
    rgb = yuv_to_rgb(frame, fmt)
    for y in range(3):
        for x in range(5):
            assert rgb[y, x].tolist() == _ref_full(128, int(u[y // 2, x // 2]), 128)


@pytest.mark.parametrize("full_range", [False, True])
def test_rgb_to_yuv_to_rgb_is_close(full_range):
    rng = np.random.default_rng(6)
    fmt = Y4MFormat(8, 6, "444", full_range)
    rgb = rng.integers(20, 236, (6, 8, 3), dtype=np.uint8)
    back = yuv_to_rgb(rgb_to_yuv(rgb, fmt), fmt)
    assert np.abs(back.astype(int) - rgb).max() <= 4


def test_420_writing_averages_chroma_of_flat_blocks_exactly(tmp_path):
    fmt = Y4MFormat(4, 4)
    rgb = np.zeros((4, 4, 3), np.uint8)
    rgb[:2, :2] = (200, 30, 30)
    rgb[2:, 2:] = (30, 30, 200)
    path = tmp_path / "clip.y4m"
    write_rgb(path, fmt, [rgb])
    _, frames = read_rgb(path)
    single = yuv_to_rgb(rgb_to_yuv(rgb, Y4MFormat(4, 4, "444")), Y4MFormat(4, 4, "444"))
    assert np.array_equal(frames[0], single)  # each 2x2 block is flat: subsampling loses nothing


@pytest.mark.parametrize("content, message", [
    (b"", "byte offset 0: empty file"),
    (b"YUV4MPEG W4 H2\n", "byte offset 0: expected the Y4M magic"),
    (b"YUV4MPEG2 W4 H2 C411\n", "byte offset 16: header field 'C411'"),
    (b"YUV4MPEG2 W4 Hx\n", "byte offset 13: header field 'Hx'"),
    (b"YUV4MPEG2 W4\n", "no H"),
    (b"YUV4MPEG2 W4 H2 It\n", "byte offset 16: header field 'It': expected progressive frames"),
    (b"YUV4MPEG2 W4 H2 A1\n", "byte offset 16: header field 'A1': expected a pixel aspect ratio"),
    (b"YUV4MPEG2 W16385 H2\n", "byte offset 10: header field 'W16385': expected a frame width of 1...16384"),
    (b"YUV4MPEG2 W4 H2 F1000000000:1\n", "byte offset 16: header field 'F1000000000:1'"),
    (b"YUV4MPEG2 W4 H2 XCOLORRANGE=WIDE\n", "XCOLORRANGE=FULL or"),
    (b"YUV4MPEG2 W4 H2", "not terminated by a newline"),
])
def test_bad_headers_name_the_file_and_offset(tmp_path, content, message):
    path = tmp_path / "bad.y4m"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message) as error:
        list(Y4MReader(path))
    assert str(path) in str(error.value)


def test_short_frame_names_the_frame_and_offset(tmp_path):
    fmt = Y4MFormat(4, 2)
    path = tmp_path / "short.y4m"
    header = fmt.header()
    frame_bytes = fmt.frame_bytes
    path.write_bytes(header + b"FRAME\n" + bytes(frame_bytes) + b"FRAME\n" + bytes(frame_bytes - 1))
    reader = Y4MReader(path)
    second_data = len(header) + 6 + frame_bytes + 6
    with pytest.raises(ValueError, match=f"byte offset {second_data}: frame 1 is truncated: expected "
                                         f"{frame_bytes} bytes, found {frame_bytes - 1}"):
        list(reader)


def test_bad_frame_marker(tmp_path):
    fmt = Y4MFormat(4, 2)
    path = tmp_path / "bad.y4m"
    path.write_bytes(fmt.header() + b"FRAMEX\n" + bytes(fmt.frame_bytes))
    with pytest.raises(ValueError, match=f"byte offset {len(fmt.header())}: expected 'FRAME' starting frame 0"):
        list(Y4MReader(path))


def test_clip_without_frames_is_an_error(tmp_path):
    path = tmp_path / "empty.y4m"
    path.write_bytes(Y4MFormat(4, 2).header())
    with pytest.raises(ValueError, match="no frames"):
        read_rgb(path)
