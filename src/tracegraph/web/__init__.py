"""The live dashboard: static ES modules from ``web/`` and the SPA fallback for deep links.

A checkout serves ``<repo>/web`` (sources in ``web/src``, npm packages in
``web/node_modules`` installed by ``make setup``); an installed wheel serves its copy,
``tracegraph/_web`` (the page, the sources and the vendored files). There is no bundler;
only the specific vendored files the page imports are exposed under ``/static/vendor/...``
so nothing else from ``node_modules`` is served.
"""

from __future__ import annotations

from tracegraph.web.routes import WEB_ROOT, install_dashboard

__all__ = ["WEB_ROOT", "install_dashboard"]
