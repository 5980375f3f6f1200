"""Step 3, the plan: the pure planner (live and desired state in, steps out), a run's
selection and shards, the rendered plan, and a saved plan with the checks that make the
approved plan the plan that runs.
"""
