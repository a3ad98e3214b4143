#!/bin/sh
# Runs a command in a private mount namespace, so every tmpfs the tests or
# the demo mount disappears with it and nothing leaks onto the host.
# As root: unshare -m. As a normal user, where unprivileged user namespaces
# are allowed: unshare -r -m (root inside, only our own uid outside).
set -eu
export VAULTTMPFS_TEST_NS=private
if [ "$(id -u)" = 0 ]; then
  exec unshare --mount --propagation private "$@"
fi
export VAULTTMPFS_TEST_USERNS=1
exec unshare --user --map-root-user --mount --propagation private "$@"
