// skylift dashboard: listens to /events (Server-Sent Events) and updates the numbers in place.
// Plain script, no build step; the page works (without live updates) if it does not load.
(function () {
  "use strict";
  if (!window.EventSource || !document.querySelector("[data-wave], [data-user]")) return;
  var UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];
  function human(n) {
    var i = 0;
    while (n >= 1024 && i < UNITS.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : String(n)) + " " + UNITS[i];
  }
  function duration(s) {
    if (s === null || s === undefined) return "";
    if (s < 120) return s + " s";
    return s < 7200 ? Math.floor(s / 60) + " min" : (s / 3600).toFixed(1) + " h";
  }
  function each(selector, fn) { document.querySelectorAll(selector).forEach(fn); }
  function byAttr(attr, value) { return "[" + attr + '="' + CSS.escape(value) + '"]'; }
  var source = new EventSource("/events");
  source.addEventListener("progress", function (event) {
    var data = JSON.parse(event.data);
    data.waves.forEach(function (w) {
      each(byAttr("data-wave-percent", w.wave), function (el) { el.textContent = w.percent + "%"; });
      each(byAttr("data-wave-fill", w.wave), function (el) { el.style.width = w.percent + "%"; });
      each(byAttr("data-wave-status", w.wave), function (el) { el.textContent = w.status; });
      each(byAttr("data-wave-actions", w.wave), function (el) { el.setAttribute("data-status", w.status); });
      each(byAttr("data-wave-failed", w.wave), function (el) { el.textContent = w.failed; });
      each(byAttr("data-wave-eta", w.wave), function (el) { el.textContent = duration(w.eta_seconds); });
    });
    data.users.forEach(function (u) {
      each(byAttr("data-user", u.key), function (row) {
        row.querySelectorAll("[data-field]").forEach(function (cell) {
          var field = cell.getAttribute("data-field"), value = u[field];
          if (field === "bytes") value = human(value);
          else if (field === "messages") value = value.toLocaleString("en");
          cell.textContent = value === null ? "" : value;
          if (field === "state") cell.className = "state state-" + String(value).replace(/ /g, "-");
        });
      });
    });
    var total = document.getElementById("total-messages");
    if (total) total.textContent = data.totals.messages.toLocaleString("en");
    var bytes = document.getElementById("total-bytes");
    if (bytes) bytes.textContent = human(data.totals.bytes);
    document.body.setAttribute("data-updated", data.at);
  });
})();
