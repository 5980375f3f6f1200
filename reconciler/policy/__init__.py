"""Step 1, the desired state: policy files read (loader, fastyaml), checked field by field
(shape, spec, venue_rules) and as a desk (validate) into a DesiredState; the guardrails.
"""
