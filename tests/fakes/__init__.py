"""Fakes the tests talk to: GitHub's API, and faults in front of any simulator."""
