#!/usr/bin/env python3
"""The web console in a real browser (headless Chromium driven by Selenium) and over raw HTTP,
against real accordd processes that the Swift test ConsoleBrowserTests starts and describes in a
JSON file (argv[2]): each node's console URL, admin socket and fresh login tokens, the accordctl
binary and where to write screenshots.

    console_test.py browser CLUSTER.json   # log in, list, open, approve on both, live update, XSS, no-JS approval
    console_test.py security CLUSTER.json  # headers, no session, Host, CSRF, single-use tokens, throttling, slowloris
    console_test.py lifecycle CLUSTER.json # (lifecycle.py) the whole life of an agreement across two consoles, each page scanned by axe
    console_test.py people CLUSTER.json    # (people.py) sign-in through the identity provider: Alice registers a passkey and
                                           # approves with it, Bob may only read; the evidence proves her signature

Each check prints one line; the first failure raises and exits non-zero with what was seen.
"""
import http.client
import json
import os
import socket
import sys
import time
import urllib.parse

from support import CLUSTER, approval_state, browser, check, ctl, eventually, log_in, screenshot, text


def run_browser():
    from selenium.webdriver.common.by import By

    acme_url, globex_url = CLUSTER["acme"]["url"], CLUSTER["globex"]["url"]
    hostile_title = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2"><b>Bold</b> GPU pool'
    agreement = ctl("acme", "agreements", "create", "--title", hostile_title, "--category", "technicalResources",
                    "--party", "acme", "--party", "globex", "--framework", "technicalFit=Acme hosts, Globex operates")
    ctl("acme", "agreements", "commitment", agreement, "add", "--by", "acme", "--kind", "freeResource", "--description", "2,000 GPU hours a month")
    ctl("acme", "sync", "--peer", "globex", "--wait", "--timeout", "30")

    acme, globex = browser(), browser()
    try:
        log_in(acme, "acme", CLUSTER["acme"]["tokens"][0])
        check("GPU pool" in text(acme, "waiting-on-us"), "the overview lists the new agreement as waiting for acme's approval",
              text(acme, "waiting-on-us"))
        screenshot(acme, "overview")
        acme.get(f"{acme_url}/node")
        eventually("acme's node page shows globex's node connected",
                   lambda: "globex/node1" in text(acme, "peers") and "connected" in text(acme, "peers"))
        check("Certificate expires" in acme.page_source and text(acme, "certificate"), "the node page shows this node's certificate expiry")
        screenshot(acme, "node")
        log_in(globex, "globex", CLUSTER["globex"]["tokens"][0])

        # The list, filtered and searched.
        acme.get(f"{acme_url}/agreements?status=draft&q=gpu+pool")
        rows = acme.find_elements(By.CSS_SELECTOR, "#agreements tbody tr")
        check(len(rows) == 1 and "Bold" in rows[0].text, "the list filters by status and finds the agreement by title",
              [row.text for row in rows] or acme.find_element(By.ID, "main").text)
        acme.get(f"{acme_url}/agreements?status=active")
        check(not acme.find_elements(By.CSS_SELECTOR, "#agreements tbody tr"), "a status filter leaves out what does not match")
        acme.get(f"{acme_url}/agreements?party=acme")
        screenshot(acme, "agreements")

        # The agreement page: a hostile title is shown as text and nothing of it runs.
        acme.get(f"{acme_url}/agreements/{agreement}")
        check(text(acme, "title") == hostile_title, "a title holding <script> and HTML is shown as its characters", text(acme, "title"))
        check(acme.execute_script("return window.__xss") is None, "nothing of the title ran")
        check(not acme.find_elements(By.CSS_SELECTOR, "#title b, #title img, #title script"), "no element was made from the title")
        check("Acme hosts, Globex operates" in acme.page_source and "2,000 GPU hours a month" in text(acme, "commitments"),
              "the page shows the framework and the commitments")
        check(text(acme, "status") == "draft", "the agreement is a draft", text(acme, "status"))

        # Approvals on both consoles; acme's open page follows without a reload.
        acme.execute_script("window.__marker = 42")
        acme.find_element(By.CSS_SELECTOR, "#approve button").click()
        eventually("acme's approval is confirmed", lambda: "Approved." in acme.page_source)
        acme.execute_script("window.__marker = 42")
        globex.get(f"{globex_url}/agreements/{agreement}")
        eventually("globex's console has acme's approval", lambda: "approved" in approval_state(globex, "acme"))
        globex.find_element(By.CSS_SELECTOR, "#approve button").click()
        eventually("active on globex's console", lambda: text(globex, "status") == "active")
        eventually("active on acme's open page, without a reload", lambda: text(acme, "status") == "active", timeout=20)
        check(acme.execute_script("return window.__marker") == 42, "acme's page was updated in place, not reloaded")
        screenshot(acme, "agreement-active")

        # An edit made with accordctl on globex appears on acme's open page.
        ctl("globex", "agreements", "set", agreement, "title", "Renamed on globex")
        eventually("globex's edit appears on acme's open page", lambda: text(acme, "title") == "Renamed on globex", timeout=20)
        check(acme.execute_script("return window.__marker") == 42, "still the same page")
        eventually("acme's page shows the approvals stale after the change of terms", lambda: "stale" in text(acme, "approvals"))

        # A note, and acme's claim that it kept its commitment, from the console.
        acme.find_element(By.ID, "note").send_keys("Kick-off on Monday <b>not bold</b>")
        acme.find_element(By.CSS_SELECTOR, "#add-note button").click()
        eventually("the note is added", lambda: "Kick-off on Monday <b>not bold</b>" in text(acme, "notes"))
        acme.find_element(By.CSS_SELECTOR, "#commitments button[name=claim]").click()
        eventually("the commitment is claimed", lambda: "claimed" in text(acme, "commitments"))
        shown = json.loads(ctl("acme", "agreements", "show", agreement, "--json"))
        check(shown["commitments"][0]["state"] == "claimed" and shown["notes"][-1]["text"] == "Kick-off on Monday <b>not bold</b>",
              "accordctl shows what the console did")

        # An action without the CSRF token, from the page's own origin, is refused.
        status = acme.execute_async_script(
            "var done = arguments[arguments.length - 1];"
            f"fetch('/agreements/{agreement}/notes', {{method: 'POST', headers: {{'Content-Type': 'application/x-www-form-urlencoded'}}, body: 'text=forged'}})"
            ".then(function (r) { done(r.status); });")
        check(status == 403, "a note posted without the CSRF token is refused with 403", status)
        check("forged" not in ctl("acme", "agreements", "show", agreement, "--json"), "and nothing was written")

        # Without JavaScript the pages work, and an approval of terms that changed since the page
        # was shown is refused, saying so.
        plain = browser(javascript=False)
        try:
            log_in(plain, "acme", CLUSTER["acme"]["tokens"][1])
            plain.get(f"{acme_url}/agreements/{agreement}")
            check(not plain.find_element(By.ID, "live").is_displayed(), "no script runs in this browser (the live badge stays hidden)")
            shown_hash = text(plain, "terms-hash")
            ctl("acme", "agreements", "set", agreement, "framework.dataProtection", "No personal data leaves the EU")
            plain.find_element(By.CSS_SELECTOR, "#approve button").click()
            # A click submits the form; the answer is a new page, waited for (not read at once).
            eventually("an approval of changed terms is refused and the page says so",
                       lambda: "the terms changed since this page showed them" in plain.page_source)
            check(text(plain, "terms-hash") != shown_hash, "the page now shows the new terms")
            screenshot(plain, "approval-refused")
            plain.find_element(By.CSS_SELECTOR, "#approve button").click()
            eventually("approving the terms now shown works, without JavaScript", lambda: "Approved." in plain.page_source)
        finally:
            plain.quit()

        acme.get(f"{acme_url}/conflicts")
        screenshot(acme, "conflicts")
        globex.get(f"{globex_url}/")
        screenshot(globex, "overview-globex")
    finally:
        acme.quit()
        globex.quit()


# MARK: - Raw HTTP


def request(node, method, path, body=None, headers=None, host=None):
    parsed = urllib.parse.urlparse(CLUSTER[node]["url"])
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=15)
    all_headers = {"Host": host or parsed.netloc}
    all_headers.update(headers or {})
    if body is not None:
        all_headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
    connection.request(method, path, body=body, headers=all_headers)
    response = connection.getresponse()
    content = response.read().decode("utf-8", "replace")
    connection.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, content


def session(node, token):
    status, headers, _ = request(node, "POST", "/login", body=urllib.parse.urlencode({"token": token}))
    check(status == 303 and "set-cookie" in headers, f"{node}: a valid token opens a session", status)
    cookie = headers["set-cookie"]
    check("HttpOnly" in cookie and "SameSite=Strict" in cookie, "the session cookie is HttpOnly and SameSite=Strict", cookie)
    return cookie.split(";")[0]


def run_security():
    node = "acme"
    port = urllib.parse.urlparse(CLUSTER[node]["url"]).port

    status, headers, _ = request(node, "GET", "/login")
    csp = headers.get("content-security-policy", "")
    check(status == 200 and "script-src 'self'" in csp and "default-src 'none'" in csp and "frame-ancestors 'none'" in csp,
          "every answer carries a Content-Security-Policy without inline script", csp)
    for header, value in [("x-content-type-options", "nosniff"), ("x-frame-options", "DENY"), ("referrer-policy", "same-origin"),
                          ("cache-control", "no-store")]:
        check(headers.get(header) == value, f"{header}: {value}", headers.get(header))

    status, headers, _ = request(node, "GET", "/")
    check(status == 303 and headers.get("location") == "/login", "a page without a session redirects to the login page", status)
    for path in ["/events", "/agreements/00000000-0000-0000-0000-000000000000/notes"]:
        status, _, _ = request(node, "POST" if "notes" in path else "GET", path, body="text=x" if "notes" in path else None)
        check(status == 401, f"{path} without a session: 401", status)
    status, _, _ = request(node, "GET", "/login", host=f"rebound.example:{port}")
    check(status == 421, "a request for another host name (DNS rebinding) is refused", status)

    cookie = session(node, CLUSTER[node]["tokens"][0])
    status, _, body = request(node, "GET", "/", headers={"Cookie": cookie})
    check(status == 200 and "agreements at a glance" in body, "the session shows the overview", status)
    # Pages stay bounded: 100 agreements a page, with links to the others.
    rows = "title,category,parties\r\n" + "".join(f"Paged {index},fullSupport,acme;globex\r\n" for index in range(150))
    path = os.path.join(os.path.dirname(sys.argv[2]), "paged.csv")
    with open(path, "w") as file:
        file.write(rows)
    ctl(node, "agreements", "import", path)
    status, _, body = request(node, "GET", "/agreements?q=paged", headers={"Cookie": cookie})
    check(status == 200 and body.count('<a href="/agreements/') == 100 and "page 1 of 2 (150 agreements)" in body,
          "the agreement list shows 100 a page and says how many there are", body.count('<a href="/agreements/'))
    status, _, body = request(node, "GET", "/agreements?q=paged&page=2", headers={"Cookie": cookie})
    check(body.count('<a href="/agreements/') == 50 and 'rel="prev"' in body, "the second page holds the rest")

    status, _, _ = request(node, "POST", "/logout", body="csrf=wrong", headers={"Cookie": cookie})
    check(status == 403, "an action with a wrong CSRF token is refused", status)
    status, _, _ = request(node, "POST", "/login", body=urllib.parse.urlencode({"token": CLUSTER[node]["tokens"][0]}))
    check(status == 401, "a token opens one session only", status)
    status, _, _ = request(node, "POST", "/login", body=urllib.parse.urlencode({"token": CLUSTER[node]["tokens"][1]}),
                           headers={"Origin": "http://evil.example"})
    check(status == 403, "a login posted from another origin is refused", status)

    # A slow client (slowloris) is cut off: the request must arrive whole within 10 s.
    started = time.monotonic()
    slow = socket.create_connection(("127.0.0.1", port))
    slow.sendall(b"GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    slow.settimeout(20)
    try:
        closed = slow.recv(1) == b""
    except ConnectionResetError:
        closed = True
    elapsed = time.monotonic() - started
    check(closed and elapsed < 15, f"a request trickled in is cut off after {elapsed:.1f} s", elapsed)

    # Failed logins are throttled per source: five within a minute (the reused token above was
    # the first), then 429.
    statuses = [request(node, "POST", "/login", body="token=guess")[0] for _ in range(6)]
    check(statuses == [401] * 4 + [429] * 2, "the sixth failed login within a minute is answered 429", statuses)
    status, headers, _ = request(node, "POST", "/login", body=urllib.parse.urlencode({"token": CLUSTER[node]["tokens"][2]}))
    check(status == 429 and int(headers.get("retry-after", "0")) > 0, "even a valid token waits while the source is throttled", status)


if __name__ == "__main__":
    from lifecycle import run_lifecycle
    from people import run_people

    {"browser": run_browser, "security": run_security, "people": run_people, "lifecycle": run_lifecycle}[sys.argv[1]]()
    print("all checks passed", flush=True)
