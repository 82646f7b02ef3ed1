// recnb compare rankings: a request box and one column of ranked cards per ranker.
// Plain ES module for anywidget (no build step). Enter or the Rank button sends the text to
// the kernel (`request` + a bump of `submitted`); the kernel fills `columns`. Clicking a card
// sets `selected` and highlights that item in every column where it appears.

// el, scoreRange and itemCard come from _cards.js (put in front of this module by KitWidget).
function elsewhereText(elsewhere) {
  if (!elsewhere) return "";
  return Object.entries(elsewhere)
    .map(([name, rank]) => `${name}: ${rank === null || rank === undefined ? "—" : "#" + rank}`)
    .join(" · ");
}

const card = (item, range, isSelected, onPick) =>
  itemCard("recnb-cr", item, range, isSelected, onPick, ["elsewhere", elsewhereText(item.elsewhere)]);

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
    if (!input.value.trim()) {  // nothing to rank: the kernel would answer with a status it already has
      status.textContent = "Type a request first.";
      return;
    }
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

  const markSelected = () => markSelectedCards(root, "recnb-cr", model.get("selected"));

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
