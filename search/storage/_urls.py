"""Storage URLs for printing: the one helper every storage module shares (it imports nothing of ours)."""

from __future__ import annotations


def mask(url: str) -> str:
    """The URL with its password hidden, for printing."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1] if "@" in url else url
