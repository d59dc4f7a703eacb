// Selecting a state shows its input, output or error; a running execution's page refreshes itself
// (no reload) by polling the JSON of its status and event count.
(function () {
  "use strict";
  function selectState(name) {
    var data = JSON.parse(document.getElementById("state-data").textContent);
    var run = data[name];
    var box = document.getElementById("state-detail");
    document.querySelectorAll(".state").forEach(function (g) {
      g.classList.toggle("selected", g.dataset.state === name);
    });
    var parts = ["<h2>" + escapeHtml(name) + "</h2>"];
    if (!run) { parts.push("<p class='muted'>not entered in this execution</p>"); }
    else {
      parts.push("<p>status: <b data-testid='selected-status'>" + escapeHtml(run.status) + "</b></p>");
      if (run.error) { parts.push("<p class='error'>" + escapeHtml(run.error) + ": " + escapeHtml(run.cause || "") + "</p>"); }
      parts.push("<h2>input</h2><pre>" + escapeHtml(JSON.stringify(run.input, null, 2)) + "</pre>");
      parts.push("<h2>output</h2><pre>" + escapeHtml(JSON.stringify(run.output, null, 2)) + "</pre>");
    }
    var link = document.querySelector(".state[data-state='" + CSS.escape(name) + "']");
    if (link && link.dataset.mapRun) {
      parts.push("<p><a data-testid='map-run-link' href='" + link.dataset.mapRun + "'>open the Map Run</a></p>");
    }
    box.innerHTML = parts.join("");
  }
  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }
  function bind() {
    document.querySelectorAll(".state").forEach(function (g) {
      g.addEventListener("click", function () { selectState(g.dataset.state); });
    });
  }
  function poll(main) {
    var url = main.dataset.poll;
    fetch(url, {headers: {"Accept": "application/json"}}).then(function (r) { return r.json(); }).then(function (now) {
      if (String(now.events) !== main.dataset.events || now.status !== main.dataset.status) {
        return fetch(location.href, {headers: {"X-Console-Fragment": "main"}}).then(function (r) { return r.text(); })
          .then(function (html) {
            main.innerHTML = html;
            main.dataset.events = String(now.events);
            main.dataset.status = now.status;
            bind();
          });
      }
    }).catch(function () {}).finally(function () {
      if (main.dataset.status === "RUNNING") { setTimeout(function () { poll(main); }, 1000); }
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    bind();
    var main = document.querySelector("main[data-poll]");
    if (main && main.dataset.status === "RUNNING") { setTimeout(function () { poll(main); }, 1000); }
  });
})();
