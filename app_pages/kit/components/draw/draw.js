// A drawing canvas for one digit (Streamlit Components v2; no network, no build step).
// State sent to Python: "strokes" = [[[x, y], ...], ...] in canvas pixels, sent while drawing at most every
// data.interval_ms, shortly after each stroke ends, and at once on Undo / Clear.
// Streamlit calls this function on every rerun with new `data`; the canvas and its strokes live on the DOM
// node, so a rerun (caused by our own sends) never interrupts a stroke.
export default function (component) {
  const { parentElement, data, setStateValue } = component;
  const root = parentElement.querySelector(".aedraw");
  if (!root) return;
  const cfg = Object.assign({ width: 280, height: 280, brush: 24, interval_ms: 300, strokes: [] }, data || {});
  let s = root.__aedraw;
  if (!s) {
    s = root.__aedraw = { strokes: [], current: null, timer: null };
    setup(root, s);
    // A new canvas (first visit, or the page was left and opened again): show what Python kept.
    if (Array.isArray(cfg.strokes)) s.strokes = cfg.strokes.filter((p) => Array.isArray(p) && p.length).map((p) => p.slice());
  }
  s.cfg = cfg;
  s.send = setStateValue; // the newest one
  s.canvas.width !== cfg.width && (s.canvas.width = cfg.width);
  s.canvas.height !== cfg.height && (s.canvas.height = cfg.height);
  s.canvas.style.width = cfg.width + "px";
  s.canvas.style.aspectRatio = `${cfg.width} / ${cfg.height}`; // narrow columns shrink it without distorting
  redraw(s);
}

function setup(root, s) {
  const canvas = root.querySelector("canvas");
  s.canvas = canvas;
  s.ctx = canvas.getContext("2d");
  s.undo = root.querySelector(".aedraw-undo");
  s.clear = root.querySelector(".aedraw-clear");
  s.status = root.querySelector(".aedraw-status");

  const point = (e) => {
    const r = canvas.getBoundingClientRect(); // the canvas may be shown smaller than its pixels
    const x = ((e.clientX - r.left) * canvas.width) / Math.max(r.width, 1);
    const y = ((e.clientY - r.top) * canvas.height) / Math.max(r.height, 1);
    return [Math.round(Math.min(Math.max(x, 0), canvas.width - 1)), Math.round(Math.min(Math.max(y, 0), canvas.height - 1))];
  };
  canvas.addEventListener("pointerdown", (e) => {
    if (e.pointerType === "mouse" && e.button !== 0) return;
    e.preventDefault();
    try { canvas.setPointerCapture(e.pointerId); } catch (_) { /* synthetic events have no capture */ }
    s.current = [point(e)];
    redraw(s);
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!s.current) return;
    e.preventDefault();
    const events = typeof e.getCoalescedEvents === "function" ? e.getCoalescedEvents() : [];
    for (const ev of events.length ? events : [e]) {
      const p = point(ev);
      const q = s.current[s.current.length - 1];
      if (Math.hypot(p[0] - q[0], p[1] - q[1]) < 2) continue; // fewer points, same line
      s.current.push(p);
      segment(s, q, p);
    }
    if (!s.timer) s.timer = setTimeout(() => flush(s), s.cfg.interval_ms); // while drawing: throttled
  });
  const end = (e) => {
    if (!s.current) return;
    e.preventDefault();
    s.strokes.push(s.current);
    s.current = null;
    clearTimeout(s.timer); // after a stroke: debounced, so the two strokes of a 4 or a 7 make one update
    s.timer = setTimeout(() => flush(s), Math.min(s.cfg.interval_ms, 250));
    redraw(s);
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  s.undo.addEventListener("click", () => { s.strokes.pop(); redraw(s); flush(s); });
  s.clear.addEventListener("click", () => { s.strokes = []; s.current = null; redraw(s); flush(s); });
}

function flush(s) {
  clearTimeout(s.timer);
  s.timer = null;
  const all = s.current && s.current.length ? s.strokes.concat([s.current]) : s.strokes;
  s.send("strokes", all.map((p) => p.slice()));
}

function pen(s) {
  const ctx = s.ctx;
  ctx.strokeStyle = "#fff";
  ctx.fillStyle = "#fff";
  ctx.lineWidth = s.cfg.brush;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  return ctx;
}

function segment(s, a, b) {
  const ctx = pen(s);
  ctx.beginPath();
  ctx.moveTo(a[0], a[1]);
  ctx.lineTo(b[0], b[1]);
  ctx.stroke();
}

function redraw(s) {
  const ctx = s.ctx;
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, s.canvas.width, s.canvas.height);
  pen(s);
  for (const p of s.current ? s.strokes.concat([s.current]) : s.strokes) {
    ctx.beginPath();
    ctx.arc(p[0][0], p[0][1], s.cfg.brush / 2, 0, 2 * Math.PI); // a dot for a single click
    ctx.fill();
    if (p.length > 1) {
      ctx.beginPath();
      ctx.moveTo(p[0][0], p[0][1]);
      for (const q of p.slice(1)) ctx.lineTo(q[0], q[1]);
      ctx.stroke();
    }
  }
  const n = s.strokes.length;
  s.undo.disabled = n === 0;
  s.clear.disabled = n === 0;
  s.status.textContent = n === 0 ? "Draw one digit" : `${n} stroke${n === 1 ? "" : "s"}`;
  s.canvas.dataset.strokes = String(n);
}
