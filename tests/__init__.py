"""Tests of twohead; `tests.helpers` and `tests.data_files` hold what they share."""
