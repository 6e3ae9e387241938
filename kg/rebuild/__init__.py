"""Rebuild jobs: bring the graph (and what is derived from it) up to date after a catalog export.

``lock`` keeps two jobs apart, ``record`` is the job's durable account (what changed, per-step timings,
metrics), ``diff`` says what a catalog export changes before anything is written, and ``job`` runs the steps,
resuming after the last completed one when a job with the same inputs is run again.
"""
