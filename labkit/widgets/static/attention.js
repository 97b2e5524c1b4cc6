// labkit attention explorer: the browser half of labkit.widgets.AttentionExplorer.
//
// Hand-written, dependency-free ES module for anywidget (no CDN, no d3, no require.js).
// Python sends the weights as bytes (one byte per weight, 0..255 = 0..1):
//   _layer_bytes  the current layer, shape (heads, W, W) for a window of W tokens
//   _thumb_bytes  every layer and head shrunk to (layers, heads, S, S), S <= 32
// The browser draws them on <canvas>. Changing the head never talks to Python; clicks set
// the synced traits layer / head / selected_token / view, which Python can observe.

// Nine samples of viridis, the same as labkit/widgets/fallback.py.
const ANCHORS = [
  [68, 1, 84], [71, 45, 123], [59, 82, 139], [44, 114, 142], [33, 145, 140],
  [40, 174, 128], [94, 201, 98], [173, 220, 48], [253, 231, 37],
];

function makeLut(boost) {
  // 256 colours; "boost" stretches small weights (square root) so faint patterns show.
  const lut = new Uint8ClampedArray(256 * 3);
  for (let i = 0; i < 256; i++) {
    let v = i / 255;
    if (boost) v = Math.sqrt(v);
    const pos = v * (ANCHORS.length - 1);
    const lo = Math.min(Math.floor(pos), ANCHORS.length - 2);
    const f = pos - lo;
    for (let c = 0; c < 3; c++) {
      lut[i * 3 + c] = Math.round(ANCHORS[lo][c] * (1 - f) + ANCHORS[lo + 1][c] * f);
    }
  }
  return lut;
}
const LUTS = { plain: makeLut(false), boost: makeLut(true) };

function bytesOf(value) {
  // Binary traits arrive as a DataView (ipywidgets), sometimes as an ArrayBuffer or Uint8Array.
  if (!value) return new Uint8Array(0);
  if (value instanceof Uint8Array) return value;
  if (value instanceof DataView) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (value.buffer instanceof ArrayBuffer) return new Uint8Array(value.buffer);
  return new Uint8Array(0);
}

function h(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v;
    else if (k === "class") node.className = v;
    else node.setAttribute(k, v);
  }
  for (const child of children) node.appendChild(child);
  return node;
}

// Paint an n x n block of bytes (starting at `offset`) into a canvas image, scaled up.
function paintMatrix(ctx, data, offset, n, x, y, size, lut) {
  const img = new ImageData(n, n);
  for (let i = 0; i < n * n; i++) {
    const v = data[offset + i] * 3;
    img.data[i * 4] = lut[v];
    img.data[i * 4 + 1] = lut[v + 1];
    img.data[i * 4 + 2] = lut[v + 2];
    img.data[i * 4 + 3] = 255;
  }
  const tmp = document.createElement("canvas");
  tmp.width = n;
  tmp.height = n;
  tmp.getContext("2d").putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(tmp, x, y, size, size);
}

function sizeCanvas(canvas, w, hgt) {
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(w * dpr);
  canvas.height = Math.round(hgt * dpr);
  canvas.style.width = `${w}px`;
  canvas.style.height = `${hgt}px`;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return ctx;
}

function render({ model, el }) {
  // All state lives in this closure: several explorers on one page never share anything.
  let hover = -1; // hovered query (window index), -1 = none
  let hoverKey = -1; // hovered key column in the head view
  let boost = false;

  const get = (name) => model.get(name);
  const W = () => get("_window");
  const H = () => get("_n_heads");
  const L = () => get("_n_layers");
  const start = () => get("window_start");
  const layerData = () => bytesOf(get("_layer_bytes"));
  const fresh = () => get("_layer_shown") === get("layer") && layerData().length === H() * W() * W();
  const ink = () => getComputedStyle(el).getPropertyValue("--jp-ui-font-color1").trim() || "#333";
  const setTraits = (values) => {
    for (const [k, v] of Object.entries(values)) model.set(k, v);
    model.save_changes();
  };

  // ---- skeleton ----
  const root = h("div", { class: "lk-attn" });
  const title = h("div", { class: "lk-title" });
  const viewButtons = ["head", "layer", "model"].map((v) =>
    h("button", { class: "lk-view", "data-view": v, type: "button",
      text: { head: "One head", layer: "Heads of a layer", model: "All layers × heads" }[v] }));
  const layerSelect = h("select", { class: "lk-layer-select", title: "layer" });
  const headSelect = h("select", { class: "lk-head-select", title: "head" });
  const boostBox = h("input", { type: "checkbox", class: "lk-boost" });
  const prev = h("button", { class: "lk-prev", type: "button", text: "◀", title: "earlier tokens" });
  const next = h("button", { class: "lk-next", type: "button", text: "▶", title: "later tokens" });
  const windowBox = h("span", { class: "lk-window" }, [prev, next]);
  const bar = h("div", { class: "lk-bar" }, [
    ...viewButtons,
    h("label", { text: "layer " }, [layerSelect]),
    h("label", { text: "head " }, [headSelect]),
    h("label", { title: "colour by √weight so small weights show" }, [boostBox, document.createTextNode(" boost faint")]),
    windowBox,
  ]);
  const notice = h("div", { class: "lk-notice" });
  const strip = h("div", { class: "lk-tokens" });
  const stage = h("div", { class: "lk-stage" });
  const side = h("div", { class: "lk-side" });
  root.append(title, bar, notice, strip, h("div", { class: "lk-main" }, [stage, side]));
  el.appendChild(root);

  // ---- controls ----
  function fillSelect(select, n, value, prefix) {
    if (select.options.length !== n) {
      select.replaceChildren(...Array.from({ length: n }, (_, i) => h("option", { value: String(i), text: `${prefix}${i}` })));
    }
    select.value = String(value);
  }
  function updateBar() {
    for (const b of viewButtons) b.classList.toggle("lk-active", b.dataset.view === get("view"));
    fillSelect(layerSelect, L(), get("layer"), "");
    fillSelect(headSelect, H(), get("head"), "");
    windowBox.style.display = W() < get("_n_total") ? "" : "none";
    prev.disabled = start() <= 0;
    next.disabled = start() + W() >= get("_n_total");
    notice.textContent = get("_notice");
    notice.style.display = get("_notice") ? "" : "none";
    title.textContent = get("_title");
    title.style.display = get("_title") ? "" : "none";
  }
  for (const b of viewButtons) b.addEventListener("click", () => setTraits({ view: b.dataset.view }));
  layerSelect.addEventListener("change", () => setTraits({ layer: Number(layerSelect.value) }));
  headSelect.addEventListener("change", () => setTraits({ head: Number(headSelect.value) }));
  boostBox.addEventListener("change", () => { boost = boostBox.checked; built = null; draw(); });
  prev.addEventListener("click", () => setTraits({ window_start: Math.max(0, start() - Math.floor(W() / 2)) }));
  next.addEventListener("click", () => setTraits({ window_start: start() + Math.floor(W() / 2) }));

  // ---- the query whose row we describe: hovered, else selected ----
  function focus() {
    if (hover >= 0) return hover;
    const s = get("selected_token") - start();
    return s >= 0 && s < W() ? s : -1;
  }
  function rowOf(q, head) {
    const n = W();
    const data = layerData();
    const off = head * n * n + q * n;
    return data.subarray(off, off + n);
  }

  // ---- token strip: each token shaded by how much the focused query attends to it ----
  function buildStrip() {
    const tokens = get("_tokens");
    strip.replaceChildren(...tokens.map((t, i) => {
      const chip = h("span", { class: "lk-tok", "data-i": String(i), text: t, title: `position ${start() + i}` });
      chip.addEventListener("mouseenter", () => { hover = i; hoverKey = -1; draw(); });
      chip.addEventListener("mouseleave", () => { hover = -1; draw(); });
      chip.addEventListener("click", () => {
        const abs = start() + i;
        setTraits({ selected_token: get("selected_token") === abs ? -1 : abs });
      });
      return chip;
    }));
  }
  function shadeStrip() {
    const q = focus();
    const ok = fresh() && q >= 0;
    const row = ok ? rowOf(q, get("head")) : null;
    const selected = get("selected_token") - start();
    strip.childNodes.forEach((chip, i) => {
      chip.style.background = ok ? `rgba(253, 174, 37, ${(row[i] / 255).toFixed(3)})` : "";
      chip.classList.toggle("lk-query", i === q);
      chip.classList.toggle("lk-selected", i === selected);
    });
  }

  // ---- side panel: top attended tokens of the focused query ----
  function updateSide() {
    const q = focus();
    if (q < 0 || !fresh()) {
      side.replaceChildren(h("div", { class: "lk-help", text: "Hover a token (or a heatmap row) to see where it looks. Click to select it." }));
      return;
    }
    const tokens = get("_tokens");
    const row = rowOf(q, get("head"));
    const order = Array.from(row.keys()).sort((a, b) => row[b] - row[a] || a - b).slice(0, 6);
    const items = order.map((k) => h("li", {}, [
      h("span", { class: "lk-bar-fill", style: `width:${Math.round((row[k] / 255) * 60)}px` }),
      h("span", { class: "lk-w", text: (row[k] / 255).toFixed(2) }),
      h("span", { class: "lk-t", text: ` ${tokens[k]}  @${start() + k}` }),
    ]));
    side.replaceChildren(
      h("div", { class: "lk-side-title", text: `“${tokens[q]}” @${start() + q} attends to (layer ${get("layer")}, head ${get("head")}):` }),
      h("ol", { class: "lk-top" }, items),
    );
  }

  // ---- view 1: one head ----
  const headCanvas = h("canvas", { class: "lk-heatmap" });
  let geom = null; // where the matrix sits in headCanvas, for mouse hit-testing
  function drawHead() {
    const n = W();
    const tokens = get("_tokens");
    const cell = Math.max(1, Math.min(28, Math.floor(520 / n)));
    const labels = cell >= 8;
    const margin = labels ? 86 : 34;
    const size = cell * n;
    const ctx = sizeCanvas(headCanvas, margin + size + 8, margin + size + 8);
    geom = { x: margin, y: margin, cell, n };
    ctx.clearRect(0, 0, headCanvas.width, headCanvas.height);
    if (!fresh()) return;
    paintMatrix(ctx, layerData(), get("head") * n * n, n, margin, margin, size, boost ? LUTS.boost : LUTS.plain);
    ctx.fillStyle = ink();
    ctx.font = `${Math.min(12, Math.max(9, cell - 2))}px sans-serif`;
    if (labels) {
      ctx.textAlign = "right";
      ctx.textBaseline = "middle";
      tokens.forEach((t, i) => ctx.fillText(t.slice(0, 10), margin - 4, margin + (i + 0.5) * cell));
      ctx.textAlign = "left";
      tokens.forEach((t, j) => {
        ctx.save();
        ctx.translate(margin + (j + 0.5) * cell, margin - 4);
        ctx.rotate(-Math.PI / 3);
        ctx.fillText(t.slice(0, 10), 0, 0);
        ctx.restore();
      });
    } else {
      ctx.textAlign = "right";
      ctx.textBaseline = "middle";
      const step = Math.ceil(n / 8);
      for (let i = 0; i < n; i += step) ctx.fillText(String(start() + i), margin - 3, margin + (i + 0.5) * cell);
      ctx.textAlign = "center";
      for (let j = 0; j < n; j += step) ctx.fillText(String(start() + j), margin + (j + 0.5) * cell, margin - 10);
    }
    // Highlights: the focused query's row, the hovered key's column, the selected row.
    const q = focus();
    ctx.lineWidth = 2;
    if (q >= 0) {
      ctx.strokeStyle = "#ff5a36";
      ctx.strokeRect(margin - 1, margin + q * cell - 1, size + 2, cell + 2);
    }
    if (hoverKey >= 0) {
      ctx.strokeStyle = "#36c8ff";
      ctx.strokeRect(margin + hoverKey * cell - 1, margin - 1, cell + 2, size + 2);
    }
  }
  function hitHead(event) {
    if (!geom) return null;
    const r = headCanvas.getBoundingClientRect();
    const col = Math.floor((event.clientX - r.left - geom.x) / geom.cell);
    const row = Math.floor((event.clientY - r.top - geom.y) / geom.cell);
    const inRows = row >= 0 && row < geom.n;
    const inCols = col >= 0 && col < geom.n;
    if (inRows && (inCols || event.clientX - r.left < geom.x)) return { row, col: inCols ? col : -1 };
    if (inCols && event.clientY - r.top < geom.y) return { row: -1, col };
    return null;
  }
  headCanvas.addEventListener("mousemove", (event) => {
    const hit = hitHead(event);
    const [q, k] = hit ? [hit.row, hit.col] : [-1, -1];
    if (q !== hover || k !== hoverKey) {
      hover = q;
      hoverKey = k;
      headCanvas.title = hit && q >= 0 && k >= 0 && fresh()
        ? `${get("_tokens")[q]} → ${get("_tokens")[k]}: ${(rowOf(q, get("head"))[k] / 255).toFixed(3)}`
        : "";
      draw();
    }
  });
  headCanvas.addEventListener("mouseleave", () => { hover = -1; hoverKey = -1; draw(); });
  headCanvas.addEventListener("click", (event) => {
    const hit = hitHead(event);
    if (hit && hit.row >= 0) setTraits({ selected_token: start() + hit.row });
  });

  // ---- view 2: every head of the current layer ----
  let headCells = [];
  function buildLayerGrid() {
    const n = H();
    const size = Math.max(90, Math.min(170, Math.floor(720 / Math.min(n, 4)) - 12));
    headCells = Array.from({ length: n }, (_, hd) => {
      const canvas = h("canvas", {});
      const cell = h("div", { class: "lk-head-cell", "data-head": String(hd), title: `layer ${get("layer")}, head ${hd}: click to open` }, [
        h("div", { class: "lk-caption", text: `head ${hd}` }), canvas,
      ]);
      cell.addEventListener("click", () => setTraits({ head: hd, view: "head" }));
      cell.addEventListener("mouseenter", () => cell.classList.add("lk-hot"));
      cell.addEventListener("mouseleave", () => cell.classList.remove("lk-hot"));
      return { cell, canvas, size };
    });
    return h("div", { class: "lk-grid" }, headCells.map((c) => c.cell));
  }
  function drawLayerGrid() {
    const n = W();
    const q = focus();
    headCells.forEach(({ cell, canvas, size }, hd) => {
      cell.classList.toggle("lk-active", hd === get("head"));
      const ctx = sizeCanvas(canvas, size, size);
      if (!fresh()) return;
      paintMatrix(ctx, layerData(), hd * n * n, n, 0, 0, size, boost ? LUTS.boost : LUTS.plain);
      if (q >= 0) {
        ctx.strokeStyle = "#ff5a36";
        ctx.lineWidth = 1.5;
        ctx.strokeRect(0, (q * size) / n, size, Math.max(size / n, 1.5));
      }
    });
  }

  // ---- view 3: thumbnails of every layer x head ----
  function buildModelGrid() {
    const nL = L();
    const nH = H();
    const s = get("_thumb_size");
    const thumbs = bytesOf(get("_thumb_bytes"));
    const px = Math.max(28, Math.min(64, Math.floor(760 / nH) - 4));
    const grid = h("div", { class: "lk-model", style: `grid-template-columns: 2.5em repeat(${nH}, ${px}px)` });
    grid.appendChild(h("div", {}));
    for (let hd = 0; hd < nH; hd++) grid.appendChild(h("div", { class: "lk-axis", text: `h${hd}` }));
    for (let l = 0; l < nL; l++) {
      grid.appendChild(h("div", { class: "lk-axis", text: `L${l}` }));
      for (let hd = 0; hd < nH; hd++) {
        const canvas = h("canvas", { class: "lk-thumb", "data-layer": String(l), "data-head": String(hd), title: `layer ${l}, head ${hd}: click to open` });
        const ctx = sizeCanvas(canvas, px, px);
        if (thumbs.length === nL * nH * s * s) {
          paintMatrix(ctx, thumbs, (l * nH + hd) * s * s, s, 0, 0, px, boost ? LUTS.boost : LUTS.plain);
        }
        canvas.classList.toggle("lk-active", l === get("layer") && hd === get("head"));
        canvas.addEventListener("click", () => setTraits({ layer: l, head: hd, view: "head" }));
        grid.appendChild(canvas);
      }
    }
    return grid;
  }

  // ---- drawing ----
  let built = null; // which view the stage currently holds
  function draw() {
    updateBar();
    const view = get("view");
    const key = `${view}/${H()}/${W()}`;
    if (view === "model") {
      // Rebuild only when something it shows changed (not on every hover).
      const modelKey = `${key}/${get("layer")}/${get("head")}/${boost}/${start()}/${get("_thumb_size")}`;
      if (built !== modelKey) stage.replaceChildren(buildModelGrid());
      built = modelKey;
    } else if (view === "layer") {
      if (built !== key) stage.replaceChildren(buildLayerGrid());
      built = key;
      drawLayerGrid();
    } else {
      if (built !== key) stage.replaceChildren(headCanvas);
      built = key;
      drawHead();
    }
    stage.classList.toggle("lk-stale", !fresh());
    shadeStrip();
    updateSide();
  }

  const onTokens = () => { buildStrip(); draw(); };
  const onThumbs = () => { built = null; draw(); };
  const names = ["layer", "head", "view", "selected_token", "window_start", "_layer_bytes", "_layer_shown", "_notice", "_title"];
  for (const name of names) model.on(`change:${name}`, draw);
  model.on("change:_tokens", onTokens);
  model.on("change:_thumb_bytes", onThumbs);
  buildStrip();
  draw();
  return () => {
    for (const name of names) model.off(`change:${name}`, draw);
    model.off("change:_tokens", onTokens);
    model.off("change:_thumb_bytes", onThumbs);
  };
}

export default { render };
