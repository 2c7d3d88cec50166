"""watcher.yaml: the frozen Config, and loading it with ``file:line:col`` problems.

- ``model``: the frozen dataclasses; each field is one key of the file.
- ``reader``: reads a YAML mapping into a dataclass from its fields (names, parsers,
  defaults and required keys all come from the field), recording problems as it goes.
- ``values``: parsers for one value (durations, sizes, URLs, zones, crontabs).
- ``loader``: ``check_config``/``load_config``, and the checks across keys.

Adding a key is one edit in ``model.py``: add a field to the dataclass of its section, with
its default. Its type chooses the parser (``str``, ``bool``, ``int``, ``float``,
``timedelta`` from "15m", ``Path`` relative to the file's folder, ``tuple[str, ...]``, a
``Literal`` of strings, or a dataclass for a nested section); anything else goes in
``field(metadata=key(...))``: ``parse=`` (e.g. ``as_positive_int``, ``parse_size``; a
parser may raise ``KeepDefault`` for a value that means "the default", like ``auto``),
``yaml=`` when the YAML name differs (two fields may read one key with different parsers),
``default_from=`` when the default depends on the file's folder or on a key read before it,
``check=`` for a condition on the value in force, ``unique=`` within a list. The key is then
accepted, "did you mean" suggests it, and ``${VAR}`` works in it like everywhere. A new
section is a new dataclass and one field of that type on ``Config`` (``X | None = None``
for a section that is off unless written); a check that spans keys goes in
``loader._check_across_keys``. ``tests/test_config.py`` pins every key's name, parser and
default: extend ``FULL`` there with the new key.
"""

from watcher.config.loader import (
    CONFIG_ENV,
    DEFAULT_CONFIG,
    check_config,
    load_config,
    resolve_config_path,
)
from watcher.config.model import (
    USER_AGENT,
    AlertConfig,
    AppriseChannel,
    ChannelConfig,
    ClusterConfig,
    Config,
    DigestConfig,
    EmailChannel,
    ExtractConfig,
    FeedConfig,
    FileChannel,
    HttpConfig,
    NetworkConfig,
    PollConfig,
    SlackChannel,
)
from watcher.config.reader import KeepDefault, Section, key, yaml_keys
from watcher.config.values import (
    as_bool,
    as_crontab,
    as_float,
    as_http_url,
    as_int,
    as_positive_int,
    as_str,
    as_str_list,
    as_timezone,
    did_you_mean,
    parse_duration,
    parse_size,
)

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_CONFIG",
    "USER_AGENT",
    "AlertConfig",
    "AppriseChannel",
    "ChannelConfig",
    "ClusterConfig",
    "Config",
    "DigestConfig",
    "EmailChannel",
    "ExtractConfig",
    "FeedConfig",
    "FileChannel",
    "HttpConfig",
    "KeepDefault",
    "NetworkConfig",
    "PollConfig",
    "Section",
    "SlackChannel",
    "as_bool",
    "as_crontab",
    "as_float",
    "as_http_url",
    "as_int",
    "as_positive_int",
    "as_str",
    "as_str_list",
    "as_timezone",
    "check_config",
    "did_you_mean",
    "key",
    "load_config",
    "parse_duration",
    "parse_size",
    "resolve_config_path",
    "yaml_keys",
]
