// Herald's pages work without this file; it adds what only a script can:
// times in the viewer's own zone, the CSRF header on htmx requests, and
// jumping to the line of a schema error.
(function () {
  "use strict";

  var fmt = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "numeric",
    hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short"
  });

  function localTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      if (el.dataset.local) return;
      var d = new Date(el.getAttribute("datetime"));
      if (isNaN(d)) return;
      el.title = el.textContent;
      el.textContent = fmt.format(d);
      el.dataset.local = "1";
    });
  }

  function csrfToken() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.content : "";
  }

  // Selects line n of a textarea and scrolls it into view.
  function selectLine(area, n) {
    var lines = area.value.split("\n");
    var start = 0;
    for (var i = 0; i < n - 1 && i < lines.length; i++) start += lines[i].length + 1;
    var end = start + (lines[n - 1] || "").length;
    area.focus();
    area.setSelectionRange(start, end);
    var lineHeight = area.scrollHeight / Math.max(lines.length, 1);
    area.scrollTop = Math.max(0, (n - 3) * lineHeight);
  }

  document.addEventListener("DOMContentLoaded", function () {
    localTimes(document);
    document.body.addEventListener("htmx:configRequest", function (e) {
      e.detail.headers["X-CSRF-Token"] = csrfToken();
    });
    document.body.addEventListener("htmx:afterSwap", function (e) {
      localTimes(e.target);
    });
    document.body.addEventListener("click", function (e) {
      var a = e.target.closest("a.line[data-line]");
      if (!a) return;
      var area = document.getElementById(a.dataset.target || "schema");
      if (!area) return;
      e.preventDefault();
      selectLine(area, parseInt(a.dataset.line, 10));
    });
  });
})();
