// recnb ranked list: one card per item (rank, title, year, facts, score bar, "why").
// Plain ES module for anywidget (no build step). Clicking a card (or Enter/Space on it)
// sets the `selected` traitlet to the item's id and syncs it to the kernel.

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function factsText(facts) {
  if (!facts) return "";
  if (typeof facts === "string") return facts;
  return Object.entries(facts)
    .filter(([, v]) => v !== null && v !== undefined && String(v) !== "")
    .map(([k, v]) => `${k}: ${v}`)
    .join(" · ");
}

function formatScore(score) {
  if (score === null || score === undefined) return "";
  const a = Math.abs(score);
  if (a !== 0 && (a < 0.01 || a >= 1e5)) return score.toExponential(2);
  return score.toFixed(a < 10 ? 3 : 1);
}

function scoreRange(items) {
  const scores = items.map((it) => it.score).filter((s) => typeof s === "number" && isFinite(s));
  if (!scores.length) return null;
  return { min: Math.min(...scores), max: Math.max(...scores) };
}

function card(item, range, isSelected, onPick) {
  const li = el("li", "recnb-rl-card");
  li.setAttribute("role", "option");
  li.setAttribute("tabindex", "0");
  li.setAttribute("aria-selected", isSelected ? "true" : "false");
  li.dataset.itemId = String(item.item_id);
  if (isSelected) li.classList.add("recnb-rl-selected");
  if (item.description) li.title = item.description;

  li.appendChild(el("div", "recnb-rl-rank", item.rank));

  const body = el("div", "recnb-rl-body");
  const head = el("div", "recnb-rl-head");
  head.appendChild(el("span", "recnb-rl-title", item.title));
  if (item.year !== null && item.year !== undefined) {
    head.appendChild(el("span", "recnb-rl-year", `(${item.year})`));
  }
  body.appendChild(head);

  const facts = factsText(item.facts);
  if (facts) body.appendChild(el("div", "recnb-rl-facts", facts));

  if (range && typeof item.score === "number") {
    const span = range.max - range.min;
    const frac = span > 0 ? (item.score - range.min) / span : 1;
    const row = el("div", "recnb-rl-scorerow");
    const track = el("div", "recnb-rl-track");
    const bar = el("div", "recnb-rl-bar");
    // Relative to the list's min/max; the lowest score keeps a sliver so it stays visible.
    bar.style.width = `${(4 + 96 * frac).toFixed(1)}%`;
    track.appendChild(bar);
    row.appendChild(track);
    row.appendChild(el("span", "recnb-rl-score", formatScore(item.score)));
    body.appendChild(row);
  }

  if (item.why) body.appendChild(el("div", "recnb-rl-why", item.why));
  li.appendChild(body);

  li.addEventListener("click", () => onPick(item.item_id));
  li.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      onPick(item.item_id);
    }
  });
  return li;
}

function render({ model, el: root }) {
  root.classList.add("recnb-ranked-list");

  const pick = (itemId) => {
    model.set("selected", itemId);
    model.save_changes();
  };

  const draw = () => {
    const items = model.get("items") || [];
    const selected = model.get("selected");
    const range = scoreRange(items);
    root.replaceChildren();
    const caption = model.get("caption");
    if (caption) root.appendChild(el("div", "recnb-rl-caption", caption));
    if (!items.length) {
      root.appendChild(el("div", "recnb-rl-empty", "No items."));
      return;
    }
    const list = el("ol", "recnb-rl-list");
    list.setAttribute("role", "listbox");
    for (const item of items) {
      const on = selected !== null && selected !== undefined && selected === item.item_id;
      list.appendChild(card(item, range, on, pick));
    }
    root.appendChild(list);
  };

  const markSelected = () => {
    const selected = model.get("selected");
    const items = model.get("items") || [];
    root.querySelectorAll(".recnb-rl-card").forEach((node, i) => {
      const on = selected !== null && selected !== undefined && items[i] !== undefined && items[i].item_id === selected;
      node.classList.toggle("recnb-rl-selected", on);
      node.setAttribute("aria-selected", on ? "true" : "false");
    });
  };

  draw();
  model.on("change:items", draw);
  model.on("change:caption", draw);
  model.on("change:selected", markSelected);
  return () => {
    model.off("change:items", draw);
    model.off("change:caption", draw);
    model.off("change:selected", markSelected);
  };
}

export default { render };
