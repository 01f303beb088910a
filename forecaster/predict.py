"""``python -m forecaster.predict``: kept as an entry point; the command lives in
:mod:`forecaster.serve.predict`."""

from forecaster.serve.predict import main

if __name__ == "__main__":
    main()
