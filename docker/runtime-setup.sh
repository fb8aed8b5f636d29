#!/bin/sh
# What every runtime image adds to its base (Debian/Node or Ubuntu/CUDA), in one place: tini as PID 1 (forwards
# SIGTERM to Node, which drains; reaps zombies), CA certificates, and the unprivileged user 10001 the images run as.
set -eu
apt-get update
apt-get install -y --no-install-recommends tini ca-certificates
rm -rf /var/lib/apt/lists/*
getent group step1x >/dev/null || groupadd --system --gid 10001 step1x
getent passwd step1x >/dev/null ||
  useradd --system --uid 10001 --gid step1x --home-dir /app --shell /usr/sbin/nologin step1x
