"""Training: the trainer (curriculum stages, resume, Ctrl-C), its callbacks, distillation and lead-ins."""
