"""Give back the WebGL contexts of charts that have left the page, so the browser never drops a chart on screen."""

# A browser keeps about 16 WebGL contexts per page and, past that, drops the oldest one still alive: a map on screen
# goes blank but for its legend (issue 27, item 16). Every map drawn anew (another method, view, colour, selection)
# makes fresh contexts (a 2-D WebGL map two, a 3-D one one) and plotly leaves the old ones to the garbage collector,
# which may come too late. This script remembers each canvas's WebGL context and, once a canvas has been off the
# page for two seconds, releases its context with the standard WEBGL_lose_context extension. It is our own constant
# text; nothing from a user goes into it.
RELEASE_SCRIPT = """
<script>
(() => {
  if (window.__aelabWebglRelease) return;
  window.__aelabWebglRelease = {made: 0, released: 0};
  const counts = window.__aelabWebglRelease;
  const contexts = new WeakMap();  // canvas -> its WebGL context
  const getContext = HTMLCanvasElement.prototype.getContext;
  HTMLCanvasElement.prototype.getContext = function (kind, ...rest) {
    const ctx = getContext.call(this, kind, ...rest);
    if (ctx && /webgl/i.test(String(kind)) && !contexts.has(this)) { contexts.set(this, ctx); counts.made++; }
    return ctx;
  };
  const release = (canvas) => setTimeout(() => {
    const ctx = contexts.get(canvas);
    if (!ctx || canvas.isConnected || ctx.isContextLost()) return;
    const lose = ctx.getExtension("WEBGL_lose_context");
    if (lose) { lose.loseContext(); counts.released++; }
    contexts.delete(canvas);
  }, 2000);
  new MutationObserver((records) => {
    for (const r of records) for (const node of r.removedNodes) {
      if (node.nodeType !== 1) continue;
      if (node.tagName === "CANVAS") release(node);
      else if (node.getElementsByTagName) for (const c of node.getElementsByTagName("canvas")) release(c);
    }
  }).observe(document.documentElement, {childList: true, subtree: true});
})();
</script>
"""
