// The instance diagram: bpmn-js viewer with done / current / next / failed steps highlighted.
// Mouse: drag to pan, wheel to scroll (bpmn-js). Touch: one finger pans, two fingers pinch-zoom.
// The +, - and Fit buttons zoom for keyboards and screen readers.
(function () {
  "use strict";
  var container = document.getElementById("diagram");
  var status = document.getElementById("diagram-status");
  if (!container || typeof window.BpmnJS === "undefined") return;
  var states = JSON.parse(document.getElementById("diagram-states").textContent || "{}");
  var viewer = new window.BpmnJS({ container: container });

  function fail() {
    if (status) status.textContent = status.getAttribute("data-failed");
  }

  function clamp(zoom) {
    return Math.min(Math.max(zoom, 0.2), 4);
  }

  function touch(canvas) {
    var pointers = new Map();
    var last = null;

    function snapshot() {
      var points = Array.from(pointers.values());
      if (points.length === 1) return { x: points[0].x, y: points[0].y, gap: null };
      var a = points[0], b = points[1];
      return { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2, gap: Math.hypot(a.x - b.x, a.y - b.y) };
    }

    container.addEventListener("pointerdown", function (event) {
      if (event.pointerType !== "touch") return;
      pointers.set(event.pointerId, { x: event.clientX, y: event.clientY });
      last = snapshot();
    });
    container.addEventListener("pointermove", function (event) {
      if (!pointers.has(event.pointerId)) return;
      pointers.set(event.pointerId, { x: event.clientX, y: event.clientY });
      var now = snapshot();
      if (last) {
        canvas.scroll({ dx: now.x - last.x, dy: now.y - last.y });
        if (now.gap && last.gap) {
          var box = container.getBoundingClientRect();
          var zoom = clamp(canvas.zoom() * (now.gap / last.gap));
          canvas.zoom(zoom, { x: now.x - box.left, y: now.y - box.top });
        }
      }
      last = now;
      event.preventDefault();
    });
    ["pointerup", "pointercancel", "pointerleave"].forEach(function (kind) {
      container.addEventListener(kind, function (event) {
        pointers.delete(event.pointerId);
        last = pointers.size ? snapshot() : null;
      });
    });
  }

  function buttons(canvas) {
    document.querySelectorAll("[data-zoom]").forEach(function (button) {
      button.addEventListener("click", function () {
        var how = button.getAttribute("data-zoom");
        if (how === "fit") canvas.zoom("fit-viewport", "auto");
        else canvas.zoom(clamp(canvas.zoom() * (how === "in" ? 1.25 : 0.8)), "auto");
        container.setAttribute("data-zoom-level", String(canvas.zoom()));
      });
    });
  }

  fetch(container.getAttribute("data-src"), { credentials: "same-origin" })
    .then(function (response) {
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response.text();
    })
    .then(function (xml) { return viewer.importXML(xml); })
    .then(function () {
      var canvas = viewer.get("canvas");
      var registry = viewer.get("elementRegistry");
      canvas.zoom("fit-viewport", "auto");
      Object.keys(states).forEach(function (id) {
        if (registry.get(id)) canvas.addMarker(id, "st-" + states[id]);
      });
      touch(canvas);
      buttons(canvas);
      if (status) status.textContent = status.getAttribute("data-hint");
      container.setAttribute("data-zoom-level", String(canvas.zoom()));
      container.setAttribute("data-ready", "true");
    })
    .catch(fail);
})();
