"""Absolute file URLs: a stored relative path ("uploads/x.png") joined to `base_domain`.

Both services answer some paths absolute (where a client puts them straight into an <img>) and
keep others relative (where the client prefixes `base_domain` itself, spec §3.1); this is the one
place the joining happens.
"""
from __future__ import annotations


def file_url(base_domain: str, path: str | None) -> str:
    """`base_domain` (PUBLIC_BASE_URL, always ending in "/") + `path`. Empty stays empty, and a
    value that is already absolute passes through, so a URL is never prefixed twice."""
    if not path:
        return ""
    if path.startswith(("http://", "https://", "//")):
        return path
    return base_domain + path.lstrip("/")
