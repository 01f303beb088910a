"""A run records whether its feed follows a recipe; predict then recommends the recipe."""

from __future__ import annotations

import dataclasses
import json

import pytest

from forecaster.models.feed_recipe import FeedRecipe
from forecaster.serve.predict import predict_table


def test_the_run_records_the_verdict(run_dir):
    metrics = json.loads((run_dir / "metrics.json").read_text())
    verdict = metrics["feed"]["recipe"]
    assert {"is_recipe", "r2_recipe", "r2_state", "sentence"} <= set(verdict)
    stored = FeedRecipe.from_dict(
        json.loads((run_dir / "forecast" / "feed_recipe.json").read_text())
    )
    assert stored.is_recipe == verdict["is_recipe"] and len(stored.grid_h) == len(stored.profile)
    assert "Feed:" in (run_dir / "report.md").read_text()


def test_a_recipe_feed_is_recommended_from_the_schedule(loaded_run, new_table):
    table = new_table[new_table["time_h"] <= 100].reset_index(drop=True)
    recipe = FeedRecipe(True, 0.9, 0.9, 0.05, 10, grid_h=(0.0, 1000.0), profile=(7.0, 7.0))
    run = dataclasses.replace(loaded_run, feed_recipe=recipe)
    res = predict_table(run, table, attributions=False, alarms=False)
    assert res.predictions["feed_next_mL_h"].to_list() == pytest.approx(
        [7.0] * len(res.predictions)
    )
    plain = predict_table(loaded_run, table, attributions=False, alarms=False)
    assert (plain.predictions["feed_next_mL_h"] != 7.0).all()


def test_the_stored_verdict_round_trips_and_rejects_other_files():
    r = FeedRecipe(True, 0.8, 0.7, 0.05, 12, grid_h=(0.0, 24.0), profile=(0.0, 5.0))
    assert FeedRecipe.from_dict(json.loads(json.dumps(r.to_dict()))) == r
    with pytest.raises(ValueError, match="not a feed-recipe file"):
        FeedRecipe.from_dict({"kind": "detector", "format_version": 1})
