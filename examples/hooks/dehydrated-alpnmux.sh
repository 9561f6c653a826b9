#!/bin/sh
# dehydrated hook for alpnmux's built-in TLS-ALPN-01 responder (dehydrated 0.7: config
# CHALLENGETYPE="tls-alpn-01" and HOOK=THIS).
#
# dehydrated runs `hook deploy_challenge DOMAIN TOKEN VALUE` before it asks the CA to validate
# and `hook clean_challenge DOMAIN TOKEN VALUE` after; with HOOK_CHAIN="yes" one call carries
# several DOMAIN TOKEN VALUE triples. For tls-alpn-01, VALUE is the SHA-256 digest of the key
# authorization as colon-separated hex ("b1:80:30:…"), which `alpnmux challenge set` takes as it
# is. Every other handler (deploy_cert, startup_hook, …, and ones newer versions add) does
# nothing and succeeds, as dehydrated requires; to deploy certificates too, call this script
# from your own hook for deploy_challenge and clean_challenge.
#
# Environment (dehydrated passes its own on to the hook; `export` the variables in its config):
#   ALPNMUX_ADMIN            admin API URL (default http://127.0.0.1:9180)
#   ALPNMUX_ADMIN_TOKEN      bearer token; or ALPNMUX_ADMIN_TOKEN_FILE, a file holding it
#   ALPNMUX_CHALLENGE_TTL    how long a stored challenge lives if clean_challenge never comes (default 1h)
#   ALPNMUX                  the alpnmux command, split on spaces (default: alpnmux)
set -u

handler=${1:-}
[ $# -gt 0 ] && shift

token() {
  if [ -z "${ALPNMUX_ADMIN_TOKEN:-}" ] && [ -n "${ALPNMUX_ADMIN_TOKEN_FILE:-}" ]; then
    ALPNMUX_ADMIN_TOKEN=$(cat "$ALPNMUX_ADMIN_TOKEN_FILE") || exit 1
    export ALPNMUX_ADMIN_TOKEN
  fi
}

case "$handler" in
  deploy_challenge)
    token
    while [ $# -ge 3 ]; do
      ${ALPNMUX:-alpnmux} challenge set --ttl "${ALPNMUX_CHALLENGE_TTL:-1h}" -- "$1" "$3" || exit 1
      shift 3
    done
    ;;
  clean_challenge)
    token
    while [ $# -ge 3 ]; do
      ${ALPNMUX:-alpnmux} challenge delete -- "$1" || exit 1
      shift 3
    done
    ;;
  *)
    exit 0
    ;;
esac
