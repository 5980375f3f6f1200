"""Shared pieces of the venue simulators: clocks, token buckets, the loopback HTTP server."""
