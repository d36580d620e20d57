"""Synthetic fingerspelling: a parametric 3D hand signing the ASL alphabet, rendered as RGB clips.

`generate_clip` renders one word (frames, per-frame 3D pose, letter spans); `corpus.write_corpus`
and `python -m dactyl_quant.synth generate` write a whole set in the ChicagoFSWild layout.
"""

from .clip import POSE_DIM, Clip, RenderedClip, SynthSettings, generate_clip, pose_features, render_clip

__all__ = ["POSE_DIM", "Clip", "RenderedClip", "SynthSettings", "generate_clip", "pose_features", "render_clip"]
