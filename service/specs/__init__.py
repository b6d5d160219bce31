"""Torch-free shapes shared by the API, the worker and the CLI: spec, configs, corpus bundle, report."""
