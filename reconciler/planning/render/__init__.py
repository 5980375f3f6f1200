"""Render: a Plan as text (terminal), JSON (versioned schema) or Markdown (PR comment)."""

from __future__ import annotations

from collections.abc import Callable

from reconciler.planning.plan import Plan
from reconciler.planning.render import json_out, markdown, text

Renderer = Callable[[Plan, bool], str]

RENDERERS: dict[str, Renderer] = {
    "text": text.render,
    "json": json_out.render,
    "markdown": markdown.render,
}
