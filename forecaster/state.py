"""One save convention for every fitted part: plain state with a format version.

A fitted component (preprocessing, forecaster, detector, scorer, calibration, baseline)
exposes ``state_dict() -> dict`` of plain values (numbers, strings, lists, dicts, tensors)
and ``from_state_dict(state) -> component``. :func:`save_state` writes that dict atomically
with ``kind`` and ``format_version`` beside it; :func:`load_state` reads it back with
``torch.load(weights_only=True)`` (``.pt``) or ``json`` (``.json``) — nothing on load can
execute code — and runs the component's ``migrate`` steps, one per version bump, so an
older file loads or is refused with one line naming its version.

Example::

    save_state(path, "forecaster", 2, model.state_dict())
    state = load_state(path, "forecaster", 2, migrations={1: _v1_to_v2})
    model = SequenceForecaster.from_state_dict(state)
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

from forecaster.data.errors import RunFolderError
from forecaster.data.io import atomic_write_bytes, atomic_write_text

#: A migration turns the state of version ``v`` into the state of version ``v + 1``.
Migration = Callable[[dict[str, Any]], dict[str, Any]]


def save_state(path: str | Path, kind: str, version: int, state: Mapping[str, Any]) -> Path:
    """Write ``state`` with its kind and format version, atomically.

    Args:
        path: ``.pt`` (torch, for tensors) or ``.json`` (plain values only).
        kind: what the file holds (``"forecaster"``, ``"anomaly-detector"``, ...).
        version: the component's current format version.
        state: the component's ``state_dict()``.

    Returns:
        ``path``.
    """
    path = Path(path)
    doc = {**state, "kind": kind, "format_version": int(version)}
    if path.suffix == ".json":
        return atomic_write_text(path, json.dumps(doc, indent=1))
    buf = io.BytesIO()
    torch.save(doc, buf)
    return atomic_write_bytes(path, buf.getvalue())


def load_state(
    path: str | Path,
    kind: str,
    version: int,
    migrations: Mapping[int, Migration] | None = None,
) -> dict[str, Any]:
    """Read a file written by :func:`save_state` and migrate it to ``version``.

    Files without a ``kind`` (written before this convention) are read as version 1 of the
    expected kind.

    Raises:
        RunFolderError: missing or unreadable file, another kind, a newer version, or an
            older version with no migration (one line naming the file and versions).
    """
    path = Path(path)
    if not path.exists():
        raise RunFolderError(f"{path} not found")
    try:
        if path.suffix == ".json":
            doc = json.loads(path.read_text(encoding="utf-8"))
        else:
            doc = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as err:  # a corrupt or foreign file: say which, no traceback
        raise RunFolderError(f"{path}: cannot be read ({type(err).__name__}: {err})") from None
    if not isinstance(doc, dict):
        raise RunFolderError(f"{path}: expected a saved {kind}, found {type(doc).__name__}")
    found_kind = doc.pop("kind", kind)
    if found_kind != kind:
        raise RunFolderError(f"{path}: holds a {found_kind!r}, expected a {kind!r}")
    v = int(doc.pop("format_version", 1) or 1)
    if v > version:
        raise RunFolderError(
            f"{path}: {kind} format version {v} is newer than this package reads ({version}); "
            "upgrade bioreactor-forecaster"
        )
    steps = dict(migrations or {})
    while v < version:
        if v not in steps:
            raise RunFolderError(
                f"{path}: {kind} format version {v} can no longer be read (current: {version}); "
                "train the run again"
            )
        doc = steps[v](doc)
        v += 1
    return doc
