# System packages the course needs, installed with apt-get only where this user may: as root, or
# with sudo that asks no password. Sourced by .ci/run and by `make sandbox`; tests/test_ci_scripts.py
# runs it with fake commands.
#   apt_install PKG...   true when apt-get installed them (updating its lists once if needed)
#   find_browser         the path of a Chromium (Debian chromium, Ubuntu chromium-browser, Google Chrome)
#   system_setup         bubblewrap and a browser; exports COURSE_SKIP_BROWSER when there is no browser

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo "$@"
  else return 1; fi
}

apt_install() {
  command -v apt-get >/dev/null || return 1
  as_root apt-get install -y -q "$@" >/dev/null 2>&1 \
    || { as_root apt-get update -q >/dev/null 2>&1 && as_root apt-get install -y -q "$@" >/dev/null 2>&1; }
}

find_browser() {
  command -v chromium || command -v chromium-browser || command -v google-chrome || true
}

system_setup() {
  command -v bwrap >/dev/null || apt_install bubblewrap \
    || echo "== could not install bubblewrap (needs root or passwordless sudo, and apt-get): grading will refuse to run"
  if [ -z "$(find_browser)" ]; then
    # Debian names the package chromium; Ubuntu's chromium-browser is the fallback.
    apt_install chromium || apt_install chromium-browser || true
  fi
  if [ -z "$(find_browser)" ]; then
    export COURSE_SKIP_BROWSER="no Chromium, and it could not be installed (needs root or passwordless sudo, and apt-get)"
    echo "== browser tests will be SKIPPED: $COURSE_SKIP_BROWSER"
  fi
}
