"""httpd.conf lexing: comments, continuation, quotes and escapes, ${VAR}."""
from __future__ import annotations

from fastcore.config.lexer import get_word, logical_lines, resolve_vars, split_words


def test_comments_blank_lines_and_continuation():
    text = "# comment\n\n   # indented\nDirectoryIndex a \\\n   b \\\n c\nKeepAlive On\n"
    lines = list(logical_lines(text, "f.conf"))
    # a continued line is numbered by its last physical line, as Apache's errors
    assert [(ln.text, ln.lineno) for ln in lines] == [
        ("DirectoryIndex a    b  c", 6), ("KeepAlive On", 7)]


def test_hash_after_directive_is_an_argument():
    assert split_words("On # comment") == ["On", "#", "comment"]


def test_quotes_and_escapes():
    assert split_words('"a b" \'c d\' e\\\\f "q\\"x"') == ["a b", "c d", "e\\f", 'q"x']
    assert get_word('  "x y"  rest') == ("x y", 9)
    assert split_words('""') == [""]


def test_variables_defined_environment_and_undefined(monkeypatch):
    monkeypatch.setenv("FC_TEST_ENV", "/env")
    warn: list[str] = []
    out = resolve_vars("${A}/x ${FC_TEST_ENV} ${NOPE}", {"A": "/a"}, warn)
    assert out == "/a/x /env ${NOPE}"
    assert len(warn) == 1 and "] [core:warn] [pid " in warn[0]  # httpd's stderr line
    assert warn[0].endswith("] AH00111: Config variable ${NOPE} is not defined")
