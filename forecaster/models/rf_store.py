"""Storage of fitted scikit-learn models, checked against a sha256 before unpickling.

A pickle can run arbitrary code when it is loaded, so the pickle written here is never
loaded unless its sha256 matches the one recorded in the JSON beside it at training time.
Everything else (config, variables, feature names, search table) lives in that JSON as
plain values, so it can be read without unpickling anything. Layout of the folder::

    model.pkl   joblib pickle of {name: fitted estimator}
    rf.json     {"format_version", "sha256", "sklearn_version", ...caller's metadata}

The check guards against a changed or swapped file, not against someone who can rewrite
both files; the run folder's ``manifest.json`` hashes ``rf.json`` too.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import joblib
import sklearn

from forecaster.bundle import sha256 as sha256_file
from forecaster.data.errors import ChecksumError, RunFolderError
from forecaster.data.io import atomic_path, atomic_write_text

MODEL_FILE = "model.pkl"
META_FILE = "rf.json"
FORMAT_VERSION = 1
_RESERVED = ("format_version", "sha256", "sklearn_version", "model_file")


def save_models(directory: Path, models: dict[str, Any], meta: dict[str, Any]) -> str:
    """Write ``model.pkl`` and ``rf.json`` into ``directory`` (created if needed).

    Args:
        directory: destination folder.
        models: fitted estimators by name (pickled with joblib).
        meta: JSON-serialisable metadata stored beside the hash.

    Returns:
        The sha256 of ``model.pkl``.
    """
    clash = [k for k in _RESERVED if k in meta]
    if clash:
        raise ValueError(f"metadata keys {clash} are reserved by rf_store")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model_path = directory / MODEL_FILE
    with atomic_path(model_path) as tmp:
        joblib.dump(models, tmp, compress=3)
    digest = sha256_file(model_path)
    record = {
        "format_version": FORMAT_VERSION,
        "model_file": MODEL_FILE,
        "sha256": digest,
        "sklearn_version": sklearn.__version__,
        **meta,
    }
    text = json.dumps(record, indent=2, allow_nan=True)
    atomic_write_text(directory / META_FILE, text)
    return digest


def read_meta(directory: Path) -> dict[str, Any]:
    """The ``rf.json`` record of a folder (no pickle is touched)."""
    path = Path(directory) / META_FILE
    if not path.is_file():
        raise RunFolderError("RF metadata missing", file=str(path), expected=f"{META_FILE}")
    try:
        meta = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise RunFolderError(f"not valid JSON ({e})", file=str(path)) from None
    if meta.get("format_version") != FORMAT_VERSION or "sha256" not in meta:
        raise RunFolderError(
            f"format_version {meta.get('format_version')!r}",
            file=str(path),
            expected=f"format_version {FORMAT_VERSION} with a sha256",
        )
    return meta


def load_models(directory: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Verify ``model.pkl`` against the hash in ``rf.json``, then unpickle it.

    Returns:
        ``(models, meta)``; ``meta`` is the full ``rf.json`` record.

    Raises:
        RunFolderError: ``rf.json`` or ``model.pkl`` missing or unreadable.
        ChecksumError: the sha256 of ``model.pkl`` differs from the recorded one; nothing
            has been unpickled.
    """
    directory = Path(directory)
    meta = read_meta(directory)
    model_path = directory / MODEL_FILE  # never a path taken from the JSON
    if not model_path.is_file():
        raise RunFolderError("RF model file missing", file=str(model_path))
    actual = sha256_file(model_path)
    if actual != meta["sha256"]:
        raise ChecksumError(
            f"sha256 is {actual}; the file changed since training and will not be unpickled",
            file=str(model_path),
            expected=f"sha256 {meta['sha256']} (recorded in {META_FILE})",
        )
    if meta.get("sklearn_version") != sklearn.__version__:
        warnings.warn(
            f"{model_path}: written with scikit-learn {meta.get('sklearn_version')}, "
            f"loading with {sklearn.__version__}; predictions may differ",
            stacklevel=2,
        )
    return joblib.load(model_path), meta
