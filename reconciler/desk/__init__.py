"""A desk's policy repository apart from the tool: the workflows generated from the policies
(`mmp workflows`), the pinned mmp they install, and a new desk's files (`mmp init`)."""

from __future__ import annotations

# This project's repository: the pre-commit hook's source and the package's home page.
REPOSITORY_URL = "https://github.com/mmp-reconciler/mmp-reconciler"
DISTRIBUTION = "mmp-reconciler"
