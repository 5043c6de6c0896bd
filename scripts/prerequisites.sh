#!/usr/bin/env bash
# Installs the Debian packages Accord builds and runs against, if any is missing: the system
# OpenSSL (libssl-dev, openssl), SQLite (libsqlite3-dev) and pkg-config; and for the tests,
# util-linux (chrt, setpriv: the attack tests run their attacker under SCHED_IDLE and probe the
# admin socket as another user) and python3 (that probe). Sourced by the README's commands and by
# CI, so a fresh machine needs nothing else but Swift.
accord_install_prerequisites() {
    local missing=() package
    for package in libssl-dev libsqlite3-dev openssl pkg-config util-linux python3; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    if ((${#missing[@]})); then
        echo "Installing: ${missing[*]}"
        local sudo=""
        [ "$(id -u)" -ne 0 ] && sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
    fi
}
