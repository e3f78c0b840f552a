// chart.js: small canvas charts for the leash page (lines with error
// bands, bars), linear or log y, box zoom. No dependencies.
"use strict";

const Chart = (() => {
  const COLORS = ["#1f7ae0", "#e0532f", "#2a9d54", "#8e44ad", "#d98a00", "#0f9fb0", "#c2185b", "#5d6d7e"];

  function finite(v) { return v !== null && v !== undefined && Number.isFinite(v); }

  // niceStep returns a step of 1, 2 or 5 times a power of ten near span/n.
  function niceStep(span, n) {
    const raw = span / Math.max(1, n);
    const p = Math.pow(10, Math.floor(Math.log10(raw)));
    const m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
  }

  function linTicks(a, b, n, minStep) {
    if (!(b > a)) return [a];
    const s = Math.max(niceStep(b - a, n), minStep || 0);
    const out = [];
    for (let v = Math.ceil(a / s) * s; v <= b + s * 1e-9; v += s) out.push(Math.abs(v) < s * 1e-9 ? 0 : v);
    return out;
  }

  function logTicks(a, b) {
    const out = [];
    const e0 = Math.floor(Math.log10(a)), e1 = Math.ceil(Math.log10(b));
    const every = Math.max(1, Math.ceil((e1 - e0) / 8));
    for (let e = e0; e <= e1; e += every) {
      const v = Math.pow(10, e);
      if (v >= a * 0.999 && v <= b * 1.001) out.push(v);
    }
    if (out.length < 2) return linTicks(a, b, 4).filter(v => v > 0);
    return out;
  }

  // fmt prints a tick value; step (the tick spacing) sets the decimals.
  function fmt(v, step) {
    if (v === 0) return "0";
    const a = Math.abs(v);
    if (step && a < 1e5 && a >= 1e-3) {
      const d = Math.max(0, Math.ceil(-Math.log10(step) - 1e-9));
      return v.toFixed(Math.min(d, 8));
    }
    if (a >= 1e5 || a < 1e-3) {
      const e = Math.floor(Math.log10(a));
      const m = v / Math.pow(10, e);
      const ms = Math.abs(m - 1) < 1e-9 ? "" : (+m.toPrecision(3)) + "·";
      return ms + "10" + sup(e);
    }
    return String(+v.toPrecision(4));
  }
  const SUP = { "-": "⁻", "0": "⁰", "1": "¹", "2": "²", "3": "³", "4": "⁴", "5": "⁵", "6": "⁶", "7": "⁷", "8": "⁸", "9": "⁹" };
  function sup(n) { return String(n).split("").map(c => SUP[c] || c).join(""); }

  // extent returns [min, max] of the finite values (positive only for log).
  function extent(series, key, log) {
    let lo = Infinity, hi = -Infinity;
    for (const s of series) {
      const arrs = [s[key]];
      if (key === "y" && s.lo && s.band !== false) arrs.push(s.lo, s.hi);
      for (const arr of arrs) {
        if (!arr) continue;
        for (const v of arr) {
          if (!finite(v) || (log && v <= 0)) continue;
          if (v < lo) lo = v;
          if (v > hi) hi = v;
        }
      }
    }
    if (lo === Infinity) return null;
    if (lo === hi) {
      if (log) { lo /= 2; hi *= 2; } else { const d = Math.abs(lo) || 1; lo -= d / 2; hi += d / 2; }
    }
    return [lo, hi];
  }

  // draw renders opts onto canvas and returns the plot area mapping (used
  // by zoom). opts: {series:[{x,y,lo,hi,label,color,bars}], logY, xLabel,
  // yLabel, view:{x0,x1,y0,y1}|null, empty:"text", band:bool}.
  function draw(canvas, opts) {
    const dpr = window.devicePixelRatio || 1;
    const cw = canvas.clientWidth, ch = canvas.clientHeight;
    if (cw === 0 || ch === 0) return null;
    if (canvas.width !== Math.round(cw * dpr) || canvas.height !== Math.round(ch * dpr)) {
      canvas.width = Math.round(cw * dpr);
      canvas.height = Math.round(ch * dpr);
    }
    const g = canvas.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, cw, ch);
    const css = getComputedStyle(document.documentElement);
    const fs = parseFloat(css.getPropertyValue("--fs")) || 14;
    const font = Math.round(fs * 0.85) + "px system-ui, sans-serif";
    g.font = font;
    const series = (opts.series || []).filter(s => s.x && s.x.length);
    const log = !!opts.logY;
    let xe = extent(series, "x", false), ye = extent(series, "y", log);
    if (opts.view) { xe = [opts.view.x0, opts.view.x1]; ye = [opts.view.y0, opts.view.y1]; }
    const left = Math.round(fs * 4.6), right = Math.round(fs * 1.2), top = Math.round(fs * 0.9), bottom = Math.round(fs * 3.2);
    const W = cw - left - right, H = ch - top - bottom;
    g.fillStyle = "#fbfcfe";
    g.fillRect(left, top, W, H);
    if (!xe || !ye || W < 20 || H < 20) {
      g.fillStyle = "#687587";
      g.textAlign = "center";
      g.fillText(opts.empty || "no data yet", cw / 2, ch / 2);
      return null;
    }
    if (opts.bars && !opts.view) xe = [xe[0] - 0.5, xe[1] + 0.5];
    if (!log && !opts.view && opts.zeroY !== false) { ye = [Math.min(0, ye[0]), ye[1]]; }
    if (!opts.view) {
      if (log) { ye = [ye[0] / 1.3, ye[1] * 1.3]; }
      else { const d = (ye[1] - ye[0]) * 0.05; ye = [ye[0] === 0 ? 0 : ye[0] - d, ye[1] + d]; }
    }
    const ly = v => Math.log10(v);
    const Y0 = log ? ly(ye[0]) : ye[0], Y1 = log ? ly(ye[1]) : ye[1];
    const px = x => left + (x - xe[0]) / (xe[1] - xe[0]) * W;
    const py = y => {
      const t = log ? (y > 0 ? ly(y) : -Infinity) : y;
      return top + H - (t - Y0) / (Y1 - Y0) * H;
    };
    // grid and ticks
    g.strokeStyle = "#e6eaef";
    g.fillStyle = "#4a5666";
    g.lineWidth = 1;
    g.textAlign = "center";
    g.textBaseline = "top";
    const xt = linTicks(xe[0], xe[1], Math.max(2, W / (fs * 7)), opts.integerX ? 1 : 0);
    const xs = xt.length > 1 ? xt[1] - xt[0] : 0;
    for (const t of xt) {
      const x = Math.round(px(t)) + 0.5;
      g.beginPath(); g.moveTo(x, top); g.lineTo(x, top + H); g.stroke();
      g.fillText(fmt(t, xs), x, top + H + 4);
    }
    g.textAlign = "right";
    g.textBaseline = "middle";
    const yt = log ? logTicks(ye[0], ye[1]) : linTicks(ye[0], ye[1], Math.max(2, H / (fs * 3)));
    const ys = !log && yt.length > 1 ? yt[1] - yt[0] : 0;
    if (log) { // minor ticks at 2…9 × 10^k
      g.strokeStyle = "#f1f3f6";
      for (let e = Math.floor(Math.log10(ye[0])); e <= Math.ceil(Math.log10(ye[1])); e++) {
        for (let m = 2; m < 10; m++) {
          const v = m * Math.pow(10, e);
          if (v <= ye[0] || v >= ye[1]) continue;
          const y = Math.round(py(v)) + 0.5;
          g.beginPath(); g.moveTo(left, y); g.lineTo(left + W, y); g.stroke();
        }
      }
      g.strokeStyle = "#e6eaef";
    }
    for (const t of yt) {
      const y = Math.round(py(t)) + 0.5;
      g.beginPath(); g.moveTo(left, y); g.lineTo(left + W, y); g.stroke();
      g.fillText(fmt(t, ys), left - 5, y);
    }
    g.strokeStyle = "#9aa6b4";
    g.strokeRect(left + 0.5, top + 0.5, W, H);
    // labels
    g.fillStyle = "#2b3644";
    g.textAlign = "center";
    g.textBaseline = "bottom";
    if (opts.xLabel) g.fillText(opts.xLabel, left + W / 2, ch - 2);
    if (opts.yLabel) {
      g.save(); g.translate(fs * 0.9, top + H / 2); g.rotate(-Math.PI / 2);
      g.textBaseline = "middle"; g.fillText(opts.yLabel, 0, 0); g.restore();
    }
    g.save();
    g.beginPath(); g.rect(left, top, W, H); g.clip();
    series.forEach((s, k) => {
      const col = s.color || COLORS[k % COLORS.length];
      if (opts.bars) {
        g.fillStyle = col;
        const bw = Math.max(1, W / (xe[1] - xe[0]) * 0.8);
        for (let i = 0; i < s.x.length; i++) {
          if (!finite(s.y[i])) continue;
          const y = py(s.y[i]), y0 = py(log ? ye[0] : Math.max(0, ye[0]));
          g.fillRect(px(s.x[i]) - bw / 2, Math.min(y, y0), bw, Math.abs(y0 - y));
        }
        return;
      }
      // error band
      if (s.lo && s.hi && opts.band !== false) {
        g.fillStyle = col + "33";
        let i = 0;
        const n = s.x.length;
        while (i < n) {
          while (i < n && !(finite(s.x[i]) && finite(s.lo[i]) && finite(s.hi[i]))) i++;
          const j0 = i;
          while (i < n && finite(s.x[i]) && finite(s.lo[i]) && finite(s.hi[i])) i++;
          if (i - j0 < 2) continue;
          g.beginPath();
          for (let j = j0; j < i; j++) g.lineTo(px(s.x[j]), clampY(py(log ? Math.max(s.hi[j], ye[0]) : s.hi[j])));
          for (let j = i - 1; j >= j0; j--) g.lineTo(px(s.x[j]), clampY(py(log ? Math.max(s.lo[j], ye[0] / 10) : s.lo[j])));
          g.closePath(); g.fill();
        }
      }
      g.strokeStyle = col;
      g.lineWidth = s.width || 1.6;
      g.lineJoin = "round";
      g.beginPath();
      let pen = false, count = 0;
      for (let i = 0; i < s.x.length; i++) {
        const ok = finite(s.x[i]) && finite(s.y[i]) && (!log || s.y[i] > 0);
        if (!ok) { pen = false; continue; }
        const X = px(s.x[i]), Y = py(s.y[i]);
        if (pen) g.lineTo(X, Y); else g.moveTo(X, Y);
        pen = true; count++;
      }
      g.stroke();
      if (s.points || count < 40) {
        g.fillStyle = col;
        for (let i = 0; i < s.x.length; i++) {
          if (finite(s.x[i]) && finite(s.y[i]) && (!log || s.y[i] > 0)) {
            g.beginPath(); g.arc(px(s.x[i]), py(s.y[i]), 2.2, 0, 2 * Math.PI); g.fill();
          }
        }
      }
    });
    g.restore();
    function clampY(y) { return Math.max(top - 5, Math.min(top + H + 5, y)); }
    // legend
    const named = series.filter(s => s.label);
    if (named.length > 1 || (named.length === 1 && opts.legend)) {
      g.textAlign = "left"; g.textBaseline = "middle";
      let lw = 0;
      for (const s of named) lw = Math.max(lw, g.measureText(s.label).width);
      const bx = left + W - lw - 34, by = top + 8;
      g.fillStyle = "rgba(255,255,255,.85)";
      g.fillRect(bx - 6, by - 4, lw + 34, named.length * fs * 1.3 + 6);
      named.forEach((s, k) => {
        const col = s.color || COLORS[series.indexOf(s) % COLORS.length];
        const y = by + fs * 0.65 + k * fs * 1.3;
        g.fillStyle = col; g.fillRect(bx, y - 2, 16, 4);
        g.fillStyle = "#2b3644"; g.fillText(s.label, bx + 22, y);
      });
    }
    const map = { left, top, W, H, xe, ye, log,
      x: X => xe[0] + (X - left) / W * (xe[1] - xe[0]),
      y: Yp => { const t = Y0 + (top + H - Yp) / H * (Y1 - Y0); return log ? Math.pow(10, t) : t; } };
    canvas._map = map;
    return map;
  }

  // zoomable adds box zoom to a canvas: onView(view|null) is called with
  // the new view (null: reset on double-click).
  function zoomable(canvas, onView) {
    let start = null, box = null;
    canvas.addEventListener("mousedown", e => {
      if (!canvas._map) return;
      start = [e.offsetX, e.offsetY];
    });
    canvas.addEventListener("mousemove", e => {
      if (!start) { readout(e); return; }
      box = [start[0], start[1], e.offsetX, e.offsetY];
      const g = canvas.getContext("2d");
      canvas.dispatchEvent(new Event("redraw"));
      g.save();
      g.strokeStyle = "#1f7ae0"; g.fillStyle = "rgba(31,122,224,.12)"; g.lineWidth = 1;
      g.fillRect(box[0], box[1], box[2] - box[0], box[3] - box[1]);
      g.strokeRect(box[0], box[1], box[2] - box[0], box[3] - box[1]);
      g.restore();
    });
    window.addEventListener("mouseup", () => {
      if (start && box && canvas._map && Math.abs(box[2] - box[0]) > 6 && Math.abs(box[3] - box[1]) > 6) {
        const m = canvas._map;
        const x0 = m.x(Math.min(box[0], box[2])), x1 = m.x(Math.max(box[0], box[2]));
        const y0 = m.y(Math.max(box[1], box[3])), y1 = m.y(Math.min(box[1], box[3]));
        onView({ x0, x1, y0, y1 });
      }
      start = null; box = null;
    });
    canvas.addEventListener("dblclick", () => onView(null));
    canvas.addEventListener("mouseleave", () => { if (!start) canvas.dispatchEvent(new Event("redraw")); });
    // readout draws a crosshair with the coordinates under the pointer.
    function readout(e) {
      const m = canvas._map;
      if (!m) return;
      const X = e.offsetX, Y = e.offsetY;
      canvas.dispatchEvent(new Event("redraw"));
      if (X < m.left || X > m.left + m.W || Y < m.top || Y > m.top + m.H) return;
      const g = canvas.getContext("2d");
      g.save();
      g.strokeStyle = "rgba(40,50,64,.35)"; g.setLineDash([4, 4]); g.lineWidth = 1;
      g.beginPath(); g.moveTo(X + 0.5, m.top); g.lineTo(X + 0.5, m.top + m.H);
      g.moveTo(m.left, Y + 0.5); g.lineTo(m.left + m.W, Y + 0.5); g.stroke();
      const text = (canvas.dataset.xname || "x") + " = " + (+m.x(X).toPrecision(4)) + "   " + (canvas.dataset.yname || "y") + " = " + (+m.y(Y).toPrecision(4));
      g.setLineDash([]);
      g.font = getComputedStyle(canvas).font;
      const w = g.measureText(text).width + 12;
      g.fillStyle = "rgba(255,255,255,.9)"; g.fillRect(m.left + 6, m.top + 6, w, 22);
      g.fillStyle = "#1b2430"; g.textBaseline = "middle"; g.textAlign = "left";
      g.fillText(text, m.left + 12, m.top + 17);
      g.restore();
    }
  }

  return { draw, zoomable, COLORS, fmt };
})();
