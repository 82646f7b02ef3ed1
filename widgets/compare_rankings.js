// recnb compare rankings: a request box and one column of ranked cards per ranker.
// Plain ES module for anywidget (no build step). Enter or the Rank button sends the text to
// the kernel (`request` + a bump of `submitted`); the kernel fills `columns`. Clicking a card
// sets `selected` and highlights that item in every column where it appears.

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

function elsewhereText(elsewhere) {
  if (!elsewhere) return "";
  return Object.entries(elsewhere)
    .map(([name, rank]) => `${name}: ${rank === null || rank === undefined ? "—" : "#" + rank}`)
    .join(" · ");
}

function card(item, range, isSelected, onPick) {
  const li = el("li", "recnb-cr-card");
  li.setAttribute("role", "option");
  li.setAttribute("tabindex", "0");
  li.setAttribute("aria-selected", isSelected ? "true" : "false");
  li.dataset.itemId = String(item.item_id);
  if (isSelected) li.classList.add("recnb-cr-selected");
  if (item.description) li.title = item.description;

  li.appendChild(el("div", "recnb-cr-rank", item.rank));
  const body = el("div", "recnb-cr-body");
  const head = el("div", "recnb-cr-head");
  head.appendChild(el("span", "recnb-cr-title", item.title));
  if (item.year !== null && item.year !== undefined) head.appendChild(el("span", "recnb-cr-year", `(${item.year})`));
  body.appendChild(head);
  const facts = factsText(item.facts);
  if (facts) body.appendChild(el("div", "recnb-cr-facts", facts));
  if (range && typeof item.score === "number") {
    const span = range.max - range.min;
    const frac = span > 0 ? (item.score - range.min) / span : 1;
    const row = el("div", "recnb-cr-scorerow");
    const track = el("div", "recnb-cr-track");
    const bar = el("div", "recnb-cr-bar");
    bar.style.width = `${(4 + 96 * frac).toFixed(1)}%`; // relative to this column's min/max
    track.appendChild(bar);
    row.appendChild(track);
    row.appendChild(el("span", "recnb-cr-score", formatScore(item.score)));
    body.appendChild(row);
  }
  const other = elsewhereText(item.elsewhere);
  if (other) body.appendChild(el("div", "recnb-cr-elsewhere", other));
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

function scoreRange(items) {
  const scores = items.map((it) => it.score).filter((s) => typeof s === "number" && isFinite(s));
  if (!scores.length) return null;
  return { min: Math.min(...scores), max: Math.max(...scores) };
}

function render({ model, el: root }) {
  root.classList.add("recnb-compare-rankings");

  const form = el("form", "recnb-cr-form");
  const input = el("input", "recnb-cr-input");
  input.type = "text";
  input.setAttribute("aria-label", "request");
  const button = el("button", "recnb-cr-submit", "Rank");
  button.type = "submit";
  form.append(input, button);
  const status = el("div", "recnb-cr-status");
  const grid = el("div", "recnb-cr-grid");
  root.append(form, status, grid);

  let waiting = false;
  const send = () => {
    waiting = true;
    root.classList.add("recnb-cr-busy");
    status.textContent = "Ranking…";
    model.set("request", input.value);
    model.set("submitted", (model.get("submitted") || 0) + 1);
    model.save_changes();
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    send();
  });
  // Keys typed in the box are text, not notebook shortcuts ("a" would insert a cell above).
  input.addEventListener("keydown", (event) => {
    event.stopPropagation();
    if (event.key === "Enter") {
      event.preventDefault();
      send();
    }
  });

  const pick = (itemId) => {
    model.set("selected", itemId);
    model.save_changes();
  };

  const drawColumns = () => {
    const columns = model.get("columns") || [];
    const selected = model.get("selected");
    grid.replaceChildren();
    grid.style.gridTemplateColumns = `repeat(${Math.max(1, columns.length)}, minmax(0, 1fr))`;
    for (const column of columns) {
      const col = el("section", "recnb-cr-column");
      col.dataset.name = column.name;
      const head = el("div", "recnb-cr-colhead");
      head.appendChild(el("span", "recnb-cr-colname", column.name));
      if (typeof column.seconds === "number") head.appendChild(el("span", "recnb-cr-time", `${column.seconds.toFixed(2)} s`));
      col.appendChild(head);
      if (column.error) {
        col.appendChild(el("div", "recnb-cr-error", column.error));
      } else if (!column.items || !column.items.length) {
        col.appendChild(el("div", "recnb-cr-empty", "No items yet."));
      } else {
        const list = el("ol", "recnb-cr-list");
        list.setAttribute("role", "listbox");
        const range = scoreRange(column.items);
        for (const item of column.items) {
          const on = selected !== null && selected !== undefined && selected === item.item_id;
          list.appendChild(card(item, range, on, pick));
        }
        col.appendChild(list);
      }
      grid.appendChild(col);
    }
  };

  const markSelected = () => {
    const selected = model.get("selected");
    root.querySelectorAll(".recnb-cr-card").forEach((node) => {
      const on = selected !== null && selected !== undefined && node.dataset.itemId === String(selected);
      node.classList.toggle("recnb-cr-selected", on);
      node.setAttribute("aria-selected", on ? "true" : "false");
    });
  };

  const syncRequest = () => {
    if (document.activeElement !== input) input.value = model.get("request") || "";
  };
  const syncStatus = () => {
    const busy = model.get("busy");
    if (!busy) waiting = false;
    root.classList.toggle("recnb-cr-busy", busy || waiting);
    if (!waiting || busy) status.textContent = model.get("status") || "";
  };
  const syncPlaceholder = () => {
    input.placeholder = model.get("placeholder") || "";
  };

  syncPlaceholder();
  input.value = model.get("request") || "";
  syncStatus();
  drawColumns();
  const handlers = {
    "change:columns": drawColumns,
    "change:selected": markSelected,
    "change:request": syncRequest,
    "change:status": syncStatus,
    "change:busy": syncStatus,
    "change:placeholder": syncPlaceholder,
  };
  for (const [event, fn] of Object.entries(handlers)) model.on(event, fn);
  return () => {
    for (const [event, fn] of Object.entries(handlers)) model.off(event, fn);
  };
}

export default { render };
