"""The run folder as a checked bundle: a manifest with format version and file hashes.

Training writes ``manifest.json`` last; prediction calls :func:`verify` first, so an
incomplete folder (training died), a folder from an incompatible version, or a file changed
after training is refused with a clear message instead of a traceback or a wrong answer.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from forecaster.data.errors import ChecksumError, RunFolderError
from forecaster.data.io import atomic_write_text

FORMAT = "bioreactor-forecaster/run"
FORMAT_VERSION = 1
#: files prediction cannot work without
REQUIRED = ("config.yaml", "forecast/model.pt")
#: not hashed: TensorBoard events, Lightning training checkpoints (resume only), the report
SKIP_DIRS = ("tb",)
SKIP_SUFFIXES = (".ckpt",)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _hashed_files(run_dir: Path) -> list[Path]:
    out = []
    for p in sorted(run_dir.rglob("*")):
        rel = p.relative_to(run_dir)
        if not p.is_file() or rel.parts[0] in SKIP_DIRS or p.suffix in SKIP_SUFFIXES:
            continue
        if rel.as_posix() == "manifest.json" or rel.parts[0] == "figures" or p.suffix == ".md":
            continue
        out.append(p)
    return out


def write_manifest(run_dir: Path, package_version: str, extra: dict | None = None) -> dict:
    """Hash every artifact of the run folder into ``manifest.json`` (written atomically)."""
    run_dir = Path(run_dir)
    files = {p.relative_to(run_dir).as_posix(): sha256(p) for p in _hashed_files(run_dir)}
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "package_version": package_version,
        "files": files,
        **(extra or {}),
    }
    atomic_write_text(run_dir / "manifest.json", json.dumps(manifest, indent=2, sort_keys=True))
    return manifest


def verify(run_dir: Path) -> dict:
    """Check a run folder before use; returns its manifest.

    Raises:
        RunFolderError: missing folder/manifest/required file, or another format version.
        ChecksumError: a file's sha256 differs from the one recorded at training time.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunFolderError(f"run folder {run_dir} does not exist", file=str(run_dir))
    mpath = run_dir / "manifest.json"
    if not mpath.exists():
        raise RunFolderError(
            f"{run_dir} has no manifest.json: training did not finish (rerun it, or resume with --resume true)",
            file=str(mpath),
        )
    try:
        manifest = json.loads(mpath.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RunFolderError(f"manifest.json is not valid JSON ({e})", file=str(mpath)) from None
    if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        raise RunFolderError(
            f"run folder format {manifest.get('format')!r} v{manifest.get('format_version')} is not "
            f"supported by this version (expects {FORMAT!r} v{FORMAT_VERSION}); retrain with this version",
            file=str(mpath),
        )
    for req in REQUIRED:
        if not (run_dir / req).exists():
            raise RunFolderError(
                f"run folder is incomplete: {req} is missing", file=str(run_dir / req)
            )
    for rel, digest in manifest.get("files", {}).items():
        p = run_dir / rel
        if not p.exists():
            raise RunFolderError(f"run folder is incomplete: {rel} is missing", file=str(p))
        actual = sha256(p)
        if actual != digest:
            raise ChecksumError(
                f"{rel} was changed after training (sha256 {actual[:12]}..., expected {digest[:12]}...); "
                "refusing to load it",
                file=str(p),
            )
    return manifest
