"""Configuration: frozen models (:mod:`.models`), loading (:mod:`.loader`), ``${NAME}`` secrets."""

from monitord.config.loader import load_config, resolve_config_dir

__all__ = ["load_config", "resolve_config_dir"]
