"""The HTML report's stylesheet and script, inlined into the page: it must open from a file or from
GitHub Pages with nothing fetched, so nothing here refers to anything outside the page."""

CSS = """
:root { --fg: #1b1f24; --bg: #fff; --muted: #5c6670; --line: #d5dae0; --head: #f3f5f7;
  --pass: #dcf5e3; --fail: #fbdcdc; --known: #fcefcf; --none: #eef0f2; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6e9ec; --bg: #14171a; --muted: #9aa4ae; --line: #343a40; --head: #1e2327;
    --pass: #173d24; --fail: #4a1c1c; --known: #47391a; --none: #24292e; }
}
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 110rem; padding: 1rem; font: 15px/1.45 system-ui, sans-serif;
  color: var(--fg); background: var(--bg); }
h1 { font-size: 1.35rem; margin: 0 0 .25rem; }
h2 { font-size: 1.1rem; margin: 1.5rem 0 .5rem; }
.meta, .legend, .note { color: var(--muted); font-size: .85rem; }
.filters { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: end; padding: .75rem;
  background: var(--head); border: 1px solid var(--line); border-radius: 6px;
  position: sticky; top: 0; z-index: 2; }
.filters label { display: flex; flex-direction: column; font-size: .8rem; color: var(--muted); }
.filters select, .filters input { font: inherit; min-width: 9rem; max-width: 18rem; padding: .3rem;
  color: var(--fg); background: var(--bg); border: 1px solid var(--line); border-radius: 4px; }
.scroll { overflow-x: auto; -webkit-overflow-scrolling: touch;
  border: 1px solid var(--line); border-radius: 6px; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { padding: .35rem .5rem; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { background: var(--head); position: sticky; top: 0; font-weight: 600; }
th button { all: unset; cursor: pointer; }
th button::after { content: " \\2195"; color: var(--muted); font-size: .75em; }
th[aria-sort="ascending"] button::after { content: " \\2191"; }
th[aria-sort="descending"] button::after { content: " \\2193"; }
td.num { white-space: nowrap; font-variant-numeric: tabular-nums; }
td.id { font-family: ui-monospace, monospace; font-size: .8rem; min-width: 12rem; }
tbody tr > :first-child { position: sticky; left: 0; background: var(--bg); }
.pass { background: var(--pass); } .fail { background: var(--fail); }
.known { background: var(--known); } .none { background: var(--none); color: var(--muted); }
.verdict { font-weight: 700; }
ul.problems { margin: .25rem 0 .75rem; padding-left: 1.25rem; }
code { font-size: .85em; word-break: break-all; }
[hidden] { display: none !important; }
@media (max-width: 40rem) { body { padding: .5rem; font-size: 14px; } .filters { position: static; }
  .filters label { flex: 1 1 45%; } .filters select, .filters input { min-width: 0; width: 100%; }
  td.id { min-width: 7.5rem; font-size: .7rem; } th, td { padding: .3rem .35rem; } }
"""

# Filters hide rows (and, for a path or format, the compatibility table's other columns) through
# the `hidden` attribute; data-* attributes carry what each row and cell belongs to, as JSON lists.
JS = """
(function () {
  const $ = (s, root) => Array.from((root || document).querySelectorAll(s));
  const value = id => document.getElementById(id).value;
  const list = (el, key) => el.dataset[key] ? JSON.parse(el.dataset[key]) : [];

  // A row says what it belongs to with data-driver, data-path(s) and data-feature(s); a filter
  // that a row says nothing about does not hide it.
  function belongs(row, one, many, wanted) {
    if (!wanted) return true;
    if (one in row.dataset) return row.dataset[one] === wanted;
    if (many in row.dataset) return list(row, many).includes(wanted);
    return true;
  }

  function apply() {
    const driver = value("f-driver"), path = value("f-path"), feature = value("f-feature");
    const text = value("f-text").trim().toLowerCase();
    $(".filterable").forEach(row => {
      row.hidden = !(belongs(row, "driver", "drivers", driver) && belongs(row, "path", "paths", path) &&
        belongs(row, "feature", "features", feature) &&
        (!text || row.textContent.toLowerCase().includes(text)));
    });
    $("#compat [data-col-path]").forEach(cell => {
      const other = (path && cell.dataset.colPath !== path) ||
        (feature && cell.dataset.colFeature && cell.dataset.colFeature !== feature);
      cell.hidden = Boolean(other);
    });
    const rows = $("#compat tbody tr"), shown = rows.filter(r => !r.hidden).length;
    document.getElementById("shown").textContent = shown + " of " + rows.length + " cells";
  }

  function sort(th) {
    const table = th.closest("table"), body = table.tBodies[0];
    const index = Array.from(th.parentNode.children).indexOf(th);
    const ascending = th.getAttribute("aria-sort") !== "ascending";
    $("th", table).forEach(h => h.removeAttribute("aria-sort"));
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    const key = row => {
      const cell = row.children[index];
      if (!cell) return "";
      if (cell.dataset.sort !== undefined) return Number(cell.dataset.sort);
      return cell.textContent.trim().toLowerCase();
    };
    const rows = Array.from(body.rows).sort((a, b) => {
      const x = key(a), y = key(b);
      const numbers = typeof x === "number" && typeof y === "number";
      const order = numbers ? x - y : String(x).localeCompare(String(y));
      return ascending ? order : -order;
    });
    rows.forEach(row => body.appendChild(row));
  }

  $("th button").forEach(button => button.addEventListener("click", () => sort(button.parentNode)));
  $(".filters select").forEach(el => el.addEventListener("change", apply));
  $(".filters input").forEach(el => el.addEventListener("input", apply));
  apply();
})();
"""
