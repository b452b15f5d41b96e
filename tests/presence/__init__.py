"""Tests of the presence CRDT (channels.presence._tracker_state) and payload helpers."""
