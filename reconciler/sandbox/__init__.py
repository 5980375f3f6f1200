"""`--sandbox`: every venue replaced by its simulator (reconciler.venues.<venue>.desk),
their state kept in .mmp/sandbox.json, shared safely between processes.
"""
