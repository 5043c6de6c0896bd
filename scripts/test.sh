#!/usr/bin/env bash
# The test command: installs what a fresh Debian machine lacks, then runs every test (swift test),
# including the end-to-end tests that start real accordd processes and drive them with accordctl,
# the web console's tests in headless Chromium (screenshots in .build/console-screenshots), and
# the monitoring tests with a real Prometheus server.
# One test at a time: several measure latency or memory, and two cores shared with real daemons,
# a chaos of TLS handshakes and a crash test make timings meaningless.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/prerequisites.sh
accord_install_prerequisites
accord_install_browser_test_prerequisites
accord_install_monitoring_test_prerequisites
accord_install_people_test_prerequisites

swift test --no-parallel 2>&1 | tee test.log
status=${PIPESTATUS[0]}
echo "--- closing lines of the test run ---"
tail -n 3 test.log
exit "$status"
