#!/usr/bin/env bash
# House rule: all SQL lives in repository modules. Fails, printing file:line, on a select( / update( / delete(
# anywhere else in service/ and worker/ (method calls such as session.delete( and `def` lines are not queries).
# An argument names another git checkout to check; by default, this one.
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"
queries=$(git grep --untracked -nE "(^|[^.@[:alnum:]_])(select|update|delete)\(" -- \
  'service/*.py' 'worker/*.py' ':(exclude)*repository.py' | grep -vE "^[^:]+:[0-9]+:[[:space:]]*(async )?def " || true)
if [ -n "$queries" ]; then
  echo "SQL outside repository modules (move these queries into a repository.py):" >&2
  echo "$queries" >&2
  exit 1
fi
