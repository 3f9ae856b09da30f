#!/bin/sh
# The reference design's way of finding the packages a tree of Python
# extension modules needs, written out so bench/find_libdeps.py can time it:
#
#   every file named *.so  ->  ldd (which runs the dynamic loader on it)
#   -> the library paths ldd prints after "=>"  ->  dpkg-query -S on each
#   -> the package names in front of the colon, sorted and unique.
#
# Usage: find_libdeps_reference.sh DIR...
set -u
find "$@" -type f -name '*.so' -print0 \
    | xargs -0 -r ldd 2>/dev/null \
    | grep '=>' \
    | awk '{ print $3 }' \
    | grep '^/' \
    | sort -u \
    | xargs -r dpkg-query -S 2>/dev/null \
    | grep -v '^diversion by' \
    | cut -d: -f1 \
    | tr ',' '\n' \
    | sed 's/^ *//' \
    | sort -u
