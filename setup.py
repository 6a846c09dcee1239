"""Build the Cython extensions; the `atomics` option picks CAS or mutex counters.

FASTCORE_ATOMICS (or `pip install . -C atomics=...`, moved there by the in-tree backend):
  auto         nonportable where the compiler has lock-free 64-bit CAS, else portable (default)
  nonportable  hardware compare-and-swap (__atomic builtins); the build fails without it
  portable     a process-shared mutex; no CAS code is compiled at all
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
        print(f"fastcore: atomics requested={mode} built={built} (cas probe: {has_cas})")
        for ext in self.extensions:
            ext.define_macros = list(ext.define_macros or []) + macros
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
            libraries=["pthread"],
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
