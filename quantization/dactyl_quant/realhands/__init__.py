"""Real photographs of hands whose licence allows training (docs/real-hands-sources.md).

- `sources`: the sources (repository, commit, licence) and which of their files are taken;
  `manifest.json` (committed) lists every file taken with its sha256;
- `fetch`: the files out of fetched mirrors into the git-ignored cache `quantization/.realhands/`,
  each checked against its sha256;
- `label`: MediaPipe's palm detector + hand landmark model on every image ->
  `.realhands/labels.jsonl` (the hand localiser's real-image targets, issue 14);
- `crops`: a hand crop per labelled hand, framed as the generator frames its clips, as a KD-only
  corpus (no letters) with MediaPipe teacher files, for the trainer's `--kd-only-data` (issue 10).

    python -m dactyl_quant.realhands fetch | label | crops
"""
