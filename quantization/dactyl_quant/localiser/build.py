"""From a trained (or seeded) localiser to the model file's int8 `Localiser`, and into a model file.

    LocaliserNet → fold BatchNorm → lower → calibrate on whole frames → quantise → Localiser

The same tools as the recogniser (fold.py, quantize.py: per-channel int8 weights, min/max
calibrated asymmetric activations, the one rndnu rule); the heat and box tensors get their own
scales, so the box's fractions keep their resolution whatever the heat's range.
"""

import dataclasses
from pathlib import Path

import numpy as np
import torch

from ..export import Localiser, Model, read_model, write_model
from ..fold import fold_batchnorm
from ..preprocess import Crop, crop_and_resize, normalise
from ..quantize import calibrate, input_lut, input_params, quantize_encoder
from .config import CONFIGS, LocaliserConfig
from .net import LocaliserNet, lower_localiser


def frames_to_tensor(config: LocaliserConfig, frames: list[np.ndarray] | np.ndarray) -> torch.Tensor:
    """uint8 RGB frames of any size as the float model's input `[N, 3, H, W]`: the whole frame resized
    with the format's integer bilinear rule, then normalised (what the int8 path sees)."""
    return torch.from_numpy(np.stack([
        normalise(crop_and_resize(frame, Crop(0, 0, frame.shape[1], frame.shape[0]), config.input_height,
                                  config.input_width), config.mean, config.std) for frame in frames]))


def quantize_localiser(net: LocaliserNet, calibration: torch.Tensor, presence_logit: float,
                       interval: int | None = None) -> Localiser:
    """The int8 localiser of `net`, calibrated on normalised frames `[N, 3, H, W]`."""
    config = net.config
    lowered = lower_localiser(fold_batchnorm(net))
    ranges = calibrate(lowered.graph, calibration)
    input_tensor = input_params(config.mean, config.std)
    tensors, ops = quantize_encoder(lowered.graph, ranges, input_tensor)
    return Localiser(input_height=config.input_height, input_width=config.input_width,
                     input_lut=input_lut(config.mean, config.std, input_tensor), tensors=tensors, ops=ops,
                     heat_tensor=lowered.heat_tensor, box_tensor=lowered.box_tensor,
                     presence_logit=float(np.float32(presence_logit)),
                     interval=config.interval if interval is None else interval)


def save_checkpoint(net: LocaliserNet, path: str | Path, presence_logit: float, extra: dict | None = None) -> None:
    torch.save({"config": net.config.name, "model": net.state_dict(), "presence_logit": presence_logit,
                **(extra or {})}, path)


def load_checkpoint(path: str | Path) -> tuple[LocaliserNet, dict]:
    """(net in eval mode, the checkpoint's other fields)."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or state.get("config") not in CONFIGS or "model" not in state:
        raise ValueError(f"{path}: not a localiser checkpoint (expected 'config' naming one of "
                         f"{sorted(CONFIGS)} and 'model')")
    net = LocaliserNet(CONFIGS[state["config"]])
    net.load_state_dict(state["model"])
    return net.eval(), state


def with_localiser(model: Model, localiser: Localiser) -> Model:
    """The recogniser `model` (its sections unchanged) with `localiser` added: a version-1.2 file."""
    return dataclasses.replace(model, localiser=localiser)


def export_localiser(recogniser: str | Path, checkpoint: str | Path, calibration_frames: list[np.ndarray],
                     out: str | Path, presence_logit: float | None = None, interval: int | None = None) -> Model:
    """Read `recogniser`, quantise the checkpoint's localiser on `calibration_frames` and write both to
    `out` (the recogniser's sections byte for byte as they were)."""
    model = read_model(recogniser)
    net, state = load_checkpoint(checkpoint)
    logit = float(state.get("presence_logit", 0.0)) if presence_logit is None else presence_logit
    localiser = quantize_localiser(net, frames_to_tensor(net.config, calibration_frames), logit, interval)
    combined = with_localiser(model, localiser)
    write_model(combined, out)
    return combined
