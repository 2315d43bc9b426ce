// lrdsl playground: type a schedule, see its curve. No library: the chart is SVG drawn here.
// The state lives in the URL (?s=<schedule>&vs=<another>&base=&total=&spe=&var=name=value&log=1),
// the numbers come from the server's JSON API (/api/eval, /api/check, /api/explain, /api/nodes).
"use strict";

(() => {
  const COLORS = ["#1f6fb4", "#d1402b", "#2c9c4a"];
  const NAMES = ["A", "B", "C"];
  const MAX_SCHEDULES = 3;
  const DEBOUNCE_MS = 250;
  const POINTS = 1000;
  const DEFAULT = { s: "warmup(5%) then cosine(end=1e-5)", base: "3e-4", total: "90ep", spe: "500" };
  const SVG_NS = "http://www.w3.org/2000/svg";
  const COUNTER_WORDS = { it: "iteration", ep: "epoch", tok: "tokens", sp: "samples" };
  const MARGIN = { left: 72, right: 16, top: 26, bottom: 42 };

  const $ = (id) => document.getElementById(id);
  const series = [null, null, null]; // the last good answer of /api/eval, by schedule
  const stale = [false, false, false]; // the text changed into an error: its curve is the last good one
  let zoom = null; // [x0, x1] in the counter of schedule A, or null for the whole window
  let logScale = false;
  let lastFocused = null;
  let updateId = 0;
  let timer = null;
  let chart = null; // what the hover and zoom need of the last drawing
  let nodes = [];

  // -- the schedules' inputs ----------------------------------------------------------------------
  function textareas() {
    return [...document.querySelectorAll("#schedules textarea")];
  }

  function addSchedule(text) {
    const index = textareas().length;
    if (index >= MAX_SCHEDULES) return;
    const block = document.createElement("div");
    block.className = "schedule";
    const head = document.createElement("div");
    head.className = "schedule-head";
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = COLORS[index];
    const label = document.createElement("label");
    label.htmlFor = `schedule-${index}`;
    label.textContent = index === 0 ? "Schedule A" : `Compare: schedule ${NAMES[index]}`;
    head.append(swatch, label);
    if (index > 0) {
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "remove";
      remove.textContent = "×";
      remove.title = "remove this schedule";
      remove.addEventListener("click", () => removeSchedule(index));
      head.append(remove);
    }
    const area = document.createElement("textarea");
    area.id = `schedule-${index}`;
    area.rows = index === 0 ? 4 : 2;
    area.spellcheck = false;
    area.placeholder = index === 0 ? "warmup(5%) then cosine()  # comments allowed" : "another schedule to compare";
    area.value = text || "";
    area.addEventListener("input", scheduleUpdate);
    area.addEventListener("focus", () => { lastFocused = area; });
    const canonical = document.createElement("div");
    canonical.className = "canonical";
    canonical.id = `canonical-${index}`;
    const error = document.createElement("pre");
    error.className = "error";
    error.id = `error-${index}`;
    error.hidden = true;
    block.append(head, area, canonical, error);
    $("schedules").append(block);
    $("add-compare").hidden = textareas().length >= MAX_SCHEDULES;
  }

  function removeSchedule(index) {
    const texts = textareas().map((area) => area.value);
    texts.splice(index, 1);
    series.splice(index, 1);
    series.push(null);
    stale.splice(index, 1);
    stale.push(false);
    $("schedules").replaceChildren();
    texts.forEach(addSchedule);
    lastFocused = null;
    update();
  }

  function showCanonical(index) {
    const box = $(`canonical-${index}`);
    box.replaceChildren();
    const answer = series[index];
    if (!answer) return;
    const code = document.createElement("code");
    code.textContent = answer.expression;
    const copy = document.createElement("button");
    copy.type = "button";
    copy.textContent = "copy";
    copy.title = "copy the canonical string";
    copy.addEventListener("click", () => copyText(answer.expression, "copied the schedule"));
    box.append("canonical:", code, copy);
    box.classList.toggle("stale", stale[index]);
  }

  function showError(index, text) {
    const box = $(`error-${index}`);
    box.textContent = text || "";
    box.hidden = !text;
  }

  // -- the URL ----------------------------------------------------------------------------------------
  function readURL() {
    const query = new URLSearchParams(location.search);
    const given = location.search.length > 1;
    const texts = [query.get("s") ?? (given ? "" : DEFAULT.s), ...query.getAll("vs")].slice(0, MAX_SCHEDULES);
    texts.forEach(addSchedule);
    $("base").value = query.get("base") ?? (given ? "" : DEFAULT.base);
    $("total").value = query.get("total") ?? (given ? "" : DEFAULT.total);
    $("spe").value = query.get("spe") ?? (given ? "" : DEFAULT.spe);
    $("vars").value = query.getAll("var").join("\n");
    logScale = query.get("log") === "1";
    $("log-scale").checked = logScale;
  }

  function writeURL() {
    const query = new URLSearchParams();
    textareas().forEach((area, index) => query.append(index === 0 ? "s" : "vs", area.value));
    for (const [key, id] of [["base", "base"], ["total", "total"], ["spe", "spe"]]) {
      if ($(id).value.trim()) query.set(key, $(id).value.trim());
    }
    for (const line of $("vars").value.split("\n")) if (line.trim()) query.append("var", line.trim());
    if (logScale) query.set("log", "1");
    history.replaceState(null, "", `${location.pathname}?${query}`);
  }

  // -- the requests -----------------------------------------------------------------------------------
  function runOptions() {
    const options = {};
    for (const [key, id] of [["base", "base"], ["total", "total"], ["steps_per_epoch", "spe"]]) {
      const value = $(id).value.trim();
      if (value) options[key] = value;
    }
    const variables = {};
    for (const [number, raw] of $("vars").value.split("\n").entries()) {
      const line = raw.trim();
      if (!line) continue;
      const cut = line.indexOf("=");
      if (cut < 1) throw new Error(`variables, line ${number + 1}: expected name=value, got ${JSON.stringify(line)}`);
      const value = line.slice(cut + 1).trim();
      const asNumber = Number(value);
      variables[line.slice(0, cut).trim()] = value !== "" && Number.isFinite(asNumber) ? asNumber : value;
    }
    options.variables = variables;
    return options;
  }

  async function post(route, body) {
    const response = await fetch(`/api/${route}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    return { ok: response.ok, data: await response.json() };
  }

  function scheduleUpdate() {
    clearTimeout(timer);
    timer = setTimeout(update, DEBOUNCE_MS);
  }

  function take(index, answer) {
    if (answer.ok) {
      series[index] = answer.data;
      stale[index] = false;
      showError(index, "");
    } else {
      stale[index] = series[index] !== null;
      showError(index, answer.data.error.cli);
    }
    showCanonical(index);
  }

  async function update() {
    clearTimeout(timer);
    const id = ++updateId;
    document.body.dataset.busy = "1";
    writeURL();
    const texts = textareas().map((area) => area.value);
    let options;
    try {
      options = runOptions();
      showVarsError("");
    } catch (error) {
      showVarsError(error.message);
      return finish(id);
    }
    try {
      const range = { num: POINTS };
      if (zoom) [range.start, range.stop] = zoom;
      const first = texts[0].trim() ? await post("eval", { expression: texts[0], ...options, range }) : null;
      if (id !== updateId) return;
      if (first) take(0, first);
      else clear(0);
      const a = series[0]; // the last good curve of A (the current one, unless A is in error)
      const shared = a
        ? { counter: a.counter, range: { start: a.points[0], stop: a.points[a.points.length - 1], num: POINTS } }
        : { range };
      const others = await Promise.all(
        texts.slice(1).map((text) => (text.trim() ? post("eval", { expression: text, ...options, ...shared }) : null)),
      );
      if (id !== updateId) return;
      others.forEach((answer, k) => (answer ? take(k + 1, answer) : clear(k + 1)));
      for (let k = texts.length; k < MAX_SCHEDULES; k++) series[k] = null;
      draw();
      if (first && first.ok) {
        const request = { expression: texts[0], ...options };
        const [checked, explained] = await Promise.all([post("check", request), post("explain", request)]);
        showFindings(checked, id);
        showExplanation(explained, id);
      } else if (!first) {
        $("findings").replaceChildren();
        $("explanation").textContent = "";
      }
      setStatus("");
    } catch (error) {
      setStatus(`the server did not answer (${error.message}); is lrdsl serve still running?`);
    }
    finish(id);
  }

  function finish(id) {
    if (id !== updateId) return;
    delete document.body.dataset.busy;
    document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
  }

  function clear(index) {
    series[index] = null;
    stale[index] = false;
    showError(index, "");
    showCanonical(index);
  }

  function showVarsError(text) {
    $("vars-error").textContent = text;
    $("vars-error").hidden = !text;
  }

  function showFindings(answer, id) {
    if (id !== updateId) return;
    const box = $("findings");
    box.replaceChildren();
    if (!answer.ok) return;
    const { status, findings } = answer.data;
    if (status === "ok") {
      const line = document.createElement("div");
      line.className = "ok";
      line.textContent = "lint: no findings for schedule A";
      box.append(line);
    }
    for (const finding of findings) {
      const line = document.createElement("div");
      line.className = finding.level;
      line.textContent = `${finding.level} [${finding.code}]: ${finding.message}`;
      box.append(line);
    }
  }

  function showExplanation(answer, id) {
    if (id !== updateId) return;
    $("explanation").textContent = answer.ok ? answer.data.text : "";
  }

  function setStatus(text) {
    $("status").textContent = text;
    if (text) setTimeout(() => { if ($("status").textContent === text) $("status").textContent = ""; }, 4000);
  }

  // -- the chart --------------------------------------------------------------------------------------
  function svgElement(name, attributes, parent) {
    const element = document.createElementNS(SVG_NS, name);
    for (const [key, value] of Object.entries(attributes || {})) element.setAttribute(key, String(value));
    if (parent) parent.append(element);
    return element;
  }

  function svgText(parent, x, y, text, attributes) {
    const element = svgElement("text", { x, y, fill: "#1d2430", ...attributes }, parent);
    element.textContent = text;
    return element;
  }

  function niceTicks(low, high, count) {
    const span = high - low;
    if (!(span > 0)) return [low];
    const raw = span / count;
    const power = 10 ** Math.floor(Math.log10(raw));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => span / s <= count) || 10 * power;
    const ticks = [];
    for (let t = Math.ceil(low / step) * step; t <= high + step * 1e-9; t += step) ticks.push(Math.abs(t) < step * 1e-9 ? 0 : t);
    return ticks;
  }

  function format(value, digits = 4) {
    if (value === 0) return "0";
    const magnitude = Math.abs(value);
    if (magnitude >= 1e5 || magnitude < 1e-3) return value.toExponential(digits - 1).replace(/\.?0+e/, "e");
    return String(Number(value.toPrecision(digits)));
  }

  function visibleSeries() {
    return series.map((answer, index) => (answer ? { answer, index } : null)).filter(Boolean);
  }

  function draw() {
    const box = $("chart");
    const width = Math.max(box.clientWidth || 800, 360);
    const height = 420;
    const svg = svgElement("svg", {
      xmlns: SVG_NS, width, height, viewBox: `0 0 ${width} ${height}`, "font-family": "sans-serif", "font-size": 11,
    });
    svgElement("rect", { x: 0, y: 0, width, height, fill: "#ffffff" }, svg);
    const shown = visibleSeries();
    chart = null;
    $("reset-zoom").hidden = !zoom;
    if (!shown.length) {
      svgText(svg, width / 2, height / 2, "type a schedule", { "text-anchor": "middle", fill: "#5f6b7a" });
      box.replaceChildren(svg);
      return;
    }
    const main = shown[0].answer;
    const points = main.points;
    let [x0, x1] = [points[0], points[points.length - 1]];
    if (x1 === x0) x1 = x0 + 1;
    const all = shown.flatMap(({ answer }) => answer.values);
    let top = Math.max(...all);
    let bottom = logScale ? Math.min(...all.filter((v) => v > 0), top) : Math.min(0, ...all);
    if (logScale && !(bottom > 0)) bottom = top > 0 ? top * 1e-6 : 1e-6;
    if (logScale && top <= 0) top = 1;
    if (top === bottom) top = logScale ? bottom * 10 : bottom + (Math.abs(bottom) || 1);
    const plotW = width - MARGIN.left - MARGIN.right;
    const plotH = height - MARGIN.top - MARGIN.bottom;
    const xScale = (x) => MARGIN.left + ((x - x0) / (x1 - x0)) * plotW;
    const [l0, l1] = [Math.log10(bottom), Math.log10(top) + 0.05 * (Math.log10(top) - Math.log10(bottom))];
    const y1 = top + 0.05 * (top - bottom);
    const yScale = logScale
      ? (v) => MARGIN.top + plotH - ((Math.log10(Math.max(v, bottom)) - l0) / (l1 - l0)) * plotH
      : (v) => MARGIN.top + plotH - ((v - bottom) / (y1 - bottom)) * plotH;

    const axes = svgElement("g", { class: "axes" }, svg);
    for (const t of niceTicks(x0, x1, Math.max(2, Math.floor(plotW / 90)))) {
      const x = xScale(t);
      svgElement("line", { x1: x, x2: x, y1: MARGIN.top, y2: MARGIN.top + plotH, stroke: "#e6eaef" }, axes);
      svgText(axes, x, MARGIN.top + plotH + 15, format(t), { "text-anchor": "middle" });
    }
    const yTicks = logScale
      ? niceTicks(Math.ceil(l0), Math.floor(l1), 8).filter(Number.isInteger).map((p) => 10 ** p)
      : niceTicks(bottom, y1, Math.max(2, Math.floor(plotH / 50)));
    for (const t of yTicks) {
      const y = yScale(t);
      svgElement("line", { x1: MARGIN.left, x2: MARGIN.left + plotW, y1: y, y2: y, stroke: "#e6eaef" }, axes);
      svgText(axes, MARGIN.left - 6, y + 4, format(t), { "text-anchor": "end" });
    }
    svgElement("rect", {
      x: MARGIN.left, y: MARGIN.top, width: plotW, height: plotH, fill: "none", stroke: "#9aa5b1",
    }, axes);
    svgText(axes, MARGIN.left + plotW / 2, height - 8, COUNTER_WORDS[main.counter] || main.counter, {
      "text-anchor": "middle", fill: "#5f6b7a",
    });
    svgText(axes, 14, MARGIN.top + plotH / 2, `learning rate${logScale ? " (log)" : ""}`, {
      "text-anchor": "middle", fill: "#5f6b7a", transform: `rotate(-90 14 ${MARGIN.top + plotH / 2})`,
    });

    const marks = svgElement("g", { class: "marks" }, svg);
    main.phase_starts.forEach((start, k) => {
      if (k === 0 || start <= x0 || start >= x1) return;
      const x = xScale(start);
      svgElement("line", {
        class: "phase-start", x1: x, x2: x, y1: MARGIN.top, y2: MARGIN.top + plotH,
        stroke: "#5f6b7a", "stroke-dasharray": "5 4",
      }, marks);
      svgText(marks, x + 3, MARGIN.top + 11, `phase ${k + 1}`, { fill: "#5f6b7a" });
    });
    for (const { answer, index } of shown) {
      for (const at of answer.restarts) {
        if (at <= x0 || at >= x1) continue;
        const x = xScale(at);
        svgElement("line", {
          class: "restart", x1: x, x2: x, y1: MARGIN.top, y2: MARGIN.top + plotH,
          stroke: COLORS[index], "stroke-opacity": 0.45, "stroke-dasharray": "1 3",
        }, marks);
        svgText(marks, x, MARGIN.top - 4, "↺", { "text-anchor": "middle", fill: COLORS[index] });
      }
    }

    for (const { answer, index } of shown) {
      const coordinates = answer.points.map((x, k) => `${xScale(x).toFixed(2)},${yScale(answer.values[k]).toFixed(2)}`);
      svgElement("polyline", {
        class: `series series-${index}`, points: coordinates.join(" "), fill: "none", stroke: COLORS[index],
        "stroke-width": 1.8, "stroke-linejoin": "round", "stroke-opacity": stale[index] ? 0.4 : 1,
      }, svg);
    }

    const legend = svgElement("g", { class: "legend" }, svg);
    shown.forEach(({ answer, index }, row) => {
      const y = MARGIN.top + 14 + row * 16;
      const x = MARGIN.left + plotW - 8;
      const text = answer.expression.length > 70 ? `${answer.expression.slice(0, 67)}...` : answer.expression;
      svgText(legend, x, y, `${NAMES[index]}: ${text}`, {
        "text-anchor": "end", fill: COLORS[index], "font-family": "monospace",
      });
    });

    const hover = svgElement("g", { class: "hover", visibility: "hidden" }, svg);
    const cursor = svgElement("line", { y1: MARGIN.top, y2: MARGIN.top + plotH, stroke: "#1d2430", "stroke-opacity": 0.35 }, hover);
    const dots = shown.map(({ index }) => svgElement("circle", { r: 3.5, fill: COLORS[index] }, hover));
    const selection = svgElement("rect", {
      class: "selection", y: MARGIN.top, height: plotH, width: 0, fill: "#1f6fb4", "fill-opacity": 0.12, visibility: "hidden",
    }, svg);
    const overlay = svgElement("rect", {
      class: "overlay", x: MARGIN.left, y: MARGIN.top, width: plotW, height: plotH, fill: "transparent",
    }, svg);
    chart = { xScale, yScale, x0, x1, plotW, shown, hover, cursor, dots, selection, overlay };
    bindPointer(chart);
    box.replaceChildren(svg);
  }

  function nearest(points, x) {
    let low = 0;
    let high = points.length - 1;
    while (high - low > 1) {
      const middle = (low + high) >> 1;
      if (points[middle] <= x) low = middle;
      else high = middle;
    }
    return Math.abs(points[high] - x) < Math.abs(points[low] - x) ? high : low;
  }

  function dataX(state, event) {
    const bounds = state.overlay.getBoundingClientRect();
    const fraction = Math.min(1, Math.max(0, (event.clientX - bounds.left) / bounds.width));
    return state.x0 + fraction * (state.x1 - state.x0);
  }

  function readout(state, x) {
    const main = state.shown[0].answer;
    const spe = Number(main.steps_per_epoch);
    let where = `${COUNTER_WORDS[main.counter]} ${format(x, 10)}`;
    if (spe && main.counter === "it") where += ` · epoch ${format(x / spe, 10)}`;
    if (spe && main.counter === "ep") where += ` · iteration ${format(x * spe, 10)}`;
    const phase = main.phase_spans.filter(([start]) => start <= x).length;
    if (main.phase_spans.length > 1) where += ` · phase ${phase}`;
    const values = state.shown.map(
      ({ answer, index }) => `${NAMES[index]} ${format(answer.values[nearest(answer.points, x)], 7)}`,
    );
    return `${where}\n${values.join("   ")}`;
  }

  function bindPointer(state) {
    let dragFrom = null;
    state.overlay.addEventListener("mousemove", (event) => {
      const main = state.shown[0].answer;
      const x = main.points[nearest(main.points, dataX(state, event))];
      const px = state.xScale(x);
      state.hover.setAttribute("visibility", "visible");
      state.cursor.setAttribute("x1", px);
      state.cursor.setAttribute("x2", px);
      state.shown.forEach(({ answer }, k) => {
        const value = answer.values[nearest(answer.points, x)];
        state.dots[k].setAttribute("cx", px);
        state.dots[k].setAttribute("cy", state.yScale(value));
      });
      $("readout").textContent = readout(state, x);
      if (dragFrom !== null) {
        const [a, b] = [state.xScale(dragFrom), state.xScale(dataX(state, event))].sort((p, q) => p - q);
        state.selection.setAttribute("x", a);
        state.selection.setAttribute("width", b - a);
        state.selection.setAttribute("visibility", "visible");
      }
    });
    state.overlay.addEventListener("mouseleave", () => {
      state.hover.setAttribute("visibility", "hidden");
      state.selection.setAttribute("visibility", "hidden");
      dragFrom = null;
    });
    state.overlay.addEventListener("mousedown", (event) => { dragFrom = dataX(state, event); });
    state.overlay.addEventListener("mouseup", (event) => {
      if (dragFrom === null) return;
      const [a, b] = [dragFrom, dataX(state, event)].sort((p, q) => p - q);
      dragFrom = null;
      state.selection.setAttribute("visibility", "hidden");
      if (state.xScale(b) - state.xScale(a) < 5) return;
      zoom = [a, b];
      update();
    });
    state.overlay.addEventListener("dblclick", resetZoom);
  }

  function resetZoom() {
    if (!zoom) return;
    zoom = null;
    update();
  }

  // -- copy and download ------------------------------------------------------------------------------
  async function copyText(text, done) {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      const area = document.createElement("textarea");
      area.value = text;
      document.body.append(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    }
    setStatus(done);
  }

  function save(name, blob) {
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = name;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  }

  function chartSVG() {
    const svg = $("chart").querySelector("svg");
    if (!svg || !chart) return null;
    const copy = svg.cloneNode(true);
    copy.querySelectorAll(".hover, .overlay, .selection").forEach((node) => node.remove());
    return new XMLSerializer().serializeToString(copy);
  }

  function downloadSVG() {
    const text = chartSVG();
    if (text) save("schedule.svg", new Blob([text], { type: "image/svg+xml" }));
  }

  function downloadPNG() {
    const text = chartSVG();
    if (!text) return;
    const svg = $("chart").querySelector("svg");
    const [width, height] = [Number(svg.getAttribute("width")), Number(svg.getAttribute("height"))];
    const image = new Image();
    const url = URL.createObjectURL(new Blob([text], { type: "image/svg+xml" }));
    image.onload = () => {
      const canvas = document.createElement("canvas");
      canvas.width = width * 2;
      canvas.height = height * 2;
      const context = canvas.getContext("2d");
      context.scale(2, 2);
      context.drawImage(image, 0, 0);
      URL.revokeObjectURL(url);
      canvas.toBlob((blob) => save("schedule.png", blob), "image/png");
    };
    image.src = url;
  }

  function csvCell(text) {
    return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  }

  function downloadCSV() {
    const shown = visibleSeries();
    if (!shown.length) return;
    const main = shown[0].answer;
    const header = [COUNTER_WORDS[main.counter], ...shown.map(({ answer }) => answer.expression)].map(csvCell);
    const rows = main.points.map((x, k) => [x, ...shown.map(({ answer }) => answer.values[k])].join(","));
    save("schedule.csv", new Blob([[header.join(","), ...rows].join("\n") + "\n"], { type: "text/csv" }));
  }

  // -- the node catalog -------------------------------------------------------------------------------
  async function loadNodes() {
    try {
      const response = await fetch("/api/nodes");
      nodes = (await response.json()).nodes;
    } catch (error) {
      $("node-list").textContent = `the node catalog did not load: ${error.message}`;
      return;
    }
    showNodes();
  }

  function showNodes() {
    const filter = $("node-filter").value.trim().toLowerCase();
    const list = $("node-list");
    list.replaceChildren();
    const kinds = [["schedule", "schedules"], ["function", "functions"], ["optimizer", "optimizers (lrdsl.optimizer)"]];
    for (const [kind, title] of kinds) {
      const matching = nodes.filter((node) => node.kind === kind && (!filter || [node.name, ...node.aliases, node.summary]
        .some((text) => text.toLowerCase().includes(filter))));
      if (!matching.length) continue;
      const heading = document.createElement("div");
      heading.className = "kind";
      heading.textContent = title;
      list.append(heading);
      for (const node of matching) list.append(nodeEntry(node));
    }
  }

  function nodeEntry(node) {
    const entry = document.createElement("div");
    entry.className = "node";
    entry.dataset.name = node.name;
    const insert = document.createElement("button");
    insert.type = "button";
    insert.className = "insert";
    insert.textContent = node.name;
    insert.title = `insert ${node.call}`;
    insert.addEventListener("click", () => insertCall(node.call));
    const signature = document.createElement("code");
    signature.className = "signature";
    signature.textContent = node.signature + (node.source && node.source !== "lrdsl" ? `  [${node.source}]` : "");
    const details = document.createElement("details");
    const summary = document.createElement("summary");
    summary.textContent = node.summary;
    const doc = document.createElement("pre");
    doc.textContent = node.doc;
    details.append(summary, doc);
    entry.append(insert, signature, details);
    return entry;
  }

  function insertCall(call) {
    const area = lastFocused && lastFocused.isConnected ? lastFocused : textareas()[0];
    const [start, end] = [area.selectionStart, area.selectionEnd];
    area.value = area.value.slice(0, start) + call + area.value.slice(end);
    const inside = call.indexOf("=") >= 0 ? call.indexOf("=") + 1 : call.length - 1;
    area.focus();
    area.setSelectionRange(start + inside, start + inside);
    scheduleUpdate();
  }

  // -- start ------------------------------------------------------------------------------------------
  function start() {
    readURL();
    for (const id of ["base", "total", "spe", "vars"]) $(id).addEventListener("input", scheduleUpdate);
    $("add-compare").addEventListener("click", () => {
      addSchedule("");
      textareas().at(-1).focus();
      writeURL();
    });
    $("log-scale").addEventListener("change", () => {
      logScale = $("log-scale").checked;
      writeURL();
      draw();
    });
    $("reset-zoom").addEventListener("click", resetZoom);
    $("copy-link").addEventListener("click", () => copyText(location.href, "copied the link"));
    $("download-png").addEventListener("click", downloadPNG);
    $("download-svg").addEventListener("click", downloadSVG);
    $("download-csv").addEventListener("click", downloadCSV);
    $("node-filter").addEventListener("input", showNodes);
    let resize = null;
    window.addEventListener("resize", () => {
      clearTimeout(resize);
      resize = setTimeout(draw, 100);
    });
    window.lrdslPlayground = { series, stale, update };
    loadNodes();
    update();
  }

  start();
})();
