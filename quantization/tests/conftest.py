"""Shared fixtures: one tiny model built from a synthetic clip, reused by the tests that need it."""

import numpy as np
import pytest

from dactyl_quant.build import Built, build
from dactyl_quant.export import write_model
from dactyl_quant.student import CONFIGS
from dactyl_quant.synthclip import write_clip
from dactyl_quant.y4m import read_rgb

TINY_SEED = 3


@pytest.fixture(scope="session", autouse=True)
def _no_background_photos(tmp_path_factory):
    """The generator's photo backgrounds (synth/photos.py) are installed on some machines only:
    tests render the procedural rooms alone, so that they give the same pixels everywhere.
    Session-wide, so that module- and session-scoped fixtures (made before any function-scoped
    one) render without them too."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DACTYL_BACKGROUNDS", str(tmp_path_factory.getbasetemp() / "no-photos"))
        yield


@pytest.fixture(scope="session")
def clip(tmp_path_factory) -> tuple[str, np.ndarray]:
    """A 4:2:0 synthetic clip: its path and its frames as decoded RGB."""
    path = tmp_path_factory.mktemp("clip") / "clip.y4m"
    write_clip(path, 64, 48, 12, seed=7)
    return str(path), read_rgb(path)[1]


@pytest.fixture(scope="session")
def tiny(clip) -> Built:
    return build(CONFIGS["tiny"], [clip[1]], "tiny, untrained (test)", seed=TINY_SEED)


@pytest.fixture(scope="session")
def tiny_file(tiny, tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("model") / "tiny.dmdl"
    write_model(tiny.model, path)
    return str(path)
