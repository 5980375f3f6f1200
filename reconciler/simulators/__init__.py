"""What the venue simulators share (a settable clock, credit buckets) and a loopback HTTP
server that serves any of them (tests, benchmarks).
"""
