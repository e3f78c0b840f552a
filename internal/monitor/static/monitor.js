// saxsdog plot monitor: draws the curves of the latest frame, received as
// server-sent events from "events", on a canvas: intensity on a log axis
// over q, one line per curve with its Poisson error band.
'use strict';

(function () {
  const canvas = document.getElementById('plot');
  const statusEl = document.getElementById('status');
  const infoEl = document.getElementById('info');

  // matplotlib's default colour cycle ("tab10").
  const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd',
    '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
  const X_LABEL = 'q [nm\u207b\u00b9]';
  const Y_LABEL = 'Intensity [counts/pixel]';
  const FONT = '13px sans-serif';
  const TITLE_FONT = 'bold 15px sans-serif';

  let latest = null;     // the latest message
  let frames = 0;        // messages received
  let pending = false;   // a redraw is scheduled

  function isNum(v) {
    return typeof v === 'number' && isFinite(v);
  }

  // Points of a curve that can be shown on the log axis, in order; a null
  // (empty bin) breaks the line, a value <= 0 is only skipped, like the
  // SVG plots of saxsdog -s.
  function segments(c) {
    const segs = [];
    let cur = [];
    const n = Math.min(c.q.length, c.i.length);
    for (let k = 0; k < n; k++) {
      const q = c.q[k], i = c.i[k];
      if (!isNum(q) || !isNum(i)) {
        if (cur.length) segs.push(cur);
        cur = [];
        continue;
      }
      if (i <= 0) continue;
      let s = c.sigma && isNum(c.sigma[k]) && c.sigma[k] >= 0 ? c.sigma[k] : null;
      if (s !== null && !isFinite(i + s)) s = null;
      cur.push({ q: q, i: i, s: s });
    }
    if (cur.length) segs.push(cur);
    return segs;
  }

  // A "nice" step (1, 2 or 5 times a power of ten) near range/n.
  function niceStep(range, n) {
    const raw = range / n;
    const p = Math.pow(10, Math.floor(Math.log10(raw)));
    const f = raw / p;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
  }

  function linearTicks(min, max, n) {
    const step = niceStep(max - min, n);
    const ticks = [];
    for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) {
      ticks.push({ v: Math.abs(v) < step * 1e-9 ? 0 : v, label: true });
    }
    return { ticks: ticks, step: step };
  }

  // Decades, labelled (every few if there are many), and the multiples
  // 2..9 as minor ticks, 2 and 5 labelled too when the range is short.
  function logTicks(lmin, lmax) {
    const lo = Math.floor(lmin), hi = Math.ceil(lmax);
    const every = Math.max(1, Math.ceil((hi - lo) / 8));
    const short = lmax - lmin < 2.5;
    const ticks = [];
    for (let d = lo; d <= hi; d++) {
      for (let m = 1; m < 10; m++) {
        const l = d + Math.log10(m);
        if (l < lmin - 1e-9 || l > lmax + 1e-9) continue;
        if (m > 1 && hi - lo > 12) continue;
        const major = m === 1;
        ticks.push({
          l: l,
          v: m * Math.pow(10, d),
          major: major,
          label: major ? (d - lo) % every === 0 : short && (m === 2 || m === 5),
        });
      }
    }
    return ticks;
  }

  function fmt(v, step) {
    const a = Math.abs(v);
    if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(0).replace('e+', 'e');
    if (step !== undefined) {
      const digits = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
      return v.toFixed(digits);
    }
    return String(+v.toPrecision(6));
  }

  function schedule() {
    if (!pending) {
      pending = true;
      requestAnimationFrame(function () {
        pending = false;
        draw();
      });
    }
  }

  function draw() {
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth, h = canvas.clientHeight;
    if (w === 0 || h === 0) return;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
    }
    const ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, w, h);

    const left = 80, right = 20, top = 40, bottom = 55;
    const pw = w - left - right, ph = h - top - bottom;
    if (pw < 50 || ph < 50) return;

    ctx.fillStyle = '#222';
    ctx.font = TITLE_FONT;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    ctx.fillText(latest ? latest.file : 'waiting for the first frame…', left + pw / 2, top / 2, w - 20);

    // Data and ranges.
    const curves = latest ? latest.curves.map(function (c) { return { name: c.name, segs: segments(c) }; }) : [];
    let qmin = Infinity, qmax = -Infinity, imin = Infinity, imax = -Infinity;
    curves.forEach(function (c) {
      c.segs.forEach(function (seg) {
        seg.forEach(function (p) {
          qmin = Math.min(qmin, p.q); qmax = Math.max(qmax, p.q);
          imin = Math.min(imin, p.i); imax = Math.max(imax, p.i);
        });
      });
    });
    const haveData = imin <= imax;
    // Bands are clipped below at 1/1000 of the smallest intensity.
    const floor = haveData ? Math.max(imin * 1e-3, 1e-300) : 1;
    let ylo = imin, yhi = imax;
    curves.forEach(function (c) {
      c.segs.forEach(function (seg) {
        seg.forEach(function (p) {
          if (p.s === null) return;
          ylo = Math.min(ylo, Math.max(p.i - p.s, floor));
          yhi = Math.max(yhi, p.i + p.s);
        });
      });
    });
    if (!haveData) { qmin = 0; qmax = 1; ylo = 1; yhi = 10; }
    if (qmin === qmax) { const d = Math.abs(qmin) / 10 || 1; qmin -= d; qmax += d; }
    let lmin = Math.log10(ylo), lmax = Math.log10(yhi);
    if (!isFinite(lmax)) lmax = 308;
    if (lmin === lmax) { lmin -= 0.5; lmax += 0.5; }
    const lpad = (lmax - lmin) * 0.03, qpad = (qmax - qmin) * 0.02;
    lmin -= lpad; lmax += lpad; qmin -= qpad; qmax += qpad;

    const X = function (q) { return left + (q - qmin) / (qmax - qmin) * pw; };
    const Y = function (l) { return top + ph - (l - lmin) / (lmax - lmin) * ph; };
    const Yv = function (v) { return Y(Math.log10(v)); };

    // Grid, ticks and tick labels.
    ctx.font = FONT;
    ctx.lineWidth = 1;
    const xt = linearTicks(qmin, qmax, Math.max(2, Math.floor(pw / 90)));
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    xt.ticks.forEach(function (t) {
      const x = Math.round(X(t.v)) + 0.5;
      ctx.strokeStyle = '#eee';
      ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, top + ph); ctx.stroke();
      ctx.strokeStyle = '#222';
      ctx.beginPath(); ctx.moveTo(x, top + ph); ctx.lineTo(x, top + ph + 5); ctx.stroke();
      ctx.fillStyle = '#222';
      ctx.fillText(fmt(t.v, xt.step), x, top + ph + 8);
    });
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    logTicks(lmin, lmax).forEach(function (t) {
      const y = Math.round(Y(t.l)) + 0.5;
      ctx.strokeStyle = t.major ? '#e4e4e4' : '#f4f4f4';
      ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(left + pw, y); ctx.stroke();
      ctx.strokeStyle = '#222';
      ctx.beginPath(); ctx.moveTo(left - (t.major ? 6 : 3), y); ctx.lineTo(left, y); ctx.stroke();
      if (t.label) {
        ctx.fillStyle = '#222';
        ctx.fillText(fmt(t.v), left - 9, y);
      }
    });

    // Curves: Poisson band, then the line, clipped to the plot area.
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, top, pw, ph);
    ctx.clip();
    curves.forEach(function (c, ci) {
      const color = COLORS[ci % COLORS.length];
      ctx.fillStyle = color;
      ctx.globalAlpha = 0.25;
      c.segs.forEach(function (seg) {
        // Runs of points with an error.
        let run = [];
        const flush = function () {
          if (run.length > 1) {
            ctx.beginPath();
            run.forEach(function (p, k) {
              const x = X(p.q), y = Yv(p.i + p.s);
              if (k === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
            });
            for (let k = run.length - 1; k >= 0; k--) {
              ctx.lineTo(X(run[k].q), Yv(Math.max(run[k].i - run[k].s, floor)));
            }
            ctx.closePath();
            ctx.fill();
          } else if (run.length === 1) {
            const p = run[0];
            ctx.fillRect(X(p.q) - 2, Yv(p.i + p.s), 4, Yv(Math.max(p.i - p.s, floor)) - Yv(p.i + p.s));
          }
          run = [];
        };
        seg.forEach(function (p) {
          if (p.s === null) flush(); else run.push(p);
        });
        flush();
      });
      ctx.globalAlpha = 1;
      ctx.strokeStyle = color;
      ctx.lineWidth = 1.5;
      c.segs.forEach(function (seg) {
        if (seg.length === 1) {
          ctx.beginPath();
          ctx.arc(X(seg[0].q), Yv(seg[0].i), 2.5, 0, 2 * Math.PI);
          ctx.fill();
          return;
        }
        ctx.beginPath();
        seg.forEach(function (p, k) {
          if (k === 0) ctx.moveTo(X(p.q), Yv(p.i)); else ctx.lineTo(X(p.q), Yv(p.i));
        });
        ctx.stroke();
      });
    });
    ctx.restore();

    // Frame and axis labels.
    ctx.strokeStyle = '#222';
    ctx.lineWidth = 1;
    ctx.strokeRect(left + 0.5, top + 0.5, pw - 1, ph - 1);
    ctx.fillStyle = '#222';
    ctx.font = FONT;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'bottom';
    ctx.fillText(X_LABEL, left + pw / 2, h - 6);
    ctx.save();
    ctx.translate(16, top + ph / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textBaseline = 'middle';
    ctx.fillText(Y_LABEL, 0, 0);
    ctx.restore();

    if (latest && !haveData) {
      ctx.fillStyle = '#888';
      ctx.textAlign = 'center';
      ctx.textBaseline = 'middle';
      ctx.fillText('no positive intensities', left + pw / 2, top + ph / 2);
    }

    // Legend, top right.
    if (curves.length) {
      const entries = curves.map(function (c, ci) { return { name: c.name || 'curve ' + ci, color: COLORS[ci % COLORS.length] }; });
      const lh = 18;
      let lw = ctx.measureText('\u00b1 Poisson error').width;
      entries.forEach(function (e) { lw = Math.max(lw, ctx.measureText(e.name).width); });
      const bw = lw + 44, bh = lh * (entries.length + 1) + 8;
      const bx = left + pw - bw - 8, by = top + 8;
      ctx.fillStyle = 'rgba(255,255,255,0.85)';
      ctx.fillRect(bx, by, bw, bh);
      ctx.strokeStyle = '#ccc';
      ctx.strokeRect(bx + 0.5, by + 0.5, bw, bh);
      ctx.textAlign = 'left';
      ctx.textBaseline = 'middle';
      entries.forEach(function (e, k) {
        const y = by + 4 + lh * k + lh / 2;
        ctx.strokeStyle = e.color;
        ctx.lineWidth = 2;
        ctx.beginPath(); ctx.moveTo(bx + 8, y); ctx.lineTo(bx + 32, y); ctx.stroke();
        ctx.fillStyle = '#222';
        ctx.fillText(e.name, bx + 38, y);
      });
      const y = by + 4 + lh * entries.length + lh / 2;
      ctx.fillStyle = entries[0].color;
      ctx.globalAlpha = 0.25;
      ctx.fillRect(bx + 8, y - 6, 24, 12);
      ctx.globalAlpha = 1;
      ctx.fillStyle = '#222';
      ctx.fillText('\u00b1 Poisson error', bx + 38, y);
    }
  }

  function setStatus(text, ok) {
    statusEl.textContent = text;
    statusEl.className = ok ? 'ok' : 'bad';
  }

  const events = new EventSource('events');
  events.onopen = function () { setStatus('connected', true); };
  events.onerror = function () { setStatus('disconnected, retrying…', false); };
  events.onmessage = function (e) {
    let msg;
    try {
      msg = JSON.parse(e.data);
    } catch (err) {
      return;
    }
    if (!msg || !Array.isArray(msg.curves)) return;
    latest = msg;
    frames++;
    infoEl.textContent = frames + (frames === 1 ? ' frame' : ' frames') + ' received, last at ' + new Date().toLocaleTimeString();
    schedule();
  };
  window.addEventListener('resize', schedule);
  schedule();
})();
