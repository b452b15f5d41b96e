"""Tests of the presence CRDT (channels._tracker_state) and payload helpers."""
