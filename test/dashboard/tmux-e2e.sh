#!/usr/bin/env bash
# End-to-end check of `mergelens dashboard` in a real 80×24 terminal (tmux send-keys /
# capture-pane). The steps and assertions live in tmux-e2e.test.ts so `npm test` runs them too.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v tmux >/dev/null || { echo "tmux is not installed (apt-get install -y tmux)" >&2; exit 1; }
exec npx vitest run test/dashboard/tmux-e2e.test.ts
