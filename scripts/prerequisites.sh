#!/usr/bin/env bash
# Installs the Debian packages Accord builds and runs against, if any is missing: the system
# OpenSSL (libssl-dev, openssl), SQLite (libsqlite3-dev) and pkg-config; and for the tests,
# util-linux (chrt, setpriv: the attack tests run their attacker under SCHED_IDLE and probe the
# admin socket as another user) and python3 (that probe). Sourced by the README's commands and by
# CI, so a fresh machine needs nothing else but Swift.
accord_install_prerequisites() {
    accord_apt_install libssl-dev libsqlite3-dev openssl pkg-config util-linux python3
}

# What the web console's browser tests need on top: Debian's chromium and chromium-driver, and
# Selenium and axe-selenium-python (the axe accessibility engine) from PyPI for the python3 the
# tests run (Tests/Browser/console_test.py).
accord_install_browser_test_prerequisites() {
    accord_apt_install chromium chromium-driver
    if ! python3 -c "import selenium" 2>/dev/null; then
        echo "Installing: selenium (PyPI)"
        accord_pip_install selenium
    fi
    if ! python3 -c "import axe_selenium_python" 2>/dev/null; then
        echo "Installing: axe-selenium-python (PyPI)"
        accord_pip_install "axe-selenium-python==2.1.6"
    fi
}

# What the monitoring tests need (MonitoringTests): a real Prometheus server and promtool, from
# Debian's prometheus (without its recommended exporters), and curl to read Prometheus's API.
accord_install_monitoring_test_prerequisites() {
    if ! dpkg-query -W -f='${Status}' prometheus 2>/dev/null | grep -q "install ok installed"; then
        ACCORD_APT_OPTIONS="--no-install-recommends" accord_apt_install prometheus
    fi
    accord_apt_install curl
}

# What the sign-in tests need (PeopleTests): a real OpenID Connect provider process,
# oidc-provider-mock from PyPI (0.3.4: the last release for Python 3.11, with the Authlib it was
# released against).
accord_install_people_test_prerequisites() {
    if ! python3 -c "import oidc_provider_mock" 2>/dev/null; then
        echo "Installing: oidc-provider-mock (PyPI)"
        accord_pip_install "oidc-provider-mock==0.3.4" "Authlib==1.9.10"
    fi
}

# What the admin API's fuzzing needs (scripts/api-fuzz.sh): socat, to carry a loopback port to
# the Unix socket, and schemathesis from PyPI.
accord_install_api_fuzz_prerequisites() {
    accord_apt_install socat
    if ! python3 -c "import schemathesis" 2>/dev/null; then
        echo "Installing: schemathesis (PyPI)"
        accord_pip_install schemathesis
    fi
}

# Installs a PyPI package for the python3 the scripts run. A Debian python3 refuses pip without
# the flag (PEP 668); another python3 takes it as is.
accord_pip_install() {
    python3 -m pip install --quiet --root-user-action=ignore "$@" \
        || python3 -m pip install --quiet --root-user-action=ignore --break-system-packages "$@"
}

# Installs those of the Debian packages named that are missing.
accord_apt_install() {
    local missing=() package
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    if ((${#missing[@]})); then
        echo "Installing: ${missing[*]}"
        local sudo=""
        [ "$(id -u)" -ne 0 ] && sudo="sudo"
        $sudo apt-get update -qq
        # shellcheck disable=SC2086 # the options are words
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq ${ACCORD_APT_OPTIONS:-} "${missing[@]}"
    fi
}
