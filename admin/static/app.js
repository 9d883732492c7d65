// FlowDesk: small progressive enhancements. Every page works without this file.
(function () {
  "use strict";

  // Array fields: add and remove rows in the browser instead of a round trip.
  function renumber(rows) {
    rows.querySelectorAll(":scope > [data-row]").forEach(function (row, i) {
      var number = row.querySelector("[data-row-number]");
      if (number) number.textContent = String(i + 1);
    });
  }

  function nextIndex(rows, name) {
    var max = -1;
    var prefix = name + ".";
    rows.querySelectorAll("[name]").forEach(function (el) {
      if (el.name.indexOf(prefix) === 0) {
        var head = el.name.slice(prefix.length).split(".")[0];
        if (/^\d+$/.test(head)) max = Math.max(max, parseInt(head, 10));
      }
    });
    return max + 1;
  }

  document.addEventListener("click", function (event) {
    var add = event.target.closest("[data-add-row]");
    if (add) {
      var group = add.closest("[data-array]");
      var rows = group.querySelector(":scope > [data-rows]");
      var template = group.querySelector(":scope > template[data-row-template]");
      if (!rows || !template) return;
      event.preventDefault();
      var name = group.getAttribute("data-array");
      var index = String(nextIndex(rows, name));
      var html = template.innerHTML.split("__i__").join(index);
      rows.insertAdjacentHTML("beforeend", html);
      renumber(rows);
      var first = rows.lastElementChild.querySelector("input, select, textarea");
      if (first) first.focus();
      return;
    }
    var remove = event.target.closest("[data-remove-row]");
    if (remove) {
      var row = remove.closest("[data-row]");
      var list = row && row.parentElement;
      if (!row || !list) return;
      event.preventDefault();
      row.remove();
      renumber(list);
    }
  });

  // Filters apply as soon as a select changes.
  document.querySelectorAll("form[data-autosubmit] select").forEach(function (select) {
    select.addEventListener("change", function () { select.form.requestSubmit(); });
  });

  // A section that waits for a result (a retried step) reloads the page until it is there,
  // unless the person is typing in a form.
  var waiting = document.querySelector("[data-refresh]");
  if (waiting) {
    var seconds = Math.max(parseInt(waiting.getAttribute("data-refresh"), 10) || 3, 2);
    window.setTimeout(function () {
      var active = document.activeElement;
      if (!active || !active.closest("form")) window.location.reload();
    }, seconds * 1000);
  }

  // After a failed submit, move focus to the list of problems.
  var summary = document.getElementById("error-summary");
  if (summary) summary.focus();
})();
