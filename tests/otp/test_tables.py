"""``otp.Table``: typed per-node tables instead of ad-hoc tuple keys into ``Node.tables``."""

from __future__ import annotations

import pytest

import otp

COUNTERS: otp.Table[list[int]] = otp.Table("counters")
OTHER: otp.Table[list[int]] = otp.Table("counters")  # same kind name, a different table


async def test_a_table_holds_one_value_per_name_per_node() -> None:
    async with otp.open_node(name="a") as a, otp.open_node(name="b") as b:
        one, two = [1], [2]
        COUNTERS.put(a, "x", one)
        COUNTERS.put(b, "x", two)
        assert COUNTERS.get(a, "x") is one
        assert COUNTERS.get(b, "x") is two
        assert COUNTERS.get(a, "y") is None
        assert COUNTERS.fetch(a, "x") is one


async def test_tables_with_the_same_kind_name_do_not_share_entries() -> None:
    async with otp.open_node() as node:
        COUNTERS.put(node, "x", [1])
        assert OTHER.get(node, "x") is None


async def test_fetch_of_a_missing_name_raises_key_error_naming_the_table() -> None:
    async with otp.open_node(name="n") as node:
        with pytest.raises(KeyError, match="no counters table named 'x' on node n"):
            COUNTERS.fetch(node, "x")


async def test_pop_with_a_value_keeps_an_entry_a_restarted_owner_replaced() -> None:
    async with otp.open_node() as node:
        old, new = [1], [2]
        COUNTERS.put(node, "x", old)
        COUNTERS.put(node, "x", new)  # the owner restarted and put its own
        COUNTERS.pop(node, "x", old)  # the old owner's exit hook
        assert COUNTERS.get(node, "x") is new
        COUNTERS.pop(node, "x", new)
        assert COUNTERS.get(node, "x") is None
        COUNTERS.put(node, "x", old)
        COUNTERS.pop(node, "x")
        assert COUNTERS.get(node, "x") is None
