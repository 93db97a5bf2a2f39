// The hosted application: exchanges the one-time client secret, then walks the customer through
// profile -> phone -> application -> offer -> result, reporting to its shell (the web SDK's
// iframe parent, or the iOS / Android WebView) as the reference's section 3 describes.
"use strict";

(function () {
  // 1. Take the secret out of the address bar before anything else runs: nothing later (history,
  //    a reload, a bookmark, an error report) should ever see it again. It lives on only in this
  //    closure until the exchange, and the access token only in memory (never storage/cookies).
  const params = new URLSearchParams(location.search);
  let clientSecret = params.get("client_secret");
  params.delete("client_secret");
  const rest = params.toString();
  history.replaceState(null, "", location.pathname + (rest ? "?" + rest : ""));

  const config = JSON.parse(document.getElementById("imprint-config").textContent);
  const API = "/v2/client";
  const TIMEOUT_MS = 20000;
  const MAX_WHOLE_AMOUNT = 999999999;

  let accessToken = null;
  let language = config.language;
  const context = { partner: "", phone: "", currency: "USD", network: "", amount: "" };
  // The four documented completion keys, in every message, null until known. payment_method_id
  // is set only when this start accepted an offer; error_code only travels with an ERROR.
  const METADATA_KEYS = ["customer_id", "partner_customer_id", "payment_method_id", "error_code"];
  const metadata = { customer_id: null, partner_customer_id: null, payment_method_id: null };
  let application = null;

  // -- talking to the shell ------------------------------------------------------------------
  // The server passed parentOrigin only if the partner allowed it, so customer data never goes
  // to an origin the partner did not configure; without it nothing is posted to the parent.
  const webParent = window.parent !== window && config.parentOrigin ? config.parentOrigin : null;
  const ios = window.webkit && window.webkit.messageHandlers
    && window.webkit.messageHandlers.imprintWebCallback;
  const android = window.androidInterface && typeof window.androidInterface.onMessage === "function"
    ? window.androidInterface : null;
  const nativeShell = Boolean(ios || android);
  const hasShell = Boolean(webParent || nativeShell);

  // Each shell separately: one failing must not keep the message from the others.
  function post(webMessage, iosMessage, androidMessage) {
    if (webParent && webMessage) {
      try { window.parent.postMessage(webMessage, webParent); } catch (e) { /* parent gone */ }
    }
    if (ios && iosMessage) {
      try { ios.postMessage(iosMessage); } catch (e) { /* handler gone */ }
    }
    if (android && androidMessage) {
      try { android.onMessage(JSON.stringify(androidMessage)); } catch (e) { /* bridge gone */ }
    }
  }

  // The native SDKs hand every key of the latest message but event_name and source to the
  // partner's onCompletion, so what they are sent is exactly the completion metadata: no tier.
  // Android documents null metadata for IN_PROGRESS (its default when nothing was reported),
  // so it hears no IN_PROGRESS at all; a later outcome or CLOSED is what it acts on.
  function report(eventName, tier, extra) {
    const native = { event_name: eventName, source: "imprint_web_app" };
    for (const key of METADATA_KEYS) {
      const value = extra && extra[key] !== undefined ? extra[key] : metadata[key];
      native[key] = value === undefined ? null : value;
    }
    const web = Object.assign({ event_name: eventName, source: "imprint_web_app", tier: tier },
      native);
    post(web, native, eventName === "IN_PROGRESS" ? null : native);
  }

  // First of all, the partner's logo for the native shells' title bar (the web SDK ignores it).
  // Never an empty one: Android would take it for an event and pass it to onCompletion.
  if (config.logoUrl) {
    const logo = { logoUrl: config.logoUrl };
    post(logo, logo, logo);
  }

  let closed = false;
  function close() {
    if (closed) return;
    closed = true;
    for (const button of document.querySelectorAll("button")) button.disabled = true;
    report("CLOSED", "terminal");
  }

  // -- words ---------------------------------------------------------------------------------
  function format(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, name) {
      return values[name] === undefined || values[name] === null ? "" : String(values[name]);
    });
  }

  function translate() {
    const strings = config.strings[language] || config.strings.en;
    document.documentElement.lang = language;
    for (const element of document.querySelectorAll("[data-i18n]")) {
      const template = strings[element.dataset.i18n];
      if (template !== undefined) {
        element.textContent = format(template, Object.assign({}, context, element.dataset));
      }
    }
    for (const element of document.querySelectorAll("[data-i18n-aria-label]")) {
      element.setAttribute("aria-label", strings[element.dataset.i18nAriaLabel]);
    }
    const error = document.getElementById("error-text");
    if (error.dataset.errorCode) error.textContent = errorText(error.dataset.errorCode);
  }

  function text(key, extra) {
    const strings = config.strings[language] || config.strings.en;
    return format(strings[key] || key, Object.assign({}, context, extra || {}));
  }

  function errorText(code) {
    const strings = config.strings[language] || config.strings.en;
    return strings["error_" + code] || strings.error_UNKNOWN_ERROR;
  }

  function money(minor, currency) {
    const locale = language === "es" ? "es-US" : "en-US";
    const formatter = new Intl.NumberFormat(locale, { style: "currency", currency: currency });
    const digits = formatter.resolvedOptions().maximumFractionDigits;
    return formatter.format(minor / Math.pow(10, digits));
  }

  function minorUnits(whole, currency) {
    const digits = new Intl.NumberFormat("en", { style: "currency", currency: currency })
      .resolvedOptions().maximumFractionDigits;
    return whole * Math.pow(10, digits);
  }

  // -- the API -------------------------------------------------------------------------------
  class ApiError extends Error {
    constructor(code, status, body) {
      super(code);
      this.code = code;
      this.status = status;
      this.body = body || {};
    }
  }

  async function api(method, path, body) {
    const headers = { accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (accessToken) headers.authorization = "Bearer " + accessToken;
    const controller = new AbortController();
    const timer = setTimeout(function () { controller.abort(); }, TIMEOUT_MS);
    let response;
    try {
      response = await fetch(API + path, {
        method: method,
        headers: headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: controller.signal,
        credentials: "omit",
        cache: "no-store",
      });
    } catch (e) {
      throw new ApiError(controller.signal.aborted ? "TIMEOUT_ERROR" : "NETWORK_CONNECTION_FAILED", 0);
    } finally {
      clearTimeout(timer);
    }
    let payload = null;
    try { payload = await response.json(); } catch (e) { payload = null; }
    if (response.ok) return payload;
    let code = (payload && payload.error_code) || "UNKNOWN_ERROR";
    if (response.status === 400 && !(payload && payload.error_code)) code = "INVALID_REQUEST";
    // After the exchange a 401 means the session's time is up: the secret is as good as spent.
    if (response.status === 401) code = "INVALID_CLIENT_SECRET";
    if (response.status >= 500) code = "SERVER_ERROR";
    throw new ApiError(code, response.status, payload);
  }

  // -- steps ---------------------------------------------------------------------------------
  function show(step) {
    for (const section of document.querySelectorAll(".step")) {
      section.hidden = section.id !== "step-" + step;
    }
    // Move focus to the new step's heading so screen readers announce it and Tab starts there.
    document.querySelector("#step-" + step + " h1").focus();
  }

  function fail(code) {
    document.getElementById("error-text").dataset.errorCode = code;
    translate();
    show("error");
    report("ERROR", "outcome", { error_code: code });
  }

  async function busy(button, work) {
    const buttons = button.form ? button.form.querySelectorAll("button") : [button];
    for (const b of buttons) b.disabled = true;
    button.setAttribute("aria-busy", "true");
    try {
      return await work();
    } finally {
      for (const b of buttons) b.disabled = closed;
      button.removeAttribute("aria-busy");
    }
  }

  // Field errors: the API's details are "field: message"; each goes next to its field (or the
  // nearest enclosing one, "date_of_birth.year" -> "date_of_birth"), the rest to the form alert.
  function clearErrors(form) {
    for (const element of form.querySelectorAll("[data-error-for]")) {
      element.hidden = true;
      element.textContent = "";
    }
    for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
    form.querySelector(".form-alert").hidden = true;
  }

  function showErrors(form, details) {
    clearErrors(form);
    const unplaced = [];
    let first = null;
    for (const detail of details) {
      const split = detail.indexOf(": ");
      let field = split > 0 ? detail.slice(0, split) : "";
      const message = split > 0 ? detail.slice(split + 2) : detail;
      let slot = null;
      while (field && !slot) {
        slot = form.querySelector('[data-error-for="' + CSS.escape(field) + '"]');
        field = field.includes(".") ? field.slice(0, field.lastIndexOf(".")) : "";
      }
      if (!slot) {
        unplaced.push(message);
        continue;
      }
      slot.textContent = slot.textContent ? slot.textContent + " " + message : message;
      slot.hidden = false;
      const input = document.getElementById(slot.id.replace(/^e-/, "f-"));
      if (input) {
        input.setAttribute("aria-invalid", "true");
        first = first || input;
      }
    }
    const alert = form.querySelector(".form-alert");
    alert.textContent = [text("fix_fields")].concat(unplaced).join(" ");
    alert.hidden = false;
    if (first) first.focus();
  }

  // Fields the browser can check before asking the server: required and pattern.
  function checkLocally(form) {
    const details = [];
    for (const input of form.querySelectorAll("input, select")) {
      if (input.closest("[hidden]") || input.type === "radio") continue;
      if (input.required && !input.value.trim()) details.push(input.name + ": " + text("required"));
      else if (input.value && !input.checkValidity()) details.push(input.name + ": " + input.validationMessage);
    }
    if (details.length) showErrors(form, details);
    return details.length === 0;
  }

  function problem(form, error) {
    if (error.code === "INVALID_REQUEST" && Array.isArray(error.body.details)) {
      showErrors(form, error.body.details);
    } else if (error.code === "INVALID_CLIENT_SECRET") {
      fail(error.code);
    } else {
      clearErrors(form);
      const alert = form.querySelector(".form-alert");
      alert.textContent = errorText(error.code);
      alert.hidden = false;
    }
  }

  // -- profile -------------------------------------------------------------------------------
  const profileForm = document.getElementById("profile-form");

  function fillProfile(profile) {
    const prefill = profile.prefill || {};
    const pick = function (name) {
      return profile[name] !== null && profile[name] !== undefined ? profile[name] : prefill[name];
    };
    const address = pick("address") || {};
    const dob = pick("date_of_birth");
    const values = {
      first_name: pick("first_name"),
      last_name: pick("last_name"),
      email: pick("email"),
      phone: pick("phone"),
      date_of_birth: dob ? [dob.year, String(dob.month).padStart(2, "0"), String(dob.day).padStart(2, "0")].join("-") : "",
    };
    for (const part of ["street_line1", "street_line2", "city", "state", "postal_code"]) {
      values["address." + part] = address[part];
    }
    for (const name of Object.keys(values)) {
      const input = profileForm.elements.namedItem(name);
      if (input && values[name]) input.value = values[name];
    }
    context.country = address.country || "USA";
  }

  function profileUpdate() {
    const value = function (name) { return profileForm.elements.namedItem(name).value.trim(); };
    const update = {};
    for (const name of ["first_name", "last_name", "email", "phone"]) {
      if (value(name)) update[name] = value(name);
    }
    const dob = value("date_of_birth").split("-");
    if (dob.length === 3) update.date_of_birth = { year: +dob[0], month: +dob[1], day: +dob[2] };
    const address = { country: context.country };
    for (const part of ["street_line1", "street_line2", "city", "state", "postal_code"]) {
      if (value("address." + part)) address[part] = value("address." + part);
    }
    update.address = address;
    return update;
  }

  profileForm.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!checkLocally(profileForm)) return;
    busy(profileForm.querySelector("button[type=submit]"), async function () {
      try {
        const profile = await api("POST", "/profile", profileUpdate());
        context.phone = profile.phone;
        if (profile.phone_verified) {
          show("apply");
        } else {
          await sendCode(false);
        }
      } catch (error) {
        problem(profileForm, error);
      }
    });
  });

  // -- phone verification --------------------------------------------------------------------
  const verifyForm = document.getElementById("verify-form");

  async function sendCode(announce) {
    await api("POST", "/phone/verification", {});
    translate();
    show("verify");
    if (announce) {
      const alert = verifyForm.querySelector(".form-alert");
      alert.textContent = text("code_sent");
      alert.hidden = false;
    }
  }

  verifyForm.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!checkLocally(verifyForm)) return;
    const code = verifyForm.elements.namedItem("code").value.trim();
    busy(verifyForm.querySelector("button[type=submit]"), async function () {
      try {
        await api("POST", "/phone/verification/confirm", { code: code });
        show("apply");
      } catch (error) {
        if (error.code === "OTP_LOCKED") {
          showErrors(verifyForm, ["code: " + text("code_locked")]);
        } else if (error.status === 400) {
          showErrors(verifyForm, ["code: " + text("code_wrong")]);
        } else {
          problem(verifyForm, error);
        }
        verifyForm.elements.namedItem("code").value = "";
      }
    });
  });

  document.getElementById("resend-button").addEventListener("click", function (event) {
    busy(event.currentTarget, async function () {
      try {
        clearErrors(verifyForm);
        await sendCode(true);
      } catch (error) {
        problem(verifyForm, error);
      }
    });
  });

  // -- the application -----------------------------------------------------------------------
  const applyForm = document.getElementById("apply-form");
  const loanFields = document.getElementById("loan-fields");

  function chosenType() {
    return applyForm.querySelector("input[name=type]:checked").value;
  }

  for (const radio of applyForm.querySelectorAll("input[name=type]")) {
    radio.addEventListener("change", function () {
      loanFields.hidden = chosenType() !== "LOAN";
      applyForm.elements.namedItem("amount").required = chosenType() === "LOAN";
    });
  }

  function wholeAmount(name) {
    const value = Number(applyForm.elements.namedItem(name).value.trim());
    return minorUnits(Math.min(value, MAX_WHOLE_AMOUNT), context.currency);
  }

  applyForm.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!checkLocally(applyForm)) return;
    const field = function (name) { return applyForm.elements.namedItem(name).value; };
    const body = {
      type: chosenType(),
      ssn4: field("ssn4").trim(),
      housing_type: field("housing_type"),
      housing_cost: wholeAmount("housing_cost"),
      income_type: field("income_type"),
      income_amount: wholeAmount("income_amount"),
    };
    if (body.type === "LOAN") {
      body.amount = wholeAmount("amount");
      body.term_months = Number(field("term_months"));
    }
    busy(applyForm.querySelector("button[type=submit]"), async function () {
      try {
        application = await api("POST", "/applications", body);
        await arrive(application);
      } catch (error) {
        problem(applyForm, error);
      }
    });
  });

  // Where an application's status takes the customer. ``earlier``: it is what the customer
  // already had when this start began (a secret opens the page once, so a decided application
  // seen then was decided in an earlier start). States report what THIS start did: an earlier
  // acceptance or rejection is shown, but not reported again, so a returning cardholder who
  // accepts nothing new completes IN_PROGRESS, with no payment_method_id.
  async function arrive(current, earlier) {
    application = current;
    switch (current.status) {
      case "APPROVED":
        showOffer(current);
        return;
      case "PENDING_REVIEW":
        // Not a decision: the customer leaves before one is made, which is IN_PROGRESS. Sent as
        // the outcome of this visit so shells keep it; the webhook follows the reviewer's call.
        show("pending");
        report("IN_PROGRESS", "outcome");
        return;
      case "REJECTED":
        show("rejected");
        if (!earlier) report("REJECTED", "outcome");
        return;
      case "OFFER_ACCEPTED": {
        const methods = await api("GET", "/payment_methods");
        const found = (methods.data || []).find(function (m) {
          return m.id === current.payment_method_id;
        });
        showDone(current, found || null, Boolean(earlier));
        return;
      }
      default:
        show("profile");
    }
  }

  // -- the offer and the new card ------------------------------------------------------------
  function showOffer(current) {
    const offer = current.offer || {};
    const currency = offer.currency || context.currency;
    const loan = current.type === "LOAN";
    const label = document.getElementById("offer-amount-label");
    label.dataset.i18n = loan ? "offer_loan_amount" : "credit_limit";
    document.getElementById("offer-amount").textContent =
      money(loan ? offer.amount : offer.credit_limit, currency);
    document.getElementById("offer-apr").textContent = offer.apr + "%";
    const termRow = document.getElementById("offer-term-row");
    termRow.hidden = !offer.term_months;
    document.getElementById("offer-term").textContent = offer.term_months
      ? text("months", { n: offer.term_months }) : "";
    translate();
    show("offer");
  }

  const acceptButton = document.getElementById("accept-button");
  acceptButton.addEventListener("click", function () {
    const alert = document.getElementById("offer-alert");
    alert.hidden = true;
    busy(acceptButton, async function () {
      try {
        const accepted = await api("POST", "/applications/" + encodeURIComponent(application.id) + "/accept", {});
        showDone(accepted.application, accepted.payment_method);
      } catch (error) {
        if (error.code === "INVALID_CLIENT_SECRET") return fail(error.code);
        alert.textContent = errorText(error.code);
        alert.hidden = false;
      }
    });
  });

  function showDone(current, paymentMethod, earlier) {
    const loan = current.type === "LOAN";
    document.getElementById("done-heading").dataset.i18n = earlier
      ? (loan ? "have_heading_loan" : "have_heading")
      : (loan ? "done_heading_loan" : "done_heading");
    const label = document.getElementById("card-label");
    const number = document.getElementById("card-number");
    // A loan is no card: its summary is shown as plain text rather than as a card's face.
    document.getElementById("card-art").classList.toggle("card-art", !loan);
    if (paymentMethod && paymentMethod.card) {
      context.network = paymentMethod.card.network || "";
      label.dataset.i18n = "done_card";
      number.textContent = "•••• " + paymentMethod.card.last4;
    } else {
      const offer = current.offer || {};
      context.amount = offer.amount ? money(offer.amount, offer.currency || context.currency) : "";
      label.dataset.i18n = "done_loan";
      number.textContent = "";
    }
    translate();
    show("done");
    if (earlier) return; // nothing new was accepted: no OFFER_ACCEPTED, no payment_method_id
    metadata.payment_method_id = paymentMethod ? paymentMethod.id : current.payment_method_id;
    report("OFFER_ACCEPTED", "outcome");
  }

  // -- closing -------------------------------------------------------------------------------
  for (const button of document.querySelectorAll("[data-close]")) {
    button.addEventListener("click", close);
    // Outside a shell nobody would act on CLOSED, so there is nothing to close.
    if (!hasShell) button.hidden = true;
  }
  // The page draws its own close button only inline in a web page: the SDK's modal and both
  // native shells draw one outside the page, and two would be one too many.
  document.getElementById("close-button").hidden =
    !webParent || nativeShell || config.embed === "modal";
  if (config.embed === "modal") {
    // Escape closes the modal even while focus is inside this frame (the SDK cannot see it).
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape") close();
    });
  }

  // The header bar shows the partner's name and, inline, a close button; with neither, no bar.
  function updateBar() {
    const bar = document.querySelector(".bar");
    bar.hidden = Array.from(bar.children).every(function (child) { return child.hidden; });
  }

  // -- start ---------------------------------------------------------------------------------
  // Sandbox: the server may name the state this start must end with (a test_outcome parameter
  // or a fault the partner declared). An ERROR ends it at once, before the secret is spent, as
  // a failed exchange would; IN_PROGRESS ends it once the customer is known, as a pending review
  // does. Either is reported once, through the same messages as the real states.
  const testOutcome = typeof config.testOutcome === "string" ? config.testOutcome : null;

  async function start() {
    if (testOutcome && testOutcome.indexOf("ERROR:") === 0) {
      clientSecret = null;
      return fail(testOutcome.slice("ERROR:".length));
    }
    if (!clientSecret) return fail("INVALID_CLIENT_SECRET");
    try {
      const exchanged = await api("POST", "/exchange", { client_secret: clientSecret });
      accessToken = exchanged.access_token;
    } catch (error) {
      return fail(error.status === 401 || error.status === 400 ? "INVALID_CLIENT_SECRET" : error.code);
    } finally {
      clientSecret = null; // spent either way
    }
    let session;
    let profile;
    try {
      [session, profile] = await Promise.all([api("GET", "/session"), api("GET", "/profile")]);
    } catch (error) {
      return fail(error.code === "INVALID_REQUEST" ? "UNKNOWN_ERROR" : error.code);
    }
    metadata.customer_id = session.customer_id;
    metadata.partner_customer_id = session.partner_customer_id;
    context.partner = session.partner_name || "";
    document.getElementById("partner-name").hidden = !context.partner;
    updateBar();
    context.currency = session.transaction_currency || "USD";
    context.phone = profile.phone || "";
    const preferred = String(profile.preferred_language || session.preferred_language || "").slice(0, 2);
    if (config.strings[preferred]) language = preferred;
    fillProfile(profile);
    translate();
    report("IN_PROGRESS", "intermediate");
    if (testOutcome === "IN_PROGRESS") {
      show("pending");
      report("IN_PROGRESS", "outcome");
      return;
    }
    try {
      await arrive(session.application || { status: "NONE" }, true);
    } catch (error) {
      fail(error.code);
    }
  }

  updateBar();
  start();
})();
