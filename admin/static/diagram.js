// The instance diagram: bpmn-js viewer with done / current / next / failed steps highlighted.
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
      container.setAttribute("data-ready", "true");
    })
    .catch(fail);
})();
