"""The few GitHub REST calls we make: comments and issues, with pagination by Link header,
the head of a branch (heal's check that the policies it read are still the branch's), and
the journal artifacts of earlier runs (reconciler.commands.github.history).

Reads are retried on transport faults and 5xx; writes are not (a lost answer to a create is
resolved by finding the marker again on the next run). Every refusal becomes a GitHubError
that says what GitHub answered and what to change.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx

from reconciler import __version__
from reconciler.commands.github.context import RunContext
from reconciler.core.errors import GitHubError
from reconciler.core.secrets import redact

API_VERSION = "2022-11-28"
READ_ATTEMPTS = 3
PER_PAGE = 100
BACKOFF_MS = 200


class GitHubApi:
    def __init__(self, ctx: RunContext, transport: httpx.BaseTransport | None = None) -> None:
        self.ctx = ctx
        self._transport = transport
        self._http = httpx.Client(
            base_url=ctx.api_url,
            transport=transport,
            timeout=30,
            headers={
                "Accept": "application/vnd.github+json",
                "Authorization": f"Bearer {ctx.token}",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": f"mmp-reconciler/{__version__}",
            },
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> GitHubApi:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- comments --------------------------------------------------------------------------
    def comments(self, issue: int) -> Iterator[dict[str, Any]]:
        yield from self._pages(f"{self._repo}/issues/{issue}/comments")

    def create_comment(self, issue: int, body: str) -> dict[str, Any]:
        return self._write("POST", f"{self._repo}/issues/{issue}/comments", {"body": body})

    def update_comment(self, comment_id: int, body: str) -> dict[str, Any]:
        return self._write("PATCH", f"{self._repo}/issues/comments/{comment_id}", {"body": body})

    # -- issues ----------------------------------------------------------------------------
    def open_issues(self, label: str) -> Iterator[dict[str, Any]]:
        for item in self._pages(f"{self._repo}/issues", {"state": "open", "labels": label}):
            if "pull_request" not in item:  # the issues endpoint lists pull requests too
                yield item

    def create_issue(self, title: str, body: str, labels: list[str]) -> dict[str, Any]:
        data = {"title": title, "body": body, "labels": labels}
        return self._write("POST", f"{self._repo}/issues", data)

    def update_issue(self, number: int, **fields: str) -> dict[str, Any]:
        return self._write("PATCH", f"{self._repo}/issues/{number}", dict(fields))

    # -- branches --------------------------------------------------------------------------
    def branch_head(self, branch: str) -> str:
        """The commit `branch` points at now: `GET /repos/{repo}/git/ref/heads/{branch}`,
        the one reference named exactly so (never a tag or a prefix match). Anything but a
        reference to a commit, with a full SHA, is a GitHubError saying what came."""
        where = f"GET {self._repo}/git/ref/heads/{branch}"
        try:
            response = self._read(f"{self._repo}/git/ref/heads/{quote(branch, safe='/')}", None)
        except GitHubError as exc:
            if exc.status == 404:
                raise GitHubError(
                    f"GitHub answered {where}: 404, no branch `{branch}` in "
                    f"{self.ctx.repository} (guardrails.yaml `heal: branch:`)",
                    status=404,
                ) from None
            raise
        data = _json(response, where)
        target = data.get("object") if isinstance(data, dict) else None
        sha = target.get("sha") if isinstance(target, dict) else None
        if (
            not isinstance(target, dict)
            or data.get("ref") != f"refs/heads/{branch}"
            or target.get("type") != "commit"
            or not isinstance(sha, str)
            or not re.fullmatch(r"[0-9a-f]{40}", sha)
        ):
            raise GitHubError(
                f"GitHub answered {where} with something not a branch's commit: "
                f"{redact(response.text[:120])!r}"
            )
        return sha

    # -- artifacts ---------------------------------------------------------------------------
    def artifacts(self, name: str) -> Iterator[dict[str, Any]]:
        """Every artifact named `name` in the repository (`GET actions/artifacts?name=`),
        expired ones included, in the order GitHub lists them (it documents none)."""
        listed = self._pages(f"{self._repo}/actions/artifacts", {"name": name}, key="artifacts")
        yield from (item for item in listed if isinstance(item, dict))

    def workflow_run(self, run_id: int) -> dict[str, Any]:
        """One workflow run (`GET actions/runs/{id}`): its workflow file, event, branch and
        commit."""
        where = f"GET actions/runs/{run_id}"
        data = _json(self._read(f"{self._repo}/actions/runs/{run_id}", None), where)
        if not isinstance(data, dict):
            raise GitHubError(f"GitHub answered GET actions/runs/{run_id} with no run")
        return data

    def contains(self, head: str, sha: str) -> bool:
        """Whether commit `sha` is `head` or an ancestor of it (`GET compare/{sha}...{head}`,
        both full commit SHAs: never a name, which a tag could shadow)."""
        said = f"GET compare/{sha[:7]}...{head[:7]}"
        response = self._read(f"{self._repo}/compare/{sha}...{head}", {"per_page": "1"})
        data = _json(response, said)
        status = data.get("status") if isinstance(data, dict) else None
        if status not in ("ahead", "identical", "behind", "diverged"):
            raise GitHubError(f"GitHub answered {said} without a status")
        return status in ("ahead", "identical")

    def artifact_zip(self, artifact: int, limit: int) -> bytes:
        """One artifact's zip archive: GitHub answers with a redirect to its storage, which
        is fetched without our token (the storage URL carries its own short-lived grant).
        More than `limit` bytes is refused, not read to the end."""
        where = f"GET actions/artifacts/{artifact}/zip"
        response = self._read(f"{self._repo}/actions/artifacts/{artifact}/zip", None, redirect=True)
        location = response.headers.get("location", "")
        storage = httpx.URL(location) if location else None
        if storage is None or not _plain_fetch_allowed(storage):
            raise GitHubError(f"GitHub answered {where} without a usable storage address")
        for attempt in range(1, READ_ATTEMPTS + 1):
            try:
                return self._fetch(storage, limit, where)
            except _Transient as exc:
                if attempt == READ_ATTEMPTS:
                    raise GitHubError(str(exc)) from None
                time.sleep(BACKOFF_MS * attempt / 1000)
        raise AssertionError("unreachable")

    def _fetch(self, storage: httpx.URL, limit: int, where: str) -> bytes:
        """The archive from its storage, with no token; a 5xx or a lost connection is
        _Transient (tried again), anything else a GitHubError."""
        headers = {"User-Agent": f"mmp-reconciler/{__version__}"}
        try:
            with (
                httpx.Client(transport=self._transport, timeout=60) as plain,
                plain.stream("GET", storage, headers=headers) as got,
            ):
                if got.status_code >= 500:
                    raise _Transient(f"{where}: its storage answered {got.status_code}")
                if not got.is_success:
                    raise GitHubError(f"{where}: its storage answered {got.status_code}")
                body = bytearray()
                for chunk in got.iter_bytes():
                    body += chunk
                    if len(body) > limit:
                        raise GitHubError(f"{where}: larger than {limit:,} bytes; not read")
                return bytes(body)
        except httpx.HTTPError as exc:
            raise _Transient(
                f"{where}: its storage could not be read ({type(exc).__name__})"
            ) from None

    # -- plumbing --------------------------------------------------------------------------
    @property
    def _repo(self) -> str:
        return f"/repos/{self.ctx.repository}"

    def _pages(
        self, path: str, params: dict[str, str] | None = None, key: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every item of a listing, page by page (Link headers, never off the API host);
        `key`: the listing is that field of an object (as `actions/artifacts` answers)."""
        url: str | None = path
        query: dict[str, str] | None = {"per_page": str(PER_PAGE), **(params or {})}
        while url is not None:
            response = self._read(url, query)
            data = _json(response, f"GET {path}")
            items = data.get(key) if key is not None and isinstance(data, dict) else data
            if not isinstance(items, list):
                raise GitHubError(f"GitHub answered GET {path} with something not a list")
            yield from items
            url, query = self._next_page(response), None

    def _next_page(self, response: httpx.Response) -> str | None:
        link = response.links.get("next", {}).get("url")
        if link is None:
            return None
        # Never follow a link off the API host: the token goes wherever we send requests.
        if not link.startswith(self.ctx.api_url + "/"):
            raise GitHubError(f"GitHub's next-page link leaves {self.ctx.api_url}: {link}")
        return link

    def _read(
        self, url: str, params: dict[str, str] | None, *, redirect: bool = False
    ) -> httpx.Response:
        """GET, retried on transport faults and 5xx. `redirect`: a 302 is the answer (the
        caller follows it, without the token), not a refusal."""
        attempt = 1
        while True:
            try:
                response = self._http.get(url, params=params)
                if redirect and response.status_code in (301, 302, 303, 307, 308):
                    return response
            except httpx.TransportError as exc:
                if attempt >= READ_ATTEMPTS:
                    raise GitHubError(f"cannot reach GitHub at {self.ctx.api_url}: {exc}") from None
            else:
                if response.status_code < 500 or attempt >= READ_ATTEMPTS:
                    return self._checked("GET", url, response)
            time.sleep(BACKOFF_MS * attempt / 1000)
            attempt += 1

    def _write(self, method: str, path: str, data: dict[str, Any]) -> dict[str, Any]:
        try:
            response = self._http.request(method, path, json=data)
        except httpx.TransportError as exc:
            raise GitHubError(
                f"{method} {path}: no answer from GitHub ({exc}); it may or may not have "
                "happened; the next run finds the marked comment or issue again"
            ) from None
        result = _json(self._checked(method, path, response), f"{method} {path}")
        if not isinstance(result, dict):
            raise GitHubError(f"GitHub answered {method} {path} with something not an object")
        return result

    def _checked(self, method: str, path: str, response: httpx.Response) -> httpx.Response:
        if response.is_success:
            return response
        try:
            body = response.json()
            message = str(body.get("message", "")) if isinstance(body, dict) else ""
            details = [e.get("message") or e.get("code") for e in body.get("errors", [])]
        except (ValueError, AttributeError):
            message, details = response.text[:200], []
        said = message + (f" ({'; '.join(str(d) for d in details)})" if details else "")
        where = f"{method} {httpx.URL(path).path}"
        status = response.status_code
        hint = _hint(status)
        if status == 404 and ("/actions/" in where or "/compare/" in where):
            hint = "The run, artifact or commit is not (or no longer) in the repository."
        text = f"GitHub refused {where}: {status} {said}. {hint}"
        raise GitHubError(redact(text.rstrip()), status=status)


def _json(response: httpx.Response, where: str) -> Any:
    """The JSON GitHub answered `where` with; anything else is a GitHubError saying so."""
    try:
        return response.json()
    except ValueError:
        raise GitHubError(f"GitHub answered {where} with something not JSON") from None


class _Transient(Exception):
    """A fault of the artifact storage that may pass: tried again."""


def _plain_fetch_allowed(url: httpx.URL) -> bool:
    """Where an artifact may be fetched from: https, or plain http on this machine only."""
    if url.scheme == "https":
        return bool(url.host)
    return url.scheme == "http" and url.host in ("127.0.0.1", "localhost", "::1")


def _hint(status: int) -> str:
    return {
        401: "The token is wrong or expired: pass `GITHUB_TOKEN: ${{ github.token }}`.",
        403: "The workflow token may not write here: a pull request from a fork gets a "
        "read-only token (the plan is in the job summary instead); otherwise give the job "
        "`permissions: pull-requests: write` (comments), `issues: write` (drift issue) or "
        "`contents: read` (a branch's head, read by the heal job) or `actions: read` (the "
        "journals of earlier runs, read by the apply and heal jobs).",
        404: "Check GITHUB_REPOSITORY and the pull request or issue number.",
        422: "GitHub rejected the content (see its message).",
    }.get(status, "")
