// Shared by the phone and the console: the admin token (kept in this tab's sessionStorage,
// never in the page), calls to the admin API, and small formatting helpers. No dependencies.
"use strict";

const Sim = (() => {
  const KEY = "mpesaSimAdminToken";
  const listeners = [];

  function token() {
    return sessionStorage.getItem(KEY) || "";
  }

  class AuthError extends Error {}

  async function api(method, path, body) {
    const headers = { Authorization: "Bearer " + token() };
    const init = { method, headers, cache: "no-store" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    const text = await response.text();
    let data = text;
    try {
      data = text ? JSON.parse(text) : null;
    } catch (e) {
      /* plain text answer */
    }
    if (response.status === 401) throw new AuthError("admin token required");
    if (!response.ok) {
      const detail = data && data.detail ? data.detail : text;
      throw new Error(`${method} ${path}: HTTP ${response.status} ${typeof detail === "string" ? detail : JSON.stringify(detail)}`);
    }
    return data;
  }

  // Wires the "Admin token" form found on both pages; calls back when a token is accepted.
  function setupTokenForm(onReady) {
    const form = document.getElementById("token-form");
    const input = document.getElementById("admin-token");
    const status = document.getElementById("token-status");
    listeners.push(onReady);

    async function check() {
      if (!token()) {
        status.textContent = "Paste the admin token printed when the simulator started.";
        status.className = "token-status warn";
        document.body.classList.remove("authorised");
        return false;
      }
      try {
        await api("GET", "/sim/admin/config");
        status.textContent = "Connected";
        status.className = "token-status ok";
        document.body.classList.add("authorised");
        listeners.forEach((fn) => fn());
        return true;
      } catch (e) {
        status.textContent = e instanceof AuthError ? "Wrong admin token" : "Simulator unreachable: " + e.message;
        status.className = "token-status error";
        document.body.classList.remove("authorised");
        return false;
      }
    }

    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const value = input.value.trim();
      if (value) sessionStorage.setItem(KEY, value);
      else sessionStorage.removeItem(KEY);
      input.value = "";
      check();
    });
    return check();
  }

  // The market this simulator is (GET /sim/market, public): Kenya until it has answered.
  let market = { code: "KE", country: "Kenya", operator: "Safaricom", currency: "KES", ussd_code: "*334#", country_code: "254", local_lead_digits: "17", example_msisdn: "254712345678" };

  function currencyPrefix() {
    return market.currency === "KES" ? "Ksh " : market.currency + " ";
  }

  // Fills every [data-market=field] element and the header's badge; resolves to the market.
  async function loadMarket() {
    try {
      const response = await fetch("/sim/market", { cache: "no-store" });
      if (response.ok) market = await response.json();
    } catch (e) {
      // keep the default: the pages still work
    }
    const shown = {
      ...market,
      money_label: market.currency === "KES" ? "Ksh" : market.currency,
      ussd_shortcut: market.ussd_code.replace(/#$/, "*1*1234#"),
    };
    for (const node of document.querySelectorAll("[data-market]")) {
      const value = shown[node.dataset.market];
      if (value !== undefined) node.textContent = value;
    }
    const badge = document.getElementById("market-badge");
    if (badge) {
      badge.textContent = `${market.country} · ${market.currency} · USSD ${market.ussd_code}`;
      badge.title = `Market ${market.code}: ${market.operator} M-PESA, ${market.number_plan || ""}`;
      badge.dataset.code = market.code;
    }
    return market;
  }

  function ksh(cents) {
    const value = (Number(cents) || 0) / 100;
    return currencyPrefix() + value.toLocaleString("en-KE", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  }

  // The simulator's own wall-clock time (Kenya, as in its SMS) with its zone, and the same moment
  // in UTC, the zone Odoo shows by default: "13:15:07 EAT (10:15:07 UTC)".
  function time(iso) {
    if (!iso) return "";
    const match = /T(\d\d:\d\d:\d\d)/.exec(iso);
    if (!match) return iso;
    const moment = new Date(iso);
    if (Number.isNaN(moment.getTime())) return `${match[1]} EAT`;
    const utc = moment.toISOString().slice(11, 19);
    return `${match[1]} EAT (${utc} UTC)`;
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  // The token stopped working (the simulator was restarted with another one).
  function lost() {
    document.body.classList.remove("authorised");
    const status = document.getElementById("token-status");
    status.textContent = "Wrong admin token";
    status.className = "token-status error";
  }

  return { token, api, AuthError, setupTokenForm, lost, ksh, time, el, loadMarket, market: () => market };
})();
