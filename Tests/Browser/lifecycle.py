"""The whole life of an agreement across acme's and globex's consoles, every page scanned by axe."""
import json

from support import CLUSTER, approval_state, browser, check, ctl, eventually, log_in, notice, shown, submit, text


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
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    acme_url, globex_url = CLUSTER["acme"]["url"], CLUSTER["globex"]["url"]
    acme, globex = browser(), browser()
    try:
        acme.get(f"{acme_url}/login")
        shown(acme, "login", "the login page")
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
        # With the keyboard alone: Tab to the approve button, Enter.
        reached = False
        for _ in range(80):
            ActionChains(acme).send_keys(Keys.TAB).perform()
            if acme.execute_script("return document.activeElement !== null && document.activeElement.closest('#approve') !== null"):
                reached = True
                break
        check(reached, "the approve control is reached with the Tab key")
        ActionChains(acme).send_keys(Keys.ENTER).perform()
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

        # Fulfilment between the parties: acme, which owes, claims; globex, owed, disputes, then
        # confirms the second claim. Each console offers only its own side's steps.
        check(not globex.find_elements(By.CSS_SELECTOR, "#commitments button[name=claim]"), "globex is offered no 'Claim' on acme's commitment")
        check(globex.find_elements(By.CSS_SELECTOR, "#commitments button[name=waive]"), "globex may waive what acme owes it")
        acme.get(f"{acme_url}/agreements/{agreement}")
        check(not acme.find_elements(By.CSS_SELECTOR, "#commitments button[name=waive]"), "acme is offered no 'Waive' on its own commitment")
        acme.find_element(By.CSS_SELECTOR, "#commitments form.step input[name=text]").send_keys("2,000 hours delivered")
        acme.find_element(By.CSS_SELECTOR, "#commitments button[name=claim]").click()
        notice(acme, "Fulfilment claimed.")
        check("claimed" in text(acme, "commitments") and "2,000 hours delivered" in text(acme, "commitments"), "acme's claim is shown with its note")
        check(not acme.find_elements(By.CSS_SELECTOR, "#commitments button[name=confirm]"), "acme cannot confirm its own claim")
        def globex_sees(state, button):
            globex.get(f"{globex_url}/agreements/{agreement}")
            return state in text(globex, "commitments") and globex.find_elements(By.CSS_SELECTOR, f"#commitments button[name={button}]")
        eventually("globex is asked to confirm or dispute acme's claim", lambda: globex_sees("claimed", "dispute"), timeout=30)
        shown(globex, "claimed", "a claimed commitment's page")
        globex.find_element(By.CSS_SELECTOR, "#commitments form.step input[name=text]").send_keys("Only 1,200 hours arrived")
        globex.find_element(By.CSS_SELECTOR, "#commitments button[name=dispute]").click()
        notice(globex, "Claim disputed: the commitment is open again.")
        check("disputed" in text(globex, "commitments") and "Only 1,200 hours arrived" in text(globex, "commitments"), "globex's dispute is shown with its reason")
        def acme_may_claim_again():
            acme.get(f"{acme_url}/agreements/{agreement}")
            return "disputed" in text(acme, "commitments") and acme.find_elements(By.CSS_SELECTOR, "#commitments button[name=claim]")
        eventually("acme sees the dispute and may claim again", acme_may_claim_again, timeout=30)
        acme.find_element(By.CSS_SELECTOR, "#commitments button[name=claim]").click()
        notice(acme, "Fulfilment claimed.")
        eventually("globex sees the second claim", lambda: globex_sees("claimed", "confirm"), timeout=30)
        globex.find_element(By.CSS_SELECTOR, "#commitments button[name=confirm]").click()
        notice(globex, "Fulfilment confirmed.")
        check("fulfilled" in text(globex, "commitments"), "the commitment is fulfilled on globex")
        def acme_fulfilled():
            acme.get(f"{acme_url}/agreements/{agreement}")
            return "fulfilled" in text(acme, "commitments")
        eventually("fulfilled on acme", acme_fulfilled, timeout=30)

        # Terminate, after a confirmation that says what it does.
        acme.find_element(By.ID, "terminate").click()
        eventually("the confirmation page", lambda: acme.find_elements(By.ID, "consequence"))
        check("cannot be undone" in text(acme, "consequence") and "globex" in text(acme, "consequence"), "it states the consequence", text(acme, "consequence"))
        shown(acme, "terminate", "the termination confirmation")
        acme.find_element(By.ID, "reason").send_keys("The pilot ends")
        submit(acme, "#confirm-terminate")
        notice(acme, "Termination recorded.")
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
