(function () {
  "use strict";
  // Filters the plan's rows by action, entity and held, and both the plan
  // and the unsynced list by the person searched for. Without script
  // every row shows and the controls stay hidden.
  var byId = function (id) { return document.getElementById(id); };
  var controls = byId("rs-filters");
  if (!controls) { return; }
  var q = byId("rs-q"), action = byId("rs-action"), entity = byId("rs-entity"), held = byId("rs-held-only");
  var shown = byId("rs-shown"), unsyncedShown = byId("rs-unsynced-shown");
  var changes = document.querySelectorAll("tr.rs-change");
  var unsynced = document.querySelectorAll("tr.rs-unsynced");
  function apply() {
    var text = q ? q.value.trim().toLowerCase() : "";
    var a = action ? action.value : "";
    var e = entity ? entity.value : "";
    var h = held ? held.checked : false;
    var n = 0, m = 0, i, d, ok;
    for (i = 0; i < changes.length; i++) {
      d = changes[i].dataset;
      ok = (!a || d.action === a) && (!e || d.entity === e) && (!h || d.held === "true") && (!text || d.q.indexOf(text) >= 0);
      changes[i].hidden = !ok;
      if (ok) { n++; }
    }
    for (i = 0; i < unsynced.length; i++) {
      d = unsynced[i].dataset;
      ok = (!e || d.entity === e) && (!text || d.q.indexOf(text) >= 0);
      unsynced[i].hidden = !ok;
      if (ok) { m++; }
    }
    if (shown) { shown.textContent = "showing " + n + " of " + changes.length; }
    if (unsyncedShown) { unsyncedShown.textContent = (text || e) ? "Showing " + m + " of " + unsynced.length + "." : ""; }
  }
  [q, action, entity, held].forEach(function (el) {
    if (el) {
      el.addEventListener("input", apply);
      el.addEventListener("change", apply);
    }
  });
  controls.hidden = false;
  apply();
})();
