"""Issue #14, finding 6: nothing in a run folder executes code when it is loaded.

The RandomForest used to be a pickle checked against a hash stored beside it: rewriting the
payload together with ``manifest.json`` made ``RFBaseline.load()`` run it. These tests plant
a payload in every model file of a real (tiny) run, rewrite the manifest as an attacker
would, and load the folder the way ``predict`` does and the way the library does.
"""

from __future__ import annotations

import ast
import json
import os
import pickle
import shutil
from pathlib import Path

import pytest
import torch

from forecaster.bundle import write_manifest
from forecaster.data.errors import DataError, RunFolderError
from forecaster.serve.run_folder import load_run

PACKAGE = Path(__file__).resolve().parents[2] / "forecaster"


class _Payload:
    """Creates the folder ``marker`` when unpickled: what a malicious model file would do."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.makedirs, (self.marker,))


def _model_files(run_dir: Path) -> list[str]:
    return sorted(
        p.relative_to(run_dir).as_posix()
        for p in run_dir.rglob("*")
        if p.is_file() and p.suffix in (".pt", ".ckpt")
    )


def test_every_model_file_of_a_run_loads_without_unpickling_objects(run_dir):
    files = _model_files(run_dir)
    assert "forecast/model.pt" in files and "rf/model.pt" in files
    for rel in files:  # plain tensors and values only: the restricted loader accepts them
        assert isinstance(torch.load(run_dir / rel, weights_only=True, map_location="cpu"), dict)
    # and no file in a format that can only be read by unpickling
    risky = [p.name for p in run_dir.rglob("*") if p.suffix in (".pkl", ".pickle", ".joblib")]
    assert risky == []


def _serve_the_rf(run_dir: Path) -> None:
    """Make the run's chosen forecast use the RandomForest on its last origin day."""
    path = run_dir / "forecast" / "chosen.json"
    doc = json.loads(path.read_text())
    doc["weights"][max(doc["weights"], key=float)] = {"rf": 1.0}
    path.write_text(json.dumps(doc))


def test_a_planted_payload_with_a_rewritten_manifest_is_never_executed(run_dir, tmp_path):
    marker = tmp_path / "payload_ran"
    for rel in _model_files(run_dir):
        if rel.endswith(".ckpt"):
            continue  # training checkpoints: resume only, checked below
        copy = tmp_path / rel.replace("/", "_")
        shutil.copytree(run_dir, copy)
        torch.save({"kind": "x", "format_version": 2, "state": _Payload(marker)}, copy / rel)
        if rel.startswith("rf/"):  # predict reads the RF when the served forecast uses it
            _serve_the_rf(copy)
        write_manifest(copy, "0")  # the hashes no longer protect anything
        with pytest.raises(DataError, match="cannot"):
            load_run(copy)
        assert not marker.exists(), rel


def test_the_library_loaders_refuse_the_payload_themselves(run_dir, tmp_path):
    from forecaster.anomaly.detector import AnomalyDetector
    from forecaster.models.baseline import RFBaseline
    from forecaster.models.sequence import SequenceForecaster

    marker = tmp_path / "payload_ran"
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    for rel in _model_files(copy):
        torch.save({"state": _Payload(marker)}, copy / rel)
    loaders = [
        lambda: RFBaseline.load(copy / "rf"),
        lambda: SequenceForecaster.load(copy / "forecast" / "model.pt"),
        lambda: AnomalyDetector.load(copy),
    ]
    for load in loaders:
        with pytest.raises(RunFolderError, match="cannot be read"):
            load()
        assert not marker.exists()
    # resuming a run reads last.ckpt through Lightning: the restricted loader too
    from lightning.fabric.utilities.cloud_io import _load

    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        _load(copy / "forecast" / "last.ckpt")
    assert not marker.exists()


def _calls(tree: ast.AST, name: str):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            if (isinstance(f, ast.Attribute) and f.attr == name) or (
                isinstance(f, ast.Name) and f.id == name
            ):
                yield node


def test_no_loader_in_the_package_can_unpickle():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        rel = path.relative_to(PACKAGE.parent).as_posix()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                if any(
                    n.split(".")[0] in ("pickle", "joblib", "dill", "cloudpickle") for n in names
                ):
                    offenders.append(f"{rel}:{node.lineno} imports a pickle module")
        for call in _calls(tree, "load"):
            kw = {k.arg: k.value for k in call.keywords}
            f = call.func
            owner = (
                f.value.id if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) else ""
            )
            if owner == "torch":
                ok = isinstance(kw.get("weights_only"), ast.Constant) and kw["weights_only"].value
                if not ok:
                    offenders.append(f"{rel}:{call.lineno} torch.load without weights_only=True")
            if owner == "np" and "allow_pickle" in kw and getattr(kw["allow_pickle"], "value", 1):
                offenders.append(f"{rel}:{call.lineno} np.load(allow_pickle=True)")
    assert offenders == []
