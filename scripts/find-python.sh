#!/usr/bin/env bash
# Print the path of a Python >= 3.13 interpreter, or explain what is missing.
set -u
ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 13) else 1)' >/dev/null 2>&1; }
candidates=()
[ -n "${PYTHON:-}" ] && candidates+=("$PYTHON")
for name in python3.14 python3.13; do
  p=$(command -v "$name" 2>/dev/null) && candidates+=("$p")
done
for dir in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[3-9]* /root/.pyenv/versions/3.1[3-9]* \
           /usr/local/bin /usr/bin; do
  [ -x "$dir/bin/python3" ] && candidates+=("$dir/bin/python3")
  [ -x "$dir/python3.13" ] && candidates+=("$dir/python3.13")
done
p=$(command -v python3 2>/dev/null) && candidates+=("$p")
for c in "${candidates[@]}"; do
  if ok "$c"; then echo "$c"; exit 0; fi
  if PYENV_VERSION=3.13.0 ok "$c"; then echo "$c"; exit 0; fi
done
echo "Watchkeeper needs Python 3.13 or newer and none was found." >&2
echo "Install it (for example 'pyenv install 3.13') or run: make PYTHON=/path/to/python3.13" >&2
exit 1
