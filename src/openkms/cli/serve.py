"""``openkms serve``: first-start preparation once, then uvicorn with N worker processes."""

from __future__ import annotations

import argparse
import os
from typing import Any

import uvicorn

from openkms import bootstrap
from openkms.settings import Settings


def log_config(level: str) -> dict[str, Any]:
    """uvicorn's access log prints query strings, which carry plaintext: openkms logs its own line."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stderr"}},
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
            "uvicorn.error": {"level": level.upper()},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            "openkms": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
        },
    }


def run(args: argparse.Namespace) -> int:
    settings = Settings.load(
        config_file=args.config, data_dir=args.data_dir, host=args.host, port=args.port, workers=args.workers
    )
    issued = bootstrap.prepare(settings)
    if issued is not None:
        bootstrap.print_new_admin(issued, settings.data_dir)
    # Worker processes rebuild their settings from the environment.
    os.environ["OPENKMS_DATA_DIR"] = str(settings.data_dir)
    if settings.config_file:
        os.environ["OPENKMS_CONFIG"] = str(settings.config_file)
    uvicorn.run(
        "openkms.asgi:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        access_log=False,
        log_config=log_config(settings.log_level),
        server_header=False,
        timeout_graceful_shutdown=30,
    )
    return 0
