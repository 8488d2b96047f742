"""Recipes of the bundled brains: read them (``book``), choose a run's checkpoint (``selection``), measure and
bundle a brain (``bundling``)."""
