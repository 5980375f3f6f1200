"""The commands around the lifecycle: plan, apply and show (run), status, import,
unfreeze, validate, and the GitHub workflows' steps (github).
"""
