"""LiveMind's OpenAI-compatible HTTP server (the ``server`` extra: ``pip install 'livemind[server]'``).

>>> from livemind.server import create_app, serve
>>> app = create_app(LiveMindConfig.load("livemind.toml"))   # mount it, or:  # doctest: +SKIP
>>> serve(LiveMindConfig.load("livemind.toml"))                                 # doctest: +SKIP

docs/server.md describes the endpoints, the parameters honoured and the errors.
"""

from __future__ import annotations

from livemind.server.app import create_app

__all__ = ["create_app", "serve"]


def serve(config=None) -> None:
    """Runs the server from a :class:`~livemind.config.LiveMindConfig` (None: the defaults) on
    uvicorn until interrupted. uvicorn accepts at most ``[server.limits] max_connections`` open
    connections (it answers a bare 503 past them); the app bounds the requests it works on. The
first SIGTERM drains (``[server] shutdown_grace``; see :mod:`livemind.server.lifecycle`)."""
    import uvicorn

    from livemind.config import LiveMindConfig
    from livemind.server.lifecycle import uvicorn_server

    config = config or LiveMindConfig()
    app = create_app(config)
    uvicorn_server(uvicorn.Config(app, host=config.server.host, port=config.server.port,
                                  log_level=config.server.log_level, timeout_graceful_shutdown=5,
                                  limit_concurrency=config.server.limits.max_connections), app).run()
