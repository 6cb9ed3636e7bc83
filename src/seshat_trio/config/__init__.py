"""Node configuration: typed model, sources (TOML < env < CLI), validation.

Use `load_config(path, env, overrides) -> Config`; it raises `ConfigError` whose `problems`
list every issue found, one line each. The full reference is docs/configuration.md.
"""

from seshat_trio.config.errors import ConfigError, Problem
from seshat_trio.config.load import load_config
from seshat_trio.config.model import (
    Address,
    AuthSection,
    ClusterSection,
    Config,
    LimitsSection,
    LogFormat,
    LogLevel,
    Member,
    NodeSection,
    PubSubSection,
    RaftSection,
    ReadMode,
    Redirect,
    RedisSection,
    StorageSection,
    TlsAuthClients,
    TlsSection,
)
from seshat_trio.config.parse import parse_members
from seshat_trio.config.settings import Setting, all_settings

__all__ = [
    "Address",
    "AuthSection",
    "ClusterSection",
    "Config",
    "ConfigError",
    "LimitsSection",
    "LogFormat",
    "LogLevel",
    "Member",
    "NodeSection",
    "Problem",
    "PubSubSection",
    "RaftSection",
    "ReadMode",
    "Redirect",
    "RedisSection",
    "Setting",
    "StorageSection",
    "TlsAuthClients",
    "TlsSection",
    "all_settings",
    "load_config",
    "parse_members",
]
