"""A real uvicorn server on 127.0.0.1, run in a thread for the length of a test."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn


@contextmanager
def uvicorn_server(
    app: Any, before_serving: Callable[[], object] | None = None, **options: Any
) -> Iterator[str]:
    """Serve ``app`` with uvicorn (h11, asyncio) on a free port; yield its base URL.

    ``before_serving`` runs first in the server thread (to bind something there);
    ``options`` override the ``uvicorn.Config`` arguments.
    """
    settings: dict[str, Any] = {"log_level": "warning", "lifespan": "off", "access_log": False}
    settings.update(options)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, **settings)
    server = uvicorn.Server(config)

    def serve() -> None:
        if before_serving is not None:
            before_serving()
        server.run()

    thread = threading.Thread(target=serve, name="uvicorn-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
