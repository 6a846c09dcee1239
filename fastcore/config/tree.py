"""Read config files into a section tree, doing what Apache does at read time.

As in ap_build_config, some directives act while the file is read (EXEC_ON_READ):
${VAR} substitution (per line, with the values Define'd so far), Define/UnDefine,
LoadModule, ServerRoot, Include/IncludeOptional and the conditionals <IfModule>,
<IfDefine>, <IfDirective>, <IfSection>, <IfFile>, <IfVersion>. A true conditional's body
is spliced into its parent, a false one is skipped (its nesting is still checked), so the
later walk sees only the directives that apply. Unknown directives are found in the walk.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastcore.config.errors import ConfigError
from fastcore.config.lexer import Line, get_word, resolve_vars


@dataclass
class Node:
    """A directive, or a section with children. `name` keeps the user's spelling without
    `<`; `args` is the argument text after ${VAR} substitution (a section's keeps its `>`)."""

    name: str
    args: str
    filename: str
    line: int
    children: list[Node] | None = None
    is_section: bool = False
    read_done: bool = False  # acted upon while reading (LoadModule, Define, ServerRoot)


# read-time hooks: name (lower, sections with "<") -> fn(node) returning a list of nodes
# to splice in place (conditionals, Include) or None to keep the node.
ReadHook = Callable[[Node, "Reader"], "list[Node] | None"]
CONDITIONALS = ("<ifmodule", "<ifdefine", "<ifdirective", "<ifsection", "<iffile",
                "<ifversion")


class Reader:
    """Stream the logical lines of one file into nodes.

    As ap_build_cont_config, the body of a true conditional ends silently at the end of
    the file, with whatever sections it opened still open; only a section opened outside
    every conditional is "not closed"."""

    def __init__(self, lines: list[Line], variables: dict[str, str], warnings: list[str],
                 hooks: dict[str, ReadHook], cond: Callable[[Node], bool]):
        self.lines = lines
        self.pos = 0
        self.variables = variables
        self.warnings = warnings
        self.hooks = hooks
        self.cond = cond
        self.open_conditionals = 0  # true conditionals whose body is being read

    def read(self) -> list[Node]:
        nodes = self._block(None)
        return nodes

    def _split(self, ln: Line, substitute: bool = True) -> tuple[str, str]:
        text = resolve_vars(ln.text, self.variables, self.warnings) if substitute else ln.text
        word, pos = get_word(text)
        return word, text[pos:]

    def _block(self, opener: Node | None) -> list[Node]:
        out: list[Node] = []
        while self.pos < len(self.lines):
            ln = self.lines[self.pos]
            self.pos += 1
            word, rest = self._split(ln)
            if word.startswith("</"):
                if opener is not None and "<" + opener.name.lower() in CONDITIONALS:
                    # ap_build_cont_config: only the exact line `</IfModule>` ends a true
                    # conditional (`</IfModule> # c` is a stray closing tag)
                    if ln.text.lower() != f"</{opener.name.lower()}>":
                        opener = None
                    else:
                        return out
                self._close(opener, word, ln)
                return out
            if word.startswith("<") and len(word) > 1:
                name = word[1:]
                if name.endswith(">"):  # as ap_build_config_sub: `<Name>` -> args ">"
                    name = name[:-1]
                    rest = rest or ">"
                node = Node(name, rest, ln.filename, ln.lineno, [], True)
                key = "<" + name.lower()
                if key in CONDITIONALS:
                    if self.cond(node):
                        self.open_conditionals += 1
                        try:
                            out.extend(self._block(node))
                        finally:
                            self.open_conditionals -= 1
                    else:
                        self._soak(node)
                    continue
                node.children = self._block(node)
                out.append(node)
                continue
            node = Node(word, rest, ln.filename, ln.lineno)
            hook = self.hooks.get(word.lower())
            spliced = hook(node, self) if hook else None
            if spliced is not None:
                out.extend(spliced)
            else:
                out.append(node)
        if opener is not None and not self.open_conditionals:
            raise ConfigError(f"{opener.filename}:{opener.line}: <{opener.name}> was not closed.",
                              opener.filename, opener.line, f"<{opener.name}>", reading=True)
        return out

    @staticmethod
    def _close(opener: Node | None, word: str, ln: Line) -> None:
        if opener is None:
            raise ConfigError(f"{word} without matching <{word[2:]} section",
                              ln.filename, ln.lineno, word, reading=True)
        closing = word[2:]
        if not closing.endswith(">"):
            raise ConfigError(f"</{closing}> directive missing closing '>'", ln.filename,
                              ln.lineno, f"</{closing}>", reading=True)
        closing = closing[:-1]
        if opener.name.lower() != closing.lower():
            raise ConfigError(f"Expected </{opener.name}> but saw </{closing}>",
                              ln.filename, ln.lineno, f"</{closing}>", reading=True)

    def _soak(self, opener: Node) -> None:
        """Skip a false conditional's body as ap_soak_end_container: nested sections must
        close in order; an error is reported on the conditional's line."""
        stack = [opener.name]
        while self.pos < len(self.lines):
            ln = self.lines[self.pos]
            self.pos += 1
            word, rest = self._split(ln, substitute=False)
            if not word.startswith("<"):
                continue
            if word.startswith("</"):
                closing = word[2:-1]  # Apache drops the last character, '>' or not
                if closing.lower() != stack[-1].lower():
                    raise ConfigError(f"Expected </{stack[-1]}> but saw </{closing}>",
                                      opener.filename, opener.line, f"<{opener.name}>",
                                      reading=True)
                stack.pop()
                if not stack:
                    return
            else:
                name = word[1:]
                if not rest and name.endswith(">"):
                    name = name[:-1]
                stack.append(name)
        raise ConfigError(f"Expected </{stack[-1]}> before end of configuration",
                          opener.filename, opener.line, f"<{opener.name}>", reading=True)
