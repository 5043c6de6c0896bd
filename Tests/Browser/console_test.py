#!/usr/bin/env python3
"""The web console in a real browser (headless Chromium driven by Selenium) and over raw HTTP,
against real accordd processes that the Swift test ConsoleBrowserTests starts and describes in a
JSON file (argv[2]): each node's console URL, admin socket and fresh login tokens, the accordctl
binary and where to write screenshots.

    console_test.py browser CLUSTER.json   # log in, list, open, approve on both, live update, XSS, no-JS approval
    console_test.py security CLUSTER.json  # headers, no session, Host, CSRF, single-use tokens, throttling, slowloris
    console_test.py lifecycle CLUSTER.json # the whole life of an agreement across two consoles, each page scanned by axe
    console_test.py people CLUSTER.json    # sign-in through the identity provider: Alice registers a passkey and
                                           # approves with it, Bob may only read; the evidence proves her signature

Each check prints one line; the first failure raises and exits non-zero with what was seen.
"""
import base64
import hashlib
import http.client
import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse
import uuid

CLUSTER = json.load(open(sys.argv[2]))
ACCORDCTL = CLUSTER["accordctl"]
SCREENSHOTS = CLUSTER["screenshots"]


def check(condition, what, seen=None):
    if not condition:
        raise AssertionError(f"{what}" + (f" (seen: {seen})" if seen is not None else ""))
    print(f"ok: {what}", flush=True)


def ctl(node, *arguments):
    result = subprocess.run([ACCORDCTL, *arguments, "--socket", CLUSTER[node]["socket"]], capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise AssertionError(f"accordctl {' '.join(arguments)} on {node}: {result.stderr}")
    return result.stdout.strip()


def eventually(what, condition, timeout=15.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            if condition():
                print(f"ok: {what}", flush=True)
                return
        except Exception as error:  # a page in the middle of being swapped, say
            last = error
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for: {what}" + (f" (last error: {last})" if last else ""))


# MARK: - Browser


def browser(javascript=True):
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1800", "--disable-gpu"]:
        options.add_argument(argument)
    if not javascript:
        options.add_argument("--blink-settings=scriptEnabled=false")
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(30)
    return driver


def screenshot(driver, name):
    os.makedirs(SCREENSHOTS, exist_ok=True)
    driver.save_screenshot(os.path.join(SCREENSHOTS, f"{name}.png"))


def log_in(driver, node, token):
    from selenium.webdriver.common.by import By

    url = CLUSTER[node]["url"]
    driver.get(f"{url}/agreements")
    check(driver.current_url == f"{url}/login", f"{node}: without a session the console sends the browser to the login page", driver.current_url)
    driver.find_element(By.ID, "token").send_keys(token)
    driver.find_element(By.CSS_SELECTOR, "form.login button").click()
    eventually(f"{node}: logged in, on the overview", lambda: driver.current_url == f"{url}/" and driver.find_elements(By.ID, "waiting-on-us"))


def text(driver, element_id):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, element_id).text


def approval_state(driver, party):
    """The approval state column of `party`'s row on an agreement page."""
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, f'#approvals tr[data-party="{party}"] td:nth-child(2)').text


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

        # A note and a commitment fulfilled, from the console.
        acme.find_element(By.ID, "note").send_keys("Kick-off on Monday <b>not bold</b>")
        acme.find_element(By.CSS_SELECTOR, "#add-note button").click()
        eventually("the note is added", lambda: "Kick-off on Monday <b>not bold</b>" in text(acme, "notes"))
        acme.find_element(By.CSS_SELECTOR, "#commitments button[name=fulfil]").click()
        eventually("the commitment is fulfilled", lambda: "fulfilled" in text(acme, "commitments"))
        shown = json.loads(ctl("acme", "agreements", "show", agreement, "--json"))
        check(shown["commitments"][0]["state"] == "fulfilled" and shown["notes"][-1]["text"] == "Kick-off on Monday <b>not bold</b>",
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



# MARK: - Lifecycle


def accessible(driver, page):
    """Runs the axe engine on the page shown: no serious or critical violation."""
    from axe_selenium_python import Axe

    axe = Axe(driver)
    axe.inject()
    results = axe.run()
    bad = [f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
           for v in results["violations"] if v["impact"] in ("serious", "critical")]
    check(not bad, f"axe: {page} has no serious or critical accessibility violation", bad)


def shown(driver, name, page):
    """A screenshot of the page, and its axe scan."""
    screenshot(driver, f"lifecycle-{name}")
    accessible(driver, page)


def submit(driver, form_selector):
    from selenium.webdriver.common.by import By

    driver.find_element(By.CSS_SELECTOR, f"{form_selector} button").click()


def notice(driver, words):
    from selenium.webdriver.common.by import By

    eventually(f"the page says “{words}”", lambda: words in driver.find_element(By.TAG_NAME, "main").text)


def cut_link(node, partner):
    """Drops `partner` from `node`'s configuration and reloads: the link is cut both ways (the
    partner's dials are refused)."""
    path = CLUSTER[node]["config"]
    text = open(path).read()
    CLUSTER[node]["saved-config"] = text
    blocks = text.split("[[peers]]")
    kept = [blocks[0]] + [block for block in blocks[1:] if f'organisation = "{partner}"' not in block]
    open(path, "w").write("[[peers]]".join(kept))
    ctl(node, "reload")


def restore_link(node):
    open(CLUSTER[node]["config"], "w").write(CLUSTER[node].pop("saved-config"))
    ctl(node, "reload")


def run_lifecycle():
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    acme_url, globex_url = CLUSTER["acme"]["url"], CLUSTER["globex"]["url"]
    acme, globex = browser(), browser()
    try:
        log_in(acme, "acme", CLUSTER["acme"]["tokens"][0])
        shown(acme, "overview-empty", "the overview")
        log_in(globex, "globex", CLUSTER["globex"]["tokens"][0])

        # Create on acme, in the console: parties, framework, term, a commitment.
        acme.get(f"{acme_url}/agreements/new")
        shown(acme, "new", "the new-agreement form")
        acme.find_element(By.ID, "title").send_keys("Joint GPU lab")
        Select(acme.find_element(By.ID, "category")).select_by_value("technicalResources")
        acme.find_element(By.ID, "party-globex").click()
        acme.find_element(By.ID, "framework.technicalFit").send_keys("Acme hosts, Globex operates")
        acme.execute_script("document.getElementById('effectiveFrom').value = '2027-01-01';"
                            "document.getElementById('expiresOn').value = '2027-12-31';"
                            "document.getElementById('commitment0-due').value = '2027-03-31';")
        acme.find_element(By.ID, "commitment0-description").send_keys("2,000 GPU hours per month")
        submit(acme, "#new-agreement")
        notice(acme, "Agreement created.")
        agreement = acme.current_url.split("/agreements/")[1].split("?")[0]
        check(text(acme, "title") == "Joint GPU lab" and "2,000 GPU hours per month" in text(acme, "commitments"),
              "the agreement is created with its commitment", text(acme, "commitments"))
        check("added the commitment “2,000 GPU hours per month” owed by acme" in text(acme, "history"),
              "the history says it in words", text(acme, "history"))
        shown(acme, "created", "the new agreement's page")

        # It appears on globex.
        def on_globex():
            globex.get(f"{globex_url}/agreements")
            return "Joint GPU lab" in text(globex, "agreements")
        eventually("the agreement appears on globex's console", on_globex, timeout=30)
        shown(globex, "list-globex", "globex's list")

        # acme approves; globex changes the end of the term; acme sees what changed since.
        acme.get(f"{acme_url}/agreements/{agreement}")
        check("Approve these terms as acme: “Joint GPU lab”" in text(acme, "approve-what"), "the approve control says what is approved", text(acme, "approve-what"))
        submit(acme, "#approve")
        notice(acme, "Approved.")
        globex.get(f"{globex_url}/agreements/{agreement}")
        eventually("globex sees acme's approval", lambda: approval_state(globex, "acme") == "approved")
        globex.execute_script("document.getElementById('edit-expiresOn').value = '2028-06-30';")
        globex.find_element(By.CSS_SELECTOR, "#edit-expiresOn").find_element(By.XPATH, "./ancestor::form").find_element(By.TAG_NAME, "button").click()
        notice(globex, "Saved.")
        acme.get(f"{acme_url}/agreements/{agreement}")
        eventually("acme's approval is stale after globex's change", lambda: approval_state(acme, "acme") == "stale", timeout=30)
        acme.get(f"{acme_url}/agreements/{agreement}")
        diff = acme.find_element(By.CSS_SELECTOR, '#approvals tr[data-party="acme"]').get_attribute("textContent")
        check("the end changed from 2027-12-31 to 2028-06-30" in diff, "acme sees what changed since its approval", diff)
        check("the end changed from 2027-12-31 to 2028-06-30" in text(acme, "main"), "the approve control shows the change since acme's approval")
        shown(acme, "stale", "the page of a stale approval")
        ctl_diff = ctl("acme", "agreements", "diff", agreement, "--since-approval", "acme")
        check("the end changed from 2027-12-31 to 2028-06-30" in ctl_diff, "accordctl agreements diff says the same", ctl_diff)

        # Both approve: active on both.
        submit(acme, "#approve")
        notice(acme, "Approved.")
        globex.get(f"{globex_url}/agreements/{agreement}")
        eventually("globex has acme's second approval", lambda: approval_state(globex, "acme") == "approved", timeout=30)
        submit(globex, "#approve")
        notice(globex, "Approved.")
        eventually("active on globex", lambda: text(globex, "status") == "active")
        acme.get(f"{acme_url}/agreements/{agreement}")
        eventually("active on acme", lambda: (acme.refresh() or True) and text(acme, "status") == "active", timeout=30)

        # A conflict: the link cut, both rename; healed, acme resolves it in the console.
        cut_link("acme", "globex")
        eventually("acme no longer in session with globex",
                   lambda: not any(p.get("connected") for p in json.loads(ctl("acme", "peers", "--json")) if p.get("organisation") == "globex"))
        for driver, url, title in [(acme, acme_url, "GPU lab (acme's name)"), (globex, globex_url, "GPU lab (globex's name)")]:
            driver.get(f"{url}/agreements/{agreement}")
            field = driver.find_element(By.ID, "edit-title")
            field.clear()
            field.send_keys(title)
            field.find_element(By.XPATH, "./ancestor::form").find_element(By.TAG_NAME, "button").click()
            notice(driver, "Saved.")
        restore_link("acme")
        def conflicted():
            acme.get(f"{acme_url}/agreements/{agreement}")
            return bool(acme.find_elements(By.ID, "conflicts-table"))
        eventually("after healing, acme shows the conflict on the title", conflicted, timeout=60)
        shown(acme, "conflict", "the page of a conflict")
        keep = [b for b in acme.find_elements(By.CSS_SELECTOR, "#conflicts-table form button") if b.text == "Keep this value"]
        globex_value = [li for li in acme.find_elements(By.CSS_SELECTOR, "#conflicts-table li") if "globex's name" in li.text][0]
        globex_value.find_element(By.TAG_NAME, "button").click()
        notice(acme, "Conflict resolved.")
        check(text(acme, "title") == "GPU lab (globex's name)" and not acme.find_elements(By.ID, "conflicts-table"),
              "acme resolved it by keeping globex's title", text(acme, "title"))
        check(len(keep) == 2, "each value of the conflict could be kept", len(keep))
        def globex_settled():
            globex.get(f"{globex_url}/agreements/{agreement}")
            return text(globex, "title") == "GPU lab (globex's name)" and not globex.find_elements(By.ID, "conflicts-table")
        eventually("globex has the resolution", globex_settled, timeout=30)

        # acme marks its commitment fulfilled; globex may only waive what acme owes it.
        check(not globex.find_elements(By.CSS_SELECTOR, "#commitments button[name=fulfil]"), "globex is offered no 'Mark fulfilled' on acme's commitment")
        check(globex.find_elements(By.CSS_SELECTOR, "#commitments button[name=waive]"), "globex may waive what acme owes it")
        acme.get(f"{acme_url}/agreements/{agreement}")
        check(not acme.find_elements(By.CSS_SELECTOR, "#commitments button[name=waive]"), "acme is offered no 'Waive' on its own commitment")
        acme.find_element(By.CSS_SELECTOR, "#commitments button[name=fulfil]").click()
        notice(acme, "Commitment marked fulfilled.")
        check("fulfilled" in text(acme, "commitments"), "the commitment is fulfilled")

        # Terminate, after a confirmation that says what it does.
        acme.find_element(By.ID, "terminate").click()
        eventually("the confirmation page", lambda: acme.find_elements(By.ID, "consequence"))
        check("cannot be undone" in text(acme, "consequence") and "globex" in text(acme, "consequence"), "it states the consequence", text(acme, "consequence"))
        shown(acme, "terminate", "the termination confirmation")
        acme.find_element(By.ID, "reason").send_keys("The pilot ends")
        submit(acme, "#confirm-terminate")
        notice(acme, "The agreement is terminated.")
        check(text(acme, "status") == "terminated", "terminated on acme")
        def globex_terminated():
            globex.get(f"{globex_url}/agreements/{agreement}")
            return text(globex, "status") == "terminated"
        eventually("terminated on globex", globex_terminated, timeout=30)
        shown(globex, "terminated", "a terminated agreement's page")

        # The other pages, scanned too.
        for path, name in [("/", "overview"), ("/agreements?view=waiting-on-us", "list-waiting"), ("/conflicts", "conflicts"), ("/node", "node"),
                           ("/passkeys", "passkeys")]:
            acme.get(f"{acme_url}{path}")
            shown(acme, name, path)
    finally:
        acme.quit()
        globex.quit()


# MARK: - People


def sign_in(driver, node, subject):
    """Signs `subject` in at `node`'s console through the identity provider's own page."""
    from selenium.webdriver.common.by import By

    url = CLUSTER[node]["url"]
    driver.get(f"{url}/login")
    driver.find_element(By.ID, "sign-in").click()
    eventually(f"{subject}: at the identity provider", lambda: driver.current_url.startswith(CLUSTER["provider"]))
    driver.find_element(By.CSS_SELECTOR, f'button[name="sub"][value="{subject}"]').click()
    eventually(f"{subject}: back at {node}'s console, signed in, on the overview",
               lambda: driver.current_url == f"{url}/" and driver.find_elements(By.ID, "person"))


def add_authenticator(driver):
    """Chromium's virtual authenticator (WebDriver's WebAuthn extension): a platform passkey that
    verifies its user."""
    from selenium.webdriver.common.virtual_authenticator import Protocol, Transport, VirtualAuthenticatorOptions

    driver.add_virtual_authenticator(VirtualAuthenticatorOptions(
        protocol=Protocol.CTAP2, transport=Transport.INTERNAL, has_resident_key=True, has_user_verification=True, is_user_verified=True))


def register_passkey(driver, who):
    from selenium.webdriver.common.by import By

    driver.get(f"{CLUSTER['acme']['url']}/passkeys")
    driver.find_element(By.ID, "passkey-name").send_keys("laptop")
    driver.find_element(By.CSS_SELECTOR, "#register-passkey button").click()
    eventually(f"{who} registered a passkey", lambda: "Passkey registered." in driver.find_element(By.TAG_NAME, "main").text)
    check(len(driver.find_elements(By.CSS_SELECTOR, "#passkeys tbody tr")) == 1, f"{who}'s passkeys page lists it")


def approval_challenge(agreement, terms):
    """What a passkey signs to approve `terms` of `agreement`: SHA-256 of the approval's signed
    message (docs/encoding.md, "Passkey signature"), base64url."""
    message = b"accord/approval/v1\n" + uuid.UUID(agreement).bytes + bytes.fromhex(terms)
    return base64.urlsafe_b64encode(hashlib.sha256(message).digest()).rstrip(b"=").decode()


def assertion(driver, challenge):
    """The browser's passkey assertion over `challenge` (base64url), as the approve form sends it."""
    return driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const encode = b => btoa(String.fromCharCode(...new Uint8Array(b))).replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");
        const bytes = t => Uint8Array.from(atob(t.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((t.length + 3) % 4)), c => c.charCodeAt(0));
        navigator.credentials.get({publicKey: {challenge: bytes(arguments[0]), rpId: "localhost", userVerification: "required"}})
          .then(a => done({credential: encode(a.rawId), authenticatorData: encode(a.response.authenticatorData),
                           clientDataJSON: encode(a.response.clientDataJSON), signature: encode(a.response.signature)}), e => done(String(e)));
        """, challenge)


def post_form(driver, path, fields):
    """POSTs a form from the page, as a crafted request would; returns the status."""
    return driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0], {method: 'POST', headers: {'Content-Type': 'application/x-www-form-urlencoded'}, body: arguments[1]})"
        ".then(answer => done(answer.status), () => done(0));",
        path, urllib.parse.urlencode(fields),
    )


def run_people():
    from selenium.webdriver.common.by import By

    agreement = CLUSTER["agreement"]
    url = CLUSTER["acme"]["url"]
    alice, bob = browser(), browser()
    try:
        sign_in(alice, "acme", "alice")
        check("Alice Chen" in text(alice, "person") and "approver" in text(alice, "person"), "Alice is shown with her role", text(alice, "person"))
        sign_in(bob, "acme", "bob")
        check("Bob Stone" in text(bob, "person") and "viewer" in text(bob, "person"), "Bob is shown with his role", text(bob, "person"))

        bob.get(f"{url}/agreements/{agreement}")
        eventually("Bob sees the agreement", lambda: text(bob, "title") == "GPU cluster sharing")
        check(not bob.find_elements(By.ID, "approve") and not bob.find_elements(By.ID, "add-note"), "Bob has no approve control and no note form")
        screenshot(bob, "people-bob-viewer")
        # Bob crafts the approval from his own page: his session's CSRF token, the terms shown.
        csrf = bob.find_element(By.CSS_SELECTOR, 'input[name="csrf"]').get_attribute("value")
        terms = text(bob, "terms-hash")
        status = post_form(bob, f"/agreements/{agreement}/approve", {"csrf": csrf, "termsHash": terms})
        check(status == 403, "Bob's crafted approval is refused with 403", status)

        # acme requires passkeys: until Alice has one, she has no approve control, and a crafted
        # approval without one is refused.
        alice.get(f"{url}/agreements/{agreement}")
        eventually("Alice is asked to register a passkey before she can approve", lambda: alice.find_elements(By.ID, "approve-needs-passkey"))
        check(not alice.find_elements(By.ID, "approve"), "Alice has no approve control without a passkey")
        alice_csrf = alice.find_element(By.CSS_SELECTOR, 'input[name="csrf"]').get_attribute("value")
        status = post_form(alice, f"/agreements/{agreement}/approve", {"csrf": alice_csrf, "termsHash": terms})
        check(status == 403, "Alice's approval without a passkey is refused with 403", status)

        add_authenticator(alice)
        add_authenticator(bob)
        register_passkey(alice, "Alice")
        screenshot(alice, "people-alice-passkeys")
        register_passkey(bob, "Bob")

        # Bob's passkey, signing exactly these terms, sent in Alice's session: not hers.
        bobs = assertion(bob, approval_challenge(agreement, terms))
        check(isinstance(bobs, dict), "Bob's authenticator signs the approval's challenge", bobs)
        status = post_form(alice, f"/agreements/{agreement}/approve", {"csrf": alice_csrf, "termsHash": terms, **bobs})
        check(status == 422, "an approval with another person's passkey is refused", status)
        # Alice's passkey over other terms' challenge, and over another agreement's.
        for label, challenge in [("other terms", approval_challenge(agreement, "00" * 32)),
                                 ("another agreement", approval_challenge(str(uuid.uuid4()), terms))]:
            signed = assertion(alice, challenge)
            check(isinstance(signed, dict), f"Alice's authenticator signs the challenge of {label}", signed)
            status = post_form(alice, f"/agreements/{agreement}/approve", {"csrf": alice_csrf, "termsHash": terms, **signed})
            check(status == 422, f"an assertion over {label} is refused", status)
        alice.get(f"{url}/agreements/{agreement}")
        check(approval_state(alice, "acme") == "not yet", "nothing was approved by the refused attempts", approval_state(alice, "acme"))

        alice.get(f"{url}/agreements/{agreement}")
        eventually("Alice sees the passkey approve control", lambda: alice.find_elements(By.CSS_SELECTOR, "#approve[data-passkey=approve]"))
        alice.find_element(By.CSS_SELECTOR, "#approve button").click()
        eventually("Alice approved with her passkey", lambda: "Approved." in alice.find_element(By.TAG_NAME, "main").text)
        approvals = text(alice, "approvals")
        check("Alice Chen (acme) via acme/node1" in approvals, "the approval names Alice", approvals)
        check("passkey of Alice Chen (acme)" in approvals, "the approval is signed with Alice's passkey", approvals)
        screenshot(alice, "people-alice-approved")

        def globex_shows_alices_passkey():
            shown = json.loads(ctl("globex", "agreements", "show", agreement, "--json"))
            return [(approval["by"], (approval.get("passkey") or "").startswith("passkey of Alice Chen (acme)")) for approval in shown["approvals"]] \
                == [("Alice Chen (acme) via acme/node1", True)]

        eventually("globex's node shows the approval as Alice Chen's of acme, signed with her passkey", globex_shows_alices_passkey)

        # globex's evidence bundle proves her signature with sh and openssl alone.
        folder = os.path.join(os.path.dirname(sys.argv[2]), "evidence-globex")
        ctl("globex", "agreements", "evidence", agreement, "--out", folder)
        verified = subprocess.run(["sh", os.path.join(folder, "verify.sh")], capture_output=True, text=True, timeout=120,
                                  env={"PATH": "/usr/bin:/bin"})
        check(verified.returncode == 3 and "is signed by the passkey of \"alice\", as acme/node1 states" in verified.stdout,
              "verify.sh of globex's bundle proves Alice's passkey signature with openssl (globex has not approved: exit 3)", verified.stdout)
        people = open(os.path.join(folder, "people.txt")).read()
        check('approval signed by the passkey of "alice"' in people and 'relying party "localhost"' in people, "people.txt names her passkey", people)
    finally:
        alice.quit()
        bob.quit()


if __name__ == "__main__":
    {"browser": run_browser, "security": run_security, "people": run_people, "lifecycle": run_lifecycle}[sys.argv[1]]()
    print("all checks passed", flush=True)
