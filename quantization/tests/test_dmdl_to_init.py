"""scripts/dmdl_to_init.py: a model file back into a trainable student that computes what the file does."""

import sys
from pathlib import Path

import numpy as np
import torch

from dactyl_quant.build import build
from dactyl_quant.preprocess import Crop, crop_and_resize
from dactyl_quant.reference import dequantize_features, run_frames
from dactyl_quant.student import CONFIGS
from dactyl_quant.synthclip import make_frames
from dactyl_quant.train.data import prepare_frames

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from dmdl_to_init import folded_student, unfold_batchnorm  # noqa: E402


def test_the_unfolded_student_computes_the_model_file():
    config = CONFIGS["tiny"]
    clips = [make_frames(64, 48, 12, seed) for seed in range(3)]
    model = build(config, clips, "test", seed=5).model
    student, biases = folded_student(model, config)
    frames = np.concatenate([[crop_and_resize(f, Crop(0, 0, 64, 48), config.input_height, config.input_width)
                              for f in clip] for clip in clips])
    lengths = torch.tensor([len(c) for c in clips])
    x = prepare_frames(torch.from_numpy(frames), lengths, config.mean, config.std)
    unfold_batchnorm(student, biases, x, lengths)
    student.eval()
    features, log_probs = run_frames(model, clips[0], Crop(0, 0, 64, 48))
    with torch.no_grad():
        ours = student.encoder(x[:12])
        ours_log_probs = student.head(ours[None])[0].numpy()
    reference = dequantize_features(model, features)
    # int8 against float: within a few quantisation steps of the feature tensor.
    step = model.tensors[model.feature_tensor].scale
    assert np.abs(ours.numpy() - reference).max() < 6 * step
    assert np.abs(ours_log_probs - log_probs).max() < 0.05 * np.abs(log_probs).max() + 1e-3
    # Train mode on the same frames: BatchNorm's batch statistics are the unfolded ones, so fine-tuning
    # starts from the file's function, not from a jump.
    with torch.no_grad():
        eval_mode = student.encoder(x)
        student.train()
        assert torch.allclose(student.encoder(x), eval_mode, atol=1e-3)
