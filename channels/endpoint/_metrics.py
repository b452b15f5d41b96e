"""Prometheus metrics of an endpoint at ``/metrics`` (``Endpoint(metrics=True)``, ``serve --metrics``).

Two sources, so that the message path pays only for what is switched on:

* **Events** (:mod:`channels.telemetry`): connections, joins and join errors per channel,
  messages in (``handle_in``) and out (pushes and replies) per channel, broadcast fan-out
  deliveries, slow-client closes, and the ``handle_in`` latency histogram. The
  exporter attaches its handlers when the endpoint starts and detaches them when it stops;
  with metrics off nothing is attached and emitting an event is one truth test.
* **Statistics read at scrape time** (trio's ``statistics()`` idea): open connections,
  processes, crashes (the node's count), supervisor restarts, mailbox lengths and
  high-water marks, broadcasts dispatched, subscriptions and the PubSub adapter's state
  (Redis connected, reconnects, messages dropped while down). Nothing is counted for them
  between scrapes.

Labels are bounded: the channel's class name, the transport, the result; never a topic or
a user id. The text format is the one ``prometheus_client`` writes (scrape with Prometheus,
or ``curl http://127.0.0.1:4000/metrics``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

import otp

from .. import telemetry
from ..http import BodyReader, Request, Response

__all__ = ["CONTENT_TYPE", "HANDLE_IN_BUCKETS", "Metrics", "metrics_route"]

logger = logging.getLogger("channels.metrics")

#: The Prometheus text exposition format, version 0.0.4 (what every scraper reads).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: Seconds: from 50 µs (a trivial handler) to 5 s.
HANDLE_IN_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                     0.5, 1.0, 2.5, 5.0)


class Metrics:
    """The metrics of one endpoint: a ``prometheus_client`` registry fed by events and statistics."""

    def __init__(self, endpoint: Any) -> None:
        self.endpoint = endpoint
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.connects = Counter("channels_socket_connects", "Socket connect attempts, by transport and result",
                                ["transport", "result"], registry=r)
        self.closes = Counter("channels_socket_closes", "Sockets closed, by transport", ["transport"], registry=r)
        self.joins = Counter("channels_joins", "Channel joins accepted, by channel", ["channel"], registry=r)
        self.join_errors = Counter("channels_join_errors", "Channel joins refused or failed, by channel",
                                   ["channel"], registry=r)
        self.messages_in = Counter("channels_messages_in", "Client messages handled (handle_in), by channel",
                                   ["channel"], registry=r)
        self.messages_out = Counter("channels_messages_out",
                                    "Messages sent to clients by channels (pushes and replies), by channel",
                                    ["channel", "kind"], registry=r)
        self.deliveries = Counter("channels_broadcast_deliveries",
                                  "Broadcast messages delivered to local subscribers (fan-out)", registry=r)
        self.slow_closes = Counter("channels_slow_client_closes",
                                   "Clients closed because they could not keep up (1013)", ["transport"],
                                   registry=r)
        self.handle_in = Histogram("channels_handle_in_duration_seconds", "Time spent in handle_in, by channel",
                                   ["channel"], buckets=HANDLE_IN_BUCKETS, registry=r)
        r.register(_NodeCollector(endpoint))
        self._handler_id = f"channels.metrics:{endpoint.name}:{id(self)}"
        self._attached = False

    # -- events ----------------------------------------------------------------------------------

    def attach(self) -> None:
        """Start counting events (the endpoint calls this when it starts)."""
        if not self._attached:
            telemetry.attach(self._handler_id, telemetry.EVENTS, self._on_event)
            self._attached = True

    def detach(self) -> None:
        """Stop counting events (the endpoint calls this when it stops)."""
        if self._attached:
            telemetry.detach(self._handler_id)
            self._attached = False

    def _mine(self, metadata: Mapping[str, Any]) -> bool:
        name = metadata.get("endpoint")
        return name is None or name == self.endpoint.name

    def _on_event(self, event: telemetry.Event, measurements: Mapping[str, Any], metadata: Mapping[str, Any]) -> None:
        if event == telemetry.BROADCAST:
            if metadata.get("pubsub") == self.endpoint.pubsub_server:
                self.deliveries.inc(measurements.get("deliveries", 0))
            return
        if not self._mine(metadata):
            return
        if event == telemetry.CHANNEL_HANDLED_IN:
            channel = metadata["channel"]
            self.messages_in.labels(channel).inc()
            self.handle_in.labels(channel).observe(measurements["duration"])
        elif event == telemetry.CHANNEL_PUSHED:
            self.messages_out.labels(metadata["channel"], metadata["kind"]).inc(measurements.get("count", 1))
        elif event == telemetry.CHANNEL_JOINED:
            if metadata["result"] == "ok":
                self.joins.labels(metadata["channel"]).inc()
            else:
                self.join_errors.labels(metadata["channel"]).inc()
        elif event == telemetry.SOCKET_CONNECTED:
            self.connects.labels(metadata["transport"], metadata["result"]).inc()
        elif event == telemetry.SOCKET_CLOSED:
            self.closes.labels(metadata["transport"]).inc()
        elif event == telemetry.SLOW_CLIENT_CLOSED:
            self.slow_closes.labels(metadata["transport"]).inc()

    # -- exposition -------------------------------------------------------------------------------

    def render(self) -> bytes:
        """The metrics in the Prometheus text format."""
        return bytes(generate_latest(self.registry))


class _NodeCollector(Collector):
    """Reads the node's and the endpoint's statistics at scrape time."""

    def __init__(self, endpoint: Any) -> None:
        self.endpoint = endpoint

    def collect(self) -> Iterator[Metric]:
        try:
            node = otp.current_node()
        except RuntimeError:  # not running in a node (a scrape outside the server)
            return
        procs = node.processes()
        restarts = 0
        queue_max = 0
        high_water_max = 0
        by_behaviour: dict[str, int] = {}
        for proc in procs:
            by_behaviour[proc.behaviour] = by_behaviour.get(proc.behaviour, 0) + 1
            stats = proc.statistics()
            queue_max = max(queue_max, stats.message_queue_len)
            high_water_max = max(high_water_max, stats.message_queue_high_water)
            if proc.behaviour in ("Supervisor", "DynamicSupervisor") and proc.summary is not None:
                try:
                    summary = proc.summary()
                except Exception:  # introspection must never break a scrape
                    continue
                if isinstance(summary, dict):
                    restarts += int(summary.get("restarts", 0) or 0)
        g = GaugeMetricFamily("otp_processes", "Live processes, by behaviour", labels=["behaviour"])
        for behaviour, count in sorted(by_behaviour.items()):
            g.add_metric([behaviour], count)
        yield g
        yield CounterMetricFamily("otp_crashes", "Processes that exited abnormally (crash reports logged)",
                                  value=getattr(node, "crash_count", 0))
        yield CounterMetricFamily("otp_supervisor_restarts", "Children restarted by the supervisors now running",
                                  value=restarts)
        yield GaugeMetricFamily("otp_mailbox_length_max", "The longest mailbox now (messages)", value=queue_max)
        yield GaugeMetricFamily("otp_mailbox_high_water_max",
                                "The most messages any live process's mailbox ever held", value=high_water_max)
        try:
            ep = self.endpoint.statistics()
        except Exception:  # the endpoint is not running (yet, or any more)
            ep = {}
        if "connections" in ep:
            yield GaugeMetricFamily("channels_connections", "Connections open now", value=ep["connections"])
        yield from _pubsub_metrics(self.endpoint.pubsub_server)


def _pubsub_metrics(pubsub: str) -> Iterator[Metric]:
    from ..pubsub import PubSub

    try:
        stats = PubSub.statistics(pubsub)
    except Exception:  # the PubSub is not running (yet, or any more)
        return
    yield CounterMetricFamily("channels_pubsub_dispatches",
                              "Broadcasts dispatched to this node's subscribers (sent here or received)",
                              value=stats.get("broadcasts", 0))
    yield CounterMetricFamily("channels_pubsub_remote_in", "Broadcasts received from other nodes",
                              value=stats.get("remote_in", 0))
    yield GaugeMetricFamily("channels_pubsub_subscriptions", "Topic subscriptions on this node",
                            value=stats.get("subscriptions", 0))
    kind = str(stats.get("adapter", "local"))
    up = GaugeMetricFamily("channels_pubsub_adapter_up",
                           "1 when the PubSub adapter is connected (always 1 for the local adapter)",
                           labels=["adapter"])
    connected = bool(stats.get("publisher_connected", True)) and bool(stats.get("subscriber_connected", True))
    up.add_metric([kind], 1 if connected else 0)
    yield up
    for key, help_text in (("reconnects", "Reconnections of the PubSub adapter"),
                           ("dropped", "Broadcasts for other nodes dropped (adapter down or buffer full)"),
                           ("received", "Messages the adapter received from other nodes")):
        if key in stats:
            yield CounterMetricFamily(f"channels_pubsub_adapter_{key}", help_text, value=stats[key])


def metrics_route(metrics: Metrics) -> Callable[[Request, BodyReader], Awaitable[Response]]:
    """The ``/metrics`` handler: GET (or HEAD) answers the text format; other methods 405."""

    async def handle(request: Request, body: BodyReader) -> Response:
        if request.path != "/metrics":
            return Response(404, [("content-type", "text/plain; charset=utf-8")], b"Not Found")
        if request.method not in ("GET", "HEAD"):
            return Response(405, [("allow", "GET, HEAD"), ("content-type", "text/plain; charset=utf-8")],
                            b"Method Not Allowed")
        return Response(200, [("content-type", CONTENT_TYPE), ("cache-control", "no-store")], metrics.render())

    return handle
