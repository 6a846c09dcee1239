"""Configuration errors, formatted the way Apache's `-t` prints them."""
from __future__ import annotations


def escape_message(text: str) -> str:
    """What Apache's error log does to a message (ap_escape_errorlog_item on its bytes):
    a backslash doubled, a byte that is not printable ASCII as \\xhh."""
    out = []
    for b in text.encode("utf-8", "surrogateescape"):
        if b == 0x5C:
            out.append("\\\\")
        elif b < 0x20 or b >= 0x7F:
            out.append(f"\\x{b:02x}")
        else:
            out.append(chr(b))
    return "".join(out)


class ConfigError(Exception):
    """A startup configuration error naming file, line and directive (never a traceback)."""

    def __init__(self, message: str, filename: str = "", line: int = 0, directive: str = "",
                 reading: bool = False):
        super().__init__(message)
        self.message = message
        self.filename = filename
        self.line = line
        self.directive = directive
        self.reading = reading  # found while reading the file (ap_build_config), not walking
        self.warnings: tuple[str, ...] = ()  # what the configuration warned before it

    def __str__(self) -> str:
        if self.filename and self.reading:
            # Apache's one-line form for errors found while the file is read
            return (f"fastcore: Syntax error on line {self.line} of {self.filename}: "
                    f"{escape_message(self.message)}")
        if self.filename:
            return (f"AH00526: Syntax error on line {self.line} of {self.filename}:\n"
                    f"{escape_message(self.message)}")
        return self.message


class HtaccessError(ConfigError):
    """A bad .htaccess: the server answers 500 and logs `FILE: message`."""

    def __init__(self, filename: str, line: int, message: str, directive: str = ""):
        super().__init__(message, filename, line, directive)

    def __str__(self) -> str:
        return f"{self.filename}: {self.message}"


def invalid_command(name: str) -> str:
    """Apache's message for a directive nobody registered."""
    return (f"Invalid command '{name}', perhaps misspelled or defined by a module "
            "not included in the server configuration")


def error_log_line(module: str, level: str, msg: str) -> str:
    """A line as Apache's error log writes it to stderr while it reads the configuration
    (a module's startup warning)."""
    import os
    import threading
    import time

    now = time.time()
    lt = time.localtime(now)
    stamp = time.strftime("%a %b %d %H:%M:%S", lt) + f".{int(now * 1e6) % 1000000:06d} {lt.tm_year}"
    return (f"[{stamp}] [{module}:{level}] [pid {os.getpid()}:tid "
            f"{threading.get_native_id()}] {msg}")
