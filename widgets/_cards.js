// recnb shared item cards: the helpers and the card both list widgets draw (ranked_list,
// compare_rankings). Not a widget itself: KitWidget puts this file's text in front of a widget's
// own module (anywidget loads one module per widget, from a string, so a relative import
// would not resolve). Every part has a shared class styled once in _cards.css ("recnb-card-title")
// and one with the widget's prefix ("recnb-rl-title", "recnb-cr-title") for its own tweaks and tests.

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

// One <li> card: rank, title, year, facts, a score bar relative to the list's min/max, and an
// optional last line (`note`: [class suffix, text]). Click or Enter/Space calls onPick(item_id).
function itemCard(prefix, item, range, isSelected, onPick, note) {
  const cls = (part) => `recnb-card-${part} ${prefix}-${part}`;
  const li = el("li", `recnb-card ${prefix}-card`);
  li.setAttribute("role", "option");
  li.setAttribute("tabindex", "0");
  li.dataset.itemId = String(item.item_id);
  setSelected(li, prefix, isSelected);
  if (item.description) li.title = item.description;

  li.appendChild(el("div", cls("rank"), item.rank));
  const body = el("div", cls("body"));
  const head = el("div", cls("head"));
  head.appendChild(el("span", cls("title"), item.title));
  if (item.year !== null && item.year !== undefined) head.appendChild(el("span", cls("year"), `(${item.year})`));
  body.appendChild(head);
  const facts = factsText(item.facts);
  if (facts) body.appendChild(el("div", cls("facts"), facts));
  if (range && typeof item.score === "number") {
    const span = range.max - range.min;
    const frac = span > 0 ? (item.score - range.min) / span : 1;
    const row = el("div", cls("scorerow"));
    const track = el("div", cls("track"));
    const bar = el("div", cls("bar"));
    // The lowest score keeps a sliver so it stays visible.
    bar.style.width = `${(4 + 96 * frac).toFixed(1)}%`;
    track.appendChild(bar);
    row.appendChild(track);
    row.appendChild(el("span", cls("score"), formatScore(item.score)));
    body.appendChild(row);
  }
  if (note && note[1]) body.appendChild(el("div", `recnb-card-note ${prefix}-${note[0]}`, note[1]));
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

function setSelected(card, prefix, on) {
  card.classList.toggle("recnb-card-selected", on);
  card.classList.toggle(`${prefix}-selected`, on);
  card.setAttribute("aria-selected", on ? "true" : "false");
}

// Re-mark the cards under root after `selected` changed, without redrawing them.
function markSelectedCards(root, prefix, selected) {
  root.querySelectorAll(".recnb-card").forEach((node) => {
    setSelected(node, prefix, selected !== null && selected !== undefined && node.dataset.itemId === String(selected));
  });
}
