"""A fitted RandomForest as plain arrays of its trees: nothing executes when it is loaded.

A pickle (joblib) can run arbitrary code when it is loaded, so the RF baseline is stored as
the arrays that define its trees, as tensors in the ``model.pt`` the baseline writes
through :func:`forecaster.state.save_state` (read with ``torch.load(weights_only=True)``).
For a forest of ``n_trees`` trees with ``N`` nodes in all (``tree_.__getstate__`` of each
``DecisionTreeRegressor``, concatenated):

- ``node_offsets (n_trees + 1,)``: tree ``i`` holds nodes ``node_offsets[i]:node_offsets[i+1]``;
- ``left_child``, ``right_child``, ``feature``, ``n_node_samples`` ``(N,)`` int64 (child
  indices within the tree, -1 at a leaf); ``threshold``, ``impurity``,
  ``weighted_n_node_samples`` ``(N,)`` float64; ``missing_go_to_left (N,)`` uint8;
- ``value (N, n_outputs, 1)`` float64: the mean target of each node;
- ``max_depth (n_trees,)`` int64; ``params``: the forest's settings (plain values).

Loading rebuilds the scikit-learn objects from these arrays alone, so predictions and
impurity importances are the fitted forest's, bit for bit.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.ensemble import RandomForestRegressor
from sklearn.tree import DecisionTreeRegressor
from sklearn.tree._tree import NODE_DTYPE, Tree

#: Settings of the forest and its trees kept with the arrays.
PARAMS = ("n_estimators", "max_depth", "min_samples_leaf", "max_features", "random_state", "n_jobs")


def forest_state(forest: RandomForestRegressor) -> dict[str, Any]:
    """The arrays of a fitted forest (tensors) and its settings (plain values)."""
    states = [t.tree_.__getstate__() for t in forest.estimators_]
    nodes = np.concatenate([s["nodes"] for s in states])
    arrays = {name: np.ascontiguousarray(nodes[name]) for name in nodes.dtype.names}
    arrays["value"] = np.concatenate([s["values"] for s in states])
    arrays["node_offsets"] = np.cumsum([0] + [int(s["node_count"]) for s in states])
    arrays["max_depth"] = np.asarray([int(s["max_depth"]) for s in states], dtype=np.int64)
    return {
        "params": {k: getattr(forest, k) for k in PARAMS},
        "n_features": int(forest.n_features_in_),
        "n_outputs": int(forest.n_outputs_),
        "arrays": {k: torch.from_numpy(np.asarray(v)) for k, v in arrays.items()},
    }


def forest_from_state(state: dict[str, Any]) -> RandomForestRegressor:
    """Rebuild the forest of :func:`forest_state`.

    Raises:
        KeyError: an array the trees of this scikit-learn version need is missing.
        ValueError: arrays of the wrong type or shape (refused by scikit-learn's ``Tree``).
    """
    arrays = {k: v.numpy() for k, v in state["arrays"].items()}
    n_features, n_outputs = int(state["n_features"]), int(state["n_outputs"])
    params = dict(state["params"])
    offsets = arrays["node_offsets"]
    tree_kw = {k: params[k] for k in ("max_depth", "min_samples_leaf", "max_features")}
    trees = []
    for i in range(len(offsets) - 1):
        a, b = int(offsets[i]), int(offsets[i + 1])
        nodes = np.empty(b - a, dtype=NODE_DTYPE)
        for name in NODE_DTYPE.names:
            nodes[name] = arrays[name][a:b]
        tree = Tree(n_features, np.ones(n_outputs, dtype=np.intp), n_outputs)
        tree.__setstate__(
            {
                "max_depth": int(arrays["max_depth"][i]),
                "node_count": b - a,
                "nodes": nodes,
                "values": np.ascontiguousarray(arrays["value"][a:b]),
            }
        )
        est = DecisionTreeRegressor(**tree_kw)
        est.tree_, est.n_features_in_, est.n_outputs_ = tree, n_features, n_outputs
        est.max_features_ = _max_features(params["max_features"], n_features)
        trees.append(est)
    forest = RandomForestRegressor(**params)
    forest.estimator_ = DecisionTreeRegressor(**tree_kw)
    forest.estimators_, forest.n_features_in_, forest.n_outputs_ = trees, n_features, n_outputs
    return forest


def _max_features(setting: float | int | str | None, n_features: int) -> int:
    """``max_features_`` as scikit-learn resolves it at fit time (informational only)."""
    if setting is None or setting == 1.0:
        return n_features
    if isinstance(setting, str):
        f = np.sqrt if setting == "sqrt" else np.log2
        return max(1, int(f(n_features)))
    if isinstance(setting, int):
        return setting
    return max(1, int(setting * n_features))
