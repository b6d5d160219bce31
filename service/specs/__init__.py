"""Torch-free shapes and rules shared by the API, the worker and the CLI: spec, configs, corpus bundle, what a
spec needs from its corpus, report and its assembly."""
