"""Training: the trainer (curriculum stages, resume, Ctrl-C), its callbacks, kickstarting and distillation."""
