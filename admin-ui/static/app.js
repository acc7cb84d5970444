// Sentral admin UI: live updates over server-sent events. Served from the binary; no
// inline script anywhere (the CSP forbids it). Pages work without this file.
(function () {
  "use strict";
  var live = document.querySelector("[data-live]");
  if (!live || !window.EventSource) { return; }
  var source = new EventSource("/events");
  source.addEventListener("summary", function (e) {
    var data;
    try { data = JSON.parse(e.data); } catch (err) { return; }
    Object.keys(data).forEach(function (key) {
      var el = document.querySelector('[data-field="' + key + '"]');
      if (el && typeof data[key] !== "object") { el.textContent = String(data[key]); }
    });
  });
  source.addEventListener("registration", function (e) {
    var data;
    try { data = JSON.parse(e.data); } catch (err) { return; }
    var el = document.getElementById("reg-" + data.extension);
    if (el) {
      el.textContent = data.label;
      el.className = data.contacts > 0 ? "ok" : "bad";
    }
  });
  source.addEventListener("calls", function () {
    if (live.getAttribute("data-live") === "reload") { window.location.reload(); }
  });
})();
