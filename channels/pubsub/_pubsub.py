"""Distributed publish/subscribe: Phoenix.PubSub on the otp runtime.

Example::

    await PubSub.start_link(name="MyApp.PubSub")
    PubSub.subscribe("MyApp.PubSub", "room:lobby")          # from a process
    PubSub.broadcast("MyApp.PubSub", "room:lobby", {"hello": "world"})
    await otp.receive()                                      #=> {'hello': 'world'}

A PubSub is a supervisor with two children, as in Phoenix: a duplicate-key, partitioned
``otp.Registry`` holding the subscriptions, and an *adapter* process that carries
broadcasts to other nodes. The local adapter (the default) has no other nodes; the Redis
adapter (``channels.RedisAdapter``) publishes each broadcast once to a Redis channel.

Broadcasting is synchronous and never blocks: the message is dispatched to the local
subscribers in the calling task (``Registry.dispatch``: one call per registry partition
with a live view of its entries, no copy, no message per subscriber unless the dispatcher
sends one), then handed to the adapter without waiting for it.

A *dispatcher* decides what "deliver" means. The default sends the message to each
subscriber's mailbox. The channel layer's fastlane dispatcher writes an encoded frame
straight to the subscriber's transport (``channels.pubsub._fastlane``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import otp

from .. import telemetry

__all__ = [
    "Adapter",
    "BroadcastError",
    "Dispatcher",
    "LocalAdapter",
    "PubSub",
    "default_dispatcher",
    "register_dispatcher",
]

#: ``dispatch(entries, from_pid, message)``: entries are ``(pid, metadata)`` pairs.
Dispatcher = Callable[[Iterable[tuple[otp.Pid, Any]], "otp.Pid | None", Any], None]

_dispatchers: dict[str, Dispatcher] = {}


def register_dispatcher(name: str, fn: Dispatcher) -> None:
    """Make a dispatcher known by ``name``, so that remote nodes can name it."""
    _dispatchers[name] = fn


def default_dispatcher(entries: Iterable[tuple[otp.Pid, Any]], from_pid: otp.Pid | None, message: Any) -> None:
    """Send ``message`` to every subscriber except ``from_pid``."""
    node = otp.current_node()
    for pid, _meta in entries:
        if pid is not from_pid:
            node.send(pid, message)


register_dispatcher("default", default_dispatcher)


class BroadcastError(RuntimeError):
    """``broadcast!``: the broadcast could not be handed to the adapter."""


class Adapter(Protocol):
    """What a PubSub needs from its cluster adapter. All methods are sync and never block."""

    node_name: str

    def broadcast(self, topic: str, message: Any, dispatcher: str) -> None:
        """Deliver to every *other* node."""

    def direct_broadcast(self, node_name: str, topic: str, message: Any, dispatcher: str) -> None:
        """Deliver on ``node_name`` only (never called for the local node)."""

    def statistics(self) -> dict[str, Any]:
        """Adapter counters for introspection."""


@dataclass(eq=False)
class LocalAdapter:
    """The default adapter: one node, nothing to forward."""

    node_name: str = "local"

    def broadcast(self, topic: str, message: Any, dispatcher: str) -> None:
        pass

    def direct_broadcast(self, node_name: str, topic: str, message: Any, dispatcher: str) -> None:
        pass

    def statistics(self) -> dict[str, Any]:
        return {"adapter": "local", "node_name": self.node_name}


@dataclass(eq=False)
class _Table:
    name: str
    registry: str
    adapter: Adapter
    broadcasts: int = 0
    remote_in: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


#: The running PubSub servers of a node, by name.
_TABLES: otp.Table[_Table] = otp.Table("pubsub")


def _table(pubsub: str) -> _Table:
    table = _TABLES.get(otp.current_node(), pubsub)
    if table is None:
        raise LookupError(
            f"no PubSub named {pubsub!r} is running; add it to your supervision tree, e.g. "
            f"`PubSub.child_spec(name={pubsub!r})` (an Endpoint starts one for you)"
        )
    return table


#: Starts the adapter process given the PubSub table (see ``PubSub.start_link``).
AdapterFactory = Callable[[str], otp.ChildSpec]


class _LocalAdapterServer(otp.GenServer[_Table]):
    behaviour_name = "PubSub.LocalAdapter"

    async def init(self, arg: str) -> otp.Ok[_Table]:
        return otp.Ok(_table(arg))

    def format_status(self, state: _Table) -> Any:
        return {**state.adapter.statistics(), "broadcasts": state.broadcasts}


def local_adapter_spec(pubsub: str) -> otp.ChildSpec:
    async def start() -> otp.Pid:
        return await _LocalAdapterServer.start_link(pubsub, name=f"{pubsub}.Adapter")

    return otp.ChildSpec(id="adapter", start=start, behaviour="PubSub.LocalAdapter")


class _PubSubSetup(otp.GenServer[None]):
    """A tiny first child that creates the PubSub table before the registry and adapter."""

    behaviour_name = "PubSub.Config"

    async def init(self, arg: tuple[str, str, Adapter]) -> otp.Ok[None]:
        name, registry, adapter = arg
        node = otp.current_node()
        table = _Table(name, registry, adapter)
        _TABLES.put(node, name, table)
        me = otp.current_process()
        assert me is not None

        def drop(_p: otp.Process, _r: Any) -> None:
            _TABLES.pop(node, name, table)

        me.add_exit_hook(drop)
        return otp.Ok(None)


class PubSub:
    """Start PubSub servers and publish/subscribe through them (all functions take its name)."""

    @staticmethod
    async def start_link(*, name: str, partitions: int | None = None,
                         adapter: Adapter | None = None,
                         adapter_spec: AdapterFactory | None = None) -> otp.Pid:
        """Start a PubSub supervisor named ``name``.

        Args:
          partitions: registry partitions (default: one per CPU).
          adapter: the cluster adapter object (default ``LocalAdapter``).
          adapter_spec: builds the adapter's supervised process from the PubSub name.
        """
        return await otp.Supervisor.start_link(
            PubSub._children(name, partitions, adapter, adapter_spec),
            strategy=otp.Strategy.REST_FOR_ONE,
            name=name,
        )

    @staticmethod
    def child_spec(*, name: str, partitions: int | None = None, adapter: Adapter | None = None,
                   adapter_spec: AdapterFactory | None = None) -> otp.ChildSpec:
        return otp.Supervisor.child_spec(
            PubSub._children(name, partitions, adapter, adapter_spec),
            id=name, strategy=otp.Strategy.REST_FOR_ONE, name=name,
        )

    @staticmethod
    def _children(name: str, partitions: int | None, adapter: Adapter | None,
                  adapter_spec: AdapterFactory | None) -> list[otp.ChildSpec]:
        registry = f"{name}.Registry"
        ad = adapter if adapter is not None else LocalAdapter()
        if adapter_spec is None and callable(getattr(ad, "child_spec", None)):
            adapter_spec = ad.child_spec  # type: ignore[attr-defined]

        async def setup() -> otp.Pid:
            return await _PubSubSetup.start_link((name, registry, ad))

        return [
            otp.ChildSpec(id="config", start=setup, behaviour="PubSub.Config"),
            otp.Registry.child_spec(name=registry, keys=otp.Keys.DUPLICATE,
                                    partitions=partitions or (os.cpu_count() or 1)),
            (adapter_spec or local_adapter_spec)(name),
        ]

    # -- subscriptions ----------------------------------------------------------------

    @staticmethod
    def subscribe(pubsub: str, topic: str, *, metadata: Any = None, pid: otp.Pid | None = None) -> None:
        """Subscribe the current process (or ``pid``) to ``topic``.

        Subscribing twice delivers twice; ``unsubscribe`` removes every subscription.
        """
        if not isinstance(topic, str):
            raise TypeError(f"topic must be a str, got {topic!r}")
        otp.Registry.register(_table(pubsub).registry, topic, metadata, pid=pid)

    @staticmethod
    def unsubscribe(pubsub: str, topic: str, *, pid: otp.Pid | None = None) -> None:
        """Remove the current process's (or ``pid``'s) subscriptions to ``topic``."""
        otp.Registry.unregister(_table(pubsub).registry, topic, pid=pid)

    @staticmethod
    def subscribers(pubsub: str, topic: str) -> list[tuple[otp.Pid, Any]]:
        """``[(pid, metadata)]`` subscribed to ``topic`` on this node."""
        return otp.Registry.lookup(_table(pubsub).registry, topic)

    # -- broadcasting ---------------------------------------------------------------------

    @staticmethod
    def broadcast(pubsub: str, topic: str, message: Any, dispatcher: str = "default") -> None:
        """Deliver ``message`` to every subscriber of ``topic`` on every node."""
        PubSub.broadcast_from(pubsub, None, topic, message, dispatcher)

    @staticmethod
    def broadcast_from(pubsub: str, from_pid: otp.Pid | None, topic: str, message: Any,
                       dispatcher: str = "default") -> None:
        """Like ``broadcast``, skipping ``from_pid`` on this node."""
        table = _table(pubsub)
        table.adapter.broadcast(topic, message, dispatcher)
        _dispatch(table, from_pid, topic, message, dispatcher)

    @staticmethod
    def local_broadcast(pubsub: str, topic: str, message: Any, dispatcher: str = "default") -> None:
        """Deliver to subscribers on this node only."""
        _dispatch(_table(pubsub), None, topic, message, dispatcher)

    @staticmethod
    def local_broadcast_from(pubsub: str, from_pid: otp.Pid | None, topic: str, message: Any,
                             dispatcher: str = "default") -> None:
        _dispatch(_table(pubsub), from_pid, topic, message, dispatcher)

    @staticmethod
    def direct_broadcast(node_name: str, pubsub: str, topic: str, message: Any,
                         dispatcher: str = "default") -> None:
        """Deliver on the node named ``node_name`` only (which may be this one)."""
        table = _table(pubsub)
        if node_name == table.adapter.node_name:
            _dispatch(table, None, topic, message, dispatcher)
        else:
            table.adapter.direct_broadcast(node_name, topic, message, dispatcher)

    @staticmethod
    def node_name(pubsub: str) -> str:
        """This node's name in the PubSub cluster."""
        return _table(pubsub).adapter.node_name

    @staticmethod
    def statistics(pubsub: str) -> dict[str, Any]:
        table = _table(pubsub)
        return {
            "broadcasts": table.broadcasts,
            "remote_in": table.remote_in,
            "subscriptions": otp.Registry.count(table.registry),
            **table.adapter.statistics(),
        }


def _dispatch(table: _Table, from_pid: otp.Pid | None, topic: Hashable, message: Any,
              dispatcher: str) -> None:
    table.broadcasts += 1
    fn = _dispatchers.get(dispatcher)
    if fn is None:
        raise LookupError(f"unknown dispatcher {dispatcher!r}; register it with register_dispatcher()")
    if telemetry.ACTIVE:
        _dispatch_counted(table, fn, from_pid, topic, message)
        return
    otp.Registry.dispatch(table.registry, topic, lambda entries: fn(entries, from_pid, message))
    end = getattr(fn, "end", None)
    if end is not None:
        end()


def _dispatch_counted(table: _Table, fn: Any, from_pid: otp.Pid | None, topic: Hashable, message: Any) -> None:
    """``_dispatch`` with a BROADCAST event counting the subscribers reached (someone listens)."""
    reached = 0

    def deliver(entries: Any) -> None:
        nonlocal reached
        reached += len(entries)
        fn(entries, from_pid, message)

    otp.Registry.dispatch(table.registry, topic, deliver)
    end = getattr(fn, "end", None)
    if end is not None:
        end()
    telemetry.execute(telemetry.BROADCAST, {"deliveries": reached}, {"pubsub": table.name, "topic": topic})


def deliver_remote(pubsub: str, topic: str, message: Any, dispatcher: str) -> None:
    """Used by cluster adapters: deliver a broadcast that came from another node."""
    table = _table(pubsub)
    table.remote_in += 1
    _dispatch(table, None, topic, message, dispatcher)
