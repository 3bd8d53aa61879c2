// The operator console: float and statement, live payment run, faults, credentials, wallets,
// ledger and callbacks, all read from the admin API with the token the user pasted.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const el = Sim.el;
  let started = false;
  let faultKinds = null;

  function say(id, text, kind) {
    const node = $(id);
    node.textContent = text;
    node.className = "message " + (kind || "");
  }

  function guard(fn) {
    let busy = false;
    return async (...args) => {
      if (busy) return;
      busy = true;
      try {
        await fn(...args);
      } catch (e) {
        if (e instanceof Sim.AuthError) Sim.lost();
        else console.warn(e);
      } finally {
        busy = false;
      }
    };
  }

  function accountLabel(ref) {
    if (!ref) return "";
    if (ref.startsWith("wallet:")) return ref.slice(7);
    if (ref === "org:utility") return "Utility";
    if (ref === "org:working") return "Working";
    return ref;
  }

  function statusPill(status) {
    const kind = status === "completed" ? "good" : status === "failed" ? "bad" : "wait";
    return el("span", { class: "pill " + kind, text: status });
  }

  // -- float ------------------------------------------------------------------------------
  const refreshOverview = guard(async () => {
    const o = await Sim.api("GET", "/sim/admin/console/overview");
    $("utility-balance").textContent = Sim.ksh(o.utility_cents);
    $("working-balance").textContent = Sim.ksh(o.working_cents);
    const b2c = Object.entries(o.b2c).map(([k, v]) => `${v} ${k}`).join(", ") || "none";
    $("overview-counts").textContent = `${o.wallets} wallets · ${o.tills} tills · B2C payments: ${b2c}`;
    const cb = o.callbacks;
    $("callback-summary").replaceChildren(
      el("span", { text: `${cb.total} attempts` }),
      el("span", { class: "pill good", text: `${cb.delivered} delivered` }),
      el("span", { class: "pill bad", text: `${cb.failed} failed` }),
      el("span", { text: `average latency ${cb.avg_latency_ms.toFixed(1)} ms` })
    );
  });

  $("topup-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const account = $("topup-account").value;
    const amount = Number($("topup-amount").value);
    try {
      const result = await Sim.api("POST", "/sim/admin/float/topup", { account, amount });
      say("topup-message", `Topped up ${Sim.ksh(Math.round(amount * 100))}: ${accountLabel(result.account)} balance is now ${Sim.ksh(result.balance_cents)}.`, "ok");
      refreshOverview();
      refreshLedger();
    } catch (e) {
      say("topup-message", e.message, "error");
    }
  });

  // -- statement --------------------------------------------------------------------------
  // The file comes from the admin API (Bearer token), so it is fetched and handed to the
  // browser as a download under the name the simulator gives it (the portal's).
  const today = new Date(Date.now() + 3 * 3600 * 1000).toISOString().slice(0, 10); // Kenya's date
  $("statement-from").value = today;
  $("statement-to").value = today;

  $("statement-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const format = (event.submitter && event.submitter.dataset.format) || "csv";
    const from = $("statement-from").value;
    const to = $("statement-to").value;
    if (from > to) {
      say("statement-message", "The period's start (From) is after its end (To).", "error");
      return;
    }
    const params = new URLSearchParams({ from, to, format });
    try {
      const response = await fetch("/sim/admin/statement?" + params, { headers: { Authorization: "Bearer " + Sim.token() }, cache: "no-store" });
      if (response.status === 401) throw new Sim.AuthError("admin token required");
      if (!response.ok) {
        const detail = await response.text();
        let message = detail;
        try {
          message = JSON.parse(detail).detail || detail;
        } catch (e) {
          /* plain text answer */
        }
        throw new Error(`Statement: HTTP ${response.status} ${message}`);
      }
      const match = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "");
      const name = match ? match[1] : `statement.${format}`;
      const url = URL.createObjectURL(await response.blob());
      const link = el("a", { href: url, download: name, hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
      say("statement-message", `Downloaded ${name}`, "ok");
    } catch (e) {
      if (e instanceof Sim.AuthError) Sim.lost();
      say("statement-message", e.message, "error");
    }
  });

  // -- live chart -------------------------------------------------------------------------
  const refreshLive = guard(async () => {
    const minutes = $("live-window").value;
    const data = await Sim.api("GET", `/sim/admin/console/activity?minutes=${minutes}`);
    const drawn = LiveChart.draw($("live-chart"), data);
    const legend = [
      el("li", {}, el("span", { class: "swatch", style: `background:${drawn.requestColour}` }), `Requests accepted: ${data.totals.requests}`),
    ];
    for (const [code, count] of Object.entries(data.totals.results)) {
      const desc = data.descriptions[code] || "";
      legend.push(
        el(
          "li",
          { "data-result-code": code, title: desc },
          el("span", { class: "swatch", style: `background:${drawn.colour(code)}` }),
          `ResultCode ${code}: ${count}`,
          desc ? el("span", { class: "muted", text: ` (${desc.length > 48 ? desc.slice(0, 47) + "…" : desc})` }) : null
        )
      );
    }
    $("live-legend").replaceChildren(...legend);
    const last = data.requests.slice(-5).reduce((a, b) => a + b, 0) / 5;
    const peak = Math.max(0, ...data.requests);
    const results = Object.values(data.totals.results).reduce((a, b) => a + b, 0);
    $("live-summary").textContent = `${data.totals.requests} requests, ${results} results · now ${last.toFixed(1)}/s · peak ${peak}/s`;
  });
  $("live-window").addEventListener("change", refreshLive);
  window.addEventListener("resize", refreshLive);

  // -- faults -----------------------------------------------------------------------------
  function paramInput(kind, key, value) {
    const id = `fault-${kind}-${key}`;
    let input;
    if (typeof value === "boolean") {
      input = el("input", { type: "checkbox", id, "data-param": key, checked: value });
    } else if (key === "shape") {
      input = el("select", { id, "data-param": key }, ["result", "echo"].map((v) => el("option", { value: v, text: v, selected: v === value })));
    } else {
      input = el("input", { type: "number", id, "data-param": key, min: "0", step: "1", value: String(value) });
    }
    return el("label", { for: id }, key, input);
  }

  function buildFaultRows(kinds) {
    const rows = Object.entries(kinds).map(([kind, spec]) => {
      const params = Object.entries(spec).filter(([k]) => k !== "doc");
      return el(
        "tr",
        { "data-kind": kind },
        el("td", {}, el("input", { type: "checkbox", id: `fault-on-${kind}`, "data-on": "1" })),
        el("td", {}, el("label", { for: `fault-on-${kind}` }, el("code", { text: kind })), el("div", { class: "doc", text: spec.doc })),
        el("td", {}, el("input", { type: "number", id: `fault-${kind}-rate`, "aria-label": `${kind} rate`, "data-param": "rate", min: "0", max: "1", step: "0.05", value: "1" })),
        el("td", {}, el("div", { class: "params" }, params.map(([k, v]) => paramInput(kind, k, v)))),
        el("td", {}, el("input", { class: "glob", id: `fault-${kind}-msisdn`, "aria-label": `${kind} only numbers matching`, "data-param": "msisdn", placeholder: "all, or 2547*" })),
        el("td", { class: "num", "data-injected": kind, text: "0" })
      );
    });
    $("faults-body").replaceChildren(...rows);
  }

  function syncFaultForm(config) {
    $("fault-seed").value = config.seed === null || config.seed === undefined ? "" : config.seed;
    for (const row of $("faults-body").querySelectorAll("tr")) {
      const kind = row.dataset.kind;
      const rule = config.faults[kind];
      row.classList.toggle("on", !!rule);
      row.querySelector("[data-on]").checked = !!rule;
      const defaults = faultKinds[kind];
      for (const input of row.querySelectorAll("[data-param]")) {
        const key = input.dataset.param;
        const value = rule && key in rule ? rule[key] : key === "rate" ? 1 : key === "msisdn" ? "" : defaults[key];
        if (input.type === "checkbox") input.checked = !!value;
        else input.value = value === undefined || value === null ? "" : value;
      }
    }
  }

  function showCurrentFaults(config, injected) {
    const on = Object.keys(config.faults);
    $("faults-current").textContent = on.length
      ? JSON.stringify({ seed: config.seed, faults: config.faults }, null, 1)
      : "All faults off" + (config.seed !== null && config.seed !== undefined ? ` (seed ${config.seed})` : "") + ".";
    for (const cell of $("faults-body").querySelectorAll("[data-injected]")) {
      cell.textContent = String((injected || {})[cell.dataset.injected] || 0);
    }
    for (const row of $("faults-body").querySelectorAll("tr")) row.classList.toggle("on", on.includes(row.dataset.kind));
  }

  // The form follows the simulator's switches (changed elsewhere too) until the user edits it.
  let faultsDirty = false;
  let faultsShown = "";
  $("faults-form").addEventListener("input", () => (faultsDirty = true));
  $("faults-form").addEventListener("change", () => (faultsDirty = true));

  const refreshFaults = guard(async () => {
    const [current, stats] = await Promise.all([Sim.api("GET", "/sim/admin/faults"), Sim.api("GET", "/sim/admin/stats")]);
    if (!faultKinds) {
      faultKinds = current.kinds;
      buildFaultRows(faultKinds);
    }
    const shown = JSON.stringify([current.seed, current.faults]);
    if (!faultsDirty && shown !== faultsShown) {
      syncFaultForm(current);
      faultsShown = shown;
    }
    showCurrentFaults(current, stats.faults_injected);
  });

  $("faults-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const faults = {};
    for (const row of $("faults-body").querySelectorAll("tr")) {
      if (!row.querySelector("[data-on]").checked) continue;
      const rule = {};
      for (const input of row.querySelectorAll("[data-param]")) {
        const key = input.dataset.param;
        if (input.type === "checkbox") rule[key] = input.checked;
        else if (key === "msisdn" || key === "shape") {
          if (input.value.trim()) rule[key] = input.value.trim();
        } else if (input.value !== "") rule[key] = Number(input.value);
      }
      faults[row.dataset.kind] = rule;
    }
    const seedText = $("fault-seed").value.trim();
    try {
      const config = await Sim.api("PUT", "/sim/admin/faults", { seed: seedText === "" ? null : Number(seedText), faults });
      const on = Object.keys(config.faults);
      say("faults-message", on.length ? `Faults on: ${on.join(", ")}` : "All faults off.", "ok");
      faultsDirty = false;
      syncFaultForm(config);
      refreshFaults();
    } catch (e) {
      say("faults-message", e.message, "error");
    }
  });

  $("faults-reset").addEventListener("click", async () => {
    try {
      const config = await Sim.api("POST", "/sim/admin/reset-faults");
      say("faults-message", "All faults off.", "ok");
      faultsDirty = false;
      syncFaultForm(config);
      refreshFaults();
    } catch (e) {
      say("faults-message", e.message, "error");
    }
  });

  // -- credentials ------------------------------------------------------------------------
  function copyButton(label, value) {
    return el("button", {
      type: "button",
      class: "secondary",
      "aria-label": `Copy ${label}`,
      text: "Copy",
      onclick: async (event) => {
        try {
          await navigator.clipboard.writeText(value);
        } catch (e) {
          const area = el("textarea", { style: "position:fixed;opacity:0" });
          area.value = value;
          document.body.append(area);
          area.select();
          document.execCommand("copy");
          area.remove();
        }
        event.target.textContent = "Copied";
        setTimeout(() => (event.target.textContent = "Copy"), 1200);
      },
    });
  }

  const loadCredentials = guard(async () => {
    const info = await Sim.api("GET", "/sim/admin/info");
    let entries = [
      ["Base URL", location.origin],
      ["Consumer key", info.consumer_key],
      ["Consumer secret", info.consumer_secret],
      ["B2C shortcode", info.shortcode],
      ["Organisation", info.org_name],
      ["Initiator name", info.initiator_name],
      ["Initiator password", info.initiator_password],
      ["Token lifetime", `${info.config.token_ttl_seconds} s`],
    ];
    if (info.openapi) {
      // Vodacom's M-Pesa OpenAPI markets: an application's API key and the portal's public key.
      const o = info.openapi;
      const c = info.config;
      entries = [
        ["Base URL", location.origin],
        ["API key", o.api_key],
        ["Public key", o.public_key],
        ["Service provider code", o.service_provider_code],
        ["Organisation", info.org_name],
        ["Market context", o.market_context],
        ["Country", o.country],
        ["Currency", o.currency],
        ["Path prefix", o.path_prefix],
        ["Session", `live after ${c.openapi_session_delay_seconds} s, for ${c.openapi_session_lifetime_seconds} s`],
        ["Answers", c.openapi_b2c_mode + (c.openapi_callback_url ? `, results to ${c.openapi_callback_url}` : "")],
      ];
      $("cred-title").textContent = "OpenAPI credentials (for the addon)";
      $("cert-pem").hidden = true;
      $("cert-cer").hidden = true;
      $("cred-help").textContent = "In the addon's payment manager: base URL, API key, public key and service provider"
        + " code as above. Sessions, synchronous or asynchronous answers and the callback URL are simulator settings"
        + " (PUT /sim/admin/config).";
    }
    if (info.mz) {
      // Mozambique: Vodacom Mozambique's own API (v1x) beside the OpenAPI, on the same ledger.
      const m = info.mz;
      const ports = Object.entries(m.ports).map(([role, port]) => `${role} ${port}`).join(", ");
      entries = entries.concat([
        ["MZ API key", m.api_key],
        ["MZ public key", m.public_key],
        ["MZ service provider code", m.service_provider_code],
        ["MZ initiator identifier", m.initiator_identifier],
        ["MZ security credential", m.security_credential],
        ["MZ paths", Object.values(m.paths).join(" ")],
        ["MZ ports", `${ports}; listening on ${m.listening_ports.length ? m.listening_ports.join(", ") : "this port only"}`],
      ]);
      $("cred-help").textContent += " Vodacom Mozambique's own API (v1x) needs no session: the API key (encrypted with"
        + " the MZ public key) on every call; its initiator identifier and security credential are for reversals.";
    }
    const items = [];
    for (const [label, value] of entries) {
      const id = "cred-" + label.toLowerCase().replace(/[^a-z]+/g, "-");
      items.push(el("dt", { id: id + "-label", text: label }), el("dd", { id, "aria-labelledby": id + "-label" }, el("span", { text: String(value) }), copyButton(label.toLowerCase(), String(value))));
    }
    $("credentials").replaceChildren(...items);
  });

  // -- wallets, ledger, callbacks ---------------------------------------------------------
  const refreshWallets = guard(async () => {
    const q = $("wallet-search").value.trim();
    const wallets = await Sim.api("GET", `/sim/admin/console/wallets?limit=200&q=${encodeURIComponent(q)}`);
    $("wallet-count").textContent = `${wallets.length}${wallets.length === 200 ? "+" : ""} found`;
    $("wallets-body").replaceChildren(
      ...wallets.map((w) =>
        el(
          "tr",
          { "data-msisdn": w.msisdn },
          el("td", { text: w.msisdn }),
          el("td", { text: `${w.first_name} ${w.last_name}` }),
          el("td", {}, el("span", { class: "pill " + (w.status === "active" && w.registered ? "good" : "bad"), text: w.registered ? w.status : "not registered" }), w.pin_locked ? el("span", { class: "pill bad", text: "PIN locked" }) : null),
          el("td", { class: "num", text: Sim.ksh(w.balance_cents) }),
          el("td", {}, el("a", { href: `/phone?msisdn=${w.msisdn}`, text: "Phone", "aria-label": `Open the phone of ${w.msisdn}` }))
        )
      )
    );
  });
  $("wallet-search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    refreshWallets();
  });
  let searchTimer = null;
  $("wallet-search").addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(refreshWallets, 250);
  });

  const refreshLedger = guard(async () => {
    const params = new URLSearchParams({ limit: "60" });
    const msisdn = $("ledger-msisdn").value.trim();
    if (msisdn) params.set("msisdn", msisdn);
    if ($("ledger-kind").value) params.set("kind", $("ledger-kind").value);
    const rows = await Sim.api("GET", "/sim/admin/transactions?" + params);
    $("ledger-body").replaceChildren(
      ...rows.map((t) =>
        el(
          "tr",
          { "data-transaction-id": t.id },
          el("td", { class: "num", text: t.id }),
          el("td", { text: Sim.time(t.finalised_at || t.created_at) }),
          el("td", { text: t.kind }),
          el("td", { text: t.receipt || "" }),
          el("td", { text: accountLabel(t.from_account) }),
          el("td", { text: accountLabel(t.to_account) }),
          el("td", { class: "num", text: Sim.ksh(t.amount_cents) }),
          el("td", {}, statusPill(t.status)),
          el("td", { title: t.result_desc || "", text: t.result_code === null || t.result_code === undefined ? "" : t.result_code })
        )
      )
    );
  });
  $("ledger-form").addEventListener("submit", (event) => {
    event.preventDefault();
    refreshLedger();
  });

  const refreshCallbacks = guard(async () => {
    const rows = await Sim.api("GET", "/sim/admin/callbacks?limit=60");
    $("callbacks-body").replaceChildren(
      ...rows.map((c) =>
        el(
          "tr",
          { "data-callback-id": c.id },
          el("td", { class: "num", text: c.id }),
          el("td", { text: Sim.time(c.attempted_at) }),
          el("td", { text: c.kind + (c.replay_of ? ` (replay of #${c.replay_of})` : "") }),
          el("td", { class: "ocid", text: c.originator_conversation_id || "" }),
          el("td", { class: "url", title: c.url, text: c.url }),
          el("td", {}, el("span", { class: "pill " + (c.delivered ? "good" : "bad"), text: c.delivered ? "delivered" : "failed" })),
          el("td", { class: "num", text: c.http_status ?? "" }),
          el("td", { class: "num", text: c.latency_ms === null ? "" : `${c.latency_ms.toFixed(1)} ms` }),
          el("td", { class: "small", text: c.error || "" }),
          el("td", {}, el("button", { type: "button", class: "secondary", "aria-label": `Replay callback ${c.id}`, text: "Replay", onclick: () => replay(c.id) }))
        )
      )
    );
  });

  async function replay(id) {
    try {
      const record = await Sim.api("POST", `/sim/admin/callbacks/${id}/replay`);
      say("callbacks-message", `Callback #${id} replayed as #${record.id}: ${record.delivered ? "delivered" : "failed (" + record.error + ")"}.`, record.delivered ? "ok" : "error");
      refreshCallbacks();
      refreshOverview();
    } catch (e) {
      say("callbacks-message", e.message, "error");
    }
  }

  // -- start ------------------------------------------------------------------------------
  function tick() {
    if (document.hidden || !document.body.classList.contains("authorised")) return;
    refreshOverview();
    refreshFaults();
    refreshWallets();
    refreshLedger();
    refreshCallbacks();
  }

  Sim.loadMarket();
  Sim.setupTokenForm(() => {
    loadCredentials();
    refreshFaults();
    refreshLive();
    tick();
    if (started) return;
    started = true;
    setInterval(tick, 2500);
    setInterval(() => {
      if (!document.hidden && document.body.classList.contains("authorised")) refreshLive();
    }, 2000);
  });
})();
