"""Widgets. Everything here reads domain objects from ``desktop`` and never the other way round."""
