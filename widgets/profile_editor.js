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

// An input whose typed, unsent value (a draft) outlives redraws: every kernel update rebuilds the
// view, and the box then shows the draft, not the stored value, until it is sent or cancelled.
function draftInput(input, key, stored, drafts) {
  input.dataset.draft = key;
  input.value = drafts.has(key) ? drafts.get(key) : stored;
  input.addEventListener("input", () => drafts.set(key, input.value));
  return input;
}

function statementRow(s, index, count, ui) {
  const { send, drafts } = ui;
  const row = el("li", `recnb-pe-statement recnb-pe-${s.polarity}`);
  row.dataset.id = s.id;

  const pol = button(s.polarity === "like" ? "like" : "dislike", "recnb-pe-flip",
    "flip between like and dislike", () => send({ op: "flip", id: s.id }));
  row.appendChild(pol);

  const text = draftInput(el("input", "recnb-pe-text"), `text:${s.id}`, s.text, drafts);
  text.type = "text";
  text.setAttribute("aria-label", "statement text");
  let sent = s.text; // Enter, then the change event and the save click, must send the edit once
  const save = () => {
    drafts.delete(text.dataset.draft);
    const value = text.value.trim();
    if (value && value !== sent) {
      sent = value;
      send({ op: "edit", id: s.id, text: text.value });
    }
  };
  text.addEventListener("keydown", (e) => {
    if (e.key === "Enter") save();
    else if (e.key === "Escape") {
      drafts.delete(text.dataset.draft);
      text.value = s.text;
    }
  });
  // Leaving the box sends the text (as chat.js does): the next edit redraws every box from the
  // kernel's text, and an unsent one would be thrown away. Chrome also fires "change" on a focused
  // box that a redraw removes: that is no leaving, its draft lives on in the new box.
  text.addEventListener("change", () => {
    if (!ui.redrawing()) save();
  });
  // A redraw while typing puts the draft into a new box, which fires no "change" when left (its value
  // was set, not typed): leaving it must send the draft all the same.
  text.addEventListener("blur", () => {
    if (!ui.redrawing() && drafts.has(text.dataset.draft)) save();
  });
  row.appendChild(text);
  row.appendChild(button("save", "recnb-pe-save", "apply the new text", save));

  const weight = draftInput(el("input", "recnb-pe-weight"), `weight:${s.id}`, String(s.weight), drafts);
  weight.type = "number";
  weight.min = "0";
  weight.max = "10";
  weight.step = "0.1";
  weight.title = "weight";
  const sendWeight = () => {
    // removed by a redraw, not left (see the text box); no draft: already sent, or never typed
    if (ui.redrawing() || !drafts.has(weight.dataset.draft)) return;
    drafts.delete(weight.dataset.draft);
    send({ op: "weight", id: s.id, weight: parseFloat(weight.value) });
  };
  weight.addEventListener("change", sendWeight);
  weight.addEventListener("blur", sendWeight); // a draft carried into a new box by a redraw
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
  const drafts = new Map(); // data-draft key -> typed value not sent yet (see draftInput)
  let addSent = false; // the add box's text was sent: clear it once the kernel has added it
  let redrawing = false;
  const ui = { send, drafts, redrawing: () => redrawing };

  const draw = () => {
    // the box being typed in keeps its focus and caret across the rebuild
    const active = root.contains(document.activeElement) ? document.activeElement : null;
    const focusKey = active && active.dataset ? active.dataset.draft : undefined;
    let caret = null;
    try {
      caret = focusKey ? [active.selectionStart, active.selectionEnd] : null;
    } catch (e) { /* number inputs have no caret */ }
    redrawing = true;
    try {
      root.replaceChildren();
    } finally {
      redrawing = false;
    }
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
    const ids = new Set(stmts.map((s) => String(s.id)));
    for (const key of [...drafts.keys()]) {
      const id = key.slice(key.indexOf(":") + 1);
      if (key.includes(":") && !ids.has(id)) drafts.delete(key); // its statement is gone
    }
    const list = el("ol", "recnb-pe-statements");
    stmts.forEach((s, i) => list.appendChild(statementRow(s, i, stmts.length, ui)));
    left.appendChild(list);

    const add = el("div", "recnb-pe-addrow");
    const addText = draftInput(el("input", "recnb-pe-add-text"), "add", "", drafts);
    addText.type = "text";
    addText.placeholder = "I dislike horror films";
    addText.setAttribute("aria-label", "new statement");
    const addPol = el("select", "recnb-pe-add-polarity");
    addPol.dataset.draft = "add-polarity";
    for (const p of ["auto", "like", "dislike"]) {
      const o = el("option", null, p);
      o.value = p;
      addPol.appendChild(o);
    }
    addPol.value = drafts.get("add-polarity") || "auto";
    addPol.addEventListener("change", () => drafts.set("add-polarity", addPol.value));
    const doAdd = () => {
      if (!addText.value.trim()) return;
      const edit = { op: "add", text: addText.value };
      if (addPol.value !== "auto") edit.polarity = addPol.value;
      // the text stays in the box until the kernel adds it: a refused add (see the error) can be fixed
      drafts.set("add", addText.value);
      addSent = true;
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

    if (focusKey) {
      const again = root.querySelector(`[data-draft="${CSS.escape(focusKey)}"]`);
      if (again) {
        again.focus();
        try {
          if (caret && caret[0] !== null) again.setSelectionRange(caret[0], caret[1]);
        } catch (e) { /* number inputs have no caret */ }
      }
    }
  };

  // a sent add is done when the statements change (added) or an error comes back (kept to fix)
  const onStatements = () => {
    if (addSent) drafts.delete("add");
    addSent = false;
    draw();
  };
  const onError = () => {
    if (model.get("error")) addSent = false;
    draw();
  };
  draw();
  const names = ["ranking", "dropped", "metrics", "log", "can_undo", "can_redo", "caption"];
  for (const n of names) model.on(`change:${n}`, draw);
  model.on("change:statements", onStatements);
  model.on("change:error", onError);
  return () => {
    for (const n of names) model.off(`change:${n}`, draw);
    model.off("change:statements", onStatements);
    model.off("change:error", onError);
  };
}

export default { render };
