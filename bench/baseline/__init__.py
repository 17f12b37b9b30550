"""The benchmark's baseline: a bare DRF view, the stack's own limit (see ``settings.py``)."""
