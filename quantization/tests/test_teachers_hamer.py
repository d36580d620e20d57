"""The HaMeR teacher without HaMeR: crop math, the token hook on a stub shaped like HaMeR's MANO
head, file writing, and the error when HaMeR is not installed."""

import sys

import numpy as np
import pytest
import torch
from torch import nn

from dactyl_quant.teachers import hamer
from dactyl_quant.teachers.cli import main
from dactyl_quant.corpus import read_corpus
from dactyl_quant.teachers.files import teacher_path
from dactyl_quant.y4m import Y4MFormat, write_rgb


def test_missing_hamer_is_a_clear_error(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "hamer", None)  # makes `import hamer` fail
    with pytest.raises(hamer.HamerNotInstalled, match="HaMeR is not installed: see https://github.com/geopavlakos/hamer"):
        hamer.import_hamer()
    assert main(["hamer", "--data", str(tmp_path), "--hamer-checkpoint", "x.ckpt"]) == 1
    assert "HaMeR is not installed" in capsys.readouterr().err


def test_expand_to_aspect_ratio_and_crop_square():
    np.testing.assert_allclose(hamer.expand_to_aspect_ratio([100, 100]), [100, 400 / 3])  # taller: 192x256
    np.testing.assert_allclose(hamer.expand_to_aspect_ratio([30, 100]), [75, 100])
    center, size = hamer.crop_square(np.array([10, 20, 50, 40]), rescale=2.0)  # 40x20 box -> 80x40 -> 80x106.7
    np.testing.assert_allclose(center, [30, 30])
    assert size == pytest.approx(80 * 256 / 192)


def _normalised(rgb):
    mean = 255 * np.array(hamer.IMAGE_MEAN)
    std = 255 * np.array(hamer.IMAGE_STD)
    return (np.asarray(rgb, dtype=np.float64) - mean) / std


def test_crop_patch_maps_the_box_centre_to_the_patch_centre():
    rng = np.random.default_rng(0)
    image = (rng.random((300, 400, 3)) * 255).astype(np.uint8)
    patch = hamer.crop_patch(image, np.array([150.0, 120.0]), 256.0)  # 1:1 scale, no blur
    assert patch.shape == (3, 256, 256) and patch.dtype == np.float32
    np.testing.assert_allclose(patch[:, 128, 128], _normalised(image[120, 150]), rtol=1e-5)
    patch = hamer.crop_patch(image, np.array([200.0, 150.0]), 256.0)
    np.testing.assert_allclose(patch[:, 0, 0], _normalised(image[150 - 128, 200 - 128]), rtol=1e-5)
    np.testing.assert_allclose(patch[:, 255, 10], _normalised(image[150 + 127, 200 - 118]), rtol=1e-5)
    # outside the image: 0 before normalisation
    patch = hamer.crop_patch(image, np.array([10.0, 10.0]), 256.0)
    np.testing.assert_allclose(patch[:, 0, 0], _normalised([0, 0, 0]), rtol=1e-5)
    # left hands are mirrored: pixel x of the flipped image is W - 1 - x of the original
    flipped = hamer.crop_patch(image, np.array([150.0, 120.0]), 256.0, flip=True)
    np.testing.assert_allclose(flipped[:, 128, 128], _normalised(image[120, 150]), rtol=1e-5)
    np.testing.assert_allclose(flipped[:, 128, 129], _normalised(image[120, 149]), rtol=1e-5)


def test_crop_patch_blurs_when_shrinking_a_lot():
    # a crop more than 2.2x the patch is blurred first (sigma (size / 256 / 2 - 1) / 2, as HaMeR)
    ndimage = pytest.importorskip("scipy.ndimage")
    board = ((np.indices((400, 400)).sum(0) % 2) * 255).astype(np.uint8)[..., None].repeat(3, axis=2)
    sharp = hamer.crop_patch(board, np.array([200.0, 200.0]), 512.0)  # 2x: no blur
    np.testing.assert_allclose(sharp[:, 128, 128], _normalised(board[200, 200]), rtol=1e-5)
    blurred = hamer.crop_patch(board, np.array([200.0, 200.0]), 1024.0)  # 4x: sigma 0.5
    expected = ndimage.gaussian_filter(board.astype(np.float64), sigma=(0.5, 0.5, 0), mode="nearest")[200, 200]
    np.testing.assert_allclose(blurred[:, 128, 128], _normalised(expected), rtol=1e-5)
    assert not np.allclose(expected, board[200, 200])


class StubDecoder(nn.Module):
    """Shaped like HaMeR's TransformerDecoder: token [B, 1, token_dim], context [B, N, C] -> [B, 1, dim]."""

    def __init__(self, context_dim=16, dim=1024):
        super().__init__()
        self.to_token_embedding = nn.Linear(1, dim)
        self.context = nn.Linear(context_dim, dim)

    def forward(self, inp, context=None):
        return self.to_token_embedding(inp) + self.context(context).mean(dim=1, keepdim=True)


class StubHead(nn.Module):
    """MANOTransformerDecoderHead's structure: transformer, then decpose/decshape/deccam readouts,
    `iterations` IEF rounds (zero input token each round, as TRANSFORMER_INPUT 'zero')."""

    def __init__(self, iterations=1):
        super().__init__()
        self.transformer = StubDecoder()
        self.decpose = nn.Linear(1024, 96)
        self.decshape = nn.Linear(1024, 10)
        self.deccam = nn.Linear(1024, 3)
        self.iterations = iterations
        self.seen = []

    def forward(self, x):
        x = x.flatten(2).transpose(1, 2)  # 'b c h w -> b (h w) c'
        pose = torch.zeros(x.shape[0], 96)
        for _ in range(self.iterations):
            token = torch.zeros(x.shape[0], 1, 1)
            token_out = self.transformer(token, context=x).squeeze(1)
            self.seen.append(token_out)
            pose = self.decpose(token_out) + pose
        return pose


class StubBackbone(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, kernel_size=16, stride=16)
        self.shapes = []

    def forward(self, x):
        self.shapes.append(tuple(x.shape))
        return self.conv(x)


class StubHamer(nn.Module):
    def __init__(self, iterations=1):
        super().__init__()
        torch.manual_seed(0)
        self.backbone = StubBackbone()
        self.mano_head = StubHead(iterations)


@pytest.mark.parametrize("iterations", [1, 3])
def test_token_capture_is_the_transformer_output_before_the_readouts(iterations):
    model = StubHamer(iterations).eval()
    patches = np.random.default_rng(0).normal(size=(2, 3, 256, 256)).astype(np.float32)
    tokens = hamer.embed(model, patches)
    assert tokens.shape == (2, 1024)
    assert model.backbone.shapes == [(2, 3, 256, 192)]  # HaMeR's x[:, :, :, 32:-32]
    np.testing.assert_allclose(tokens, model.mano_head.seen[-1].detach().numpy(), rtol=1e-6)
    assert len(model.mano_head.seen) == iterations
    assert not model.mano_head.transformer._forward_hooks  # the hook is removed again


def test_token_capture_rejects_other_heads():
    with pytest.raises(TypeError, match="MANOTransformerDecoderHead"):
        hamer.TokenCapture(nn.Linear(2, 2))


def test_run_corpus_writes_tokens_and_flags(tmp_path):
    rng = np.random.default_rng(0)
    frames = (rng.random((3, 48, 64, 3)) * 255).astype(np.uint8)
    (tmp_path / "y4m").mkdir()
    write_rgb(tmp_path / "y4m" / "clip.y4m", Y4MFormat(64, 48, "444"), frames)
    (tmp_path / "ChicagoFSWild.csv").write_text(
        ",filename,url,start_time,number_of_frames,width,height,label_proc,label_raw,label_notes,partition,signer\n"
        "0,clip,u,0,3,64,48,ab,AB,,train,s\n")
    (tmp_path / "BBox" / "clip").mkdir(parents=True)
    (tmp_path / "BBox" / "clip" / "0002.txt").write_text("10,10,30,40,1\n")
    corpus = read_corpus(tmp_path, alphabet=None)
    written, kept, failed = hamer.run_corpus(corpus, StubHamer().eval(), hamer.BoxSource(), batch_size=2)
    assert (written, kept, failed) == (1, 0, 0)
    tokens = np.load(teacher_path(tmp_path, "hamer", "clip"))
    assert tokens.shape == (3, 1024) and tokens.dtype == np.float32
    found = np.load(teacher_path(tmp_path, "hamer", "clip", ".detected.npy"))
    assert found.tolist() == [False, True, False]
    assert hamer.run_corpus(corpus, StubHamer().eval(), hamer.BoxSource()) == (0, 1, 0)


def test_box_source_fallbacks():
    frames = [np.zeros((40, 60, 3), dtype=np.uint8)] * 3
    boxes, found = hamer.BoxSource(rescale=2.0).boxes(frames, [None, np.array([1.0, 2.0, 3.0, 4.0]), None])
    np.testing.assert_allclose(boxes[0], [20, 10, 40, 30])  # centred, side min(W, H) / rescale
    np.testing.assert_allclose(boxes[2], [1, 2, 3, 4])      # the previous box
    assert found.tolist() == [False, True, False]
    center, size = hamer.crop_square(boxes[0], 2.0)
    assert size == pytest.approx(40 * 256 / 192)
