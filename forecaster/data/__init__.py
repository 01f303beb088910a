"""Batch table: reading, validation, splits, fitted preprocessing, datasets."""
