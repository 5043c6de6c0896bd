"""Sign-in through the identity provider, roles, and approvals signed with a passkey."""
import base64
import hashlib
import json
import os
import subprocess
import sys
import urllib.parse
import uuid

from support import CLUSTER, approval_state, browser, check, ctl, eventually, screenshot, text


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
