"""
The HTTP server: ``Site`` serves a tree of resources (see
``torsion.web.resource``).
"""

from __future__ import annotations

from torsion.web.resource import NOT_DONE_YET, EncodingResourceWrapper

__all__ = ["NOT_DONE_YET", "EncodingResourceWrapper"]
