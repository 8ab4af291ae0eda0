"""Helpers of the `zarrlayer` command line: option parsing, inspection, copying, cache commands."""
