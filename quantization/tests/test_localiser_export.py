"""The localiser's sections (LMET, LTEN, LOPS): written, parsed back, checked; the recogniser's sections
stay byte for byte what they were; the reference reads the box by the spec's rule."""

import dataclasses
import struct

import numpy as np
import pytest
import torch

from dactyl_quant.build import build
from dactyl_quant.export import (Conv2dQ8, Localiser, model_bytes, parse_model,
                                 read_model, write_model)
from dactyl_quant.localiser.build import frames_to_tensor, quantize_localiser, with_localiser
from dactyl_quant.localiser.config import CONFIGS, macs_per_frame
from dactyl_quant.localiser.net import LocaliserNet, lower_localiser
from dactyl_quant.fold import fold_batchnorm
from dactyl_quant.graph import run_float
from dactyl_quant.reference import localise, read_box, run_localiser
from dactyl_quant.student import CONFIGS as STUDENT_CONFIGS
from dactyl_quant.synthclip import make_frames
from dmdl_file import reseal, section_bytes, section_table


@pytest.fixture(scope="module")
def frames():
    return make_frames(96, 72, 6, seed=3)


@pytest.fixture(scope="module")
def recogniser(frames):
    return build(STUDENT_CONFIGS["tiny"], [frames], "tiny", seed=5).model


@pytest.fixture(scope="module")
def localiser(frames):
    torch.manual_seed(0)
    net = LocaliserNet(CONFIGS["tiny"]).eval()
    return quantize_localiser(net, frames_to_tensor(net.config, frames), presence_logit=-1.5, interval=4)


def test_written_file_parses_back(recogniser, localiser, tmp_path):
    path = tmp_path / "m.dmdl"
    write_model(with_localiser(recogniser, localiser), path)
    data = path.read_bytes()
    assert struct.unpack_from("<HH", data, 8) == (1, 2)
    back = read_model(path).localiser
    assert back is not None
    assert (back.input_height, back.input_width, back.interval) == (48, 64, 4)
    assert back.presence_logit == -1.5
    assert (back.heat_tensor, back.box_tensor) == (localiser.heat_tensor, localiser.box_tensor)
    assert back.tensors == localiser.tensors
    np.testing.assert_array_equal(back.input_lut, localiser.input_lut)
    assert len(back.ops) == len(localiser.ops)
    for a, b in zip(back.ops, localiser.ops):
        assert type(a) is type(b)
        if isinstance(a, Conv2dQ8):
            np.testing.assert_array_equal(a.weights, b.weights)
            np.testing.assert_array_equal(a.multiplier, b.multiplier)
            assert (a.residual, a.residual_multiplier, a.residual_shift) == (b.residual, b.residual_multiplier,
                                                                             b.residual_shift)
    # Writing what was read gives the same bytes.
    assert model_bytes(read_model(path)) == data


def test_recogniser_sections_are_unchanged(recogniser, localiser):
    plain = model_bytes(recogniser)
    combined = model_bytes(with_localiser(recogniser, localiser))
    assert struct.unpack_from("<HH", plain, 8) == (1, 1)
    a, b = section_bytes(plain), section_bytes(combined)
    for tag in (b"META", b"ALPH", b"INFO", b"RATE", b"TENS", b"OPS "):
        assert a[tag] == b[tag], tag
    # The recogniser's arrays keep their DATA offsets: the localiser's come after them.
    assert b[b"DATA"][:len(a[b"DATA"])] == a[b"DATA"]
    assert set(b) - set(a) == {b"LMET", b"LTEN", b"LOPS"}


def _patched(data: bytes, tag: bytes, edit) -> bytes:
    """The file with section `tag`'s bytes edited in place and the checksums fixed."""
    data = bytearray(data)
    _, offset, size = section_table(data)[tag]
    section = bytearray(data[offset:offset + size])
    edit(section)
    data[offset:offset + size] = section
    return bytes(reseal(data))


def _without(data: bytes, tag: bytes) -> bytes:
    """The file with section `tag` renamed to an unknown tag (which readers skip)."""
    data = bytearray(data)
    entry, _, _ = section_table(data)[tag]
    data[entry:entry + 4] = b"XXXX"
    return bytes(reseal(data))


@pytest.mark.parametrize("tag", [b"LMET", b"LTEN", b"LOPS"])
def test_all_three_sections_or_none(recogniser, localiser, tag):
    data = model_bytes(with_localiser(recogniser, localiser))
    with pytest.raises(ValueError, match=f"localiser section '{tag.decode()}' is missing"):
        parse_model(_without(data, tag), "m.dmdl")


def _u32_at(offset: int, value: int):
    def edit(section: bytearray) -> None:
        struct.pack_into("<I", section, offset, value)
    return edit


@pytest.mark.parametrize("offset, value, message", [
    (8, 1, "localiser input_channels 1, expected 3"),
    (28, 0, "localiser interval 0"),
    (28, 1001, "localiser interval 1001"),
    (24, 0x7FC00000, "presence_logit nan must be finite"),
    (40, 1, "LMET bytes 32-63 is not zero"),
    (12, 65, "localiser input LUT at DATA offset 65 is not 64-byte aligned"),
])
def test_lmet_fields_are_checked(recogniser, localiser, offset, value, message):
    data = model_bytes(with_localiser(recogniser, localiser))
    with pytest.raises(ValueError, match=message):
        parse_model(_patched(data, b"LMET", _u32_at(offset, value)), "m.dmdl")


def test_heat_and_box_tensors_are_checked(recogniser, localiser):
    swapped = dataclasses.replace(localiser, heat_tensor=localiser.box_tensor, box_tensor=localiser.heat_tensor)
    with pytest.raises(ValueError, match="heat tensor .* has 4 channels, expected 1"):
        parse_model(model_bytes(with_localiser(recogniser, swapped)), "m.dmdl")
    out_of_range = dataclasses.replace(localiser, box_tensor=len(localiser.tensors))
    with pytest.raises(ValueError, match="box_tensor .* is out of range"):
        parse_model(model_bytes(with_localiser(recogniser, out_of_range)), "m.dmdl")
    # The heat map taken from before the last stride-2 layer: a different height x width than the box's.
    early = dataclasses.replace(localiser, heat_tensor=1, tensors=[
        dataclasses.replace(t, channels=1) if i == 1 else t for i, t in enumerate(localiser.tensors)])
    with pytest.raises(ValueError):
        parse_model(model_bytes(with_localiser(recogniser, early)), "m.dmdl")


def test_lops_holds_encoder_ops_only(recogniser, localiser):
    data = model_bytes(with_localiser(recogniser, localiser))
    # Opcode 18 (linear_f32) in place of the first op's opcode.
    with pytest.raises(ValueError, match="opcode 18 is a temporal op"):
        parse_model(_patched(data, b"LOPS", _u32_at(4, 18)), "m.dmdl")


def test_reference_matches_the_float_model(frames):
    """The int8 localiser's dequantised heat and box follow the float model's (quantisation noise only)."""
    torch.manual_seed(1)
    net = LocaliserNet(CONFIGS["tiny"])
    # Non-trivial BatchNorm statistics, as a trained net has.
    net.train()
    with torch.no_grad():
        net(frames_to_tensor(net.config, frames))
    net.eval()
    localiser = quantize_localiser(net, frames_to_tensor(net.config, frames), 0.0)
    lowered = lower_localiser(fold_batchnorm(net))
    x = frames_to_tensor(net.config, frames[:1])
    tensors = run_float(lowered.graph, x)
    heat_f = tensors[lowered.heat_tensor][0, 0].numpy()
    box_f = tensors[lowered.box_tensor][0].numpy()
    with torch.no_grad():
        heat_direct, box_direct = net(x)
    np.testing.assert_allclose(heat_f, heat_direct[0, 0].numpy(), atol=1e-4)
    heat_q, box_q = run_localiser(localiser, frames[0])
    hp, bp = localiser.tensors[localiser.heat_tensor], localiser.tensors[localiser.box_tensor]
    heat_d = hp.scale * (heat_q[..., 0].astype(np.float32) - hp.zero_point)
    box_d = bp.scale * (box_q.astype(np.float32) - bp.zero_point)
    assert np.abs(heat_d - heat_f).max() < 8 * hp.scale + 0.05 * np.abs(heat_f).max()
    assert np.abs(box_d - box_f.transpose(1, 2, 0)).max() < 8 * bp.scale + 0.05 * np.abs(box_f).max()


def _localiser_with_maps(heat: np.ndarray, box: np.ndarray, presence: float) -> Localiser:
    """A stand-in whose heat and box tensors have known scales (read_box needs only those)."""
    from dactyl_quant.export import TensorParams
    tensors = [TensorParams(3, 1.0, 0), TensorParams(1, 0.5, -10), TensorParams(4, 0.01, -100)]
    return Localiser(48, 64, np.zeros((3, 256), np.int8), tensors, [], 1, 2, presence, 3)


def test_read_box_follows_the_spec():
    heat = np.full((6, 8, 1), -50, dtype=np.int8)
    heat[2, 5, 0] = 20
    heat[4, 1, 0] = 20  # a tie later in row-major order loses
    box = np.full((6, 8, 4), -100, dtype=np.int8)
    box[2, 5] = [-50, -25, -70, -60]  # ox 0.5, oy 0.75, w 0.3, h 0.4
    localiser = _localiser_with_maps(heat, box, presence=15.0)
    read = read_box(localiser, heat, box, 640, 480)
    assert read.cell == (2, 5)
    assert read.peak_logit == pytest.approx(0.5 * 30)
    assert read.present  # 15 ≥ 15
    assert read.centre_x == pytest.approx((5 + 0.5) / 8 * 640)
    assert read.centre_y == pytest.approx((2 + 0.75) / 6 * 480)
    assert (read.width, read.height) == (pytest.approx(0.3 * 640), pytest.approx(0.4 * 480))
    absent = read_box(_localiser_with_maps(heat, box, presence=15.5), heat, box, 640, 480)
    assert not absent.present


def test_localise_needs_a_localiser(recogniser, frames):
    with pytest.raises(ValueError, match="no localiser"):
        localise(recogniser, frames[0])


def test_macs_per_frame_counts_every_conv():
    config = CONFIGS["small"]
    net = LocaliserNet(config)
    counted = 0

    def hook(module, inputs, output):
        nonlocal counted
        counted += output.numel() * module.in_channels * module.kernel_size[0] * module.kernel_size[1]

    for module in net.modules():
        if isinstance(module, torch.nn.Conv2d):
            module.register_forward_hook(hook)
    net.eval()(torch.zeros(1, 3, config.input_height, config.input_width))
    assert macs_per_frame(config) == counted
