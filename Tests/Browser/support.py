"""What the browser suites share: the cluster the Swift test describes (argv[2]), accordctl,
checks that print one line each, a headless Chromium, screenshots and the axe scan."""
import json
import os
import subprocess
import sys
import time

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
