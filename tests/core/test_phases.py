"""The phase runner (fastcore.core.phases): the order a phase's functions run in, built
once from the registrations; httpd's DECLINED / OK / status / DONE semantics; and, through
real requests, that a module LoadModule does not name registers nothing."""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
from support.inprocess import exchange
from support.wire import parse_responses

from fastcore.config import load
from fastcore.core import phases as P
from fastcore.core.handler import Handler
from fastcore.core.phases import DECLINED, OK, Hook, Phases, Registration
from fastcore.core.response import Response
from fastcore.core.server import HttpServer
from fastcore.core.transaction import Transaction
from fastcore.modules import MODULES, REGISTRY, ModuleSpec


def _recorder(log: list[str], name: str, result: int | Response = DECLINED
              ) -> Callable[[Handler, Transaction], int | Response]:
    def fn(core: Handler, txn: Transaction) -> int | Response:
        log.append(name)
        return result
    fn.__name__ = name
    return fn


def _names(phases: Phases, phase: str) -> list[str]:
    return [fn.__name__ for fn in phases.functions(phase)]


# ---------------------------------------------------------------- order
def test_order_is_position_then_registration() -> None:
    log: list[str] = []
    regs = [Registration("a_module", Hook(P.FIXUPS, _recorder(log, "a_last"), P.LAST)),
            Registration("b_module", Hook(P.FIXUPS, _recorder(log, "b_middle"))),
            Registration("c_module", Hook(P.FIXUPS, _recorder(log, "c_first"), P.FIRST)),
            Registration("d_module", Hook(P.FIXUPS, _recorder(log, "d_middle"))),
            Registration("e_module", Hook(P.FIXUPS, _recorder(log, "e_really_first"),
                                          P.REALLY_FIRST))]
    phases = Phases.build(regs)
    assert _names(phases, P.FIXUPS) == ["e_really_first", "c_first", "b_middle", "d_middle",
                                       "a_last"]
    assert phases.functions(P.HANDLER) == ()


def test_predecessors_run_before_whatever_their_position() -> None:
    log: list[str] = []
    regs = [Registration("x_module", Hook(P.HANDLER, _recorder(log, "x"), P.FIRST,
                                          predecessors=("y_module",))),
            Registration("y_module", Hook(P.HANDLER, _recorder(log, "y1"), P.LAST)),
            Registration("y_module", Hook(P.HANDLER, _recorder(log, "y2"), P.LAST)),
            Registration("z_module", Hook(P.HANDLER, _recorder(log, "z"), P.MIDDLE,
                                          predecessors=("absent_module",)))]
    # x waits for every function of y_module; a predecessor that is not there is no wait
    assert _names(Phases.build(regs), P.HANDLER) == ["z", "y1", "y2", "x"]


def test_a_predecessor_cycle_is_a_startup_error() -> None:
    log: list[str] = []
    regs = [Registration("p_module", Hook(P.FIXUPS, _recorder(log, "p"),
                                          predecessors=("q_module",))),
            Registration("q_module", Hook(P.FIXUPS, _recorder(log, "q"),
                                          predecessors=("p_module",)))]
    with pytest.raises(ValueError, match="cycle"):
        Phases.build(regs)


def test_unknown_phase_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown phase"):
        Hook("check_user_id", _recorder([], "u"))


# ---------------------------------------------------------------- semantics
def _run(regs: list[Registration]) -> int | Response:
    """The request phases, then the handler when they let the request on (as dispatch),
    with an authorization function that grants (mod_authz_core without Require): with
    none at all the access step is httpd's AH00025 500."""
    grant = Registration("authz", Hook(P.CHECK_ACCESS_EX, lambda core, txn: OK, P.LAST))
    phases = Phases.build([*regs, grant])
    # the runner only hands them to the functions (and reads the access facts of txn)
    core, txn = object(), SimpleNamespace(satisfy_any=False, user=None)
    rv = phases.run_request(core, txn)
    if not isinstance(rv, Response) and rv <= OK:
        rv = phases.run_handler(core, txn)
    return rv


def test_run_first_phase_stops_at_ok_run_all_phase_goes_on() -> None:
    log: list[str] = []
    regs = [Registration("m", Hook(P.TRANSLATE_NAME, _recorder(log, "t1"))),
            Registration("m", Hook(P.TRANSLATE_NAME, _recorder(log, "t2", OK))),
            Registration("m", Hook(P.TRANSLATE_NAME, _recorder(log, "t3", OK))),
            Registration("m", Hook(P.FIXUPS, _recorder(log, "f1", OK))),
            Registration("m", Hook(P.FIXUPS, _recorder(log, "f2", DECLINED))),
            Registration("m", Hook(P.FIXUPS, _recorder(log, "f3", OK))),
            Registration("m", Hook(P.HANDLER, _recorder(log, "h1"))),
            Registration("m", Hook(P.HANDLER, _recorder(log, "h2", Response(204)))),
            Registration("m", Hook(P.HANDLER, _recorder(log, "h3", Response(200))))]
    rv = _run(regs)
    assert isinstance(rv, Response) and rv.status == 204
    assert log == ["t1", "t2", "f1", "f2", "f3", "h1", "h2"]


def test_a_status_or_a_response_ends_the_request_phases() -> None:
    log: list[str] = []
    regs = [Registration("m", Hook(P.CHECK_ACCESS, _recorder(log, "a1", OK))),
            Registration("m", Hook(P.CHECK_ACCESS, _recorder(log, "a2", 403))),
            Registration("m", Hook(P.TYPE_CHECKER, _recorder(log, "t"))),
            Registration("m", Hook(P.HANDLER, _recorder(log, "h", Response(200))))]
    rv = _run(regs)
    assert rv == 403 and log == ["a1", "a2"]
    log.clear()
    done = Response(301)
    regs[1] = Registration("m", Hook(P.CHECK_ACCESS, _recorder(log, "a2", done)))
    rv = _run(regs)
    assert rv is done and log == ["a1", "a2"]


def test_every_handler_declining_is_declined() -> None:
    log: list[str] = []
    rv = _run([Registration("m", Hook(P.HANDLER, _recorder(log, "h1"))),
                  Registration("m", Hook(P.HANDLER, _recorder(log, "h2")))])
    assert rv == DECLINED and log == ["h1", "h2"]


# ---------------------------------------------------------------- through requests
def _site(tmp: str, modules: tuple[str, ...], extra: str = "") -> HttpServer:
    doc = os.path.join(tmp, "htdocs")
    os.makedirs(os.path.join(doc, "list"), exist_ok=True)
    for name, data in (("list/one.txt", b"one\n"), ("m.txt", b"a file\n"),
                       ("x.example", b"the file itself\n")):
        with open(os.path.join(doc, name), "wb") as f:
            f.write(data)
    conf = os.path.join(tmp, "httpd.conf")
    with open(conf, "w") as f:
        f.write("\n".join(f"LoadModule {m} /usr/lib/apache2/modules/mod_{m[:-7]}.so"
                          for m in ("mpm_event_module", *modules)) + f"""
ServerRoot "{tmp}"
ErrorLog "{tmp}/error_log"
Listen 127.0.0.1:8
ServerName localhost
TypesConfig /etc/mime.types
DocumentRoot "{doc}"
<Directory "{doc}">
  Options Indexes
</Directory>
<Location "/metrics">
  SetHandler metrics
</Location>
{extra}
""")
    cfg = load(conf)
    from fastcore.config.merge import DirResolver

    return HttpServer(cfg, None, DirResolver(cfg))


def _get(srv: HttpServer, path: str) -> tuple[int, dict[str, str], bytes]:
    raw = f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    return parse_responses(exchange(srv, raw.encode()))[0]


BASE = ("mime_module", "dir_module", "authz_core_module")


def test_autoindex_not_loaded_registers_no_listing(tmp_path: Path) -> None:
    loaded = _site(str(tmp_path / "a"), (*BASE, "autoindex_module"))
    status, _h, body = _get(loaded, "/list/")
    assert status == 200 and b"one.txt" in body
    assert P.HANDLER in {h.phase for h in REGISTRY_BY_NAME["autoindex_module"].hooks}
    bare = _site(str(tmp_path / "b"), BASE)
    status, _h, body = _get(bare, "/list/")
    assert status == 404 and b"one.txt" not in body  # the default handler's directory 404
    loaded.close()
    bare.close()


def test_metrics_needs_status_module(tmp_path: Path) -> None:
    bare = _site(str(tmp_path / "a"), BASE)
    assert "metrics_handler" not in _names(bare.handler.phases, P.HANDLER)
    status, _h, _b = _get(bare, "/metrics")  # no file there: the default handler's 404
    assert status == 404
    bare.close()
    with_status = _site(str(tmp_path / "b"), (*BASE, "status_module"))
    assert "metrics_handler" in _names(with_status.handler.phases, P.HANDLER)
    with_status.close()


REGISTRY_BY_NAME = {m.name: m for m in REGISTRY.load(MODULES)}


def _example_handler(core: Handler, txn: Transaction) -> int | Response:
    if txn.handler_name != "example":
        return DECLINED
    return Response(200, [("Content-Length", "8")], "text/plain", b"example\n")


def _deny_secret(core: Handler, txn: Transaction) -> int | Response:
    return 403 if txn.r_uri.startswith("/secret") else DECLINED


EXAMPLE = ModuleSpec("example_module", list, hooks=(
    Hook(P.HANDLER, _example_handler, P.FIRST),
    Hook(P.CHECK_ACCESS, _deny_secret),
))


@pytest.mark.parametrize("loaded", [True, False])
def test_a_module_registers_its_functions_only_when_loaded(
        tmp_path: Path, loaded: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    srv = _site(str(tmp_path), BASE, extra='AddHandler example .example\n'
                'ErrorDocument 403 "no secrets"')
    names = (*srv.cfg.modules, "example_module") if loaded else srv.cfg.modules
    built = []
    real_build = Phases.build

    def counting_build(regs: list[Registration]) -> Phases:
        built.append(1)
        return real_build(regs)

    monkeypatch.setattr(Phases, "build", counting_build)
    srv.cfg.modules = names  # as if LoadModule named it (the config knows no such module)
    srv.handler = Handler(srv, (*REGISTRY.load(MODULES), EXAMPLE))
    example = _get(srv, "/x.example")
    secret = _get(srv, "/secret/m.txt")
    plain = _get(srv, "/m.txt")
    assert built == [1]  # ordered once, at construction; never per request
    if loaded:
        assert example[0] == 200 and example[2] == b"example\n"
        assert secret[0] == 403 and secret[2] == b"no secrets"  # a status: ErrorDocument
    else:
        assert example[0] == 200 and example[2] == b"the file itself\n"
        assert secret[0] == 404
    assert plain[0] == 200 and plain[2] == b"a file\n"
    srv.close()


# ---------------------------------------------------------------- output filters
def _tag_answer(core: Handler, txn: Transaction) -> int | Response:
    assert txn.response is not None
    txn.response.headers.append(("X-Filtered", str(txn.response.status)))
    return OK


def _replace_answer(core: Handler, txn: Transaction) -> int | Response:
    if txn.r_uri == "/replace":
        return Response(200, [], "text/plain", b"replaced\n")
    return DECLINED


def _broken_filter(core: Handler, txn: Transaction) -> int | Response:
    if txn.r_uri == "/m.txt":
        raise RuntimeError("a bug in a filter")
    return OK


FILTERING = ModuleSpec("filtering_module", list, hooks=(
    Hook(P.OUTPUT_FILTER, _replace_answer, P.FIRST),
    Hook(P.OUTPUT_FILTER, _tag_answer),
))


def test_output_filters_see_every_answer_and_may_replace_it(tmp_path: Path) -> None:
    srv = _site(str(tmp_path), BASE)
    srv.cfg.modules = (*srv.cfg.modules, "filtering_module")
    srv.handler = Handler(srv, (*REGISTRY.load(MODULES), FILTERING))
    status, h, body = _get(srv, "/m.txt")
    assert status == 200 and body == b"a file\n" and h["x-filtered"] == "200"
    status, h, _b = _get(srv, "/absent")  # an error answer goes through them too
    assert status == 404 and h["x-filtered"] == "404"
    status, h, body = _get(srv, "/replace")  # the first one replaced the 404 answer
    assert status == 200 and body == b"replaced\n" and h["x-filtered"] == "200"
    srv.close()


def test_a_failing_output_filter_is_a_500_not_a_dead_worker(tmp_path: Path) -> None:
    srv = _site(str(tmp_path), BASE)
    srv.cfg.modules = (*srv.cfg.modules, "broken_module")
    srv.handler = Handler(srv, (*REGISTRY.load(MODULES), ModuleSpec(
        "broken_module", list, hooks=(Hook(P.OUTPUT_FILTER, _broken_filter),))))
    status, _h, _b = _get(srv, "/m.txt")
    assert status == 500
    status, _h, body = _get(srv, "/list/one.txt")  # the next request is served
    assert status == 200 and body == b"one\n"
    with open(tmp_path / "error_log") as f:
        assert "a bug in a filter" in f.read()
    srv.close()


def test_no_authorization_function_is_httpds_500(tmp_path: Path) -> None:
    """Without mod_authz_core nothing answers check_access_ex: as request.c, check_authn
    is asked, and with nobody there (no mod_authn_core) the request is a 500 (AH00025);
    with mod_authn_core but no user it is AH00027's 500."""
    bare = _site(str(tmp_path / "a"), ("mime_module",))
    assert _get(bare, "/m.txt")[0] == 500
    bare.close()
    with open(tmp_path / "a" / "error_log") as f:
        assert "AH00025: configuration error:  couldn't check user: /m.txt" in f.read()
    authn = _site(str(tmp_path / "b"), ("mime_module", "authn_core_module"))
    assert _get(authn, "/m.txt")[0] == 500
    authn.close()
    with open(tmp_path / "b" / "error_log") as f:
        assert "AH00027: No authentication done" in f.read()
