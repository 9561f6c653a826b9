#!/bin/sh
# uacme hook for alpnmux's built-in TLS-ALPN-01 responder (uacme 1.7: `uacme -h THIS issue NAME`).
#
# uacme runs `hook METHOD TYPE IDENT TOKEN AUTH` for each challenge type it is offered, one
# identifier at a time. This hook declines every type but tls-alpn-01 (exit 1: uacme tries the
# next), stores the challenge on `begin` and removes it on `done` or `failed`. For tls-alpn-01,
# AUTH is already base64url(SHA-256(key authorization)), 43 characters, which
# `alpnmux challenge set` takes as it is.
#
# Environment (uacme passes its own on to the hook):
#   ALPNMUX_ADMIN            admin API URL (default http://127.0.0.1:9180)
#   ALPNMUX_ADMIN_TOKEN      bearer token; or ALPNMUX_ADMIN_TOKEN_FILE, a file holding it
#   ALPNMUX_CHALLENGE_TTL    how long a stored challenge lives if `done` never comes (default 1h)
#   ALPNMUX                  the alpnmux command, split on spaces (default: alpnmux)
set -u

if [ $# -ne 5 ]; then
  echo "Usage: $(basename "$0") method type ident token auth" >&2
  exit 85
fi
method=$1 type=$2 ident=$3 auth=$5

if [ "$type" != "tls-alpn-01" ]; then
  exit 1
fi

if [ -z "${ALPNMUX_ADMIN_TOKEN:-}" ] && [ -n "${ALPNMUX_ADMIN_TOKEN_FILE:-}" ]; then
  ALPNMUX_ADMIN_TOKEN=$(cat "$ALPNMUX_ADMIN_TOKEN_FILE") || exit 1
  export ALPNMUX_ADMIN_TOKEN
fi

# `--` ends the flags: a base64url digest may start with "-".
case "$method" in
  begin)
    exec ${ALPNMUX:-alpnmux} challenge set --ttl "${ALPNMUX_CHALLENGE_TTL:-1h}" -- "$ident" "$auth"
    ;;
  done | failed)
    exec ${ALPNMUX:-alpnmux} challenge delete -- "$ident"
    ;;
  *)
    echo "$(basename "$0"): invalid method $method" >&2
    exit 1
    ;;
esac
