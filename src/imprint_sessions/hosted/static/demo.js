// The demo shop's checkout script: what a partner's front end does. Its "server" half is
// POST /demo/session, which creates a customer session with the sandbox partner's rights (a real
// partner's server calls POST /v2/customer_sessions with its API key; keys never reach browsers).
"use strict";

(function () {
  const form = document.getElementById("apply-form");
  const applyButton = document.getElementById("apply-button");
  const reuseButton = document.getElementById("reuse-button");
  const result = document.getElementById("result");
  const metadataView = document.getElementById("metadata");
  const events = document.getElementById("events");

  let completions = 0;
  // Kept only to show the one-time rule: starting again with a spent secret is an ERROR.
  let lastSecret = null;

  const MESSAGES = {
    OFFER_ACCEPTED: "Approved, and the offer was accepted: the new card can pay for this order.",
    REJECTED: "The application was declined.",
    IN_PROGRESS: "Nothing new this time (closed early, under review, or already a cardholder).",
    ERROR: "The application could not start.",
  };

  async function createSession() {
    const body = { last_name: form.elements.last_name.value };
    if (form.elements.preferred_language.value) {
      body.preferred_language = form.elements.preferred_language.value;
    }
    const response = await fetch("/demo/session", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    if (!response.ok) throw new Error("POST /demo/session answered " + response.status);
    return (await response.json()).client_secret;
  }

  function start(clientSecret) {
    lastSecret = clientSecret;
    result.textContent = "Application open…";
    events.replaceChildren();
    window.Imprint.startApplication({
      clientSecret: clientSecret,
      onEvent: function (name, data) {
        const item = document.createElement("li");
        item.textContent = name + " (" + data.tier + ")";
        events.appendChild(item);
      },
      onCompletion: function (state, metadata) {
        // Counted for the end-to-end tests: exactly one call per start.
        completions += 1;
        result.dataset.completions = String(completions);
        result.dataset.state = state;
        result.dataset.metadata = JSON.stringify(metadata);
        result.textContent = state + ": " + (MESSAGES[state] || "");
        metadataView.textContent = JSON.stringify(metadata, null, 2);
        metadataView.hidden = false;
        reuseButton.hidden = false;
        applyButton.focus();
      },
    });
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    applyButton.disabled = true;
    try {
      start(await createSession());
    } catch (error) {
      result.textContent = String(error.message);
    } finally {
      applyButton.disabled = false;
    }
  });

  reuseButton.addEventListener("click", function () {
    if (lastSecret) start(lastSecret);
  });
})();
