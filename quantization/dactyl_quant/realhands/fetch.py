"""The manifest of what is taken (`manifest.json`, committed) and the fetch into the cache.

    manifest.json   {"format": "dactyl-realhands-v1", "sources": {name: {repo, commit, licence, ...}},
                     "files": [{"source", "path", "sha256", "bytes"}, ...]}
    CACHE/images/<source>/<path inside the repository>   the image, as committed
    CACHE/sources.json                                    the manifest's sources, for the record

`write_manifest` (run by whoever adds a source) reads the mirrors and records the selection;
`fetch` reads the same commits and stops on any file whose sha256 differs.
"""

import hashlib
import json
from pathlib import Path

from ..realcheck import Mirror, git_dir
from .sources import SELECT, SOURCES, Source

FORMAT = "dactyl-realhands-v1"
MANIFEST = Path(__file__).with_name("manifest.json")
DEFAULT_CACHE = Path(__file__).resolve().parents[2] / ".realhands"  # quantization/.realhands (git-ignored)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def source_record(source: Source) -> dict:
    return {"repo": source.repo, "commit": source.commit, "licence": source.licence,
            "licence_where": source.licence_where, "licence_quote": source.licence_quote,
            "attribution": source.attribution, "setting": source.setting}


def build_manifest(mirrors: dict[str, Mirror], sources: dict[str, Source] = SOURCES, select=SELECT) -> dict:
    """The manifest of the files `select` takes from each source's mirror (each distinct file once)."""
    files, seen = [], set()
    for name, mirror in mirrors.items():
        chosen = select[name](mirror.paths)
        if not chosen:
            raise ValueError(f"{sources[name].repo} at {mirror.commit}: none of the expected images")
        for path in chosen:
            data = mirror.read(path)
            if sha256(data) in seen:  # the same photo committed twice
                continue
            seen.add(sha256(data))
            files.append({"source": name, "path": path, "sha256": sha256(data), "bytes": len(data)})
    return {"format": FORMAT, "sources": {name: source_record(sources[name]) for name in mirrors}, "files": files}


def manifest_text(manifest: dict) -> str:
    """The manifest as JSON, one file per line (readable diffs when a source changes)."""
    files = ",\n  ".join(json.dumps(entry, separators=(", ", ": ")) for entry in manifest["files"])
    head = json.dumps({"format": manifest["format"], "sources": manifest["sources"]}, indent=1)[:-2]
    return head + ',\n "files": [\n  ' + files + "\n ]\n}\n"


def open_mirrors(mirror_root: str | Path, names: list[str], sources: dict[str, Source] = SOURCES) -> dict[str, Mirror]:
    return {name: Mirror(git_dir(Path(mirror_root), sources[name].repo), sources[name].commit) for name in names}


def read_manifest(path: str | Path = MANIFEST) -> dict:
    try:
        manifest = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: not a readable manifest: {error}") from error
    if manifest.get("format") != FORMAT:
        raise ValueError(f"{path}: format {manifest.get('format')!r}, expected {FORMAT}")
    for n, entry in enumerate(manifest.get("files", [])):
        if entry.get("source") not in manifest["sources"] or not entry.get("path") or len(entry.get("sha256", "")) != 64:
            raise ValueError(f"{path}: file entry {n} is incomplete: {entry}")
    return manifest


def image_path(cache: str | Path, source: str, path: str) -> Path:
    return Path(cache) / "images" / source / path


def fetch(manifest: dict, mirror_root: str | Path, cache: str | Path, sources: list[str] | None = None,
          limit: int | None = None) -> tuple[int, int]:
    """Write every manifest file (of `sources`; the first `limit` of each) into the cache, checking
    its sha256; files already there with the right hash are kept. (written, kept)."""
    cache = Path(cache)
    names = sources or list(manifest["sources"])
    unknown = [n for n in names if n not in manifest["sources"]]
    if unknown:
        raise ValueError(f"sources {', '.join(unknown)} are not in the manifest ({', '.join(manifest['sources'])})")
    written = kept = 0
    for name in names:
        record = manifest["sources"][name]
        entries = [e for e in manifest["files"] if e["source"] == name][:limit]
        mirror = None
        for entry in entries:
            target = image_path(cache, name, entry["path"])
            if target.is_file() and sha256(target.read_bytes()) == entry["sha256"]:
                kept += 1
                continue
            if mirror is None:
                mirror = Mirror(git_dir(Path(mirror_root), record["repo"]), record["commit"])
            data = mirror.read(entry["path"])
            if sha256(data) != entry["sha256"]:
                raise ValueError(f"{record['repo']}@{record['commit'][:8]}:{entry['path']}: sha256 {sha256(data)}, "
                                 f"the manifest says {entry['sha256']}")
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = target.with_name(target.name + ".tmp")
            temporary.write_bytes(data)
            temporary.replace(target)
            written += 1
    cache.mkdir(parents=True, exist_ok=True)
    (cache / "sources.json").write_text(json.dumps({n: manifest["sources"][n] for n in names}, indent=1) + "\n",
                                        encoding="utf-8")
    return written, kept


def fetched_images(manifest: dict, cache: str | Path, sources: list[str] | None = None) -> list[tuple[dict, Path]]:
    """(manifest entry, cached image) of every file fetched into the cache, in manifest order."""
    names = set(sources or manifest["sources"])
    found = []
    for entry in manifest["files"]:
        path = image_path(cache, entry["source"], entry["path"])
        if entry["source"] in names and path.is_file():
            found.append((entry, path))
    return found
