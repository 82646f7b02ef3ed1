// recnb prompt playground: two prompt settings side by side on one user's candidates.
// Plain ES module for anywidget (no build step). The kernel does all the work: this view
// edits `settings` and `user`, bumps `run_count` to run, and draws `results`.

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function select(options, value, className, label) {
  const s = el("select", className);
  s.setAttribute("aria-label", label);
  for (const opt of options) {
    const o = el("option", null, opt);
    o.value = String(opt);
    if (String(opt) === String(value)) o.selected = true;
    s.appendChild(o);
  }
  return s;
}

function fmt(score) {
  if (typeof score !== "number" || !isFinite(score)) return "";
  const a = Math.abs(score);
  return a !== 0 && (a < 0.01 || a >= 1e4) ? score.toExponential(2) : score.toFixed(3);
}

function readSide(root, side, current) {
  const q = (cls) => root.querySelector(`.recnb-pp-side[data-side="${side}"] .${cls}`);
  return {
    ...current,
    template: q("recnb-pp-template").value,
    ranker: q("recnb-pp-ranker").value,
    shots: parseInt(q("recnb-pp-shots").value || "0", 10) || 0,
    demo_source: q("recnb-pp-source").value,
    text: q("recnb-pp-text").value,
  };
}

function resultView(result) {
  const box = el("div", "recnb-pp-result");
  if (!result) {
    box.appendChild(el("div", "recnb-pp-empty", "Not run yet: press Run."));
    return box;
  }
  if (result.error) {
    box.appendChild(el("div", "recnb-pp-error", result.error));
    return box;
  }
  const meta = el("div", "recnb-pp-meta");
  const parts = [`${Number(result.seconds).toFixed(2)} s`, `prefix cache hits: ${result.cache_hits}`,
                 `prompt: ${result.prompt_tokens} tokens`];
  if (result.target_rank !== null && result.target_rank !== undefined) {
    // Ties count against it (the evaluation's rule): say how many candidates share its score.
    const ties = result.target_ties ? ` (tied with ${result.target_ties})` : "";
    parts.push(`held-out item at rank ${result.target_rank}${ties}`);
  }
  meta.textContent = parts.join(" · ");
  box.appendChild(meta);

  const errors = Object.entries(result.errors || {});
  const errBox = el("div", "recnb-pp-errors");
  if (errors.length) {
    for (const [k, v] of errors) {
      const b = el("span", "recnb-pp-badge", `${k.replace(/_/g, " ")}: ${v}`);
      b.dataset.key = k;
      errBox.appendChild(b);
    }
  } else {
    errBox.appendChild(el("span", "recnb-pp-ok", "no parse errors"));
  }
  for (const [k, v] of Object.entries(result.warnings || {})) {
    const b = el("span", "recnb-pp-badge recnb-pp-warning", `${k.replace(/_/g, " ")}: ${v}`);
    b.dataset.key = k;
    errBox.appendChild(b);
  }
  box.appendChild(errBox);

  if ((result.hallucinated || []).length) {
    const h = el("div", "recnb-pp-hallucinated");
    h.appendChild(el("span", "recnb-pp-label", "hallucinated: "));
    h.appendChild(el("span", null, result.hallucinated.join("; ")));
    box.appendChild(h);
  }
  for (const note of result.notes || []) box.appendChild(el("div", "recnb-pp-note", note));

  const scores = (result.items || []).map((r) => r.score).filter((s) => typeof s === "number" && isFinite(s));
  const lo = Math.min(...scores), hi = Math.max(...scores);
  const list = el("ol", "recnb-pp-list");
  for (const row of result.items || []) {
    const li = el("li", "recnb-pp-row");
    li.dataset.itemId = String(row.item_id);
    if (row.is_target) li.classList.add("recnb-pp-target");
    li.appendChild(el("span", "recnb-pp-rank", row.rank));
    li.appendChild(el("span", "recnb-pp-title", row.title));
    const track = el("span", "recnb-pp-track");
    const bar = el("span", "recnb-pp-bar");
    const frac = hi > lo ? (row.score - lo) / (hi - lo) : 1;
    bar.style.width = `${(4 + 96 * frac).toFixed(1)}%`;
    track.appendChild(bar);
    li.appendChild(track);
    li.appendChild(el("span", "recnb-pp-score", fmt(row.score)));
    list.appendChild(li);
  }
  box.appendChild(list);

  if (result.output) {
    const d = el("details", "recnb-pp-output");
    d.appendChild(el("summary", null, "raw model output"));
    d.appendChild(el("pre", null, result.output));
    box.appendChild(d);
  }
  return box;
}

function render({ model, el: root }) {
  const wrap = el("div", "recnb-prompt-playground");
  root.appendChild(wrap);

  function save(changes) {
    for (const [k, v] of Object.entries(changes)) model.set(k, v);
    model.save_changes();
  }

  function draw() {
    wrap.replaceChildren();
    const settings = model.get("settings") || [];
    const results = model.get("results") || [];

    const top = el("div", "recnb-pp-top");
    const user = select(model.get("user_ids") || [], model.get("user"), "recnb-pp-user", "user");
    user.addEventListener("change", () => {
      const ids = model.get("user_ids") || [];
      // keep the edits made on both sides (text, k-shot...): a redraw for the new user must not drop them
      const kept = settings.map((s, i) => readSide(wrap, i, s));
      save({ settings: kept, user: ids.find((u) => String(u) === user.value) });
    });
    top.appendChild(el("label", "recnb-pp-label", "User "));
    top.appendChild(user);
    const run = el("button", "recnb-pp-run", "Run both");
    run.type = "button";
    run.addEventListener("click", () => {
      const next = settings.map((s, i) => readSide(wrap, i, s));
      status.textContent = "running…";
      save({ settings: next, run_count: (model.get("run_count") || 0) + 1 });
    });
    top.appendChild(run);
    const status = el("span", "recnb-pp-status", model.get("status") || "");
    top.appendChild(status);
    wrap.appendChild(top);

    const cands = model.get("candidates_view") || [];
    const cl = el("div", "recnb-pp-candidates");
    cl.textContent = `${cands.length} candidates: ` + cands.map((c) => c.title + (c.is_target ? " ★" : "")).join(" · ");
    wrap.appendChild(cl);

    const sides = el("div", "recnb-pp-sides");
    settings.forEach((s, i) => {
      const side = el("div", "recnb-pp-side");
      side.dataset.side = String(i);
      side.appendChild(el("div", "recnb-pp-heading", `Setting ${"AB"[i]}`));
      const controls = el("div", "recnb-pp-controls");
      const tpl = select(model.get("template_names") || [], s.template, "recnb-pp-template", `template ${"AB"[i]}`);
      const rk = select(model.get("ranker_names") || [], s.ranker, "recnb-pp-ranker", `ranker ${"AB"[i]}`);
      const shots = el("input", "recnb-pp-shots");
      shots.type = "number"; shots.min = "0"; shots.max = "10"; shots.value = String(s.shots ?? 0);
      shots.setAttribute("aria-label", `k-shot ${"AB"[i]}`);
      const src = select(["self", "similar"], s.demo_source, "recnb-pp-source", `demo source ${"AB"[i]}`);
      // Picking a template asks the kernel for that template's text and k (null: the template's own;
      // the k-shot box still shows the old template's). Picking a ranker sends the text as it is: the
      // kernel keeps an edited prompt and swaps an unedited one for the new task's.
      const changed = (fresh) => () => {
        const next = settings.map((x, j) => (j === i ? { ...readSide(wrap, i, x), ...fresh } : readSide(wrap, j, x)));
        save({ settings: next });
      };
      tpl.addEventListener("change", changed({ text: null, shots: null }));
      rk.addEventListener("change", changed({}));
      for (const [label, node] of [["template", tpl], ["ranker", rk], ["k-shot", shots], ["demos from", src]]) {
        const l = el("label", "recnb-pp-field");
        l.appendChild(el("span", null, label));
        l.appendChild(node);
        controls.appendChild(l);
      }
      side.appendChild(controls);
      const text = el("textarea", "recnb-pp-text");
      text.value = s.text || "";
      text.rows = 9;
      text.spellcheck = false;
      text.setAttribute("aria-label", `prompt text ${"AB"[i]}`);
      side.appendChild(text);
      side.appendChild(resultView(results[i]));
      sides.appendChild(side);
    });
    wrap.appendChild(sides);
  }

  // New results swap only the result panels: a full draw() would refill the textareas from the
  // stored settings and wipe prompt text typed while the run was going (or since).
  function drawResults() {
    const results = model.get("results") || [];
    wrap.querySelectorAll(".recnb-pp-side").forEach((side) => {
      const old = side.querySelector(".recnb-pp-result");
      const fresh = resultView(results[Number(side.dataset.side)]);
      if (old) old.replaceWith(fresh);
      else side.appendChild(fresh);
    });
  }

  draw();
  const names = ["settings", "user", "candidates_view", "template_names", "ranker_names", "user_ids"];
  const redraw = () => draw();
  const onStatus = () => {
    const s = wrap.querySelector(".recnb-pp-status");
    if (s) s.textContent = model.get("status") || "";
  };
  for (const name of names) model.on(`change:${name}`, redraw);
  model.on("change:results", drawResults);
  model.on("change:status", onStatus);
  return () => {  // this view's handlers only: other views of the same model keep theirs
    for (const name of names) model.off(`change:${name}`, redraw);
    model.off("change:results", drawResults);
    model.off("change:status", onStatus);
  };
}

export default { render };
