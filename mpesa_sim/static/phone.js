// The beneficiary's handset: USSD through the simulator's own USSD application (POST /ussd,
// Africa's Talking form fields) and the SMS inbox from /sim/phones/{msisdn}/sms.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  let SERVICE_CODE = "*334#"; // the market's (*334# Kenya, *733# Ethiopia, *150*00# Tanzania ...), from /sim/market
  let COUNTRY = { code: "254", lead: "17", length: 9 };
  const state = { msisdn: "", session: null, smsIds: null, polling: null, inboxBusy: false };

  // -- whose phone ------------------------------------------------------------------------
  function normalise(number) {
    let digits = String(number || "").replace(/[^0-9]/g, "");
    if (digits.startsWith("0")) digits = COUNTRY.code + digits.slice(1);
    else if (digits.length === COUNTRY.length && COUNTRY.lead.includes(digits[0])) digits = COUNTRY.code + digits;
    return digits;
  }

  function usePhone(number) {
    const msisdn = normalise(number);
    if (!msisdn) return;
    if (msisdn !== state.msisdn) {
      state.msisdn = msisdn;
      state.smsIds = null;
      hangUp();
      $("sms-list").replaceChildren();
    }
    $("msisdn").value = msisdn;
    $("handset-number").textContent = "+" + msisdn;
    const url = new URL(location.href);
    url.searchParams.set("msisdn", msisdn);
    history.replaceState(null, "", url);
    refreshInbox();
  }

  async function loadWallets() {
    const select = $("wallet-select");
    try {
      const wallets = await Sim.api("GET", "/sim/admin/wallets?limit=500");
      select.replaceChildren(Sim.el("option", { value: "", text: `(${wallets.length} wallets)` }));
      for (const w of wallets) {
        const flags = (w.registered ? "" : " [not registered]") + (w.status === "active" ? "" : ` [${w.status}]`);
        select.append(
          Sim.el("option", {
            value: w.msisdn,
            text: `${w.msisdn} · ${w.first_name} ${w.last_name} · ${Sim.ksh(w.balance_cents)}${flags}`,
            selected: w.msisdn === state.msisdn,
          })
        );
      }
    } catch (e) {
      select.replaceChildren(Sim.el("option", { value: "", text: "(paste the admin token to list wallets)" }));
    }
  }

  // -- USSD -------------------------------------------------------------------------------
  function showDialer(note) {
    $("ussd").hidden = true;
    $("dialer").hidden = false;
    $("dial-note").textContent = note || "";
  }

  function showScreen(answer) {
    const done = !answer.startsWith("CON ");
    const body = answer.replace(/^(CON|END) ?/, "");
    $("dialer").hidden = true;
    $("ussd").hidden = false;
    $("ussd-text").textContent = body;
    $("ussd-form").hidden = done;
    $("ussd-end").hidden = !done;
    $("ussd-reply").value = "";
    if (done) {
      state.session = null;
      $("ussd-ok").focus();
      refreshInbox();
      setTimeout(refreshInbox, 800);
    } else {
      $("ussd-reply").focus();
    }
  }

  async function hop() {
    const session = state.session;
    const form = new URLSearchParams({
      sessionId: session.id,
      serviceCode: SERVICE_CODE,
      phoneNumber: "+" + state.msisdn,
      networkCode: "63902",
      text: session.inputs.join("*"),
    });
    try {
      const response = await fetch("/ussd", { method: "POST", body: form, cache: "no-store" });
      if (!response.ok) throw new Error("HTTP " + response.status);
      const answer = await response.text();
      if (state.session === session) showScreen(answer);
    } catch (e) {
      state.session = null;
      showScreen("END Connection problem or invalid MMI code.");
    }
  }

  function dial() {
    const code = $("dial-input").value.trim();
    if (!state.msisdn) {
      showDialer("Choose a phone number first.");
      return;
    }
    if (!/^\*\d+(?:\*[0-9]*)*#$/.test(code)) {
      showDialer(code ? "Invalid MMI code." : `Dial a code, e.g. ${SERVICE_CODE}`);
      return;
    }
    // The service code may have several parts (*150*00#): what follows it are the first inputs.
    const base = SERVICE_CODE.slice(0, -1);
    if (code !== SERVICE_CODE && !code.startsWith(base + "*")) {
      showScreen(`END UNKNOWN APPLICATION. This simulator answers ${SERVICE_CODE} (M-PESA).`);
      return;
    }
    // Africa's Talking passes the digits dialled after the service code as the first inputs.
    const inputs = code.slice(base.length, -1).split("*").filter((part) => part !== "");
    state.session = { id: "web-" + Date.now().toString(36) + Math.random().toString(36).slice(2, 8), inputs };
    $("ussd-text").textContent = "USSD code running...";
    $("dialer").hidden = true;
    $("ussd").hidden = false;
    $("ussd-form").hidden = true;
    $("ussd-end").hidden = true;
    hop();
  }

  function reply() {
    if (!state.session) return;
    state.session.inputs.push($("ussd-reply").value.trim());
    $("ussd-text").textContent = "USSD code running...";
    $("ussd-form").hidden = true;
    hop();
  }

  function hangUp() {
    state.session = null;
    showDialer();
  }

  function activeInput() {
    return !$("ussd").hidden && !$("ussd-form").hidden ? $("ussd-reply") : $("dial-input");
  }

  // -- SMS inbox --------------------------------------------------------------------------
  async function refreshInbox() {
    const note = $("inbox-note");
    if (!state.msisdn) return;
    if (!Sim.token()) {
      note.textContent = "Paste the admin token (top right) to read this phone's SMS.";
      return;
    }
    if (state.inboxBusy) return;
    state.inboxBusy = true;
    try {
      const messages = await Sim.api("GET", `/sim/phones/${encodeURIComponent(state.msisdn)}/sms?limit=50`);
      const known = state.smsIds;
      state.smsIds = new Set(messages.map((m) => m.id));
      note.textContent = messages.length ? "" : "No messages yet.";
      $("inbox-count").textContent = messages.length ? `(${messages.length})` : "";
      const items = messages.map((m) =>
        Sim.el(
          "li",
          { class: "sms" + (known && !known.has(m.id) ? " new" : ""), "data-sms-id": m.id },
          Sim.el("div", { class: "meta" }, Sim.el("strong", { text: m.sender }), Sim.el("span", { text: Sim.time(m.created_at) })),
          Sim.el("div", { class: "body", text: m.body })
        )
      );
      if (!known || messages.length !== known.size || messages.some((m) => !known.has(m.id))) {
        $("sms-list").replaceChildren(...items);
      }
    } catch (e) {
      note.textContent = e instanceof Sim.AuthError ? "Wrong admin token: cannot read the SMS inbox." : "Inbox unavailable: " + e.message;
    } finally {
      state.inboxBusy = false;
    }
  }

  // -- wiring -----------------------------------------------------------------------------
  $("number-form").addEventListener("submit", (event) => {
    event.preventDefault();
    usePhone($("msisdn").value);
  });
  $("wallet-select").addEventListener("change", (event) => {
    if (event.target.value) usePhone(event.target.value);
  });
  $("dial-input").addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      dial();
    }
  });
  $("ussd-form").addEventListener("submit", (event) => {
    event.preventDefault();
    reply();
  });
  $("ussd-cancel").addEventListener("click", hangUp);
  $("ussd-ok").addEventListener("click", () => {
    hangUp();
    $("dial-input").focus();
  });
  $("call-button").addEventListener("click", () => (state.session && !$("ussd").hidden ? reply() : dial()));
  $("hangup-button").addEventListener("click", () => {
    if (state.session || !$("ussd").hidden) hangUp();
    else $("dial-input").value = "";
  });
  $("key-delete").addEventListener("click", () => {
    const input = activeInput();
    input.value = input.value.slice(0, -1);
  });
  for (const key of document.querySelectorAll(".key[data-key]")) {
    key.addEventListener("click", () => {
      const input = activeInput();
      input.value += key.dataset.key;
    });
  }

  const asked = new URLSearchParams(location.search).get("msisdn");
  const initial = asked || $("msisdn").value;
  usePhone(initial);
  Sim.loadMarket().then((market) => {
    SERVICE_CODE = market.ussd_code;
    COUNTRY = { code: market.country_code, lead: market.local_lead_digits, length: market.national_length || 9 };
    $("dial-input").placeholder = market.ussd_code;
    $("msisdn").placeholder = market.example_msisdn;
    // Another market's default number: this market's example instead (a number asked for stays).
    if (!asked && state.msisdn === initial && !initial.startsWith(market.country_code)) {
      usePhone(market.example_msisdn);
    }
  });
  Sim.setupTokenForm(() => {
    loadWallets();
    refreshInbox();
  });
  state.polling = setInterval(refreshInbox, 1500);
})();
