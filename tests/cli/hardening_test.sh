#!/usr/bin/env bash
# The native CLI reads untrusted files: checks that the build hardened it (CMakeLists.txt) — a
# position-independent executable, full RELRO (read-only GOT, bound at start), stack canaries, and,
# in optimised builds, libc calls fortified with their buffers' sizes.
#   hardening_test.sh <websd executable> <build type>
set -euo pipefail
exe="$1"
build_type="$2"
fail=0
check() {  # what, then a command that must succeed
  local what="$1"; shift
  if "$@" >/dev/null 2>&1; then echo "ok: $what"; else echo "FAIL: $exe is not hardened: $what" >&2; fail=1; fi
}
check "position-independent executable (ELF type DYN)" grep -q "Type:.*DYN" <(readelf -h "$exe")
check "full RELRO (GNU_RELRO segment and BIND_NOW)" \
  bash -c "readelf -l '$exe' | grep -q GNU_RELRO && readelf -d '$exe' | grep -q BIND_NOW"
check "stack protector (__stack_chk_fail)" grep -q "__stack_chk_fail" <(nm -D "$exe")
if [ "$build_type" != Debug ]; then
  check "_FORTIFY_SOURCE (checked libc calls, __*_chk)" grep -qE "__[a-z_]+_chk(@|$)" <(nm -D "$exe")
fi
exit $fail
