"""Configuration from OTP_CHANNELS_* environment variables: parsing, errors naming the variable, secrets."""

from __future__ import annotations

import pytest

from channels.ops import _config as config


def test_every_setting_is_read_from_its_variable_and_parsed() -> None:
    secret = "s" * 64
    env = {
        "OTP_CHANNELS_HOST": "0.0.0.0", "OTP_CHANNELS_PORT": "4001", "OTP_CHANNELS_SECRET_KEY_BASE": secret,
        "OTP_CHANNELS_URL_HOST": "example.com", "OTP_CHANNELS_CHECK_ORIGIN": "https://a.example, https://b.example",
        "OTP_CHANNELS_MAX_CONNECTIONS": "100", "OTP_CHANNELS_NUM_ACCEPTORS": "2",
        "OTP_CHANNELS_REDIS_URL": "redis://127.0.0.1:6379", "OTP_CHANNELS_CERTFILE": "/c.pem",
        "OTP_CHANNELS_KEYFILE": "/k.pem", "OTP_CHANNELS_TRUSTED_PROXIES": "127.0.0.1,10.0.0.0/8",
        "OTP_CHANNELS_METRICS": "yes", "OTP_CHANNELS_NAME": "chat-1", "OTP_CHANNELS_WORKERS": "2",
        "OTP_CHANNELS_OBSERVER": "1", "OTP_CHANNELS_CONTROL": "off", "OTP_CHANNELS_LOG_LEVEL": "WARNING",
        "OTP_CHANNELS_RELOAD": "false", "OTP_CHANNELS_RUNTIME_DIR": "/tmp/x", "PATH": "/bin",
    }
    assert config.from_environ(env) == {
        "host": "0.0.0.0", "port": 4001, "secret_key_base": secret, "url_host": "example.com",
        "check_origin": ["https://a.example", "https://b.example"], "max_connections": 100, "num_acceptors": 2,
        "redis_url": "redis://127.0.0.1:6379", "certfile": "/c.pem", "keyfile": "/k.pem",
        "trusted_proxies": ["127.0.0.1", "10.0.0.0/8"], "metrics": True, "name": "chat-1", "workers": 2,
        "observer": True, "control": False, "log_level": "warning", "reload": False,
    }
    assert set(config.from_environ(env, only="serve")) == {"name", "workers", "observer", "control",
                                                           "log_level", "reload"}
    assert {s.env for s in config.SETTINGS} | {"OTP_CHANNELS_RUNTIME_DIR"} == {k for k in env if k != "PATH"}


@pytest.mark.parametrize(("variable", "value", "why"), [
    ("OTP_CHANNELS_PORT", "http", "invalid literal"),
    ("OTP_CHANNELS_PORT", "70000", "from 0 to 65535"),
    ("OTP_CHANNELS_WORKERS", "0", "at least 1"),
    ("OTP_CHANNELS_METRICS", "maybe", "expected 1/true/yes/on"),
    ("OTP_CHANNELS_LOG_LEVEL", "loud", "debug, info, warning, error"),
    ("OTP_CHANNELS_TRUSTED_PROXIES", "proxy.local", "does not appear to be an IPv4 or IPv6 network"),
    ("OTP_CHANNELS_HOST", " ", "empty string"),
])
def test_a_bad_value_is_refused_naming_the_variable(variable: str, value: str, why: str) -> None:
    with pytest.raises(config.ConfigError, match=rf"^{variable}='.*': .*{why}"):
        config.from_environ({variable: value})


def test_a_short_secret_is_refused_without_echoing_it() -> None:
    with pytest.raises(config.ConfigError) as info:
        config.from_environ({"OTP_CHANNELS_SECRET_KEY_BASE": "hunter2"})
    assert "hunter2" not in str(info.value)
    assert str(info.value) == ("OTP_CHANNELS_SECRET_KEY_BASE=***: too short (7 characters; at least 64); "
                               "make one with: otp-channels gen secret")


def test_an_unknown_variable_is_reported_so_that_typos_are_not_ignored() -> None:
    env = {"OTP_CHANNELS_PROT": "4000", "OTP_CHANNELS_PORT": "1", "OTP_CHANNELS_RUNTIME_DIR": "/x",
           "OTP_CHANNELS_PUBLISH_TOKEN": "t"}
    (warning,) = config.unknown_variables(env)
    assert warning.startswith("unknown setting OTP_CHANNELS_PROT in the environment, ignored (known: ")
    assert config.from_environ(env) == {"port": 1}


def test_generated_secrets_are_long_enough_url_safe_and_differ() -> None:
    one, two = config.generate_secret(), config.generate_secret()
    assert len(one) == config.MIN_SECRET_LENGTH
    assert one != two
    assert config.from_environ({"OTP_CHANNELS_SECRET_KEY_BASE": one}) == {"secret_key_base": one}
    assert set(one) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
