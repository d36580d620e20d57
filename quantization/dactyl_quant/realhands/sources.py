"""The sources of real hand photographs and which of their files are taken.

Every source is a public GitHub repository at a fixed commit, read from a fetched mirror (a bare
git directory, `MIRROR/owner+name/repo`, as the real-photo check reads its sets: realcheck.py).
Only sources whose licence allows training and redistributing what is derived from them are here;
docs/real-hands-sources.md quotes each licence and lists what was looked at and left out.

`select` picks a source's files from its tree (deterministically); `manifest.json` records the
choice with each file's sha256, so that a fetch gets exactly these bytes or stops.
"""

import re
from collections import defaultdict
from dataclasses import dataclass


@dataclass(frozen=True)
class Source:
    name: str
    repo: str          # owner/name on GitHub
    commit: str        # the commit the files are taken from
    licence: str       # SPDX identifier of the licence that covers the images
    licence_where: str  # the file of the repository that states it
    licence_quote: str  # what that file says, verbatim
    attribution: str   # who to credit (CC BY asks for it)
    setting: str       # what the photos show


SOURCES = {
    "subhih": Source(
        "subhih", "SubhiH/HandsDataset", "73228cb5ba6a8d454663aa9873157862b69a1c4c", "Apache-2.0",
        "README.md (and LICENSE: the Apache License 2.0 text)",
        "HandsDataset is released under the Apache license. See [LICENSE](https://github.com/SubhiH/HandsDataset/"
        "blob/master/LICENSE) for more information.",
        "Soubhi Hadri, HandsDataset (2018), https://github.com/SubhiH/HandsDataset",
        "people in front of a laptop/phone camera showing 0-5 fingers, one or two hands, indoors and out, "
        "800x600"),
}


def select_subhih(paths: list[str], every: int = 2) -> list[str]:
    """images/<burst>_picNNNNN.jpg: every `every`-th picture of each burst (consecutive pictures
    of a burst are near-duplicates). Left out: images/train/ and images/test/ (copies of the same
    files) and images/Hand_*.jpg, photos of the 11k Hands set (Afifi 2017) mixed into the folder,
    whose own terms are not this repository's."""
    bursts: dict[str, list[str]] = defaultdict(list)
    for path in paths:
        match = re.fullmatch(r"images/([^/]*?)_?(pic\d+)\.jpg", path)
        if match and not path.startswith("images/Hand_"):
            bursts[match.group(1)].append(path)
    chosen = []
    for burst in sorted(bursts):
        chosen.extend(sorted(bursts[burst])[::every])
    return chosen


SELECT = {"subhih": select_subhih}
