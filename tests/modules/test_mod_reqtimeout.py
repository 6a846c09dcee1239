"""mod_reqtimeout: RequestReadTimeout's parsing, defaults, vhost merge and the deadline
clock the connections and MPMs wait by (the messages are compared with Apache in
tests/modules/test_mod_reqtimeout_vs_apache.py)."""
from __future__ import annotations

import pytest
from support.configs import cfg

from fastcore.config import ConfigError
from fastcore.modules.mod_reqtimeout import (
    BODY_DEFAULT,
    HEADER_DEFAULT,
    ReadClock,
    ReadLimits,
    Stage,
    server_limits,
)

LOAD = "LoadModule reqtimeout_module modules/mod_reqtimeout.so\n"


def test_not_loaded_means_no_deadline_and_an_unknown_directive(tmp_path):
    c = cfg(tmp_path, "")
    assert server_limits(c, c.main) is None
    with pytest.raises(ConfigError, match="Invalid command 'RequestReadTimeout'"):
        cfg(tmp_path, "RequestReadTimeout header=5\n")


def test_loaded_without_the_directive_has_apache_24_defaults(tmp_path):
    c = cfg(tmp_path, LOAD)
    assert server_limits(c, c.main) == ReadLimits(Stage(20, 40, 500), Stage(20, 0, 500))
    assert (HEADER_DEFAULT, BODY_DEFAULT) == (Stage(20, 40, 500), Stage(20, 0, 500))


def test_stages_parse_and_the_rest_keep_their_defaults(tmp_path):
    c = cfg(tmp_path, LOAD + "RequestReadTimeout Header=5-10,MINRATE=100 handshake=3\n")
    assert server_limits(c, c.main) == ReadLimits(Stage(5, 10, 100), BODY_DEFAULT, Stage(3))
    c = cfg(tmp_path, LOAD + "RequestReadTimeout body=7\nRequestReadTimeout header=+4\n")
    assert server_limits(c, c.main) == ReadLimits(Stage(4), Stage(7))


def test_zero_for_header_and_body_turns_it_off(tmp_path):
    c = cfg(tmp_path, LOAD + "RequestReadTimeout header=0 body=0\n")
    assert server_limits(c, c.main) is None
    # a handshake stage alone keeps it on (reqtimeout_init), for TLS connections only
    c = cfg(tmp_path, LOAD + "RequestReadTimeout header=0 body=0 handshake=4\n")
    assert server_limits(c, c.main) == ReadLimits(Stage(0), Stage(0), Stage(4))
    c = cfg(tmp_path, LOAD + "RequestReadTimeout header=0\n")
    assert server_limits(c, c.main) == ReadLimits(Stage(0), BODY_DEFAULT)


def test_a_vhost_inherits_the_stages_it_does_not_set(tmp_path):
    c = cfg(tmp_path, LOAD + "RequestReadTimeout header=5\n"
            "<VirtualHost *:80>\nServerName a\nRequestReadTimeout body=3\n</VirtualHost>\n"
            "<VirtualHost *:80>\nServerName b\n</VirtualHost>\n")
    a, b = c.vhosts
    assert server_limits(c, a) == ReadLimits(Stage(5), Stage(3))
    assert server_limits(c, b) == ReadLimits(Stage(5), BODY_DEFAULT)


@pytest.mark.parametrize("args,message", [
    ("header=10-20", "RequestReadTimeout: header=10-20: Must set MinRate option if using "
                     "timeout range"),
    ("header=20,minrate=0", "RequestReadTimeout: header=20,minrate=0: Minimum data rate "
                            "must be larger than 0"),
    ("foo=1", "RequestReadTimeout: foo=1: Unknown RequestReadTimeout parameter"),
    ("header", "Invalid RequestReadTimeout parameter. Parameter must be in the form "
               "'key=value'"),
    ("header=5x", "RequestReadTimeout: header=5x: Cannot parse 'x'"),
    ("header=20-10,MinRate=1", "RequestReadTimeout: header=20-10,MinRate=1: Maximum "
                               "timeout must be larger than initial timeout"),
    ("header=5,minrate=-1", "RequestReadTimeout: header=5,minrate=-1: Value must be "
                            "non-negative"),
])
def test_bad_arguments_are_errors_with_file_and_line(tmp_path, args, message):
    with pytest.raises(ConfigError) as err:
        cfg(tmp_path, LOAD + f"RequestReadTimeout {args}\n")
    assert err.value.message == message and err.value.line > 0
    assert err.value.directive == "RequestReadTimeout"


def test_not_allowed_in_directory(tmp_path):
    with pytest.raises(ConfigError, match="RequestReadTimeout not allowed in <Directory> "
                                          "context"):
        cfg(tmp_path, LOAD + "<Directory />\nRequestReadTimeout header=5\n</Directory>\n")


def test_min_rate_moves_the_deadline_up_to_the_maximum():
    clock = ReadClock(ReadLimits(Stage(10, 12, 500), Stage(5)), 100.0)
    assert clock.left(100.0) == 10.0
    clock.got(500, 0, 101.0)  # 500 bytes at 500 B/s: one more second
    assert clock.left(100.0) == pytest.approx(11.0)
    clock.got(5000, 0, 102.0)
    assert clock.left(100.0) == pytest.approx(12.0)  # capped


def test_a_keep_alive_request_starts_its_clock_with_its_first_bytes():
    clock = ReadClock(ReadLimits(Stage(10, 0, 100), Stage(5)), 0.0)
    clock.idle(1)
    assert clock.left(50.0) is None  # between requests: KeepAliveTimeout, not this
    clock.got(30, 1, 50.0)
    assert clock.left(50.0) == 10.0  # started now; the first bytes do not extend it
    clock.got(100, 1, 51.0)
    assert clock.left(50.0) == pytest.approx(11.0)
    clock.start("body", 52.0)
    assert (clock.kind, clock.left(52.0)) == ("body", 5.0)
    clock.got(10**6, 1, 53.0)  # no MinRate for this body: no extension
    assert clock.left(52.0) == 5.0
