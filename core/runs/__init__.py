"""Specs and runs: the spec schema, run folders, the pipeline, batches, schedules and loops."""
