// A small hand-drawn chart on <canvas>: results per second stacked by ResultCode (bars) and
// B2C requests accepted per second (line). No library: the machine may have no internet.
"use strict";

const LiveChart = (() => {
  const PALETTE = ["#e67e22", "#c0392b", "#8e44ad", "#2980b9", "#16a085", "#d35400", "#7f8c8d", "#f1c40f", "#2c3e50"];
  const SUCCESS = "#1f9d55";
  const REQUESTS = "#1d3557";

  function colour(code, codes) {
    if (code === "0") return SUCCESS;
    const others = codes.filter((c) => c !== "0");
    return PALETTE[others.indexOf(code) % PALETTE.length];
  }

  function niceMax(value) {
    if (value <= 5) return 5;
    const power = Math.pow(10, Math.floor(Math.log10(value)));
    for (const step of [1, 2, 2.5, 5, 10]) {
      if (step * power >= value) return step * power;
    }
    return 10 * power;
  }

  function draw(canvas, data) {
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth || canvas.width;
    const height = canvas.clientHeight || canvas.height;
    if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);

    const pad = { left: 44, right: 12, top: 14, bottom: 26 };
    const plotW = width - pad.left - pad.right;
    const plotH = height - pad.top - pad.bottom;
    const n = data.seconds;
    const codes = Object.keys(data.totals.results);
    const stacks = new Array(n).fill(0);
    for (const code of codes) data.results[code].forEach((v, i) => (stacks[i] += v));
    const top = niceMax(Math.max(1, ...stacks, ...data.requests));
    const y = (v) => pad.top + plotH - (v / top) * plotH;
    const slot = plotW / n;

    // grid and y labels
    ctx.font = "11px system-ui, sans-serif";
    ctx.fillStyle = "#5d6878";
    ctx.strokeStyle = "#e3e7ed";
    ctx.lineWidth = 1;
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    const ticks = top % 4 === 0 ? 4 : 5;
    for (let i = 0; i <= ticks; i++) {
      const v = (top / ticks) * i;
      const yy = Math.round(y(v)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(pad.left, yy);
      ctx.lineTo(width - pad.right, yy);
      ctx.stroke();
      ctx.fillText(Number.isInteger(v) ? String(v) : v.toFixed(1), pad.left - 6, yy);
    }
    ctx.save();
    ctx.translate(11, pad.top + plotH / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = "center";
    ctx.fillText("per second", 0, 0);
    ctx.restore();

    // x labels: minutes ago
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    const minutes = n / 60;
    const step = minutes <= 1 ? 1 / 6 : minutes <= 5 ? 1 : 3;
    for (let m = 0; m <= minutes + 1e-9; m += step) {
      const x = pad.left + plotW - (m * 60 * plotW) / n;
      const label = m === 0 ? "now" : m < 1 ? `-${Math.round(m * 60)}s` : `-${Math.round(m)}m`;
      ctx.fillText(label, Math.min(Math.max(x, pad.left + 10), width - pad.right - 12), pad.top + plotH + 7);
    }

    // stacked bars of results
    const barW = Math.max(1, slot - (slot > 3 ? 1 : 0));
    for (let i = 0; i < n; i++) {
      let base = 0;
      for (const code of codes) {
        const v = data.results[code][i];
        if (!v) continue;
        ctx.fillStyle = colour(code, codes);
        const y0 = y(base);
        const y1 = y(base + v);
        ctx.fillRect(pad.left + i * slot, y1, barW, y0 - y1);
        base += v;
      }
    }

    // line of requests
    ctx.strokeStyle = REQUESTS;
    ctx.lineWidth = 1.6;
    ctx.beginPath();
    data.requests.forEach((v, i) => {
      const x = pad.left + i * slot + slot / 2;
      if (i === 0) ctx.moveTo(x, y(v));
      else ctx.lineTo(x, y(v));
    });
    ctx.stroke();

    // axis
    ctx.strokeStyle = "#9aa4b2";
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(pad.left + 0.5, pad.top);
    ctx.lineTo(pad.left + 0.5, pad.top + plotH + 0.5);
    ctx.lineTo(width - pad.right, pad.top + plotH + 0.5);
    ctx.stroke();
    return { codes, colour: (code) => colour(code, codes), requestColour: REQUESTS };
  }

  return { draw };
})();
