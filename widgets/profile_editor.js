// recnb profile editor: statements you can edit on the left, the live top-k and its diff on the right.
// Plain ES module for anywidget (no build step). Every edit is sent to the kernel as a message
// ({type: "edit", edit: {op, ...}}); the kernel re-ranks and sends back new state, which redraws.

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function button(label, className, title, onClick, disabled) {
  const b = el("button", `recnb-pe-btn ${className}`, label);
  b.type = "button";
  if (title) b.title = title;
  if (disabled) b.disabled = true;
  b.addEventListener("click", onClick);
  return b;
}

function fmt(x, digits) {
  return typeof x === "number" && isFinite(x) ? x.toFixed(digits) : "n/a";
}

function statusBadge(item) {
  const s = item.status;
  let text = "";
  if (s === "new") text = "new";
  else if (s === "up") text = `▲${item.before_rank - item.rank}`;
  else if (s === "down") text = `▼${item.rank - item.before_rank}`;
  else text = "=";
  const badge = el("span", `recnb-pe-status recnb-pe-${s}`, text);
  if (item.before_rank && s !== "new") badge.title = `was #${item.before_rank}`;
  return badge;
}

function causeText(item) {
  if (!item.cause || typeof item.cause_delta !== "number" || Math.abs(item.cause_delta) < 1e-6) return "";
  return `${item.cause_delta > 0 ? "+" : ""}${item.cause_delta.toFixed(2)} from '${item.cause}'`;
}

function statementRow(s, index, count, send) {
  const row = el("li", `recnb-pe-statement recnb-pe-${s.polarity}`);
  row.dataset.id = s.id;

  const pol = button(s.polarity === "like" ? "like" : "dislike", "recnb-pe-flip",
    "flip between like and dislike", () => send({ op: "flip", id: s.id }));
  row.appendChild(pol);

  const text = el("input", "recnb-pe-text");
  text.type = "text";
  text.value = s.text;
  text.setAttribute("aria-label", "statement text");
  const save = () => {
    if (text.value.trim() !== s.text) send({ op: "edit", id: s.id, text: text.value });
  };
  text.addEventListener("keydown", (e) => {
    if (e.key === "Enter") save();
  });
  row.appendChild(text);
  row.appendChild(button("save", "recnb-pe-save", "apply the new text", save));

  const weight = el("input", "recnb-pe-weight");
  weight.type = "number";
  weight.min = "0";
  weight.max = "10";
  weight.step = "0.1";
  weight.value = String(s.weight);
  weight.title = "weight";
  weight.addEventListener("change", () => send({ op: "weight", id: s.id, weight: parseFloat(weight.value) }));
  row.appendChild(weight);

  row.appendChild(button("↑", "recnb-pe-up", "move up", () => send({ op: "move", id: s.id, index: index - 1 }), index === 0));
  row.appendChild(button("↓", "recnb-pe-down", "move down", () => send({ op: "move", id: s.id, index: index + 1 }), index === count - 1));
  row.appendChild(button("✕", "recnb-pe-delete", "delete", () => send({ op: "delete", id: s.id })));

  const meta = el("span", "recnb-pe-meta", `${s.source}${s.evidence ? ` · ${s.evidence} movies` : ""}`);
  row.appendChild(meta);
  if (s.flag) {
    const flag = el("span", "recnb-pe-flag", "⚠ unsupported");
    flag.title = s.flag;
    row.appendChild(flag);
  }
  return row;
}

function render({ model, el: root }) {
  root.classList.add("recnb-profile-editor");
  const send = (edit) => model.send({ type: "edit", edit });
  let logOpen = false; // the log stays open across redraws once the person opens it

  const draw = () => {
    root.replaceChildren();
    const caption = model.get("caption");
    if (caption) root.appendChild(el("div", "recnb-pe-caption", caption));

    const m = model.get("metrics") || {};
    const bar = el("div", "recnb-pe-metrics");
    const parts = [`top-${m.k} of ${m.items} unseen items`];
    if (m.ms !== null && m.ms !== undefined) parts.push(`re-ranked in ${fmt(m.ms, 0)} ms`);
    bar.appendChild(el("span", "recnb-pe-timing", parts.join(" · ")));
    const nd = el("span", "recnb-pe-ndcg",
      m.held_out ? `NDCG@${m.k}: ${fmt(m.ndcg_before, 3)} → ${fmt(m.ndcg_after, 3)}` : "NDCG: no held-out ratings");
    bar.appendChild(nd);
    root.appendChild(bar);

    const error = model.get("error");
    if (error) root.appendChild(el("div", "recnb-pe-error", error));
    for (const note of m.notes || []) root.appendChild(el("div", "recnb-pe-note", note));

    const cols = el("div", "recnb-pe-cols");
    // -- left: the profile
    const left = el("div", "recnb-pe-profile");
    const tools = el("div", "recnb-pe-tools");
    tools.appendChild(button("undo", "recnb-pe-undo", "undo the last edit", () => send({ op: "undo" }), !model.get("can_undo")));
    tools.appendChild(button("redo", "recnb-pe-redo", "redo", () => send({ op: "redo" }), !model.get("can_redo")));
    left.appendChild(tools);
    const stmts = model.get("statements") || [];
    const list = el("ol", "recnb-pe-statements");
    stmts.forEach((s, i) => list.appendChild(statementRow(s, i, stmts.length, send)));
    left.appendChild(list);

    const add = el("div", "recnb-pe-addrow");
    const addText = el("input", "recnb-pe-add-text");
    addText.type = "text";
    addText.placeholder = "I dislike horror films";
    addText.setAttribute("aria-label", "new statement");
    const addPol = el("select", "recnb-pe-add-polarity");
    for (const p of ["auto", "like", "dislike"]) {
      const o = el("option", null, p);
      o.value = p;
      addPol.appendChild(o);
    }
    const doAdd = () => {
      if (!addText.value.trim()) return;
      const edit = { op: "add", text: addText.value };
      if (addPol.value !== "auto") edit.polarity = addPol.value;
      send(edit);
    };
    addText.addEventListener("keydown", (e) => {
      if (e.key === "Enter") doAdd();
    });
    add.appendChild(addText);
    add.appendChild(addPol);
    add.appendChild(button("add", "recnb-pe-add", "add a statement", doAdd));
    left.appendChild(add);

    const log = model.get("log") || [];
    const details = el("details", "recnb-pe-log");
    details.open = logOpen;
    details.addEventListener("toggle", () => {
      logOpen = details.open;
    });
    details.appendChild(el("summary", null, `edit log (${log.length})`));
    const ul = el("ol", "recnb-pe-log-list");
    for (const line of log.slice().reverse()) ul.appendChild(el("li", null, line));
    details.appendChild(ul);
    left.appendChild(details);
    cols.appendChild(left);

    // -- right: the ranking and what changed
    const right = el("div", "recnb-pe-ranking");
    const ranking = model.get("ranking") || [];
    const ol = el("ol", "recnb-pe-items");
    for (const item of ranking) {
      const li = el("li", "recnb-pe-item");
      li.dataset.itemId = String(item.item_id);
      li.appendChild(el("span", "recnb-pe-rank", item.rank));
      li.appendChild(statusBadge(item));
      const body = el("div", "recnb-pe-body");
      body.appendChild(el("span", "recnb-pe-title", item.title));
      if (item.year) body.appendChild(el("span", "recnb-pe-year", ` (${item.year})`));
      if (item.genres) body.appendChild(el("div", "recnb-pe-genres", item.genres));
      const why = causeText(item) || item.why;
      if (why) body.appendChild(el("div", "recnb-pe-why", why));
      li.appendChild(body);
      ol.appendChild(li);
    }
    if (!ranking.length) right.appendChild(el("div", "recnb-pe-empty", "No recommendations: the profile is empty."));
    right.appendChild(ol);
    const dropped = model.get("dropped") || [];
    if (dropped.length) {
      const box = el("div", "recnb-pe-dropped");
      box.appendChild(el("div", "recnb-pe-subhead", "dropped out of the top"));
      for (const d of dropped) {
        const line = el("div", "recnb-pe-dropped-item");
        line.dataset.itemId = String(d.item_id);
        const where = d.after_rank ? `#${d.before_rank} → #${d.after_rank}` : `#${d.before_rank} → out`;
        line.textContent = `${d.title}${d.year ? ` (${d.year})` : ""}: ${where}${causeText(d) ? ` · ${causeText(d)}` : ""}`;
        box.appendChild(line);
      }
      right.appendChild(box);
    }
    cols.appendChild(right);
    root.appendChild(cols);
  };

  draw();
  const names = ["statements", "ranking", "dropped", "metrics", "log", "can_undo", "can_redo", "error", "caption"];
  for (const n of names) model.on(`change:${n}`, draw);
  return () => {
    for (const n of names) model.off(`change:${n}`, draw);
  };
}

export default { render };
