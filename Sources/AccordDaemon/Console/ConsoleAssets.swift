/// The console's style sheet and script, embedded in the binary: no build step, no CDN, no
/// external font. Served from the console's own origin, the only one its Content-Security-Policy
/// allows.
enum ConsoleAssets {
    static let css = """
        :root { font-family: system-ui, sans-serif; color: #1d2430; background: #f7f8fa; }
        body { margin: 0; }
        header { display: flex; gap: 1.5rem; align-items: center; padding: .6rem 1.2rem; background: #1d2430; color: #fff; }
        header a { color: #fff; margin-right: 1rem; text-decoration: none; font-weight: 600; }
        header .node { margin-left: auto; } header .meta { color: #d5dbe3; }
        main { padding: 1rem 1.5rem 3rem; max-width: 72rem; }
        h1 { margin: .4rem 0 .6rem; } h2 { margin-top: 1.6rem; font-size: 1.15rem; }
        table { border-collapse: collapse; width: 100%; background: #fff; }
        th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid #e3e6ea; vertical-align: top; }
        th { font-size: .85rem; color: #5a6473; }
        dl.facts, dl.framework { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; }
        dt { color: #5a6473; } dd { margin: 0; }
        code { font-size: .85em; }
        .status { padding: .1rem .5rem; border-radius: .6rem; background: #e3e6ea; font-size: .85rem; }
        .status.active { background: #cdebd6; } .status.proposed { background: #fbe7b5; }
        .status.terminated, .status.expired { background: #f3c9c9; }
        .ok { color: #1b7a3a; } .bad { color: #a3271f; }
        .notice { background: #cdebd6; padding: .5rem .8rem; } .error { background: #f3c9c9; padding: .5rem .8rem; }
        .hint, .meta { color: #5a6473; font-size: .85rem; }
        .live { background: #1b7a3a; border-radius: .5rem; padding: 0 .4rem; font-size: .75rem; }
        form.inline { display: inline; } form.filters { display: flex; gap: 1rem; margin-bottom: 1rem; flex-wrap: wrap; }
        form.login { display: grid; gap: .5rem; max-width: 24rem; }
        ol.timeline { padding-left: 1.2rem; } ol.timeline ul { margin: .2rem 0 .6rem; }
        button { cursor: pointer; }
        a.button { display: inline-block; padding: .3rem .8rem; background: #1d2430; color: #fff; border-radius: .3rem; text-decoration: none; }
        a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible, textarea:focus-visible, summary:focus-visible { outline: 3px solid #2f6fdf; outline-offset: 2px; }
        ul.warnings { background: #fbe7b5; padding: .5rem 1.5rem; } tr.overdue td, li.overdue { background: #f9dede; }
        .field-error { background: #f3c9c9; padding: 0 .4rem; } .visually-hidden { position: absolute; left: -10000px; width: 1px; height: 1px; overflow: hidden; }
        table.terms th { width: 12rem; } form.edit-field textarea { width: 24rem; } ul.diff { margin: .2rem 0; }
        form.stacked { display: grid; gap: .4rem; max-width: 40rem; } fieldset { border: 1px solid #e3e6ea; }
        .cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(22rem, 1fr)); gap: 1rem; }
        section.card { background: #fff; padding: .2rem 1rem .8rem; border: 1px solid #e3e6ea; } .count { color: #5a6473; font-weight: normal; }
        span.party.approved { color: #1b7a3a; } span.party.none, span.party.stale { color: #a3271f; }
        ul.timeline { padding-left: 1.2rem; } ul.timeline ul { margin: .2rem 0 .6rem; }
        """

    /// Both scripts, in one file: the page loads one script.
    static var javascript: String { live + "\n" + passkeys }

    /// Keeps a page live: listens to the node's event stream (`data-events`) and, after events,
    /// fetches the page again and swaps its main part. The page is whole without it. Nothing
    /// from an event is put into the page: the new markup is the server's, escaped there.
    static let live = """
        "use strict";
        (function () {
          var source = document.body.getAttribute("data-events");
          if (!source || !window.EventSource) { return; }
          var live = document.getElementById("live");
          var pending = null;
          function refresh() {
            pending = null;
            fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
              .then(function (response) {
                if (response.status === 401 || response.redirected) { window.location.assign("/login"); return null; }
                return response.ok ? response.text() : null;
              })
              .then(function (text) {
                if (!text) { return; }
                var fresh = new DOMParser().parseFromString(text, "text/html").getElementById("main");
                var main = document.getElementById("main");
                var focused = document.activeElement;
                var busy = document.body.hasAttribute("data-busy");
                if (fresh && main && !busy && !(focused && focused.form && focused.value)) { main.replaceChildren.apply(main, Array.prototype.slice.call(fresh.childNodes)); }
              })
              .catch(function () {});
          }
          var events = new EventSource(source);
          events.onopen = function () { if (live) { live.hidden = false; } };
          events.onerror = function () { if (live) { live.hidden = true; } };
          events.onmessage = function () {};
          ["agreement-created", "agreement-changed", "approval-given", "approvals-stale", "conflict-opened",
           "commitment-state-changed", "status-changed", "note-added", "agreement-terminated", "commitment-overdue", "agreement-expired", "change-rejected",
           "change-held", "change-released", "peer-connected", "peer-disconnected", "events-lost"].forEach(function (type) {
            events.addEventListener(type, function () { if (!pending) { pending = window.setTimeout(refresh, 50); } });
          });
        })();
        """

    /// Makes a form marked `data-passkey` ask the browser's authenticator first: "register"
    /// creates a passkey (ES256, the person verified, no attestation), "approve" signs the
    /// approval's challenge with one of the person's passkeys. The form is sent once its hidden
    /// fields hold what the authenticator returned; the server checks all of it. Any failure is
    /// shown in the form's alert, and nothing is sent.
    static let passkeys = """
        "use strict";
        (function () {
          function encode(buffer) {
            var text = String.fromCharCode.apply(null, new Uint8Array(buffer));
            return btoa(text).replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");
          }
          function decode(text) {
            var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
            while (base64.length % 4) { base64 += "="; }
            return Uint8Array.from(atob(base64), function (c) { return c.charCodeAt(0); });
          }
          function ids(list) {
            return (list || "").split(" ").filter(Boolean).map(function (id) { return { type: "public-key", id: decode(id) }; });
          }
          function fail(form, error) {
            var alert = form.querySelector("[data-passkey-error]");
            if (alert) { alert.textContent = "Your passkey was not used: " + (error && error.message ? error.message : error); alert.hidden = false; }
          }
          function register(form) {
            var data = form.dataset;
            return navigator.credentials.create({ publicKey: {
              challenge: decode(data.challenge), rp: { id: data.rp, name: "Accord" },
              user: { id: decode(data.user), name: data.userName, displayName: data.displayName },
              pubKeyCredParams: [{ type: "public-key", alg: -7 }], excludeCredentials: ids(data.exclude),
              authenticatorSelection: { residentKey: "preferred", userVerification: "required" }, attestation: "none", timeout: 120000
            } }).then(function (credential) {
              form.elements.authenticatorData.value = encode(credential.response.getAuthenticatorData());
              form.elements.clientDataJSON.value = encode(credential.response.clientDataJSON);
            });
          }
          function approve(form) {
            var data = form.dataset;
            return navigator.credentials.get({ publicKey: {
              challenge: decode(data.challenge), rpId: data.rp, allowCredentials: ids(data.credentials), userVerification: "required", timeout: 120000
            } }).then(function (assertion) {
              form.elements.credential.value = encode(assertion.rawId);
              form.elements.authenticatorData.value = encode(assertion.response.authenticatorData);
              form.elements.clientDataJSON.value = encode(assertion.response.clientDataJSON);
              form.elements.signature.value = encode(assertion.response.signature);
            });
          }
          document.addEventListener("submit", function (event) {
            var form = event.target;
            var kind = form.dataset ? form.dataset.passkey : null;
            if (!kind) { return; }
            event.preventDefault();
            if (!window.PublicKeyCredential) { fail(form, "this browser has no passkeys (WebAuthn)"); return; }
            if (kind === "register" && !form.reportValidity()) { return; }
            // While the authenticator is asked, the live refresh leaves the page as it is.
            document.body.setAttribute("data-busy", "");
            (kind === "register" ? register(form) : approve(form)).then(function () { form.submit(); }, function (error) {
              document.body.removeAttribute("data-busy");
              fail(form, error);
            });
          });
        })();
        """
}
