#!/usr/bin/env bash
# `npm start`: build, then run the service on the shipped config with the V8 flags named once in
# package.json (config.node_flags; npm exports them as $npm_package_config_node_flags). package.json
# runs this through scripts/with-node.sh, so a machine whose node is older than engines gets Node 24.
set -euo pipefail
cd "$(dirname "$0")/.."
flags=${npm_package_config_node_flags:-$(node -p 'require("./package.json").config.node_flags')}
echo "tcp-echo: building (tsc, about 15 s), then starting with config/static_config.yaml"
npm run build --silent
# shellcheck disable=SC2086 # the flags are several words
exec node $flags dist/main.js -c config/static_config.yaml "$@"
