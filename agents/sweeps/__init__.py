"""Sweeps: many seeds and settings at once. ``spec`` reads sweep files, ``runner`` runs them on Ray Tune,
``report`` aggregates the trials."""
