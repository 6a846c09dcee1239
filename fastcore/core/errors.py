"""Error responses shaped as Apache httpd 2.4 shapes them.

Reason phrases, the canned HTML body per status (same structure, same text, so the same
Content-Length for the same inputs), ServerTokens/ServerSignature strings, and the
ErrorDocument decision (text, local path, external URL).
"""
from __future__ import annotations

import os

import fastcore

REASONS = {
    100: "Continue", 101: "Switching Protocols",
    200: "OK", 201: "Created", 202: "Accepted", 203: "Non-Authoritative Information",
    204: "No Content", 205: "Reset Content", 206: "Partial Content",
    300: "Multiple Choices", 301: "Moved Permanently", 302: "Found", 303: "See Other",
    304: "Not Modified", 305: "Use Proxy", 307: "Temporary Redirect", 308: "Permanent Redirect",
    400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden",
    404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
    407: "Proxy Authentication Required", 408: "Request Timeout", 409: "Conflict",
    410: "Gone", 411: "Length Required", 412: "Precondition Failed",
    413: "Request Entity Too Large", 414: "Request-URI Too Long",
    415: "Unsupported Media Type", 416: "Requested Range Not Satisfiable",
    417: "Expectation Failed", 421: "Misdirected Request", 422: "Unprocessable Entity",
    426: "Upgrade Required", 428: "Precondition Required", 429: "Too Many Requests",
    431: "Request Header Fields Too Large", 451: "Unavailable For Legal Reasons",
    500: "Internal Server Error",
    501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable",
    504: "Gateway Timeout", 505: "HTTP Version Not Supported",
}

# Statuses after which Apache drops the connection (ap_status_drops_connection).
class HttpErrorBase(Exception):
    """A request ends in an error status; `notes` go into the canned page like Apache's
    error-notes; `headers` are extra response fields (e.g. Allow, Location)."""

    def __init__(self, status: int, notes: str | None = None,
                 headers: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(status, notes)
        self.status = status
        self.notes = notes
        self.headers = headers


def _escape(text: str) -> str:
    """html.escape's output (quotes too), without importing html in every process."""
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&#x27;"))


ERROR_CTYPE = "text/html; charset=iso-8859-1"
_DOCTYPE = ('<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN" '
            '"http://www.w3.org/TR/html4/strict.dtd">\n')


def reason(status: int) -> str:
    return REASONS.get(status, "Internal Server Error" if status not in REASONS else "")


def status_line(status: int) -> str:
    """`404 Not Found`; unknown codes are sent with no reason text as Apache's 500 slot."""
    text = REASONS.get(status)
    return f"{status} {text}" if text else f"{status} "


def server_banner(tokens: str, components: tuple[str, ...] = ()) -> str:
    """The Server header value for a ServerTokens setting, fastcore's own product name;
    `components` are what loaded modules add under Full (ap_add_version_component:
    mod_ssl's OpenSSL/X.Y.Z)."""
    v = fastcore.__version__
    major, minor = v.split(".")[:2]
    name = fastcore.SERVER_SOFTWARE
    t = (tokens or "full").lower()
    if t in ("prod", "productonly"):
        return name
    if t == "major":
        return f"{name}/{major}"
    if t == "minor":
        return f"{name}/{major}.{minor}"
    if t in ("min", "minimal"):
        return f"{name}/{v}"
    return " ".join((f"{name}/{v} ({os.uname().sysname or 'Unix'})", *components))


def signature(mode: str | None, banner: str, server_name: str, port: int, admin: str) -> str:
    """ServerSignature footer: Off -> '', On -> address line, EMail -> with mailto."""
    m = (mode or "off").lower()
    if m == "off":
        return ""
    who = f"Server at {_escape(server_name)} Port {port}"
    if m == "email":
        who = f'Server at <a href="mailto:{_escape(admin)}">{_escape(server_name)}</a> Port {port}'
    return f"<hr>\n<address>{banner} {who}</address>\n"


def canned_message(status: int, method: str = "GET", location: str | None = None,
                   notes: str | None = None, admin: str = "[no address given]",
                   variants: str | None = None) -> str:
    """The status-specific part of Apache's default error page."""
    m = _escape(method)
    loc = _escape(location or "")
    if status == 300:  # the variant list alone (http_protocol.c, "variant-list")
        return variants or ""
    if status in (301, 302, 307, 308):
        return f'<p>The document has moved <a href="{loc}">here</a>.</p>\n'
    if status == 303:
        return f'<p>The answer to your request is located <a href="{loc}">here</a>.</p>\n'
    if status == 305:
        return f'<p>This resource is only accessible through the proxy\n{loc}<br />\nYou will need to configure your client to use that proxy.</p>\n'
    if status == 400:
        return ("<p>Your browser sent a request that this server could not understand.<br />\n"
                + (notes + "</p>\n" if notes else "</p>\n"))
    if status == 401:
        return ("<p>This server could not verify that you\nare authorized to access the document\n"
                "requested.  Either you supplied the wrong\ncredentials (e.g., bad password), or your\n"
                "browser doesn't understand how to supply\nthe credentials required.</p>\n")
    if status == 403:
        return "<p>You don't have permission to access this resource.</p>\n"
    if status == 404:
        return "<p>The requested URL was not found on this server.</p>\n"
    if status == 405:
        return f"<p>The requested method {m} is not allowed for this URL.</p>\n"
    if status == 406:
        return ("<p>An appropriate representation of the requested resource could not be found on this server.</p>\n"
                + (variants or ""))
    if status == 408:
        return "<p>Server timeout waiting for the HTTP request from the client.</p>\n"
    if status == 410:
        return ("<p>The requested resource is no longer available on this server and there is no "
                "forwarding address.\nPlease remove all references to this resource.</p>\n")
    if status == 411:
        return (f"<p>A request of the requested method {m} requires a valid Content-length.<br />\n"
                + (notes or "") + "</p>\n")
    if status == 412:
        return "<p>The precondition on the request for this URL evaluated to false.</p>\n"
    if status == 413:
        return (f"The requested resource does not allow request data with {m} requests, or the "
                "amount of data provided in\nthe request exceeds the capacity limit.\n")
    if status == 414:
        return ("<p>The requested URL's length exceeds the capacity\nlimit for this server.<br />\n"
                + (notes or "") + "</p>\n")
    if status == 415:
        return "<p>The supplied request data is not in a format\nacceptable for processing by this resource.</p>\n"
    if status == 416:
        return ("<p>None of the range-specifier values in the Range\nrequest-header field overlap "
                "the current extent\nof the selected resource.</p>\n")
    if status == 417:
        return ("<p>The expectation given in the Expect request-header\nfield could not be met by "
                "this server.\nThe client sent<pre>\n" + _escape(notes or "") + "\n</pre>\n"
                "</p><p>Only the 100-continue expectation is supported.</p>\n")
    if status == 451:  # mod_rewrite's [R=451] reaches it
        return "<p>Access to this URL has been denied for legal reasons.<br />\n</p>\n"
    if status == 501:
        return f"<p>{m} not supported for current URL.<br />\n</p>\n"
    if status == 503:
        return ("<p>The server is temporarily unable to service your\nrequest due to maintenance "
                "downtime or capacity\nproblems. Please try again later.</p>\n")
    if status == 505:
        return "<p>The server does not support the HTTP protocol version used in the request.</p>\n"
    if status == 500 or status >= 500 or status not in REASONS:
        return ("<p>The server encountered an internal error or\nmisconfiguration and was unable to complete\n"
                "your request.</p>\n<p>Please contact the server administrator at \n "
                f"{_escape(admin)} to inform them of the time this error occurred,\n and the actions "
                "you performed just before this error.</p>\n<p>More information about this error may be "
                "available\nin the server error log.</p>\n")
    return f"<p>{_escape(REASONS[status])}</p>\n"


def error_body(status: int, method: str = "GET", location: str | None = None,
               notes: str | None = None, sig: str = "", admin: str = "[no address given]",
               variants: str | None = None) -> bytes:
    """The full HTML error page (Apache's layout), latin-1 encoded."""
    text = REASONS.get(status, "Internal Server Error")
    title = f"{status} {text}"
    page = (_DOCTYPE + "<html><head>\n<title>" + title + "</title>\n</head><body>\n<h1>" + text
            + "</h1>\n" + canned_message(status, method, location, notes, admin, variants)
            + sig + "</body></html>\n")
    return page.encode("latin-1", "replace")


def error_document(spec: str | None) -> tuple[str, str] | None:
    """Classify an ErrorDocument argument: ('text', msg) | ('local', uri) | ('url', url)."""
    if not spec:
        return None
    if spec.startswith('"'):
        text = spec[1:]
        if text.endswith('"') and len(text) >= 1:
            text = text[:-1]
        return ("text", text)
    if spec.startswith("/"):
        return ("local", spec)
    if "://" in spec:
        return ("url", spec)
    return ("text", spec)
