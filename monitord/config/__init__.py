"""Configuration: frozen models (:mod:`.models`), loading (:mod:`.loader`), ``${NAME}`` secrets.

The loader's names are imported on first use, so that ``monitord.config.models`` (which the
pure core and every notifier import) does not bring YAML and the loader with it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from monitord.config.loader import load_config, resolve_config_dir, summary

__all__ = ["load_config", "resolve_config_dir", "summary"]

_FROM_LOADER = frozenset(__all__)


def __getattr__(name: str) -> Any:
    if name in _FROM_LOADER:
        return getattr(importlib.import_module("monitord.config.loader"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
