"""The SynthSpot desktop app (PySide6). Domain code lives here; widgets live in ``desktop.ui``."""
