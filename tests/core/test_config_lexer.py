"""httpd.conf lexing: comments, continuation, quotes and escapes, ${VAR}."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

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


def _reference_word(s: str, pos: int) -> tuple[str, int]:
    """ap_getword_conf character by character (what the lexer's regexes must equal):
    str.isspace blanks, a quoted word up to its quote with `\\` protecting the next
    character, `\\\\` and `\\<quote>` unescaped."""
    n = len(s)
    while pos < n and s[pos].isspace():
        pos += 1
    if pos >= n:
        return "", n
    quote = s[pos] if s[pos] in "\"'" else None
    i = pos + 1 if quote else pos
    start = i
    while i < n and (s[i] != quote if quote else not s[i].isspace()):
        i += 2 if quote and s[i] == "\\" and i + 1 < n else 1
    raw, out, j = s[start:i], [], 0
    while j < len(raw):
        if raw[j] == "\\" and j + 1 < len(raw) and raw[j + 1] in ("\\", quote):
            out.append(raw[j + 1])
            j += 2
        else:
            out.append(raw[j])
            j += 1
    end = i + 1 if quote and i < n else i
    while end < n and s[end].isspace():
        end += 1
    return "".join(out), min(end, n)


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab \t\"'\\#<>\x1c\x1f\x85\xa0\u2028\u3000")),
               max_size=16), st.integers(0, 16))
def test_words_match_apache_rules_on_any_text(text, pos):
    # Unicode blanks (\x1c-\x1f, NEL, NBSP, U+2028) separate words as str.isspace says,
    # an unterminated quote runs to the end, a trailing backslash is content
    pos = min(pos, len(text))
    assert get_word(text, pos) == _reference_word(text, pos)
