from pathlib import Path

import pytest

from forecaster.pipeline.config import RunConfig, parse_config

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted(p for p in (ROOT / "configs").rglob("*.yaml") if "sim" not in p.parts)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_run_config_loads_and_validates(path):
    cfg, text = parse_config(["--config", str(path)])
    assert isinstance(cfg, RunConfig)
    assert cfg.run_name and "run_name" in text


def test_command_line_overrides_keys():
    cfg, _ = parse_config(
        [
            "--config",
            str(ROOT / "configs/quickstart.yaml"),
            "--model.cell",
            "lstm",
            "--trainer.max_epochs",
            "5",
            "--seed",
            "3",
        ]
    )
    assert (cfg.model.cell, cfg.trainer.max_epochs, cfg.seed) == ("lstm", 5, 3)


def test_misspelt_key_is_an_error(capsys):
    with pytest.raises(SystemExit) as e:
        parse_config(["--config", str(ROOT / "configs/quickstart.yaml"), "--model.hiden_size", "3"])
    assert e.value.code == 2
    assert "hiden_size" in capsys.readouterr().err


def test_sim_configs_load():
    from jsonargparse import ArgumentParser

    from forecaster.sim import SimConfig

    for path in (ROOT / "configs" / "sim").glob("*.yaml"):
        parser = ArgumentParser(exit_on_error=False)
        parser.add_class_arguments(SimConfig, None, as_group=False)
        import yaml

        ns = parser.parse_object(yaml.safe_load(path.read_text()))
        assert ns.n_batches > 0
