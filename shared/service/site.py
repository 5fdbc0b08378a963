"""The ``site`` blueprint's static files (seed §2.7.2); its page is the frameworks' own ``render_template``.

Static files are served by twinport's own file logic, not by the frameworks' static views
(Flask's and Quart's disagree on Cache-Control and more). A URL that carries the asset's
current version (``?v=``) is immutable for a year, as the seed's §2.4.4 recommends for
versioned static files; without it, or with a stale one, the asset is revalidated. Where the
files live is the edge's (``shared.edge.files.STATIC_DIR``, ``TEMPLATE_DIR``).
"""

from __future__ import annotations

from ..protocol.cache import CachePolicy, immutable_static
from ..protocol.representation import Representation
from .files import FileFacts, file_representation

__all__ = ["asset_version", "static_asset"]


def asset_version(facts: FileFacts) -> str:
    """A short version token for cache busting: changes whenever the file does."""
    tag = file_representation(facts, attachment=False, download_name=None).validators.etag
    assert tag is not None
    return tag.opaque[-12:] if len(tag.opaque) > 12 else tag.opaque


def static_asset(facts: FileFacts, requested_version: str | None) -> Representation:
    cache = immutable_static() if requested_version == asset_version(facts) else CachePolicy(no_cache=True)
    return file_representation(facts, attachment=False, download_name=None, cache=cache)
