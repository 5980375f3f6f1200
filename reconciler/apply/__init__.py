"""Step 4, apply: the executor and each step's check, write and verification, the journal
written ahead, the one-run lock, signals, and recovery of runs that did not end cleanly.
"""
