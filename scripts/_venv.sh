# Shared by scripts/serve, scripts/test, scripts/lock and benchmarks/run: a project-local
# virtualenv installed from the hash-pinned lock (requirements/*.txt), reinstalled when the lock
# changes. Needs Python 3.11+ as $PYTHON or python3. One progress line per phase; pip's own output
# goes to a log file that a failure names.

# The interpreter to build virtualenvs with, checked before anything is installed.
project_python() {
  local python="${PYTHON:-python3}"
  if ! command -v "$python" >/dev/null 2>&1; then
    echo "imprint-sessions needs Python 3.11 or newer: '$python' was not found (set PYTHON=/path/to/python3.11)" >&2
    exit 1
  fi
  local version
  version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null) || version="unknown"
  case "$version" in
    3.1[1-9] | 3.[2-9][0-9] | [4-9].*) ;;
    *)
      echo "imprint-sessions needs Python 3.11 or newer; $python is $version (set PYTHON=/path/to/python3.11)" >&2
      exit 1
      ;;
  esac
  printf '%s' "$python"
}

# _phase LOG "what" command...: one line for the phase, the command's output to LOG.
_phase() {
  local log="$1" what="$2"
  shift 2
  printf '  %s... ' "$what" >&2
  local started=$SECONDS
  if "$@" >>"$log" 2>&1; then
    echo "done ($((SECONDS - started)) s)" >&2
  else
    echo "failed" >&2
    echo "imprint-sessions: the install failed; the full log is $log. Its last lines:" >&2
    tail -n 5 "$log" | sed 's/^/    /' >&2
    exit 1
  fi
}

# ensure_venv LOCK [DIR [no-project]]: DIR (default .venv) holds LOCK's packages plus this project
# and its Python SDK, sdk/python (both editable, unless no-project). LOCK is
# requirements/runtime.txt or requirements/test.txt.
ensure_venv() {
  local lock="$1" venv="${2:-.venv}" project="${3:-project}"
  local python
  python=$(project_python)
  local want
  want=$(cat "$lock" pyproject.toml sdk/python/pyproject.toml | sha256sum | cut -c1-16)
  local stamp="$venv/.installed-$(basename "$lock" .txt)"
  if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  mkdir -p "$venv"
  local log="$venv/install.log"
  : >"$log"
  echo "imprint-sessions: installing into $venv from $lock (log: $log)" >&2
  if [ ! -x "$venv/bin/python" ]; then
    _phase "$log" "creating the virtual environment" "$python" -m venv "$venv"
  fi
  # Locked and hash-checked: every machine gets the same versions. pip's cache makes reruns quick.
  _phase "$log" "installing $(grep -c '^[a-z0-9]' "$lock") locked packages" \
    "$venv/bin/python" -m pip install --disable-pip-version-check --no-input --progress-bar off \
    --require-hashes -r "$lock"
  # The project itself, built by the locked setuptools (no unpinned build environment).
  [ "$project" = "no-project" ] || _phase "$log" "installing imprint-sessions" \
    "$venv/bin/python" -m pip install --disable-pip-version-check --no-input --progress-bar off \
    --no-deps --no-build-isolation -e .
  # The SDK (imprint-sessions-client): its only dependencies, httpx and pydantic, are locked above.
  [ "$project" = "no-project" ] || _phase "$log" "installing imprint-sessions-client" \
    "$venv/bin/python" -m pip install --disable-pip-version-check --no-input --progress-bar off \
    --no-deps --no-build-isolation -e sdk/python
  printf '%s' "$want" >"$stamp"
}

# ensure_newest_venv DIR: DIR holds the newest releases pyproject.toml's ranges allow (no lock).
ensure_newest_venv() {
  local venv="$1"
  local python
  python=$(project_python)
  rm -rf "$venv"
  mkdir -p "$venv"
  local log="$venv/install.log"
  echo "imprint-sessions: installing the newest allowed releases into $venv (log: $log)" >&2
  _phase "$log" "creating the virtual environment" "$python" -m venv "$venv"
  _phase "$log" "installing the newest allowed releases" \
    "$venv/bin/python" -m pip install --disable-pip-version-check --no-input --progress-bar off \
    --upgrade --upgrade-strategy eager "setuptools>=77" -e ".[test]" -e sdk/python
  "$venv/bin/python" -m pip freeze --exclude-editable >"$venv/versions.txt"
}

# ensure_uv: a uv binary (for scripts/lock), from its own hash-pinned lock.
ensure_uv() {
  ensure_venv requirements/tools.txt .venv-tools no-project
  printf '%s' "$PWD/.venv-tools/bin/uv"
}
