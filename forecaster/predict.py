"""``python -m forecaster.predict``: kept as an entry point; the command lives in
:mod:`forecaster.serve.predict` (also ``forecaster predict``)."""

from forecaster.serve.predict import main

if __name__ == "__main__":
    from forecaster.cli import cli_main

    cli_main(main)
