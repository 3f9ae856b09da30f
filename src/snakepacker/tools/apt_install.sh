#!/bin/sh
# apt-install PKG...
#
# Install Debian packages the way an image layer wants them: refresh the
# package lists, install without recommends or suggests and without any
# question, then throw away everything apt and dpkg leave behind (package
# lists, downloaded .debs, the binary caches, logs).  The clean-up also runs
# when the install fails, so a failed layer is no bigger than a good one.
#
# An archive mirror that needs a login gets it from apt's auth.conf format in
# $APT_AUTH (default /run/secrets/apt-auth: a build secret, never a layer), when
# that file is there and not empty; the sources name the mirror without it.
#
# Exit status: apt-get's own (non-zero on any failure, with apt's message on
# stderr).  With no arguments nothing is done and the exit status is 0, so
# that `xargs -ra FILE apt-install` works on an empty FILE.
set -u

if [ "$#" -eq 0 ]; then
    exit 0
fi

clean_up() {
    # Package lists: drop the files but keep the directory layout (and the
    # partial/ directories with their owner and mode) so apt works afterwards.
    find /var/lib/apt/lists /var/cache/apt/archives -mindepth 1 -maxdepth 1 \
        ! -name partial ! -name lock -exec rm -rf {} + 2>/dev/null
    find /var/lib/apt/lists/partial /var/cache/apt/archives/partial \
        -mindepth 1 -maxdepth 1 -exec rm -rf {} + 2>/dev/null
    rm -f /var/cache/apt/*.bin
    # Logs and backup copies that only record what happened in this layer, and
    # ldconfig's auxiliary cache (file times of this build; ldconfig remakes it).
    if [ -d /var/log/apt ]; then
        find /var/log/apt -mindepth 1 -maxdepth 1 -exec rm -rf {} + 2>/dev/null
    fi
    rm -f /var/log/dpkg.log /var/log/alternatives.log \
        /var/cache/debconf/*-old /var/lib/dpkg/*-old /var/cache/ldconfig/aux-cache
    return 0
}

trap 'clean_up; exit 130' INT
trap 'clean_up; exit 143' TERM
trap 'clean_up; exit 129' HUP

export DEBIAN_FRONTEND=noninteractive

# Where apt finds logins: the secret when there is one, else its own default file.
auth=${APT_AUTH:-/run/secrets/apt-auth}
login="Dir::Etc::netrc=/etc/apt/auth.conf"
if [ -s "$auth" ]; then
    login="Dir::Etc::netrc=$auth"
fi

status=0
apt-get -q -o "$login" update || status=$?
if [ "$status" -eq 0 ]; then
    apt-get -q -y -o "$login" install \
        --no-install-recommends --no-install-suggests \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        "$@" || status=$?
fi
clean_up
if [ "$status" -ne 0 ]; then
    echo "apt-install: failed (apt-get exit status $status) installing: $*" >&2
fi
exit "$status"
