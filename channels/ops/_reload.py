"""``serve --reload``: restart the node when the user's Python files change (development only).

The parent process watches the working directory with ``watchfiles`` (the optional
``reload`` extra) and runs the node as a child process, ``otp-channels serve`` with the same
flags. When a ``.py`` file changes it sends the child SIGTERM, which drains the node as in
production (every channel gets ``phx_drain``, sockets close with 1012 "service restart"),
waits for it to exit, and starts a fresh one on the same port; the JS client reconnects and
rejoins by itself. A child that exits on its own (a syntax error, a crash at start) is
started again at the next change, not in a loop.

Port 0 is resolved once, in the parent, so that every child listens on the same port.

Why a child process and not ``importlib.reload``: reloading modules in a running node
leaves old classes in live channel processes and old closures in supervisors' specs; a
fresh interpreter is the only restart that matches a deploy.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import trio

__all__ = ["ReloadSupportMissing", "serve_reload"]


class ReloadSupportMissing(ImportError):
    """``--reload`` was asked for, but the optional ``reload`` extra (``watchfiles``) is not installed."""


def _watchfiles() -> object:
    try:
        import watchfiles
    except ModuleNotFoundError as exc:
        if exc.name != "watchfiles":
            raise
        raise ReloadSupportMissing("serve --reload needs the optional 'reload' extra "
                                   "(pip install 'otp-channels[reload]', which installs watchfiles)") from None
    return watchfiles


def serve_reload(serve_args: Sequence[str], *, watch: Path, drain_timeout: float = 40.0,
                 debounce_ms: int = 400, out: Callable[[str], None] | None = None) -> int:
    """Run ``otp-channels serve SERVE_ARGS`` in a child, restarting it when ``watch``'s Python files change.

    Returns 0 after SIGINT/SIGTERM (the child drains first).

    Raises:
      ReloadSupportMissing: ``watchfiles`` is not installed.
    """
    watchfiles = _watchfiles()
    say = out if out is not None else (lambda text: print(text, flush=True))
    command = [sys.executable, "-m", "channels", "serve", *serve_args]
    env_overrides = {"OTP_CHANNELS_RELOAD": "0"}

    async def stop_child(proc: trio.Process) -> None:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            with trio.move_on_after(drain_timeout):
                await proc.wait()
            if proc.returncode is None:
                proc.kill()
                await proc.wait()

    async def main() -> int:
        import os

        env = {**os.environ, **env_overrides}
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with trio.open_nursery() as nursery:
                changed = trio.Event()
                child: list[trio.Process] = []

                async def watcher() -> None:
                    nonlocal changed
                    async for changes in watchfiles.awatch(  # type: ignore[attr-defined]
                            watch, watch_filter=watchfiles.PythonFilter(),  # type: ignore[attr-defined]
                            debounce=debounce_ms):
                        names = sorted({Path(path).name for _change, path in changes})
                        say(f"[reload] {', '.join(names)} changed: restarting the node (draining sockets)")
                        changed.set()

                async def runner() -> None:
                    nonlocal changed
                    while True:
                        proc = await trio.lowlevel.open_process(command, env=env)
                        child[:] = [proc]
                        async with trio.open_nursery() as inner:
                            inner.start_soon(_wait_then_cancel, proc, inner.cancel_scope)
                            await changed.wait()
                            inner.cancel_scope.cancel()
                        if proc.returncode is not None and not changed.is_set():
                            say(f"[reload] the node exited with status {proc.returncode}; "
                                "waiting for a change to start it again")
                            await changed.wait()
                        changed = trio.Event()
                        await stop_child(proc)

                async def _wait_then_cancel(proc: trio.Process, scope: trio.CancelScope) -> None:
                    await proc.wait()
                    scope.cancel()

                nursery.start_soon(watcher)
                nursery.start_soon(runner)
                say(f"[reload] watching {watch} for changes to .py files")
                async for signum in signals:
                    say(f"[reload] {signal.Signals(signum).name}: stopping the node")
                    nursery.cancel_scope.cancel()
                    break
        with trio.CancelScope(shield=True):
            for proc in child:
                await stop_child(proc)
        return 0

    return trio.run(main)
