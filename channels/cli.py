"""The ``otp-channels`` command line: serve an endpoint, inspect a running node, run demos, generate code.

Usage::

    otp-channels serve examples.hello_sockets:Endpoint --port 4000 [--observer]
    otp-channels tree [--node NAME|PID|SOCKET] [--json]
    otp-channels ps <0.42.0>|NAME [--node ...] [--json]
    otp-channels kill <0.42.0>|NAME [--reason kill]
    otp-channels nodes
    otp-channels demo one_for_one|one_for_all|rest_for_one|escalation|all
    otp-channels new channel Room [--dir DIR]
    otp-channels new socket User [--dir DIR]
    otp-channels gen secret

``python -m channels ...`` is the same program. ``tree``, ``ps`` and ``kill`` talk to the
node's control socket (see ``channels.ops._control``); with one node running they find it
without flags.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .ops._control import ControlClient, ControlError, discover, list_nodes, runtime_dir

__all__ = ["UsageError", "load_endpoint", "main"]

PROG = "otp-channels"


class UsageError(Exception):
    """A mistake on the command line; the message says what to do instead."""


# -- serve ------------------------------------------------------------------------------------------


def load_endpoint(target: str) -> Any:
    """Import ``MODULE:ENDPOINT`` and return the endpoint (an instance, or a factory's result)."""
    from .endpoint._endpoint import Endpoint

    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise UsageError(f"expected MODULE:ENDPOINT (for example examples.hello_sockets:Endpoint), got {target!r}")
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or module_name
        if module_name == missing or module_name.startswith(missing + "."):
            raise UsageError(f"cannot import {module_name!r}: no module named {missing!r}. Run from the "
                             "directory that holds it, or add that directory to PYTHONPATH") from None
        raise
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            found = sorted(k for k, v in vars(module).items() if isinstance(v, Endpoint))
            hint = (f"; endpoints defined there: {', '.join(found)}" if found
                    else "; it defines no channels.Endpoint at module level")
            raise UsageError(f"{module_name} has no attribute {attr!r}{hint}")
        obj = getattr(obj, part)
    if not isinstance(obj, Endpoint) and callable(obj):
        obj = obj()
    if not isinstance(obj, Endpoint):
        raise UsageError(f"{target} is a {type(obj).__name__}, not a channels.Endpoint "
                         "(or a function returning one)")
    return obj


def serve_settings(args: argparse.Namespace, environ: Mapping[str, str]) -> dict[str, Any]:
    """The ``serve`` settings: each flag given, else its ``OTP_CHANNELS_*`` variable (see ``channels.ops._config``)."""
    from .ops._config import SETTINGS, ConfigError, from_environ, unknown_variables

    for warning in unknown_variables(environ):
        print(f"{PROG}: warning: {warning}", file=sys.stderr)
    try:
        values = from_environ(environ)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    for setting in SETTINGS:
        flagged = getattr(args, setting.name, None) if setting.flag is not None else None
        if flagged is not None:
            values[setting.name] = flagged
    return values


def _cmd_serve(args: argparse.Namespace) -> int:
    from .ops._config import ConfigError, apply_to_endpoint, check_stable_secret
    from .ops._control import serve
    from .pubsub._redis import InvalidRedisURL, RedisSupportMissing

    values = serve_settings(args, os.environ)
    endpoint = load_endpoint(args.target)
    workers = values.get("workers")
    if values.get("reload"):
        return _serve_reload(args, endpoint, values)
    try:
        if workers is not None:
            if values.get("redis_url") is None:
                raise UsageError("--workers needs --redis-url: the workers share broadcasts and presences "
                                 "through Redis (for example --redis-url redis://127.0.0.1:6379)")
            from .pubsub._redis import require_redis_support

            require_redis_support()
            worker_values = {k: v for k, v in values.items() if k != "redis_url"}
            apply_to_endpoint(endpoint, worker_values)
            check_stable_secret(endpoint, workers=workers)
            return _serve_workers(args, endpoint, values)
        apply_to_endpoint(endpoint, values, node_name=values.get("name"))
        check_stable_secret(endpoint, workers=None)
    except InvalidRedisURL as exc:
        raise UsageError(f"{exc}; expected redis://[:password@]host[:port][/db]") from None
    except (RedisSupportMissing, ConfigError) as exc:
        raise UsageError(str(exc)) from None
    if values.get("observer"):
        from .ops._observer import enable

        enable(endpoint)
    logging.basicConfig(level=getattr(logging, values.get("log_level", "info").upper()),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return serve(endpoint, control=values.get("control", True), node_name=values.get("name"), environ={})
    except KeyboardInterrupt:
        return 0
    except BaseException as exc:
        problem = _startup_problem(exc)
        if problem is None:
            raise
        raise UsageError(problem) from None


#: Settings a worker gets from its parent as flags (the environment is inherited anyway).
_WORKER_FLAGS = ("log_level", "observer", "control", "metrics", "certfile", "keyfile", "trusted_proxies")


def _as_flags(values: Mapping[str, Any], names: Sequence[str]) -> list[str]:
    extra: list[str] = []
    for name in names:
        value = values.get(name)
        if value is None:
            continue
        if name == "control":
            extra += [] if value else ["--no-control"]
        elif isinstance(value, bool):
            extra += [f"--{name}"] if value else []
        elif isinstance(value, list):
            extra += [f"--{name.replace('_', '-')}", ",".join(value)]
        else:
            extra += [f"--{name.replace('_', '-')}", str(value)]
    return extra


def _serve_reload(args: argparse.Namespace, endpoint: Any, values: Mapping[str, Any]) -> int:
    """``serve --reload``: the node in a child process, restarted when Python files change."""
    from .ops._reload import ReloadSupportMissing, serve_reload
    from .ops._workers import _free_port

    if values.get("workers") is not None:
        raise UsageError("--reload is for development and runs one node: drop --workers (or OTP_CHANNELS_WORKERS)")
    host = values.get("host", endpoint.host)
    port = values.get("port", endpoint.requested_port)
    if port == 0:
        port = _free_port(host)  # every restart listens on the same port
    child = [args.target, "--host", host, "--port", str(port),
             *_as_flags(values, ("name", "redis_url", *_WORKER_FLAGS))]
    try:
        return serve_reload(child, watch=Path.cwd())
    except ReloadSupportMissing as exc:
        raise UsageError(str(exc)) from None


def _serve_workers(args: argparse.Namespace, endpoint: Any, values: Mapping[str, Any]) -> int:
    """``serve --workers N``: N worker processes on one port, clustered through Redis."""
    from .ops._workers import serve_workers

    extra = _as_flags(values, _WORKER_FLAGS)
    scheme = "https" if values.get("certfile") else "http"
    return serve_workers(args.target, values["workers"], host=endpoint.host, port=endpoint.requested_port,
                         redis_url=values["redis_url"], name=values.get("name") or endpoint.name,
                         extra_args=extra, scheme=scheme)


def _startup_problem(exc: BaseException) -> str | None:
    """A user-facing message for a start failure we can explain (port in use, bad runtime dir)."""
    if isinstance(exc, BaseExceptionGroup):
        for sub in exc.exceptions:
            found = _startup_problem(sub)
            if found is not None:
                return found
        return None
    if isinstance(exc, ControlError):
        return str(exc)
    if isinstance(exc, OSError) and "cannot listen" in str(exc):
        return f"{exc.strerror if exc.strerror else exc}; choose another --port (or stop what holds it)"
    cause = exc.__cause__ or exc.__context__
    if cause is not None and cause is not exc:
        return _startup_problem(cause)
    return None


# -- tree, ps, kill, nodes ---------------------------------------------------------------------------


def _client(args: argparse.Namespace) -> ControlClient:
    return ControlClient(discover(args.node))


def _cmd_tree(args: argparse.Namespace) -> int:
    import otp

    limit = args.max_children if args.max_children is not None or args.json else 50
    with _client(args) as client:
        snap = client.request("snapshot", max_children=limit)
    if args.json:
        print(json.dumps(snap, indent=2))
    else:
        print(otp.format_tree(snap, max_children=limit or 50))
    return 0


def _fmt_list(items: Sequence[Any]) -> str:
    return ", ".join(str(i) for i in items) if items else "-"


def _cmd_ps(args: argparse.Namespace) -> int:
    with _client(args) as client:
        info = client.request("info", target=args.target)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(format_process(info))
    return 0


def format_process(info: dict[str, Any]) -> str:
    """The ``ps`` view of one process (an ``info`` result)."""
    lines = [f"{info['pid']}  {info.get('name') or info['behaviour']}"]
    rows = [
        ("behaviour", info["behaviour"]),
        ("status", info["status"]),
        ("parent", f"{info.get('parent') or '-'} {info.get('parent_name') or ''}".rstrip()),
        ("trap_exit", str(info.get("trap_exit")).lower()),
        ("links", _fmt_list(info.get("links", []))),
        ("monitors", _fmt_list(info.get("monitors", []))),
        ("monitored_by", _fmt_list(info.get("monitored_by", []))),
        ("children", _fmt_list([f"{c['pid']} {c.get('name') or c['behaviour']}"
                                for c in info.get("children", [])])),
    ]
    lines += [f"  {k + ':':<14}{v}" for k, v in rows]
    lines.append("statistics:")
    lines += [f"  {k + ':':<26}{v}" for k, v in info.get("statistics", {}).items()]
    lines.append("state:")
    summary = info.get("summary")
    if isinstance(summary, dict):
        for key, value in summary.items():
            text = json.dumps(value) if isinstance(value, dict | list | bool) or value is None else str(value)
            if len(text) > 200:
                text = text[:197] + "..."
            lines.append(f"  {key + ':':<14}{text}")
    else:
        lines.append(f"  {summary}")
    return "\n".join(lines)


def _cmd_kill(args: argparse.Namespace) -> int:
    with _client(args) as client:
        result = client.request("kill", target=args.target, reason=args.reason)
    name = f" ({result['name']})" if result.get("name") else ""
    print(f"sent exit signal {result['reason']!r} to {result['pid']}{name}")
    if result.get("trapped"):
        print(f"{result['pid']} traps exits: the signal was delivered as a message (an Exit in its mailbox), "
              "not applied; the process decides what to do with it (use --reason kill to force it)")
    return 0


def _cmd_nodes(args: argparse.Namespace) -> int:
    nodes = list_nodes()
    if not nodes:
        print(f"no running node in {runtime_dir()}")
        return 0
    for n in nodes:
        print(f"{n.node}  os_pid={n.os_pid}  {n.socket_path}")
    return 0


# -- demo ---------------------------------------------------------------------------------------------


def _demos() -> Any:
    """The supervision demos (:mod:`otp.demos`, installed with the package)."""
    return importlib.import_module("otp.demos")


def _cmd_demo(args: argparse.Namespace) -> int:
    demos = _demos()
    if args.name is None or args.name not in [*demos.DEMOS, "all"]:
        if args.name is not None:
            print(f"{PROG}: error: no demo named {args.name!r}", file=sys.stderr)
        print("demos:")
        for name, fn in demos.DEMOS.items():
            print(f"  {name:<14}{(fn.__doc__ or '').strip().splitlines()[0]}")
        print(f"  {'all':<14}run them all, one after the other")
        return 0 if args.name is None else 2
    demos.run(args.name, lambda line: print(line, flush=True))
    return 0


# -- new channel / new socket --------------------------------------------------------------------------


def _snake(name: str) -> str:
    s = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name)
    return re.sub(r"[^a-z0-9_]", "_", s.lower()).strip("_")


def _camel(name: str) -> str:
    parts = re.split(r"[_\-\s]+", name)
    return "".join(p[:1].upper() + p[1:] for p in parts if p)


_CHANNEL = '''"""{cls}Channel: the ``{topic}:*`` topics (generated by ``otp-channels new channel {name}``).

Route it from your socket::

    class UserSocket(channels.Socket):
        routes = [("{topic}:*", {cls}Channel)]
"""

from __future__ import annotations

from typing import Any

import channels


class {cls}Channel(channels.Channel):
    async def join(self, topic: str, payload: Any, socket: channels.Socket
                   ) -> channels.Accept[Any] | channels.Refuse:
        if self.authorized(payload):
            return channels.Accept(socket)
        return channels.Refuse({{"reason": "unauthorized"}})

    async def handle_in(self, event: str, payload: Any, socket: channels.Socket
                        ) -> channels.Reply[Any] | channels.NoReply[Any]:
        # Channels can be used in a request/response fashion by replying to the client.
        if event == "ping":
            return channels.Reply(("ok", payload), socket)
        # It is also common to receive messages from the client and broadcast them to
        # everyone in the current topic ({topic}:lobby).
        if event == "shout":
            socket.broadcast("shout", payload)
            return channels.NoReply(socket)
        return channels.NoReply(socket)

    def authorized(self, payload: Any) -> bool:
        """Add authorization logic here as required."""
        return True
'''

_CHANNEL_TEST = '''"""Tests of {cls}Channel (generated by ``otp-channels new channel {name}``).

Run with ``pytest {test_file}``. Each test starts a real endpoint on a free port in a
fresh otp node and talks to it over a real WebSocket (``channels.testing``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import channels
import otp
import pytest
from channels import testing

from {module} import {cls}Channel

pytestmark = pytest.mark.trio


class _TestSocket(channels.Socket):
    routes = [("{topic}:*", {cls}Channel)]


@asynccontextmanager
async def _joined() -> AsyncIterator[tuple[testing.RunningEndpoint, testing.SocketClient]]:
    """A running endpoint and a client joined to {topic}:lobby."""
    async with otp.open_node():
        endpoint = channels.Endpoint(name="{cls}ChannelTest.Endpoint", check_origin=False,
                                     sockets=[channels.SocketMount("/socket", _TestSocket)])
        async with testing.open_endpoint(endpoint) as ep:
            client = await testing.connect(ep, "/socket")
            assert await client.join("{topic}:lobby") == ("ok", {{}})
            yield ep, client


async def test_ping_replies_with_status_ok() -> None:
    async with _joined() as (_ep, client):
        ref = await client.push("{topic}:lobby", "ping", {{"hello": "there"}})
        await client.assert_reply(ref, "ok", {{"hello": "there"}})


async def test_shout_broadcasts_to_{topic}_lobby() -> None:
    async with _joined() as (_ep, client):
        await client.push("{topic}:lobby", "shout", {{"hello": "all"}})
        await client.assert_broadcast("{topic}:lobby", "shout", {{"hello": "all"}})


async def test_broadcasts_are_pushed_to_the_client() -> None:
    async with _joined() as (ep, client):
        ep.broadcast("{topic}:lobby", "broadcast", {{"some": "data"}})
        await client.assert_push("{topic}:lobby", "broadcast", {{"some": "data"}})
'''


_SOCKET = '''"""{cls}Socket: a socket for your channels (generated by ``otp-channels new socket {name}``).

Mount it on your endpoint::

    endpoint = channels.Endpoint(
        sockets=[channels.SocketMount("/socket", {cls}Socket)],
    )

and connect from JavaScript with ``new Socket("/socket", {{params: {{token: ...}}}})``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from channels import Accept, Refuse, Socket


class {cls}Socket(Socket):
    # A socket routes topics to channels, e.g.:
    #
    #     routes = [("room:*", RoomChannel)]
    #
    # (``otp-channels new channel Room`` writes a RoomChannel.)
    routes = []

    async def connect(self, params: Mapping[str, Any], connect_info: Any) -> Accept[Any] | Refuse:
        """Verify and authenticate the client here; return ``Refuse()`` to refuse it.

        To verify a token signed with ``channels.token.sign``::

            from channels import token

            user_id = token.verify(secret, "user socket", params["token"], max_age=86400)
        """
        return Accept(self)

    def id(self) -> str | None:
        """An id that identifies all sockets of one user (``"user_socket:" + user_id``), or None.

        ``endpoint.broadcast(id, "disconnect", {{}})`` then disconnects them all.
        """
        return None
'''

_SOCKET_TEST = '''"""Tests of {cls}Socket (generated by ``otp-channels new socket {name}``).

Run with ``pytest {test_file}`` (a real endpoint and WebSocket client: ``channels.testing``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import channels
import otp
import pytest
from channels import testing

from {module} import {cls}Socket

pytestmark = pytest.mark.trio


@asynccontextmanager
async def _running() -> AsyncIterator[testing.RunningEndpoint]:
    async with otp.open_node():
        endpoint = channels.Endpoint(name="{cls}SocketTest.Endpoint", check_origin=False,
                                     sockets=[channels.SocketMount("/socket", {cls}Socket)])
        async with testing.open_endpoint(endpoint) as ep:
            yield ep


async def test_connect_accepts_the_client_and_answers_heartbeats() -> None:
    async with _running() as ep:
        client = await testing.connect(ep, "/socket")
        ref = await client.heartbeat()
        await client.assert_reply(ref, "ok", {{}})


async def test_unknown_topics_are_refused() -> None:
    async with _running() as ep:
        client = await testing.connect(ep, "/socket")
        assert await client.join("nowhere:1") == ("error", {{"reason": "unmatched topic"}})
'''


def generate(kind: str, name: str, directory: Path, *, force: bool = False,
             out: Callable[[str], None] = print) -> list[Path]:
    """Write a channel (or socket) module and its test into ``directory``; return the paths."""
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
        raise UsageError(f"{name!r} is not a valid name: use letters, digits and _ (for example Room)")
    cls = _camel(name)
    for suffix in ("Channel", "Socket"):
        if cls.endswith(suffix) and cls != suffix:
            cls = cls[: -len(suffix)]
    snake = _snake(cls)
    module = f"{snake}_{kind}"
    test_file = f"test_{module}.py"
    fields = {"cls": cls, "name": name, "topic": snake, "module": module, "test_file": test_file}
    if kind == "channel":
        files = {f"{module}.py": _CHANNEL, test_file: _CHANNEL_TEST}
    else:
        files = {f"{module}.py": _SOCKET, test_file: _SOCKET_TEST}
    directory.mkdir(parents=True, exist_ok=True)
    paths = [directory / f for f in files]
    existing = [p for p in paths if p.exists()]
    if existing and not force:
        raise UsageError(f"{', '.join(str(p) for p in existing)} already exist(s); pass --force to overwrite")
    for path, template in zip(paths, files.values(), strict=True):
        path.write_text(template.format(**fields))
        out(f"* creating {path}")
    if kind == "channel":
        out(f"\nAdd the channel to your socket handler, for example:\n\n"
            f"    routes = [(\"{snake}:*\", {cls}Channel)]\n\nthen run: pytest {directory / test_file}")
    else:
        out(f"\nMount the socket on your endpoint:\n\n"
            f"    sockets=[channels.SocketMount(\"/socket\", {cls}Socket)]\n\nthen run: pytest {directory / test_file}")
    return paths


def _cmd_new(args: argparse.Namespace) -> int:
    generate(args.kind, args.name, Path(args.dir), force=args.force)
    return 0


# -- main ---------------------------------------------------------------------------------------------


def _env_help() -> str:
    from .ops._config import SETTINGS

    return "\n".join(f"  {s.env:<31}{s.flag or '(no flag)'}" for s in SETTINGS)


def _setting_flags(p: argparse.ArgumentParser) -> None:
    """The ``serve`` flags of ``channels.ops._config.SETTINGS`` (default None: "not given")."""
    from .ops._config import SETTINGS

    for s in SETTINGS:
        if s.flag is None:
            continue
        env = f" [env: {s.env}]"
        if s.name == "control":
            p.add_argument(s.flag, dest="control", action="store_const", const=False, default=None,
                           help="do not open the control socket" + env)
        elif s.parse.__name__ == "_bool":
            p.add_argument(s.flag, dest=s.name, action="store_const", const=True, default=None, help=s.help + env)
        else:
            metavar = {"port": "PORT", "workers": "N", "redis_url": "URL", "trusted_proxies": "ADDRESSES",
                       "certfile": "PEM", "keyfile": "PEM", "log_level": "LEVEL"}.get(s.name)
            p.add_argument(s.flag, dest=s.name, type=_flag_type(s.parse), default=None, metavar=metavar,
                           help=s.help + env)


def _flag_type(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from None

    return convert


def _cmd_gen(args: argparse.Namespace) -> int:
    from .ops._config import generate_secret

    print(generate_secret())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Phoenix Channels on Trio: serve, inspect, demo, generate.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "serve", help="run an endpoint (MODULE:ENDPOINT) with its control interface",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run an endpoint until SIGINT/SIGTERM (then drain).",
        epilog="Every flag can come from the environment instead (the flag wins over the variable, the variable "
               "over the value in code):\n" + _env_help())
    p.add_argument("target", metavar="MODULE:ENDPOINT", help="e.g. examples.hello_sockets:Endpoint")
    _setting_flags(p)
    p.set_defaults(fn=_cmd_serve)

    node_help = "which node: its name, OS pid or control socket path (default: the only one running)"
    p = sub.add_parser("tree", help="print the live process tree of a running node")
    p.add_argument("--node", metavar="ADDRESS", default=None, help=node_help)
    p.add_argument("--json", action="store_true", help="print the snapshot as JSON")
    p.add_argument("--max-children", type=int, default=None,
                   help="list at most N children per process (default: 50 in the text view, all in --json)")
    p.set_defaults(fn=_cmd_tree)

    p = sub.add_parser("ps", help="show one process in detail")
    p.add_argument("target", metavar="PID|NAME", help="a pid such as '<0.42.0>' (or 0.42.0) or a registered name")
    p.add_argument("--node", metavar="ADDRESS", default=None, help=node_help)
    p.add_argument("--json", action="store_true", help="print it as JSON")
    p.set_defaults(fn=_cmd_ps)

    p = sub.add_parser("kill", help="send an exit signal to a process of a running node")
    p.add_argument("target", metavar="PID|NAME")
    p.add_argument("--reason", default="kill", help="exit reason: kill (default), shutdown, normal or any word")
    p.add_argument("--node", metavar="ADDRESS", default=None, help=node_help)
    p.set_defaults(fn=_cmd_kill)

    p = sub.add_parser("nodes", help="list the running nodes (their control sockets)")
    p.set_defaults(fn=_cmd_nodes)

    p = sub.add_parser("demo", help="run a supervision demo, printing the tree as it changes")
    p.add_argument("name", nargs="?", default=None,
                   help="one_for_one, one_for_all, rest_for_one, escalation or all (none: list them)")
    p.set_defaults(fn=_cmd_demo)

    p = sub.add_parser("gen", help="generate a secret (OTP_CHANNELS_SECRET_KEY_BASE)")
    p.add_argument("what", choices=["secret"], help="secret: a new random secret_key_base (64 characters)")
    p.set_defaults(fn=_cmd_gen)

    p = sub.add_parser("new", help="generate a channel or socket module and its test")
    p.add_argument("kind", choices=["channel", "socket"])
    p.add_argument("name", help="e.g. Room (writes room_channel.py and test_room_channel.py)")
    p.add_argument("--dir", default=".", help="where to write the files (default: here)")
    p.add_argument("--force", action="store_true", help="overwrite existing files")
    p.set_defaults(fn=_cmd_new)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (also used as the console script's)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "fn", None) is None:
        parser.print_help()
        return 2
    try:
        status: int = args.fn(args)
    except (UsageError, ControlError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, UsageError) else 1
    except BrokenPipeError:
        return 1
    return status


def run() -> None:
    """Entry point that exits with ``main``'s status."""
    sys.exit(main())
