"""The hand localiser (issue 14, docs/localiser-training.md): composed full-frame training data, the
CenterNet-style int8 network, its training, export into a model file (LMET, LTEN, LOPS) and evaluation.

`python -m dactyl_quant localiser compose|train|export|evaluate|clips|macs` (see `cli.py`).
"""
