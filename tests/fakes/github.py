"""A fake of the part of GitHub's REST API the workflows use, strict where GitHub is strict.

Issues and pull requests share one number space, as on GitHub; pull requests are listed by
the issues endpoint with a `pull_request` key. Comments paginate with `per_page` (default
30, at most 100) and a `Link` header. A token is either `write` (a same-repository workflow
with `pull-requests: write` / `issues: write`) or `read` (a fork pull request's token): a
write with a read token gets GitHub's own 403; `no-actions` reads, but not artifacts (a job
without `actions: read`). Bodies over 65,536 characters get GitHub's
422. Requests without a User-Agent are refused, as GitHub refuses them. Branches (`branches`,
name -> head commit) are read as Git references, `GET git/ref/heads/NAME`, exactly named
(an unknown one is GitHub's 404); `on_ref` sees each such read before it is answered (a
test moves a branch at the right moment there, or answers in its place, e.g. a 500).
Artifacts (`upload`, as actions/upload-artifact leaves them: a zip of the files) are listed
by `GET actions/artifacts?name=` in no documented order (oldest first here, so a client that
takes the first few gets the oldest), each with its run's branch and repository ids; `GET
actions/artifacts/ID/zip` answers 302 to a storage address on another origin (localhost for
127.0.0.1), which wants no token: one sent there is recorded in `storage_tokens`, and an
expired artifact's zip is GitHub's 410. `on_artifact` may answer a zip request instead.
Workflow runs (`runs`, id -> its workflow file, event, branch and commit; an upload makes
its run a push of mmp-apply.yml on main at MAIN_SHA unless told) are read by `GET
actions/runs/ID`; `GET compare/BASE...HEAD` says whether BASE is on a branch by
`on_main` (the commits main holds; HEAD must be one of them, or main's head).

Serve it on loopback with `reconciler.simulators.server.serve(FakeGitHub(...))`.
"""

from __future__ import annotations

import io
import json
import re
import threading
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

import httpx

MAX_BODY = 65_536
API_VERSIONS = ("2022-11-28",)
DOCS = "https://docs.github.com/rest"
NOT_ACCESSIBLE = "Resource not accessible by integration"
MAIN_SHA = "5a1d3c0ffee0ddba11fade5a1d3c0ffee0ddba11"


@dataclass
class Comment:
    id: int
    issue: int
    body: str
    user: str

    def data(self, repo: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "body": self.body,
            "user": {"login": self.user, "type": "Bot"},
            "html_url": f"https://github.com/{repo}/issues/{self.issue}#issuecomment-{self.id}",
            "issue_url": f"/repos/{repo}/issues/{self.issue}",
        }


@dataclass
class Artifact:
    id: int
    name: str
    archive: bytes
    created_at: str
    run_id: int
    head_branch: str = "main"
    head_repository_id: int = 1
    expired: bool = False

    def data(self, repo: str) -> dict[str, Any]:
        api = f"https://api.github.com/repos/{repo}/actions/artifacts/{self.id}"
        return {
            "id": self.id,
            "node_id": f"MDg6QXJ0aWZhY3Q{self.id}",
            "name": self.name,
            "size_in_bytes": len(self.archive),
            "url": api,
            "archive_download_url": f"{api}/zip",
            "expired": self.expired,
            "created_at": self.created_at,
            "updated_at": self.created_at,
            "expires_at": "2027-03-01T00:00:00Z",
            "workflow_run": {
                "id": self.run_id,
                "repository_id": 1,
                "head_repository_id": self.head_repository_id,
                "head_branch": self.head_branch,
                "head_sha": MAIN_SHA,
            },
        }


@dataclass
class Issue:
    number: int
    title: str
    body: str
    labels: list[str] = field(default_factory=list)
    state: str = "open"
    state_reason: str | None = None
    pull_request: bool = False

    def data(self, repo: str) -> dict[str, Any]:
        kind = "pull" if self.pull_request else "issues"
        out: dict[str, Any] = {
            "number": self.number,
            "title": self.title,
            "body": self.body,
            "state": self.state,
            "state_reason": self.state_reason,
            "labels": [{"name": name} for name in self.labels],
            "html_url": f"https://github.com/{repo}/{kind}/{self.number}",
        }
        if self.pull_request:
            out["pull_request"] = {"url": f"/repos/{repo}/pulls/{self.number}"}
        return out


class FakeGitHub:
    """One repository's issues, pull requests and comments; tokens map to `read`/`write`."""

    def __init__(self, repo: str = "desk/mmp-policies", tokens: dict[str, str] | None = None):
        self.repo = repo
        self.tokens = tokens if tokens is not None else {"ghs_write": "write"}
        self.issues: dict[int, Issue] = {}
        self.comments: dict[int, Comment] = {}
        self.requests: list[tuple[str, str]] = []  # (method, path?query), for assertions
        self.branches: dict[str, str] = {}  # name -> the commit it points at
        self.ref_reads = 0  # branch references read
        # called with the read's number (1, 2, ...) before it is answered; may answer instead
        self.on_ref: Callable[[int], httpx.Response | None] | None = None
        self.artifacts: list[Artifact] = []
        self.runs: dict[int, dict[str, Any]] = {}
        self.on_main: set[str] = {MAIN_SHA}
        self.gone: set[str] = set()  # commits GitHub no longer has (a rewritten branch)
        self.storage_tokens: list[str] = []  # Authorization headers sent to the storage
        self.on_artifact: Callable[[Artifact], httpx.Response | None] | None = None
        self._next_comment = 1_000_001
        self._lock = threading.Lock()

    # -- seeding, for tests ------------------------------------------------------------
    def add_pull_request(self, number: int, title: str = "Change MMP") -> None:
        self.issues[number] = Issue(number, title, "", pull_request=True)

    def add_comment(self, issue: int, body: str, user: str = "someone") -> Comment:
        comment = Comment(self._next_comment, issue, body, user)
        self._next_comment += 1
        self.comments[comment.id] = comment
        return comment

    def upload(self, name: str, files: dict[str, bytes], run_id: int, **how: Any) -> Artifact:
        """What actions/upload-artifact leaves: the files zipped, at the next timestamp."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zipped:
            for member, data in files.items():
                zipped.writestr(member, data)
        run = {"path": ".github/workflows/mmp-apply.yml", "event": "push", "head_sha": MAIN_SHA}
        run |= {"head_branch": how.get("head_branch", "main")}
        self.runs.setdefault(run_id, run)
        number = len(self.artifacts) + 1
        created = f"2026-12-01T{number // 3600:02}:{number // 60 % 60:02}:{number % 60:02}Z"
        artifact = Artifact(4000 + number, name, buffer.getvalue(), created, run_id, **how)
        self.artifacts.append(artifact)
        return artifact

    def comments_on(self, issue: int) -> list[Comment]:
        return [c for c in self.comments.values() if c.issue == issue]

    def issues_labelled(self, label: str, state: str = "open") -> list[Issue]:
        return [
            i
            for i in self.issues.values()
            if not i.pull_request and label in i.labels and state in ("all", i.state)
        ]

    # -- the API -------------------------------------------------------------------------
    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.requests.append((request.method, request.url.raw_path.decode()))
            if request.url.path.startswith("/_storage/"):
                return self._storage(request)
            refusal = self._refuse(request)
            if refusal is not None:
                return refusal
            return self._route(request)

    def _refuse(self, request: httpx.Request) -> httpx.Response | None:
        if not request.headers.get("user-agent"):
            return _error(
                403,
                "Request forbidden by administrative rules. "
                "Please make sure your request has a User-Agent header",
            )
        version = request.headers.get("x-github-api-version")
        if version is not None and version not in API_VERSIONS:
            return _error(400, f"API version {version} is not supported.")
        auth = request.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() not in ("bearer", "token") or token not in self.tokens:
            return _error(401, "Bad credentials")
        if request.method != "GET" and self.tokens[token] != "write":
            return _error(403, NOT_ACCESSIBLE)
        return None

    def _route(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        prefix = f"/repos/{self.repo}/"
        if not path.startswith(prefix):
            return _error(404, "Not Found")
        rest = path[len(prefix) :]
        body: dict[str, Any] = {}
        if request.method in ("POST", "PATCH"):
            try:
                parsed = json.loads(request.content or b"null")
            except ValueError:
                return _error(400, "Problems parsing JSON")
            if not isinstance(parsed, dict):
                return _error(400, "Problems parsing JSON")
            body = parsed
            too_long = _too_long(body)
            if too_long is not None:
                return too_long
        routes = (
            ("GET", r"issues/(\d+)/comments", self._list_comments),
            ("POST", r"issues/(\d+)/comments", self._create_comment),
            ("PATCH", r"issues/comments/(\d+)", self._update_comment),
            ("GET", r"issues", self._list_issues),
            ("POST", r"issues", self._create_issue),
            ("PATCH", r"issues/(\d+)", self._update_issue),
            ("GET", r"git/ref/heads/(.+)", self._branch_ref),
            ("GET", r"actions/artifacts", self._list_artifacts),
            ("GET", r"actions/artifacts/(\d+)/zip", self._artifact_zip),
            ("GET", r"actions/runs/(\d+)", self._workflow_run),
            ("GET", r"compare/([0-9a-f]{40})\.\.\.(.+)", self._compare),
        )
        for method, pattern, handler in routes:
            match = re.fullmatch(pattern, rest)
            if match and method == request.method:
                return handler(request, body, *match.groups())
        return _error(404, "Not Found")  # GitHub answers a wrong method with 404 too

    def _list_comments(self, request: httpx.Request, _: dict[str, Any], n: str) -> httpx.Response:
        if int(n) not in self.issues:
            return _error(404, "Not Found")
        items = [c.data(self.repo) for c in sorted(self.comments.values(), key=lambda c: c.id)]
        return self._page(request, [c for c in items if c["issue_url"].endswith(f"/{n}")])

    def _create_comment(self, _: httpx.Request, body: dict[str, Any], n: str) -> httpx.Response:
        issue = self.issues.get(int(n))
        if issue is None:
            return _error(404, "Not Found")
        text = body.get("body")
        if not isinstance(text, str) or not text:
            return _invalid("IssueComment", "body", "missing_field")
        comment = self.add_comment(int(n), text, user="github-actions[bot]")
        return _json(201, comment.data(self.repo))

    def _update_comment(self, _: httpx.Request, body: dict[str, Any], cid: str) -> httpx.Response:
        comment = self.comments.get(int(cid))
        if comment is None:
            return _error(404, "Not Found")
        text = body.get("body")
        if not isinstance(text, str) or not text:
            return _invalid("IssueComment", "body", "missing_field")
        comment.body = text
        return _json(200, comment.data(self.repo))

    def _list_issues(self, request: httpx.Request, _: dict[str, Any]) -> httpx.Response:
        query = parse_qs(request.url.query.decode())
        state = query.get("state", ["open"])[0]
        if state not in ("open", "closed", "all"):
            return _invalid("Issue", "state", "invalid")
        wanted = [x for x in query.get("labels", [""])[0].split(",") if x]
        items = [
            i.data(self.repo)
            for i in sorted(self.issues.values(), key=lambda i: -i.number)
            if state in ("all", i.state) and all(label in i.labels for label in wanted)
        ]
        return self._page(request, items)

    def _create_issue(self, _: httpx.Request, body: dict[str, Any]) -> httpx.Response:
        title = body.get("title")
        if not isinstance(title, str) or not title:
            return _invalid("Issue", "title", "missing_field")
        labels = body.get("labels", [])
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            return _invalid("Issue", "labels", "invalid")
        number = max(self.issues, default=0) + 1
        self.issues[number] = Issue(number, title, str(body.get("body") or ""), list(labels))
        return _json(201, self.issues[number].data(self.repo))

    def _update_issue(self, _: httpx.Request, body: dict[str, Any], n: str) -> httpx.Response:
        issue = self.issues.get(int(n))
        if issue is None:
            return _error(404, "Not Found")
        if "state" in body:
            if body["state"] not in ("open", "closed"):
                return _invalid("Issue", "state", "invalid")
            issue.state = body["state"]
            issue.state_reason = body.get("state_reason") if issue.state == "closed" else None
        if "title" in body:
            issue.title = str(body["title"])
        if "body" in body:
            issue.body = str(body["body"])
        return _json(200, issue.data(self.repo))

    def _branch_ref(self, _: httpx.Request, __: dict[str, Any], name: str) -> httpx.Response:
        self.ref_reads += 1
        answered = self.on_ref(self.ref_reads) if self.on_ref is not None else None
        if answered is not None:
            return answered
        sha = self.branches.get(name)
        if sha is None:
            return _error(404, "Not Found")
        api = f"https://api.github.com/repos/{self.repo}/git"
        return _json(
            200,
            {
                "ref": f"refs/heads/{name}",
                "node_id": "REF_kwDOfake" + name.encode().hex()[:12],
                "url": f"{api}/refs/heads/{name}",
                "object": {"type": "commit", "sha": sha, "url": f"{api}/commits/{sha}"},
            },
        )

    def _list_artifacts(self, request: httpx.Request, _: dict[str, Any]) -> httpx.Response:
        if self._kind(request) == "no-actions":  # a job without `actions: read`
            return _error(403, NOT_ACCESSIBLE)
        wanted = parse_qs(request.url.query.decode()).get("name", [None])[0]
        items = [a.data(self.repo) for a in self.artifacts if wanted in (None, a.name)]
        listed = self._page(request, items)
        wrapped = {"total_count": len(items), "artifacts": json.loads(listed.content)}
        return _json(listed.status_code, wrapped, dict(listed.headers))

    def _artifact_zip(self, request: httpx.Request, _: dict[str, Any], n: str) -> httpx.Response:
        found = [a for a in self.artifacts if a.id == int(n)]
        if self._kind(request) == "no-actions":
            return _error(403, NOT_ACCESSIBLE)
        if not found:
            return _error(404, "Not Found")
        if found[0].expired:
            return _error(410, "Artifact has expired")
        host = request.headers.get("host", "127.0.0.1").replace("127.0.0.1", "localhost")
        where = f"{request.url.scheme}://{host}/_storage/{n}?sig=grant{n}"
        return httpx.Response(302, headers={"location": where})

    def _workflow_run(self, _: httpx.Request, __: dict[str, Any], n: str) -> httpx.Response:
        run = self.runs.get(int(n))
        if run is None:
            return _error(404, "Not Found")
        return _json(200, {"id": int(n), "repository": {"full_name": self.repo}, **run})

    def _compare(
        self, _: httpx.Request, __: dict[str, Any], base: str, head: str
    ) -> httpx.Response:
        heads = {self.branches.get("main"), *self.on_main}
        if base in self.gone or head not in heads or not re.fullmatch(r"[0-9a-f]{40}", head):
            return _error(404, "Not Found")  # main's commits are the ones the fake knows
        status = "identical" if base == head else "ahead" if base in self.on_main else "diverged"
        return _json(200, {"status": status, "ahead_by": 1, "behind_by": 0, "commits": []})

    def _kind(self, request: httpx.Request) -> str:
        return self.tokens.get(request.headers.get("authorization", "").partition(" ")[2], "")

    def _storage(self, request: httpx.Request) -> httpx.Response:
        if "authorization" in request.headers:
            self.storage_tokens.append(request.headers["authorization"])
        n = request.url.path.removeprefix("/_storage/")
        found = [a for a in self.artifacts if str(a.id) == n]
        if not found or request.url.params.get("sig") != f"grant{n}":
            return httpx.Response(403, text="<Error><Code>AuthenticationFailed</Code></Error>")
        answered = self.on_artifact(found[0]) if self.on_artifact is not None else None
        return answered or httpx.Response(200, content=found[0].archive)

    def _page(self, request: httpx.Request, items: list[dict[str, Any]]) -> httpx.Response:
        query = parse_qs(request.url.query.decode())
        try:
            per_page = min(int(query.get("per_page", ["30"])[0]), 100)
            page = int(query.get("page", ["1"])[0])
        except ValueError:
            return _invalid("Query", "per_page", "invalid")
        per_page, page = max(per_page, 1), max(page, 1)
        last = max((len(items) + per_page - 1) // per_page, 1)
        chunk = items[(page - 1) * per_page : page * per_page]
        links = []
        host = request.headers.get("host", "localhost")
        base = f"{request.url.scheme}://{host}{request.url.path}"

        def link(number: int, rel: str) -> str:
            params = {k: v[0] for k, v in query.items()} | {"page": str(number)}
            return f'<{base}?{urlencode(params)}>; rel="{rel}"'

        if page < last:
            links += [link(page + 1, "next"), link(last, "last")]
        if page > 1:
            links += [link(1, "first"), link(page - 1, "prev")]
        headers = {"link": ", ".join(links)} if links else {}
        return _json(200, chunk, headers)


def _too_long(body: dict[str, Any]) -> httpx.Response | None:
    text = body.get("body")
    if isinstance(text, str) and len(text) > MAX_BODY:
        return httpx.Response(
            422,
            json={
                "message": "Validation Failed",
                "errors": [
                    {
                        "resource": "IssueComment",
                        "code": "custom",
                        "field": "body",
                        "message": f"body is too long (maximum is {MAX_BODY} characters)",
                    }
                ],
                "documentation_url": DOCS,
                "status": "422",
            },
        )
    return None


def _json(status: int, data: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=data, headers=headers or {})


def _error(status: int, message: str) -> httpx.Response:
    return _json(status, {"message": message, "documentation_url": DOCS, "status": str(status)})


def _invalid(resource: str, name: str, code: str) -> httpx.Response:
    return _json(
        422,
        {
            "message": "Validation Failed",
            "errors": [{"resource": resource, "field": name, "code": code}],
            "documentation_url": DOCS,
            "status": "422",
        },
    )
