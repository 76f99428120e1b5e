#!/bin/sh
# Takes off the node exactly the packages install.sh added (added-packages); the node's own stay.
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
[ -s "$here/added-packages" ] || exit 0
dpkg --purge $(cat "$here/added-packages") >/dev/null
rm -f "$here/added-packages"
