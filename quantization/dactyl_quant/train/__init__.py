"""Training the student: dataset readers, the clip cache, KD + CTC training, evaluation.

`python -m dactyl_quant.train fit|evaluate|evaluate-dactyl|report|cache|configs` (see `cli.py`).

This package imports no torch at import time (the cache builder's worker processes import only
numpy), so keep module-level imports of torch out of `__init__`, `cache`, `config` and `teacher` (and
out of the corpus reader they use, dactyl_quant/corpus.py).
"""
