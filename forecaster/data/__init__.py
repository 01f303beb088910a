"""The batch table: reading a user's export, validation, splits, features, datasets.

Lives here: ``io`` (CSV/Parquet through a column map and unit conversion, atomic writes),
``validate`` (every problem of a file, naming file/batch/column/rows), ``splits`` (by batch),
``features`` (the fitted ``Preprocessor`` and the one feature kernel), ``streaming`` (the same
features chunk by chunk), ``fill`` (the one carry-forward), ``datasets``/``targets``.

May import: ``forecaster.schema`` and the standard scientific stack. Never imports
``pipeline``, ``serve``, ``models``, ``anomaly`` or ``explain``.
"""
