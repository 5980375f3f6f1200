"""What every step shares: the canonical model (model, mmpfields), exact units, the error
tree, console output, where mmp keeps its files, secrets, and small helpers.
"""
