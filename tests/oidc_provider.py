"""A real OpenID Connect provider on 127.0.0.1 for the sign-in tests.

It is ``oidc-provider-mock`` (PyPI; built on Authlib's authorization-server
components): a discovery document at ``/.well-known/openid-configuration``,
a JWKS, the authorization-code flow with ID tokens signed RS256, and an
authorization page where the person signing in types who they are (the
``sub``) and presses "Authorize" — the part a real provider does with a password.

    with oidc_provider(users={"fin@example.com": {"name": "Fin"}}) as idp:
        idp.metadata_url   # -> the [auth] server_metadata_url of a Streamlit server

Any client id and secret are accepted (no registration), and every redirect
URI: the tests point one Streamlit server at it and nothing else.
"""
from __future__ import annotations

import socket
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Provider:
    """A running provider: its issuer URL and its discovery document's URL."""

    issuer: str

    @property
    def metadata_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"


@contextmanager
def oidc_provider(users: Mapping[str, Mapping[str, Any]] | None = None) -> Iterator[Provider]:
    """Run the provider on a free 127.0.0.1 port for the duration of the block.

    `users` maps a subject (an e-mail address here) to its extra claims; each gets
    ``email`` = the subject and ``email_verified`` = True unless given. A subject
    typed on the authorization page that is not in `users` gets only ``email``.
    """
    import werkzeug.serving
    from oidc_provider_mock import User, app

    claims = [User(sub=sub, claims={"email": sub, "email_verified": True, **dict(extra)})
              for sub, extra in (users or {}).items()]
    provider = app(require_nonce=True, user_claims=claims)
    server = werkzeug.serving.make_server("127.0.0.1", _free_port(), provider, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield Provider(f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
