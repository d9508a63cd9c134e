// Keeps the dashboard live: every few seconds it fetches the same view as JSON (with the
// page's cookie) and swaps the server-rendered main part in, instead of reloading.
(function () {
  "use strict";
  var every = 5000;
  function tick() {
    fetch("/dashboard/live" + location.search, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) {
        if (r.status === 401 || r.status === 403) { location.reload(); return null; }
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        return r.json();
      })
      .then(function (v) {
        if (!v) { return; }
        document.getElementById("live").innerHTML = v.main;
        document.getElementById("now").textContent = v.now;
        document.getElementById("live-state").textContent = "live";
      })
      .catch(function (e) {
        document.getElementById("live-state").textContent = "not updating (" + e.message + ")";
      })
      .finally(function () { setTimeout(tick, every); });
  }
  setTimeout(tick, every);
})();
