#!/usr/bin/env bash
# Build the libFuzzer targets (one per fuzz/*.c) with ASan + UBSan into ${OUT:-fuzz/bin}.
# Needs clang (Debian: apt-get install clang).  Usage: fuzz/build.sh [target ...]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
out="${OUT:-$here/bin}"
cc="${CC_FUZZ:-clang}"
mkdir -p "$out"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    for f in "$here"/*.c; do targets+=("$(basename "$f" .c)"); done
fi
for t in "${targets[@]}"; do
    "$cc" -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
        -fno-sanitize-recover=undefined -Wall -Wno-unused-function \
        -DFC_ATOMICS_CAS=1 -DFC_ATOMICS_MODE=\"nonportable\" \
        -I"$root/fastcore/src" -I"$here" "$here/$t.c" -o "$out/$t" -lpthread \
        -l:libpcre2-8.so.0 -lssl -lcrypto  # fc_setenvif.h matches with the runtime PCRE2; fc_tls.h (in fc_send.h) calls OpenSSL
    echo "built $out/$t"
done
