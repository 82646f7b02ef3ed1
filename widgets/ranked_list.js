// recnb ranked list: one card per item (rank, title, year, facts, score bar, "why").
// Plain ES module for anywidget (no build step). Clicking a card (or Enter/Space on it)
// sets the `selected` traitlet to the item's id and syncs it to the kernel.

// el, scoreRange and itemCard come from _cards.js (put in front of this module by KitWidget).
const card = (item, range, isSelected, onPick) => itemCard("recnb-rl", item, range, isSelected, onPick, ["why", item.why]);

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

  const markSelected = () => markSelectedCards(root, "recnb-rl", model.get("selected"));

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
