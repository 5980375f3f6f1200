"""The new desk's README: what the repository is, and the set-up steps on GitHub."""

from __future__ import annotations

from reconciler import __version__
from reconciler.desk import REPOSITORY_URL
from reconciler.desk.workflows import Needs

TEXT = """\
# MMP policies

This repository holds the desk's Market Maker Protection settings as code, for
mmp-reconciler ({home}).
`policies/` says what every account's MMP limits must be; pull requests show the plan
against the live venues, a merge applies it after review, and a scheduled run opens an
issue when a venue drifts from the policies. Made by `mmp init` (mmp {version}).

## Every day

    mmp validate                 # offline: every problem with file:line
    mmp plan --sandbox           # against the built-in simulators, no keys needed
    mmp workflows --write        # after adding or taking out an account (CI checks it):
                                 # shows the diff, asks before replacing a file

## Set-up on GitHub (once)

1. **Environments** (Settings, Environments): `mmp-read` holds **read-only** venue keys;
   the plan and drift workflows run there. `mmp-production` holds the **trading** keys
   under the same names; give it required reviewers (the people who approve an apply) and
   limit it to the `main` branch. The apply workflow's apply job waits there for approval.
2. **Secrets**: in each of the two environments, one secret per variable below (read-only
   keys in `mmp-read`, trading keys in `mmp-production`). These are the example accounts'; an
   account you add brings its own, which `mmp workflows --write` puts in the `env:` of the
   one step of each job that runs mmp (no other step sees them):

{secrets}
3. **Branch protection** for `main`: require a pull request with at least one review
   (CODEOWNERS for `policies/` helps) and the status check `check` (the job of
   `mmp check`, as branch protection lists it); no direct
   pushes. A merge is what applies. `mmp plan` runs for pull requests that touch
   `policies/` only (a required check that never runs holds a pull request), and its
   comment is what the reviewers read.
4. Locally: `pre-commit install` (the hook runs `mmp validate`), and `pip install` the mmp
   the workflows pin (their `Install mmp` step).
5. **Healing** (optional): `heal: {{enabled: true}}` in `policies/guardrails.yaml`, merged
   by a reviewed pull request, lets the scheduled drift workflow put back with no prompt
   the protection the merged policies declare, only where it restores or tightens it
   (`mmp heal`: a scope without MMP re-created, a raised limit lowered again; never a
   loosening, a removal, a frozen scope, nor past a guardrail). Before merging it, create
   the environment `mmp-heal`: the **trading** keys under the same names, deployment
   branches `main` only, and **no** required reviewers (what heal writes was reviewed when
   it was merged; a reviewer would leave a scope unprotected until someone approves). Then
   `mmp workflows --write` gives the drift workflow its `heal` job. A scope left without
   MMP (a killed apply, a config taken out on the venue) is then unprotected for at most
   the schedule's interval (hourly) plus one run.

## The pinned mmp

The workflows install exactly one mmp, so a new one reaches this desk only by a reviewed
pull request: `mmp-reconciler==X.Y.Z` from your package index, or, where it is on no index
(mmp-reconciler is not published on a public one yet), a commit of its repository,
`git+https://HOST/OWNER/REPO@COMMIT` or `git+ssh://git@HOST/OWNER/REPO@COMMIT` (a full
commit id cannot move; a branch or a tag could). `mmp init` chose it (`--pin SPEC`, or how
that mmp was installed); `mmp workflows --write` keeps it.
To move to another version: install it, run `mmp init --upgrade` (it keeps the kind of pin
above, shows the diff, and asks before it rewrites the workflows and the pre-commit pin;
`--yes` where nobody can be asked), and open a pull request with the change.
"""


def text(need: Needs) -> str:
    secrets = "".join(
        f"   - `{name}` (account `{account}`)\n" for name, account in need.secrets.items()
    )
    return TEXT.format(
        home=REPOSITORY_URL,
        version=__version__,
        secrets=secrets,
    )
