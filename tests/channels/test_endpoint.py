"""The endpoint around the sockets: connection limit (back-pressure) and drain batches (§2.8)."""

from __future__ import annotations

import trio

import channels
import otp
from channels import testing

from ._app import UserSocket, events


def endpoint(**kw: object) -> channels.Endpoint:
    return channels.Endpoint(name="Test.Endpoint", port=0, check_origin=False, num_acceptors=1,
                             sockets=[channels.SocketMount("/socket", UserSocket)], **kw)  # type: ignore[arg-type]


async def test_max_connections_holds_new_clients_until_a_slot_frees(node: otp.Node) -> None:
    async with testing.open_endpoint(endpoint(max_connections=1)) as ep:
        first = await testing.connect(ep)
        got: list[testing.SocketClient] = []

        async def second() -> None:
            got.append(await testing.connect(ep, timeout=30))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(second)
            await first.settle()
            assert got == []  # accepted by the kernel, not served: the acceptor waits
            await first.close()
        assert len(got) == 1
        await got[0].assert_reply(await got[0].heartbeat(), "ok", {})


async def test_at_the_limit_a_client_is_served_whichever_acceptor_socket_it_lands_on(node: otp.Node) -> None:
    # Each acceptor owns an SO_REUSEPORT socket and the kernel picks one by hashing the
    # client's address. When acceptors took a slot before accept(), one could sit on the
    # last free slot while the client queued on the other's socket waited for ever (one
    # connection held, limit 2: about every second new client hung). Ranch accepts first.
    ep_ = channels.Endpoint(name="Test.Endpoint", port=0, check_origin=False, num_acceptors=2, max_connections=2,
                            sockets=[channels.SocketMount("/socket", UserSocket)])
    async with testing.open_endpoint(ep_) as ep:
        held = await testing.connect(ep)
        for _ in range(12):  # new source ports: both acceptors' sockets get some
            with trio.fail_after(20):  # a hang guard, not a timing
                client = await testing.connect(ep)
                await client.assert_reply(await client.heartbeat(), "ok", {})
                await client.close()
        await held.assert_reply(await held.heartbeat(), "ok", {})
        assert ep.endpoint.statistics()["connections"] <= 2


async def test_drain_closes_sockets_in_batches(node: otp.Node, autojump_clock: trio.abc.Clock) -> None:
    opts = channels.DrainerOptions(batch_size=2, batch_interval=2.0, shutdown=30.0)
    async with testing.open_endpoint(endpoint(drainer=opts)) as ep:
        clients = [await testing.connect(ep) for _ in range(3)]
        for client in clients:
            assert await client.join("room:1") == ("ok", {})
        closed_at: list[float] = []
        start = trio.current_time()

        async def watch(client: testing.SocketClient) -> None:
            await client.assert_closed(1012, timeout=10)
            closed_at.append(trio.current_time() - start)

        async with trio.open_nursery() as nursery:
            for client in clients:
                nursery.start_soon(watch, client)
            await ep.stop()
        closed_at.sort()
        assert closed_at[1] < 1.0
        assert 2.0 <= closed_at[2] < 3.0
        assert events("terminate") == [otp.Shutdown("draining")] * 3
