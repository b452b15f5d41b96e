"""The control interface: a supervised, local-only, authenticated socket that the CLI drives a node through.

A running node (``otp-channels serve``) starts a ``Control`` supervisor next to its
endpoint. It listens on a Unix socket in a private runtime directory::

    $XDG_RUNTIME_DIR/otp-channels/<node>-<os pid>.sock      (mode 0600, directory 0700)
    $XDG_RUNTIME_DIR/otp-channels/<node>-<os pid>.cookie    (mode 0600: a random secret)

(``~/.local/state/otp-channels/`` when ``XDG_RUNTIME_DIR`` is unset, never a shared
directory such as ``/tmp`` where another user could create it first; ``OTP_CHANNELS_RUNTIME_DIR``
overrides both.) Three locks keep strangers out, as Erlang's cookie does for distribution:
the directory and the socket are readable by their owner only, the server checks the
peer's uid (``SO_PEERCRED``) and every request carries the cookie.

The protocol is newline-delimited JSON, one request per line, one response per line::

    -> {"cookie": "...", "cmd": "snapshot"}
    <- {"ok": true, "result": {"node": ..., "tree": [...]}}
    -> {"cookie": "...", "cmd": "info", "target": "<0.42.0>"}      (or a registered name)
    -> {"cookie": "...", "cmd": "kill", "target": "<0.42.0>", "reason": "kill"}
    <- {"ok": false, "error": "no process <0.42.0> on node ..."}

The tree::

    Control               Supervisor (rest_for_one)
    ├─ Control.Socket     owns the listening socket and the cookie file (removed on exit)
    └─ Control.Acceptor   accepts clients; serves each in a task of its own
"""

from __future__ import annotations

import contextlib
import errno
import hmac
import logging
import os
import re
import secrets
import signal
import socket as stdsocket
import stat
import struct
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import trio

import otp

from ..endpoint._acceptor import AcceptorStatistics, accept_loop
from ._observer import mounted_path

__all__ = [
    "ControlAddress",
    "ControlClient",
    "ControlError",
    "RUNTIME_DIR_ENV",
    "control_child_spec",
    "discover",
    "list_nodes",
    "runtime_dir",
    "serve",
    "start_control",
]

logger = logging.getLogger("channels.control")

#: Environment variable that overrides where control sockets live.
RUNTIME_DIR_ENV = "OTP_CHANNELS_RUNTIME_DIR"
#: Longest request line the server reads.
MAX_REQUEST = 64 * 1024
#: Seconds a client may stay idle before the server closes its connection.
IDLE_TIMEOUT = 300.0
_SUN_PATH_MAX = 107


class ControlError(Exception):
    """The control interface cannot be reached or used; the message says what to do next."""


@dataclass(frozen=True, slots=True)
class ControlAddress:
    """Where a node's control interface listens, and the cookie that opens it."""

    node: str
    os_pid: int
    socket_path: Path
    cookie_path: Path

    def __str__(self) -> str:
        return str(self.socket_path)


# -- the runtime directory ---------------------------------------------------------------------


def runtime_dir(*, create: bool = False) -> Path:
    """The private directory holding control sockets (created 0700 if ``create``).

    Raises ``ControlError`` if it exists but is not private to the current user: a
    directory that others can write could hold a socket planted by a stranger.
    """
    env = os.environ.get(RUNTIME_DIR_ENV)
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if env:
        path = Path(env)
    elif xdg and os.path.isdir(xdg):
        path = Path(xdg) / "otp-channels"
    else:
        # Not /tmp: another local user could create /tmp/otp-channels-<uid> first and keep
        # the node from starting. Only the owner of the home directory can create in it.
        home = Path(os.path.expanduser("~"))
        try:
            home_uid = home.stat().st_uid if home.is_absolute() else -1
        except OSError:
            home_uid = -1
        if home_uid != os.getuid():
            raise ControlError(
                f"no private runtime directory for the control socket: XDG_RUNTIME_DIR is unset and "
                f"the home directory {home} is not yours; set {RUNTIME_DIR_ENV} (or XDG_RUNTIME_DIR) to "
                f"a directory only you can write, e.g. `export {RUNTIME_DIR_ENV}=$HOME/.otp-channels`")
        path = home / ".local" / "state" / "otp-channels"
    if create:
        try:
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise ControlError(f"cannot create the runtime directory {path}: {exc.strerror}; "
                               f"set {RUNTIME_DIR_ENV} to a directory you own") from None
    try:
        st = path.lstat()
    except FileNotFoundError:
        return path
    if not stat.S_ISDIR(st.st_mode):
        raise ControlError(f"{path} is not a directory; remove it or set {RUNTIME_DIR_ENV}")
    if st.st_uid != os.getuid():
        raise ControlError(f"the runtime directory {path} belongs to uid {st.st_uid}, not to you "
                           f"(uid {os.getuid()}); remove it or set {RUNTIME_DIR_ENV}")
    if st.st_mode & 0o077:
        if create:
            os.chmod(path, 0o700)
        else:
            raise ControlError(f"the runtime directory {path} is readable by others "
                               f"(mode {stat.S_IMODE(st.st_mode):o}); run `chmod 700 {path}`")
    return path


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[:40] or "node"


_SOCK_RE = re.compile(r"^(?P<node>.+)-(?P<pid>\d+)\.sock$")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def list_nodes(directory: Path | None = None) -> list[ControlAddress]:
    """Control sockets of live nodes in the runtime directory (stale files are removed)."""
    directory = directory if directory is not None else runtime_dir()
    if not directory.is_dir():
        return []
    found: list[ControlAddress] = []
    for entry in sorted(directory.iterdir()):
        m = _SOCK_RE.match(entry.name)
        if m is None:
            continue
        pid = int(m["pid"])
        cookie = entry.with_suffix(".cookie")
        if not _pid_alive(pid):
            for stale in (entry, cookie):
                with contextlib.suppress(OSError):
                    stale.unlink()
            continue
        found.append(ControlAddress(m["node"], pid, entry, cookie))
    return found


def discover(address: str | None = None) -> ControlAddress:
    """Find the node to talk to: ``address`` (a socket path, node name or OS pid) or the only one running."""
    if address:
        path = Path(address)
        if path.suffix == ".sock" or os.sep in address:
            if not path.exists():
                raise ControlError(f"no control socket at {path}; is the node running? "
                                   "(`otp-channels serve MODULE:ENDPOINT` prints its address)")
            m = _SOCK_RE.match(path.name)
            return ControlAddress(m["node"] if m else path.stem, int(m["pid"]) if m else 0, path,
                                  path.with_suffix(".cookie"))
        nodes = list_nodes()
        matches = [n for n in nodes if address in (n.node, str(n.os_pid), f"{n.node}-{n.os_pid}")]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise ControlError(f"no running node matches {address!r}" + _listing(nodes))
        raise ControlError(f"several nodes match {address!r}; pass the socket path with --node" + _listing(matches))
    nodes = list_nodes()
    if not nodes:
        raise ControlError(f"no running node found in {runtime_dir()}; start one with "
                           "`otp-channels serve MODULE:ENDPOINT` (or pass --node SOCKET_PATH)")
    if len(nodes) > 1:
        raise ControlError("several nodes are running; choose one with --node NAME|PID|PATH" + _listing(nodes))
    return nodes[0]


def _listing(nodes: list[ControlAddress]) -> str:
    if not nodes:
        return ""
    return "\n" + "\n".join(f"  {n.node}  (os pid {n.os_pid})  {n.socket_path}" for n in nodes)


# -- the client (synchronous: the CLI has no event loop of its own) ---------------------------------


class ControlClient:
    """A blocking client of one node's control socket.

    Example::

        with ControlClient(discover()) as client:
            tree = client.request("snapshot")
    """

    def __init__(self, address: ControlAddress, *, timeout: float = 30.0) -> None:
        self.address = address
        try:
            self._cookie = address.cookie_path.read_text().strip()
        except PermissionError:
            raise ControlError(f"cannot read the cookie {address.cookie_path}: it belongs to another user; "
                               "run the CLI as the user that runs the node") from None
        except FileNotFoundError:
            raise ControlError(f"the cookie {address.cookie_path} is missing; the node at "
                               f"{address.socket_path} is gone or was not started by otp-channels") from None
        self._sock = stdsocket.socket(stdsocket.AF_UNIX, stdsocket.SOCK_STREAM)
        self._sock.settimeout(timeout)
        try:
            self._sock.connect(str(address.socket_path))
        except OSError as exc:
            self._sock.close()
            if exc.errno in (errno.ECONNREFUSED, errno.ENOENT):
                raise ControlError(f"the node at {address.socket_path} is not accepting connections "
                                   "(it stopped?); start it again or remove the stale socket") from None
            raise ControlError(f"cannot connect to {address.socket_path}: {exc.strerror}") from None
        self._buf = b""

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._sock.close()

    def request(self, cmd: str, **args: Any) -> Any:
        """Send one request and return its result; a refused request raises ``ControlError``."""
        line = orjson.dumps({"cookie": self._cookie, "cmd": cmd, **args}) + b"\n"
        try:
            self._sock.sendall(line)
            while b"\n" not in self._buf:
                chunk = self._sock.recv(1 << 16)
                if not chunk:
                    raise ControlError(f"the node at {self.address.socket_path} closed the connection")
                self._buf += chunk
        except TimeoutError:
            raise ControlError(f"the node at {self.address.socket_path} did not answer in time") from None
        except OSError as exc:
            raise ControlError(f"lost the connection to {self.address.socket_path}: {exc}") from None
        raw, _, self._buf = self._buf.partition(b"\n")
        response = orjson.loads(raw)
        if not response.get("ok"):
            raise ControlError(str(response.get("error", "the node refused the request")))
        return response.get("result")


# -- the server -----------------------------------------------------------------------------------


@dataclass(eq=False)
class _Listening:
    address: ControlAddress
    cookie: str
    sock: trio.socket.SocketType


#: Per node, by control supervisor name: its listening socket and address.
_LISTENING: otp.Table[_Listening] = otp.Table("control")


class _ControlSocket(otp.GenServer[_Listening]):
    """Binds the control socket, writes the cookie, and removes both when it exits."""

    behaviour_name = "ControlSocket"

    async def init(self, arg: tuple[str, Path | None]) -> otp.Ok[_Listening]:
        sup_name, directory = arg
        node = otp.current_node()
        directory = directory if directory is not None else runtime_dir(create=True)
        base = f"{_safe_name(node.name)}-{os.getpid()}"
        sock_path = directory / f"{base}.sock"
        cookie_path = directory / f"{base}.cookie"
        if len(os.fsencode(sock_path)) > _SUN_PATH_MAX:
            raise ControlError(f"the control socket path {sock_path} is too long for a Unix socket; "
                               f"set {RUNTIME_DIR_ENV} to a shorter directory")
        for old in (sock_path, cookie_path):
            with contextlib.suppress(FileNotFoundError):
                old.unlink()
        cookie = secrets.token_urlsafe(32)
        fd = os.open(cookie_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(cookie + "\n")
        raw = stdsocket.socket(stdsocket.AF_UNIX, stdsocket.SOCK_STREAM)
        old_umask = os.umask(0o177)
        try:
            raw.bind(str(sock_path))
        except OSError:
            raw.close()
            cookie_path.unlink()
            raise
        finally:
            os.umask(old_umask)
        os.chmod(sock_path, 0o600)
        raw.listen(64)
        sock = trio.socket.from_stdlib_socket(raw)
        address = ControlAddress(node.name, os.getpid(), sock_path, cookie_path)
        state = _Listening(address, cookie, sock)
        _LISTENING.put(node, sup_name, state)
        me = otp.current_process()
        assert me is not None

        def cleanup(_p: otp.Process, _r: Any) -> None:
            sock.close()
            for path in (sock_path, cookie_path):
                with contextlib.suppress(OSError):
                    path.unlink()
            _LISTENING.pop(node, sup_name, state)

        me.add_exit_hook(cleanup)
        return otp.Ok(state)

    def format_status(self, state: _Listening) -> Any:
        return {"address": str(state.address.socket_path)}

    async def handle_call(self, request: Any, from_: otp.From, state: _Listening
                          ) -> otp.Reply[_Listening]:
        if request == "address":
            return otp.Reply(state.address, state)
        return otp.Reply(None, state)


def _peer_uid(sock: trio.socket.SocketType) -> int | None:
    if not hasattr(stdsocket, "SO_PEERCRED"):
        return None
    fmt = "3i"
    creds = sock.getsockopt(stdsocket.SOL_SOCKET, stdsocket.SO_PEERCRED, struct.calcsize(fmt))
    _pid, uid, _gid = struct.unpack(fmt, creds)
    return int(uid)


async def _acceptor(sup_name: str) -> None:
    me = otp.current_process()
    assert me is not None
    me.behaviour = "ControlAcceptor"
    node = otp.current_node()
    listening = _LISTENING.fetch(node, sup_name)
    stats = AcceptorStatistics()
    refused = 0
    clients = 0
    me.summary = lambda: {"accepted": stats.accepted - refused, "connections": clients}
    async with trio.open_nursery() as nursery:

        async def serve(conn: trio.socket.SocketType) -> None:
            nonlocal clients
            clients += 1
            try:
                await _serve_client(node, listening, trio.SocketStream(conn))
            finally:
                clients -= 1
                conn.close()

        async def handle(conn: trio.socket.SocketType) -> None:
            nonlocal refused
            uid = _peer_uid(conn)
            if uid is not None and uid not in (os.getuid(), 0):
                logger.warning("control: refused a client running as uid %d", uid)
                refused += 1
                conn.close()
                return
            nursery.start_soon(serve, conn)

        await accept_loop(listening.sock, handle, statistics=stats)


async def _serve_client(node: otp.Node, listening: _Listening, stream: trio.SocketStream) -> None:
    buf = b""
    while True:
        while b"\n" not in buf:
            with trio.move_on_after(IDLE_TIMEOUT) as scope:
                try:
                    chunk = await stream.receive_some(1 << 16)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    return
            if scope.cancelled_caught or not chunk:
                return
            buf += chunk
            if len(buf) > MAX_REQUEST and b"\n" not in buf:
                await _send(stream, {"ok": False, "error": f"request longer than {MAX_REQUEST} bytes"})
                return
        line, _, buf = buf.partition(b"\n")
        try:
            request = orjson.loads(line)
        except orjson.JSONDecodeError:
            await _send(stream, {"ok": False, "error": "a request is one line of JSON"})
            return
        if not isinstance(request, dict) or not hmac.compare_digest(
            str(request.get("cookie", "")).encode(), listening.cookie.encode()
        ):
            logger.warning("control: refused a request with a wrong cookie")
            where = listening.address.cookie_path
            await _send(stream, {"ok": False, "error": f"wrong cookie: read it from {where}"})
            return
        try:
            result = handle_request(node, request)
        except ControlError as exc:
            response: dict[str, Any] = {"ok": False, "error": str(exc)}
        except Exception as exc:
            logger.exception("control: request %r failed", request.get("cmd"))
            response = {"ok": False, "error": f"the request failed on the node: {exc!r}"}
        else:
            response = {"ok": True, "result": result}
        if not await _send(stream, response):
            return


async def _send(stream: trio.SocketStream, response: dict[str, Any]) -> bool:
    try:
        await stream.send_all(orjson.dumps(response, default=repr) + b"\n")
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        return False
    return True


def _resolve(node: otp.Node, target: Any) -> otp.Process:
    if not isinstance(target, str) or not target.strip():
        raise ControlError("give a target: a pid such as <0.42.0> or a registered name")
    text = target.strip()
    pid = node.pid_from_string(text)
    proc = node.process(pid) if pid is not None else None
    if proc is None:
        named = node.whereis(text)
        proc = node.process(named) if named is not None else None
    if proc is None or proc.external:
        raise ControlError(f"no process {text} on node {node.name}; `otp-channels tree` lists them")
    return proc


_REASONS: dict[str, otp.ExitReason] = {"kill": otp.KILL, "shutdown": otp.SHUTDOWN, "normal": otp.NORMAL}


def handle_request(node: otp.Node, request: dict[str, Any]) -> Any:
    """Run one control request on ``node`` (synchronously) and return its JSON-able result."""
    cmd = request.get("cmd")
    if cmd == "hello":
        return {"node": node.name, "os_pid": os.getpid(), "processes": len(node.processes()),
                "python": sys.version.split()[0]}
    if cmd == "snapshot":
        limit = request.get("max_children")
        return otp.snapshot(node, max_children=int(limit) if limit is not None else None)
    if cmd == "info":
        proc = _resolve(node, request.get("target"))
        info = otp.process_snapshot(proc)
        kids = [p for p in node.processes() if p.parent is proc.pid and not p.external]
        info["children"] = [{"pid": str(k.pid), "name": k.name, "behaviour": k.behaviour} for k in kids]
        info["node"] = node.name
        parent = node.process(proc.parent) if proc.parent is not None else None
        info["parent_name"] = parent.name if parent is not None else None
        return info
    if cmd == "kill":
        proc = _resolve(node, request.get("target"))
        text = str(request.get("reason", "kill"))
        reason = _REASONS.get(text, text)
        logger.warning("control: exit(%s, %s) requested by the CLI", proc.pid, text)
        # Erlang's rule: a process that traps exits gets any signal but kill as a message.
        trapped = bool(proc.trap_exit) and reason is not otp.KILL
        node.exit(proc.pid, reason)
        return {"pid": str(proc.pid), "name": proc.name, "reason": text, "trapped": trapped}
    raise ControlError(f"unknown command {cmd!r}; known: hello, snapshot, info, kill")


# -- starting it ------------------------------------------------------------------------------------


def control_child_spec(*, name: str = "Control", directory: Path | None = None) -> otp.ChildSpec:
    """A spec for the control supervisor (put it in your application's tree)."""

    async def start_socket() -> otp.Pid:
        return await _ControlSocket.start_link((name, directory), name=f"{name}.Socket")

    children = [
        otp.ChildSpec(id="socket", start=start_socket, behaviour="ControlSocket"),
        otp.ChildSpec(id="acceptor", start=lambda: otp.spawn_link(_acceptor, name, name=f"{name}.Acceptor"),
                      behaviour="ControlAcceptor", shutdown=otp.BRUTAL_KILL),
    ]
    return otp.Supervisor.child_spec(children, id=name, name=name, strategy=otp.Strategy.REST_FOR_ONE)


async def start_control(*, name: str = "Control", directory: Path | None = None) -> ControlAddress:
    """Start the control supervisor (linked to the caller, if it is a process); return its address."""
    await control_child_spec(name=name, directory=directory).start()
    listening = _LISTENING.fetch(otp.current_node(), name)
    return listening.address


def iter_tree(snap: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every process of a snapshot, depth first."""
    stack = list(reversed(snap.get("tree", [])))
    while stack:
        d = stack.pop()
        yield d
        stack.extend(reversed(d.get("children", [])))


# -- serving an endpoint with its control interface ------------------------------------------------


class _NoTracebacks(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info = None
        record.exc_text = None
        return True


def serve(endpoint: Any, *, control: bool = True, node_name: str | None = None,
          out: Any = None, environ: Mapping[str, str] | None = None) -> int:
    """Run ``endpoint`` (and its control interface) in a fresh node until SIGINT/SIGTERM.

    Prints where it listens and the control address; returns the process exit status
    (0 after a signal, 1 if the endpoint stopped by itself). On a signal the node shuts
    down in order: the drainer closes sockets with 1012, then the listener stops.

    Configuration: the ``OTP_CHANNELS_*`` variables of ``environ`` (default: ``os.environ``)
    win over the endpoint's values in code and over ``control`` and ``node_name`` (see
    ``channels.ops._config``; ``OTP_CHANNELS_CONTROL=0`` skips the control socket).
    ``otp-channels serve`` merges its flags with the environment itself and passes
    ``environ={}``. ``OTP_CHANNELS_WORKERS``, ``_RELOAD`` and ``_LOG_LEVEL`` only apply to
    ``otp-channels serve``.

    Raises:
      ConfigError: a variable is invalid, or TLS is configured without a stable
        ``secret_key_base``.
    """
    from ._config import apply_to_endpoint, check_stable_secret, from_environ, unknown_variables

    env = os.environ if environ is None else environ
    for warning in unknown_variables(env):
        logger.warning("%s", warning)
    values = from_environ(env)
    if values:
        apply_to_endpoint(endpoint, values, node_name=values.get("name", node_name))
        control = values.get("control", control)
        node_name = values.get("name", node_name)
        if values.get("observer") and mounted_path(endpoint) is None:
            from ._observer import enable

            enable(endpoint)
    check_stable_secret(endpoint, workers=None)
    say = out if out is not None else (lambda text: print(text, flush=True))
    status = 0
    if control:
        runtime_dir(create=True)  # a directory we cannot use is reported before anything starts

    async def main() -> None:
        # The handlers go in before anything starts: a SIGTERM that comes as soon as the node
        # says "listening" (or during the start) drains it rather than killing the process.
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            await run(signals)

    async def run(signals: Any) -> None:
        nonlocal status
        node = otp.current_node()
        say(f"starting {endpoint.name} on node {node.name} (os pid {os.getpid()}) ...")
        # A start failure (port in use...) is reported once, by the caller, without the
        # crash reports' stack traces; crashes after the start keep theirs.
        quiet = _NoTracebacks()
        crash_log = logging.getLogger("otp.crash")
        crash_log.addFilter(quiet)
        try:
            pid = await endpoint.start_link()
            endpoint.tune_gc()
            address = await start_control() if control else None
        finally:
            crash_log.removeFilter(quiet)
        gone = trio.Event()
        proc = node.process(pid)
        assert proc is not None
        why: list[Any] = []

        def on_exit(_p: otp.Process, reason: Any) -> None:
            why.append(reason)
            gone.set()

        proc.add_exit_hook(on_exit)
        scheme = getattr(endpoint, "scheme", "http")
        say(f"[{endpoint.name}] listening on {scheme}://{endpoint.host}:{endpoint.port}")
        if getattr(endpoint, "metrics", False):
            say(f"metrics: {scheme}://{endpoint.host}:{endpoint.port}/metrics")
        observer = mounted_path(endpoint)
        if observer is not None:
            say(f"observer: {scheme}://{endpoint.host}:{endpoint.port}{observer}/")
        if address is not None:
            say(f"control socket: {address.socket_path}  (try: otp-channels tree)")
        async with trio.open_nursery() as nursery:

            async def wait_signal() -> None:
                async for signum in signals:
                    say(f"received {signal.Signals(signum).name}: shutting down (draining sockets) ...")
                    nursery.cancel_scope.cancel()
                    return

            async def wait_gone() -> None:
                nonlocal status
                await gone.wait()
                say(f"{endpoint.name} stopped: {why[0]!r}; see the log above for the cause")
                status = 1
                nursery.cancel_scope.cancel()

            nursery.start_soon(wait_signal)
            nursery.start_soon(wait_gone)

    otp.run(main, name=node_name or endpoint.name)
    say("stopped.")
    return status
