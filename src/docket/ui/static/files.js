// Expands a folder of the file browser in place: fetches its rows once and
// inserts them below it. Collapsing hides everything nested below the folder.
"use strict";

function depthOf(row) {
  return Number(row.dataset.depth || 0);
}

function collapse(row) {
  for (let next = row.nextElementSibling; next && depthOf(next) > depthOf(row); next = next.nextElementSibling) {
    next.hidden = true;
    const inner = next.querySelector("button.expand");
    if (inner) {
      inner.setAttribute("aria-expanded", "false");
      inner.textContent = "▸";
    }
  }
}

document.addEventListener("click", async (event) => {
  const button = event.target.closest("button.expand");
  if (!button) return;
  const row = button.closest("tr");
  const open = button.getAttribute("aria-expanded") === "true";
  button.setAttribute("aria-expanded", String(!open));
  button.textContent = open ? "▸" : "▾";
  if (open) {
    collapse(row);
    return;
  }
  if (row.loadedRows) {
    for (const child of row.loadedRows) child.hidden = false;
    return;
  }
  const answer = await fetch(button.dataset.children, { credentials: "same-origin" });
  const body = document.createElement("tbody");
  body.innerHTML = answer.ok ? await answer.text() : "<tr><td colspan=4>could not load this folder</td></tr>";
  row.loadedRows = Array.from(body.children);
  for (const child of row.loadedRows) child.dataset.depth = String(depthOf(row) + 1);
  row.after(...row.loadedRows);
});
