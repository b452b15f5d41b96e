"""Configuration outside code: every ``serve`` flag and the endpoint's main options from the environment.

An operator configures a deployment without editing code, as with Phoenix's
``config/runtime.exs`` reading ``System.get_env``. Each setting has one environment
variable, ``OTP_CHANNELS_<NAME>``, and (for ``serve``) one flag. The order of precedence,
highest first:

1. the command-line flag (``otp-channels serve app:endpoint --port 4001``);
2. the environment variable (``OTP_CHANNELS_PORT=4001``);
3. the value in code (``channels.Endpoint(port=4001)``, ``channels.serve(endpoint, control=False)``);
4. the built-in default.

The environment is read when an endpoint is *served* (``otp-channels serve`` or
``channels.serve``), never when it is constructed or started by ``channels.testing``, so
tests do not depend on the environment they run in.

A variable that cannot be parsed stops the start with a message naming it
(:class:`ConfigError`); an unknown ``OTP_CHANNELS_*`` variable is reported with a warning
(:func:`unknown_variables`: a typo would otherwise be ignored silently) and otherwise ignored.

``secret_key_base`` signs long-poll session tokens. Without one, each start picks a
random key: tokens die with a restart and differ between workers. ``serve`` therefore
refuses to start several workers, or TLS (a production deployment), without a stable one;
``otp-channels gen secret`` prints a new key (:func:`generate_secret`).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ENV_PREFIX",
    "MIN_SECRET_LENGTH",
    "SETTINGS",
    "ConfigError",
    "Setting",
    "apply_to_endpoint",
    "check_stable_secret",
    "from_environ",
    "generate_secret",
    "settings_table",
    "unknown_variables",
]

ENV_PREFIX = "OTP_CHANNELS_"

#: The shortest secret_key_base accepted from the environment (Phoenix asks for 64 bytes).
MIN_SECRET_LENGTH = 64

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_LOG_LEVELS = ("debug", "info", "warning", "error")


class ConfigError(ValueError):
    """A configuration value (an environment variable or a flag) is invalid; the message says which and why."""


def _bool(text: str) -> bool:
    low = text.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ValueError("expected 1/true/yes/on or 0/false/no/off")


def _port(text: str) -> int:
    port = int(text)
    if not 0 <= port <= 65535:
        raise ValueError("expected a port number from 0 to 65535 (0: any free port)")
    return port


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError("expected a whole number of at least 1")
    return value


def _text(text: str) -> str:
    if not text.strip():
        raise ValueError("expected a value, got an empty string")
    return text.strip()


def _log_level(text: str) -> str:
    low = text.strip().lower()
    if low not in _LOG_LEVELS:
        raise ValueError(f"expected one of {', '.join(_LOG_LEVELS)}")
    return low


def _secret(text: str) -> str:
    if len(text) < MIN_SECRET_LENGTH:
        raise ValueError(f"too short ({len(text)} characters; at least {MIN_SECRET_LENGTH}); "
                         "make one with: otp-channels gen secret")
    return text


def _check_origin(text: str) -> bool | str | list[str]:
    low = text.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    if low == "conn":
        return "conn"
    origins = [o.strip() for o in text.split(",") if o.strip()]
    if not origins:
        raise ValueError("expected true, false, conn or a comma-separated list of origins")
    return origins


def _addresses(text: str) -> list[str]:
    items = [a.strip() for a in text.split(",") if a.strip()]
    if not items:
        raise ValueError("expected a comma-separated list of addresses or networks (e.g. 127.0.0.1,10.0.0.0/8)")
    import ipaddress

    for item in items:
        ipaddress.ip_network(item, strict=False)
    return items


@dataclass(frozen=True, slots=True)
class Setting:
    """One configurable value: its name, environment variable, ``serve`` flag and parser."""

    #: The name used in code: an ``Endpoint`` attribute or a ``serve`` argument.
    name: str
    #: ``OTP_CHANNELS_<NAME>``.
    env: str
    #: The ``otp-channels serve`` flag, or None when only the environment sets it.
    flag: str | None
    parse: Callable[[str], Any]
    #: One line for the README's table and ``--help``.
    help: str
    #: "endpoint" (an attribute of the endpoint) or "serve" (how it is served).
    applies_to: str = "endpoint"


SETTINGS: tuple[Setting, ...] = (
    Setting("host", "OTP_CHANNELS_HOST", "--host", _text, "address to listen on"),
    Setting("port", "OTP_CHANNELS_PORT", "--port", _port, "port to listen on (0: any free port)"),
    Setting("secret_key_base", "OTP_CHANNELS_SECRET_KEY_BASE", None, _secret,
            "key that signs long-poll tokens (at least 64 characters: otp-channels gen secret)"),
    Setting("url_host", "OTP_CHANNELS_URL_HOST", None, _text,
            "the public host name, checked against Origin (Phoenix's url: [host: ...])"),
    Setting("check_origin", "OTP_CHANNELS_CHECK_ORIGIN", None, _check_origin,
            "true, false, conn or a comma-separated list of allowed origins"),
    Setting("max_connections", "OTP_CHANNELS_MAX_CONNECTIONS", None, _positive,
            "connections served at once before acceptors wait"),
    Setting("num_acceptors", "OTP_CHANNELS_NUM_ACCEPTORS", None, _positive, "acceptor processes"),
    Setting("redis_url", "OTP_CHANNELS_REDIS_URL", "--redis-url", _text,
            "cluster through Redis, e.g. redis://127.0.0.1:6379 (needs the redis extra)"),
    Setting("certfile", "OTP_CHANNELS_CERTFILE", "--certfile", _text, "TLS certificate chain (PEM): serve https/wss"),
    Setting("keyfile", "OTP_CHANNELS_KEYFILE", "--keyfile", _text, "TLS private key (PEM)"),
    Setting("trusted_proxies", "OTP_CHANNELS_TRUSTED_PROXIES", "--trusted-proxies", _addresses,
            "proxies whose X-Forwarded-For gives the peer address (comma-separated addresses or networks)"),
    Setting("metrics", "OTP_CHANNELS_METRICS", "--metrics", _bool, "serve Prometheus metrics at /metrics"),
    Setting("name", "OTP_CHANNELS_NAME", "--name", _text, "node name (default: the endpoint's name)", "serve"),
    Setting("workers", "OTP_CHANNELS_WORKERS", "--workers", _positive,
            "worker processes sharing the port, clustered through Redis", "serve"),
    Setting("observer", "OTP_CHANNELS_OBSERVER", "--observer", _bool,
            "mount the live process-tree page at /_observer", "serve"),
    Setting("control", "OTP_CHANNELS_CONTROL", "--no-control", _bool,
            "open the control socket (otp-channels tree/ps/kill); 0 or --no-control: do not", "serve"),
    Setting("log_level", "OTP_CHANNELS_LOG_LEVEL", "--log-level", _log_level,
            "debug, info, warning or error", "serve"),
    Setting("reload", "OTP_CHANNELS_RELOAD", "--reload", _bool,
            "development: restart when files under the current directory change", "serve"),
)

_BY_ENV = {s.env: s for s in SETTINGS}
#: Variables of ours that are not ``serve`` settings (read where they are used).
_OTHER_VARIABLES = {"OTP_CHANNELS_RUNTIME_DIR", "OTP_CHANNELS_PUBLISH_TOKEN"}


def from_environ(environ: Mapping[str, str], *, only: str | None = None) -> dict[str, Any]:
    """The settings given in ``environ``, parsed: ``{name: value}``.

    Args:
      environ: Usually ``os.environ``.
      only: ``"endpoint"`` or ``"serve"`` to read only those settings.

    Raises:
      ConfigError: a variable cannot be parsed.
    """
    found: dict[str, Any] = {}
    for key, raw in environ.items():
        setting = _BY_ENV.get(key)
        if setting is None:
            continue
        if only is not None and setting.applies_to != only:
            continue
        try:
            found[setting.name] = setting.parse(raw)
        except ValueError as exc:
            shown = "***" if setting.name == "secret_key_base" else repr(raw)
            raise ConfigError(f"{key}={shown}: {exc}") from None
    return found


#: Settings that are endpoint attributes of another name.
_ATTRIBUTE = {"port": "requested_port"}
_PLAIN = ("host", "port", "secret_key_base", "url_host", "check_origin", "max_connections", "num_acceptors",
          "trusted_proxies", "metrics")


def apply_to_endpoint(endpoint: Any, values: Mapping[str, Any], *, node_name: str | None = None) -> None:
    """Set the endpoint settings of ``values`` (from :func:`from_environ` and flags) on ``endpoint``.

    Call it before the endpoint starts. ``redis_url`` installs a ``RedisAdapter`` (named
    ``node_name`` in the cluster); ``certfile`` and ``keyfile`` go together.

    Raises:
      ConfigError: only one of certfile and keyfile.
      InvalidRedisURL, RedisSupportMissing: from the Redis adapter.
    """
    for name in _PLAIN:
        if name in values:
            setattr(endpoint, _ATTRIBUTE.get(name, name), values[name])
    if "secret_key_base" in values:
        endpoint.secret_key_base_given = True
    certfile, keyfile = values.get("certfile"), values.get("keyfile")
    if (certfile is None) != (keyfile is None):
        raise ConfigError("TLS needs both a certificate and its key: --certfile and --keyfile "
                          "(or OTP_CHANNELS_CERTFILE and OTP_CHANNELS_KEYFILE)")
    if certfile is not None:
        endpoint.ssl = (certfile, keyfile)
    if values.get("redis_url") is not None:
        from ..pubsub import RedisAdapter

        endpoint.pubsub_adapter = RedisAdapter(values["redis_url"], node_name=node_name or "")


def check_stable_secret(endpoint: Any, *, workers: int | None) -> None:
    """Refuse a multi-worker or TLS deployment whose secret_key_base is random at each start.

    Long-poll tokens are signed with it: a random key makes every restart, and every other
    worker, refuse the tokens a client holds.

    Raises:
      ConfigError: saying how to make and give a stable key.
    """
    if getattr(endpoint, "secret_key_base_given", False):
        return
    why = []
    if workers is not None and workers > 1:
        why.append(f"{workers} workers")
    if getattr(endpoint, "ssl", None) is not None:
        why.append("TLS")
    if why:
        raise ConfigError(
            f"{' and '.join(why)} need(s) a stable secret key base (it signs long-poll tokens, which must "
            "survive a restart and be valid on every worker): make one with `otp-channels gen secret` and "
            "set OTP_CHANNELS_SECRET_KEY_BASE=<it> in the environment (or pass "
            "Endpoint(secret_key_base=...) from your own configuration)")


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """Warnings for the ``OTP_CHANNELS_*`` variables of ``environ`` that nothing reads (typos, most likely)."""
    known = ", ".join(sorted(_BY_ENV))
    return [f"unknown setting {key} in the environment, ignored (known: {known})"
            for key in sorted(environ)
            if key.startswith(ENV_PREFIX) and key not in _BY_ENV and key not in _OTHER_VARIABLES]


def generate_secret() -> str:
    """A new random secret_key_base: 64 URL-safe characters (as ``mix phx.gen.secret``)."""
    return secrets.token_urlsafe(48)


def settings_table() -> str:
    """The settings as a Markdown table (the README's, checked by a test)."""
    rows = ["| environment variable | `serve` flag | what |", "|---|---|---|"]
    for s in SETTINGS:
        flag = f"`{s.flag}`" if s.flag else "—"
        rows.append(f"| `{s.env}` | {flag} | {s.help} |")
    return "\n".join(rows)
