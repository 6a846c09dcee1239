"""Import, in the parent and before any fork, everything a request may need.

A child must never import: one that dropped root to User/Group may not be allowed to read
the installation (httpd loads its modules before the switch), and a module imported after
fork costs every child its own private pages.  The fastcore part of the list is derived:
every module of the packages the request path lives in, and of fastcore.modules exactly
the modules the configuration loaded (the registry imports them, with their packages'
submodules); the standard-library part is what
the interpreter looks up by name only when a request first needs it: codecs resolved
through the encodings search function (socket's host names are encoded with "idna") and
the modules stdlib code imports inside its functions.
tests/integration/test_fork_imports.py runs every feature in real children and checks that
sys.modules gained nothing there.
"""
from __future__ import annotations

import codecs
import importlib
import pkgutil
from collections.abc import Iterable

# Packages whose every module may run on the request path (fastcore.core: the connection
# and request; fastcore.config: .htaccess is parsed per request; fastcore.mpm: the
# children's loops).  Apache's modules come from the registry, by what LoadModule loaded.
PACKAGES = ("fastcore.core", "fastcore.config", "fastcore.mpm")
# Codecs looked up by name on the request path: "idna" by socket.gethostbyaddr and
# getaddrinfo (HostnameLookups, Require host), the others by str.encode/bytes.decode and
# open() wherever their fast paths do not apply.
CODECS = ("idna", "ascii", "latin-1", "utf-8")
# Standard-library modules imported lazily by functions the request path calls:
# traceback (the children's error log), concurrent.futures.thread (the DNS pool, a lazy
# attribute of concurrent.futures), encodings.idna's own imports come with the codec.
STDLIB = ("traceback", "linecache", "concurrent.futures.thread")


def request_path_modules() -> list[str]:
    """The fastcore modules to import: every module of PACKAGES (twins only when in use)."""
    names: list[str] = ["fastcore.modules"]
    for pkg_name in PACKAGES:
        pkg = importlib.import_module(pkg_name)
        names.append(pkg_name)
        for info in pkgutil.walk_packages(pkg.__path__, pkg_name + "."):
            names.append(info.name)
    from fastcore._ext import PURE

    if PURE:
        import fastcore._pure as pure

        names += [i.name for i in pkgutil.iter_modules(pure.__path__, "fastcore._pure.")]
    return names


def preload(loaded: Iterable[str]) -> list[str]:
    """Import the request path, the `loaded` modules (Apache names, as ServerConfig.modules)
    and resolve the codecs; returns the fastcore module names imported."""
    from fastcore.modules import REGISTRY

    names = request_path_modules()
    for name in (*names, *STDLIB):
        importlib.import_module(name)
    names += [REGISTRY.modules[s.name] for s in REGISTRY.load(loaded)]
    for name in CODECS:
        codecs.lookup(name)
    return names
