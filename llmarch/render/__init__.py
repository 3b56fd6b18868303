"""Renderers: turn analyzer results into tables (rich) or JSON; no analysis here."""
