#!/bin/sh
# Entrypoint of the Ghillie image: run the given command (by default
# `python -m ghillie.runtime`) in place of this shell, so it becomes PID 1
# and receives the SIGTERM Kubernetes sends on pod termination.
set -e
exec "$@"
