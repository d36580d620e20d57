"""Dactyl's Python side: the student network, BatchNorm folding, int8 quantisation, export to the
.dmdl model file (docs/model-format.md), the numpy int8 reference executor and CTC decoding
(docs/ctc-decoding.md)."""
