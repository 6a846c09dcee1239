"""Build the Cython extensions; the `atomics` option picks CAS or mutex counters.

FASTCORE_ATOMICS (or `pip install . -C atomics=...`, moved there by the in-tree backend):
  auto         nonportable where the compiler has lock-free 64-bit CAS, else portable (default)
  nonportable  hardware compare-and-swap (__atomic builtins); the build fails without it
  portable     a process-shared mutex; no CAS code is compiled at all

FASTCORE_SANITIZE (or `pip install . -C sanitize=address,undefined`): compile and link every
extension with those -fsanitize= checks (address, undefined, leak), for replaying hostile
corpora through the real extensions (tests/integration/test_build_modes.py).  An ASan build
needs the runtime preloaded: LD_PRELOAD=$(gcc -print-file-name=libasan.so).
"""
from __future__ import annotations

import glob
import os
import subprocess
import sys
import tempfile

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

MODES = ("auto", "portable", "nonportable")
SANITIZERS = ("address", "undefined", "leak")
CAS_PROBE = r"""
#include <stdint.h>
_Static_assert(__atomic_always_lock_free(sizeof(int64_t), 0), "64-bit atomics are not lock-free");
int main(void) {
    static int64_t v;
    int64_t expected = 0;
    __atomic_fetch_add(&v, 1, __ATOMIC_SEQ_CST);
    expected = 1;
    return !__atomic_compare_exchange_n(&v, &expected, 2, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}
"""


def _requested_mode() -> str:
    mode = os.environ.get("FASTCORE_ATOMICS", "auto").strip().lower() or "auto"
    if mode not in MODES:
        sys.exit(f"fastcore: atomics={mode!r} is not one of {', '.join(MODES)}")
    return mode


def _sanitizers() -> list[str]:
    """FASTCORE_SANITIZE's comma-separated checks, validated (empty: none)."""
    raw = os.environ.get("FASTCORE_SANITIZE", "").strip().lower()
    names = [n.strip() for n in raw.split(",") if n.strip()]
    bad = [n for n in names if n not in SANITIZERS]
    if bad:
        sys.exit(f"fastcore: sanitize={','.join(bad)!r} is not among {', '.join(SANITIZERS)}")
    return names


def _compiler_version(cc: list[str]) -> str:
    try:
        out = subprocess.run([cc[0], "--version"], capture_output=True, text=True, timeout=30)
        return out.stdout.splitlines()[0].strip()
    except (OSError, IndexError, subprocess.SubprocessError):
        return "unknown"


class FastcoreBuildExt(build_ext):
    """Probe the compiler for CAS, then compile every extension with the chosen mode."""

    def _has_cas(self) -> bool:
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "cas_probe.c")
            with open(src, "w") as fh:
                fh.write(CAS_PROBE)
            try:
                objs = self.compiler.compile([src], output_dir=tmp)
                self.compiler.link_executable(objs, os.path.join(tmp, "cas_probe"))
            except Exception:  # CompileError / LinkError: no usable CAS
                return False
            return subprocess.run([os.path.join(tmp, "cas_probe")]).returncode == 0

    def build_extensions(self) -> None:
        mode = _requested_mode()
        has_cas = self._has_cas()
        if mode == "nonportable" and not has_cas:
            sys.exit(
                "fastcore: atomics=nonportable needs lock-free 64-bit compare-and-swap "
                "(__atomic builtins), which this compiler/CPU does not provide; "
                "build with -C atomics=portable instead"
            )
        cas = mode == "nonportable" or (mode == "auto" and has_cas)
        built = "nonportable" if cas else "portable"
        import Cython

        cc = _compiler_version(self.compiler.compiler_so)
        macros = [
            ("FC_ATOMICS_CAS", "1" if cas else "0"),
            ("FC_ATOMICS_MODE", f'"{built}"'),
            ("FC_ATOMICS_REQUESTED", f'"{mode}"'),
            ("FC_CC_VERSION", '"' + cc.replace('"', "'") + '"'),
            ("FC_CYTHON_VERSION", f'"{Cython.__version__}"'),
        ]
        sanitize = _sanitizers()
        macros.append(("FC_SANITIZE", '"' + ",".join(sanitize) + '"'))
        flags = ([f"-fsanitize={','.join(sanitize)}", "-fno-omit-frame-pointer", "-g"]
                 if sanitize else [])
        if "undefined" in sanitize:  # a UB report stops the process, as the fuzzers do
            flags.append("-fno-sanitize-recover=undefined")
        print(f"fastcore: atomics requested={mode} built={built} (cas probe: {has_cas})"
              f"{' sanitize=' + ','.join(sanitize) if sanitize else ''}")
        for ext in self.extensions:
            ext.define_macros = list(ext.define_macros or []) + macros
            ext.extra_compile_args = list(ext.extra_compile_args or []) + flags
            ext.extra_link_args = list(ext.extra_link_args or []) + flags
        super().build_extensions()


# Developers may build a subset in place: FASTCORE_BUILD_ONLY=_accept,_sendfile
ONLY = {n.strip() for n in os.environ.get("FASTCORE_BUILD_ONLY", "").split(",") if n.strip()}


def extensions() -> list[Extension]:
    from Cython.Build import cythonize

    exts = [
        Extension(
            "fastcore." + os.path.splitext(os.path.basename(path))[0],
            [path],
            include_dirs=["fastcore/src", "fastcore"],
            depends=sorted(glob.glob("fastcore/src/*.h")),  # a header change rebuilds
            extra_compile_args=["-O2", "-Wno-unused-function"],
            # OpenSSL (libssl-dev) for mod_ssl: every extension doing connection I/O
            # goes through src/fc_tls.h's shims
            libraries=["pthread", "ssl", "crypto"],
            # PCRE2 as Apache links it; the runtime library alone suffices (no headers)
            # (_fastpath: SetEnvIf rules on cache hits, src/fc_setenvif.h)
            extra_link_args=["-l:libpcre2-8.so.0"]
            if path.endswith(("_pcre.pyx", "_fastpath.pyx")) else [],
        )
        for path in sorted(glob.glob("fastcore/*.pyx"))
        if not ONLY or os.path.splitext(os.path.basename(path))[0] in ONLY
    ]
    return cythonize(
        exts,
        language_level=3,
        compiler_directives={"boundscheck": False, "wraparound": False, "cdivision": True},
    )


setup(ext_modules=extensions(), cmdclass={"build_ext": FastcoreBuildExt})
