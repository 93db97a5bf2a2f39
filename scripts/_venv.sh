# Shared by scripts/serve and scripts/test: a project-local virtualenv, (re)installed when
# pyproject.toml changes. Needs Python 3.11+ as $PYTHON or python3.
ensure_venv() {
  local extras="$1"
  local python="${PYTHON:-python3}"
  "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
    echo "imprint-sessions needs Python 3.11 or newer (set PYTHON=...)" >&2
    exit 1
  }
  local stamp=".venv/.installed${extras}"
  if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
  fi
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e ".${extras}"
    touch "$stamp"
  fi
}
