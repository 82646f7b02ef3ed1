// recnb chat: a conversation with a recommender, and its belief state beside it (editable).
// Plain ES module for anywidget (no build step). User actions go to the kernel as custom
// messages (model.send); the kernel answers by updating the synced traits, which redraw.

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

const KINDS = [
  ["like", "Likes"],
  ["dislike", "Dislikes"],
  ["constraint", "Constraints"],
];

function itemCard(item) {
  const card = el("div", "recnb-chat-item");
  card.dataset.itemId = String(item.item_id);
  const head = el("div", "recnb-chat-item-title", item.title);
  if (item.year !== null && item.year !== undefined) head.appendChild(el("span", "recnb-chat-item-year", ` (${item.year})`));
  card.appendChild(head);
  if (item.facts) card.appendChild(el("div", "recnb-chat-item-facts", item.facts));
  return card;
}

function messageNode(msg) {
  const node = el("div", `recnb-chat-msg recnb-chat-${msg.role}`);
  if (msg.failed) node.classList.add("recnb-chat-failed");
  const text = msg.items && msg.items.length ? msg.text.split("\n")[0] : msg.text;
  node.appendChild(el("div", "recnb-chat-text", text));
  if (msg.items && msg.items.length) {
    const list = el("div", "recnb-chat-items");
    msg.items.forEach((it) => list.appendChild(itemCard(it)));
    node.appendChild(list);
    // the reply's text below its header is the item lines (shown as cards) and then the notes:
    // what could not be applied must still be read
    (msg.notes || []).forEach((n) => node.appendChild(el("div", "recnb-chat-note", n)));
  }
  if (msg.role === "assistant" && msg.action) {
    const meta = el("div", "recnb-chat-meta");
    let line = `${msg.intent} → ${msg.action} · read by ${msg.source}`;
    if (msg.fallback) line += ` · fallback: ${msg.fallback}`;
    meta.textContent = line;
    if (msg.fallback) meta.classList.add("recnb-chat-fallback");
    node.appendChild(meta);
  }
  return node;
}

function beliefRow(model, b) {
  const row = el("li", "recnb-chat-belief");
  row.dataset.beliefId = b.id;
  if (!b.structured) row.classList.add("recnb-chat-freetext");
  const input = el("input", "recnb-chat-belief-text");
  input.type = "text";
  input.value = b.text;
  input.setAttribute("aria-label", `${b.kind}: ${b.text}`);
  const commit = () => {
    const text = input.value.trim();
    if (text && text !== b.text) model.send({ type: "edit_belief", id: b.id, text });
    else input.value = b.text;
  };
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      e.preventDefault();
      commit();
    } else if (e.key === "Escape") {
      input.value = b.text;
    }
  });
  input.addEventListener("change", commit);
  row.appendChild(input);
  row.appendChild(el("span", "recnb-chat-source", b.structured ? b.source : `${b.source} · free text`));
  if (b.note) row.appendChild(el("span", "recnb-chat-note", b.note)); // e.g. "read as a dislike: the sentence says no"
  const remove = el("button", "recnb-chat-remove", "×");
  remove.title = "Remove";
  remove.setAttribute("aria-label", `Remove ${b.text}`);
  remove.addEventListener("click", () => model.send({ type: "remove_belief", id: b.id }));
  row.appendChild(remove);
  return row;
}

function render({ model, el: root }) {
  root.classList.add("recnb-chat");
  // JupyterLab binds Enter (and other keys) to notebook commands; inside the chat they are typing.
  root.setAttribute("data-lm-suppress-shortcuts", "true");

  const left = el("div", "recnb-chat-left");
  const caption = el("div", "recnb-chat-caption");
  const log = el("div", "recnb-chat-log");
  log.setAttribute("role", "log");
  const form = el("form", "recnb-chat-form");
  const input = el("input", "recnb-chat-input");
  input.type = "text";
  const send = el("button", "recnb-chat-send", "Send");
  send.type = "submit";
  const reset = el("button", "recnb-chat-reset", "New chat");
  reset.type = "button";
  reset.title = "Start over: clear the conversation and what the system believes";
  reset.addEventListener("click", () => model.send({ type: "reset" }));
  form.append(input, send, reset);
  const error = el("div", "recnb-chat-error");
  left.append(caption, log, form, error);

  const right = el("div", "recnb-chat-right");
  right.appendChild(el("div", "recnb-chat-panel-title", "What I know about you"));
  const groups = el("div", "recnb-chat-groups");
  const addForm = el("form", "recnb-chat-add");
  const addText = el("input", "recnb-chat-add-text");
  addText.type = "text";
  addText.placeholder = "add, e.g. 'no horror' or 'before 1990'";
  const addKind = el("select", "recnb-chat-add-kind");
  KINDS.forEach(([k, label]) => {
    const o = el("option", null, label.replace(/s$/, ""));
    o.value = k;
    addKind.appendChild(o);
  });
  const addBtn = el("button", "recnb-chat-add-btn", "Add");
  addBtn.type = "submit";
  addForm.append(addText, addKind, addBtn);
  const stats = el("div", "recnb-chat-stats");
  right.append(groups, addForm, stats);
  root.append(left, right);

  const submit = () => {
    const text = input.value.trim();
    if (!text || model.get("busy")) return;
    input.value = "";
    model.send({ type: "user_message", text });
  };
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    submit();
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      e.preventDefault();
      e.stopPropagation();
      submit();
    }
  });
  addForm.addEventListener("submit", (e) => {
    e.preventDefault();
    const text = addText.value.trim();
    if (!text) return;
    addText.value = "";
    model.send({ type: "add_belief", text, kind: addKind.value });
  });

  const drawMessages = () => {
    log.replaceChildren(...(model.get("messages") || []).map(messageNode));
    log.scrollTop = log.scrollHeight;
  };
  const drawBeliefs = () => {
    const beliefs = model.get("beliefs") || [];
    groups.replaceChildren();
    for (const [kind, label] of KINDS) {
      const group = el("div", `recnb-chat-group recnb-chat-group-${kind}`);
      group.appendChild(el("div", "recnb-chat-group-title", label));
      const list = el("ul", "recnb-chat-beliefs");
      const mine = beliefs.filter((b) => b.kind === kind);
      if (!mine.length) list.appendChild(el("li", "recnb-chat-none", "(none)"));
      mine.forEach((b) => list.appendChild(beliefRow(model, b)));
      group.appendChild(list);
      groups.appendChild(group);
    }
  };
  const drawMeta = () => {
    caption.textContent = model.get("caption") || "";
    caption.style.display = caption.textContent ? "" : "none";
    input.placeholder = model.get("placeholder") || "";
    const busy = !!model.get("busy");
    input.disabled = busy;
    send.disabled = busy;
    reset.disabled = busy;
    root.classList.toggle("recnb-chat-busy", busy);
    error.textContent = model.get("error") || "";
    const s = model.get("stats") || {};
    stats.textContent = `${s.turns || 0} turns · ${s.fallbacks || 0} fallbacks · policy ${s.policy || "?"}`;
  };

  drawMessages();
  drawBeliefs();
  drawMeta();
  const events = {
    "change:messages": drawMessages,
    "change:beliefs": drawBeliefs,
    "change:caption": drawMeta,
    "change:placeholder": drawMeta,
    "change:busy": drawMeta,
    "change:error": drawMeta,
    "change:stats": drawMeta,
  };
  Object.entries(events).forEach(([ev, fn]) => model.on(ev, fn));
  return () => Object.entries(events).forEach(([ev, fn]) => model.off(ev, fn));
}

export default { render };
