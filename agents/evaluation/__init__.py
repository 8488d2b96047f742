"""Evaluation: rolling a brain out, gait metrics from contacts and centre of mass, criteria, videos, figures."""
