"""Apache-shaped error pages: bodies of the lengths Apache sends, the signature and the
ServerTokens banner."""
from __future__ import annotations

from fastcore.core import errors as E


def test_error_pages_match_apache_lengths() -> None:
    # Content-Length values measured on Apache/2.4.71 for the same inputs.
    assert len(E.error_body(404)) == 236
    assert len(E.error_body(403)) == 239
    assert len(E.error_body(400)) == 266
    assert len(E.error_body(501, "FOO")) == 242
    assert len(E.error_body(405, "PUT")) == 260
    assert len(E.error_body(302, location="http://example.com/x/a?b=c")) == 250
    assert len(E.error_body(303, location="http://example.com/y")) == 267
    assert len(E.error_body(410)) == 322
    assert len(E.error_body(414)) == 288
    assert len(E.error_body(417, notes="    Expect: foo")) == 395
    assert len(E.error_body(400, notes="Size of a request header field exceeds server limit.")) == 318


def test_signature_and_tokens() -> None:
    assert E.server_banner("prod") == "fastcore"
    assert E.server_banner("major") == "fastcore/0"
    assert E.signature("off", "x", "h", 80, "a") == ""
    sig = E.signature("on", "fastcore", "www.example.com", 8080, "a@b")
    assert sig == "<hr>\n<address>fastcore Server at www.example.com Port 8080</address>\n"
    assert "mailto:a@b" in E.signature("email", "fastcore", "h", 80, "a@b")
    page = E.error_body(404, sig=sig).decode()
    assert page.endswith("<address>fastcore Server at www.example.com Port 8080</address>\n</body></html>\n")
    assert E.error_document('"custom text') == ("text", "custom text")
    assert E.error_document("/err.html") == ("local", "/err.html")
    assert E.error_document("http://e.com/") == ("url", "http://e.com/")
