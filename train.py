"""Train and evaluate a whole run: ``python train.py --config configs/quickstart.yaml``.

Any key can be overridden (``--model.cell lstm --trainer.max_epochs 5 --seed 3``);
``--run_name NAME`` picks the run folder ``checkpoints/NAME/``; ``--resume true`` continues
an interrupted run from its last checkpoint. See ``python train.py --help``.
"""

from forecaster.pipeline.cli import main

if __name__ == "__main__":
    main()
