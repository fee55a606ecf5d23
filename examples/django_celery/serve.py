"""Serve the project under uvicorn (ASGI): ``python serve.py --port 8000`` (from this folder).

Django's ``LOGGING`` (``json_logging_config()``) is applied when the ASGI
application is built; uvicorn gets the same configuration. uvicorn's access
log is off: it is written after Django's middleware chain has returned, so
outside the request's context. Django's own ``django.request`` lines
("Not Found: /path") are logged inside it.
"""

from __future__ import annotations

import argparse

import uvicorn

from ctxcarry.logs import json_logging_config

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8000)
    uvicorn.run(
        "proj.asgi:application",
        host="127.0.0.1",
        port=parser.parse_args().port,
        log_config=json_logging_config("INFO"),
        access_log=False,
        lifespan="off",  # Django has no ASGI lifespan support
    )
