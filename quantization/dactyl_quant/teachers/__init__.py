"""KD teachers: per-frame embedding files ROOT/teachers/<teacher>/<clip>.npy, float32 [T, D].

- `mediapipe`: MediaPipe's hand landmark network under LiteRT (CPU); see mediapipe_teacher.py.
- `hamer`: HaMeR's MANO Transformer token (needs HaMeR installed and a GPU); see hamer.py.
- `synthpose`: written by the synthetic generator (dactyl_quant/synth), not here.

Run `python -m dactyl_quant.teachers --help`; README.md in this folder has the details.
"""
