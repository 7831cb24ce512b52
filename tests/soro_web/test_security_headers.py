"""Every page carries a Content-Security-Policy that allows only the platform's own scripts."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("path", ["/", "/accounts/login/", "/api/docs"])
def test_pages_allow_only_their_own_scripts(client, db, path: str) -> None:  # type: ignore[no-untyped-def]
    response = client.get(path)
    assert response.status_code == 200
    directives = dict(
        part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";")
    )
    assert directives["script-src"] == "'self'"
    assert directives["default-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert "unsafe-eval" not in response["Content-Security-Policy"]
