"""Helpers of `zarrlayer demo`: the synthetic dataset, the timed steps and the report."""
