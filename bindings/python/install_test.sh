#!/usr/bin/env bash
# The package installs with pip (offline: the build backend is Debian's setuptools, no isolation) and
# imports from where it was installed. Usage: install_test.sh <python> <libwaymark.so>
set -euo pipefail
python=$1 library=$(realpath "$2")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$(dirname "$0")" "$work/src"  # pip builds in the tree: keep the source tree clean
rm -rf "$work/src/tests"
"$python" -m pip install --quiet --root-user-action=ignore --no-build-isolation --no-deps --no-index --target "$work/site" "$work/src"
cd "$work"
WAYMARK_LIBRARY=$library PYTHONPATH="$work/site" "$python" -c '
import waymark, os
assert waymark.__file__.startswith(os.environ["PYTHONPATH"]), waymark.__file__
print("installed waymark", waymark.version())'
