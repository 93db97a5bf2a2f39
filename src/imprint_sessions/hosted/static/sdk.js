// Imprint web SDK, served at /sdk/imprintsdk.js. A partner's page includes it with a plain
// <script src="https://<service>/sdk/imprintsdk.js"></script> and calls
//
//   Imprint.startApplication({
//     clientSecret,               // from the partner's server (POST /v2/customer_sessions)
//     onCompletion(state, meta),  // exactly once per start: OFFER_ACCEPTED, REJECTED,
//                                 //   IN_PROGRESS (no new outcome in this start) or ERROR;
//                                 //   meta: customer_id, partner_customer_id,
//                                 //   payment_method_id, error_code (null when unknown)
//     onEvent(name, data),        // optional: every message of the hosted page
//     container,                  // optional: an element (or selector) to mount into;
//   });                           //   a modal overlay otherwise
//
// The hosted page runs in an iframe from the service's origin; the SDK believes only messages
// from that origin and that iframe.
"use strict";

(function () {
  if (window.Imprint && window.Imprint.startApplication) return; // included twice

  // The service is wherever this script came from.
  const script = document.currentScript;
  const serviceOrigin = new URL(script ? script.src : "/", location.href).origin;
  const METADATA_KEYS = ["customer_id", "partner_customer_id", "payment_method_id", "error_code"];
  const Z_TOP = "2147483000";

  let open = false; // one application at a time

  function css(element, styles) {
    // CSSOM assignments, not style attributes or <style> elements: they work under a partner's
    // strict Content-Security-Policy (style-src without 'unsafe-inline').
    for (const name of Object.keys(styles)) element.style[name] = styles[name];
    return element;
  }

  function startApplication(options) {
    options = options || {};
    if (open) {
      console.warn("Imprint: an application is already open; this startApplication call is ignored.");
      return;
    }
    const onCompletion = typeof options.onCompletion === "function" ? options.onCompletion : function () {};
    const onEvent = typeof options.onEvent === "function" ? options.onEvent : function () {};
    let container = options.container || null;
    if (typeof container === "string") container = document.querySelector(container);

    const known = {}; // metadata learnt from the page's messages
    let outcome = null; // the latest outcome-tier state
    let finished = false;

    const src = new URL("/start", serviceOrigin);
    src.searchParams.set("client_secret", String(options.clientSecret || ""));
    src.searchParams.set("parentOrigin", location.origin);
    src.searchParams.set("embed", container ? "inline" : "modal");

    const iframe = css(document.createElement("iframe"), {
      border: "0", display: "block", width: "100%", height: "100%", background: "#ffffff",
    });
    iframe.title = "Imprint application";
    iframe.referrerPolicy = "origin"; // the service needs no more of the partner's URL
    iframe.src = src.toString();

    let root; // what to remove at the end
    let closeButton = null;
    const previousFocus = document.activeElement;
    if (container) {
      css(iframe, { minHeight: "600px" });
      container.appendChild(iframe);
      root = iframe;
    } else {
      root = css(document.createElement("div"), {
        position: "fixed", inset: "0", zIndex: Z_TOP, display: "flex",
        alignItems: "center", justifyContent: "center", background: "rgba(15, 23, 42, 0.55)",
      });
      const dialog = css(document.createElement("div"), {
        position: "relative", display: "flex", flexDirection: "column", width: "100%",
        maxWidth: "480px", height: "100%", maxHeight: "760px", background: "#ffffff",
        borderRadius: window.innerWidth > 520 ? "12px" : "0", overflow: "hidden",
        boxShadow: "0 20px 50px rgba(0, 0, 0, 0.35)",
      });
      dialog.setAttribute("role", "dialog");
      dialog.setAttribute("aria-modal", "true");
      dialog.setAttribute("aria-label", "Imprint application");
      const bar = css(document.createElement("div"), {
        display: "flex", justifyContent: "flex-end", flex: "0 0 auto",
        borderBottom: "1px solid #e2e4ea",
      });
      closeButton = css(document.createElement("button"), {
        minWidth: "44px", minHeight: "44px", margin: "2px", border: "0", borderRadius: "8px",
        background: "transparent", color: "#14151a", fontSize: "26px", lineHeight: "1",
        cursor: "pointer",
      });
      closeButton.type = "button";
      closeButton.setAttribute("aria-label", "Close");
      closeButton.textContent = "\u00d7";
      closeButton.addEventListener("click", finish);
      bar.appendChild(closeButton);
      const frameBox = css(document.createElement("div"), { flex: "1 1 auto", minHeight: "0" });
      frameBox.appendChild(iframe);
      dialog.appendChild(bar);
      dialog.appendChild(frameBox);
      root.appendChild(dialog);
      document.body.appendChild(root);
      document.addEventListener("keydown", onKeydown, true);
      document.addEventListener("focusin", onFocusIn);
      closeButton.focus();
    }
    window.addEventListener("message", onMessage);
    open = true;

    function onKeydown(event) {
      if (event.key === "Escape") {
        event.preventDefault();
        finish();
      }
    }

    // Keep keyboard focus inside the modal (the close button or the hosted page).
    function onFocusIn(event) {
      if (!root.contains(event.target)) closeButton.focus();
    }

    function onMessage(event) {
      // Only the hosted page we opened speaks for the application.
      if (event.origin !== serviceOrigin || event.source !== iframe.contentWindow) return;
      const data = event.data;
      if (!data || typeof data !== "object" || data.source !== "imprint_web_app") return;
      if (typeof data.event_name !== "string") return;
      for (const key of METADATA_KEYS) {
        if (typeof data[key] === "string" && data[key]) known[key] = data[key];
      }
      if (data.tier === "outcome") outcome = data.event_name;
      try {
        onEvent(data.event_name, Object.assign({}, data));
      } catch (error) {
        console.error("Imprint: onEvent threw", error); // the partner's bug must not stop us
      }
      if (data.event_name === "CLOSED") finish();
    }

    // The one way out: the page's CLOSED, the close button, Escape. Reports exactly once.
    function finish() {
      if (finished) return;
      finished = true;
      window.removeEventListener("message", onMessage);
      document.removeEventListener("keydown", onKeydown, true);
      document.removeEventListener("focusin", onFocusIn);
      if (root.parentNode) root.parentNode.removeChild(root);
      open = false;
      if (!container && previousFocus && typeof previousFocus.focus === "function") {
        previousFocus.focus();
      }
      // Always the four documented keys, null where unknown or not this state's: a card or
      // loan id only with the OFFER_ACCEPTED that created it, an error code only with ERROR.
      const state = outcome || "IN_PROGRESS";
      const metadata = {};
      for (const key of METADATA_KEYS) {
        const belongs = (key !== "error_code" || state === "ERROR")
          && (key !== "payment_method_id" || state === "OFFER_ACCEPTED");
        metadata[key] = belongs && known[key] ? known[key] : null;
      }
      // Called last, with everything cleaned up, so it may start another application.
      try {
        onCompletion(state, metadata);
      } catch (error) {
        console.error("Imprint: onCompletion threw", error);
      }
    }
  }

  window.Imprint = Object.freeze({ startApplication: startApplication, version: "1" });
})();
