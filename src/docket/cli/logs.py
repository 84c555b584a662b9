"""Logging for the long-running commands (``docket server``, ``docket ui``)."""

from __future__ import annotations

from typing import Any


def uvicorn_log_config(level: str) -> dict[str, Any]:
    """uvicorn's loggers and docket's, one plain line each on stderr."""
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "plain",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": level},
            "uvicorn.error": {"level": level},
            "docket": {"handlers": ["stderr"], "level": level},
        },
    }
