"""GitHub: the sticky pull-request comment, the job summary and the drift issue.

Used by the workflows in .github/workflows/ through `mmp github comment` and
`mmp github drift`; tested against `tests.fakes.github.FakeGitHub` on loopback.
"""
