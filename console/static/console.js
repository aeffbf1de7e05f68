// The console's few scripts, progressive enhancement only: every page works without them.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  // Forms asking for a confirmation first (data-confirm="...").
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) { event.preventDefault(); }
    });
  });
  // "Select all" boxes ticking the boxes of their form.
  document.querySelectorAll("input[data-select-all]").forEach(function (box) {
    box.addEventListener("change", function () {
      document.querySelectorAll("input[name='" + box.dataset.selectAll + "']").forEach(function (other) {
        other.checked = box.checked;
      });
    });
  });
  // A background job's progress bar: polls the job's state until it has finished.
  var job = document.getElementById("job");
  if (job) { pollJob(job); }
});

function pollJob(job) {
  fetch(job.dataset.stateUrl, { credentials: "same-origin", headers: { "Accept": "application/json" } })
    .then(function (response) { return response.json(); })
    .then(function (state) {
      var bar = document.getElementById("job-bar");
      bar.max = state.total || 1;
      bar.value = state.total ? state.done : (state.status === "succeeded" ? 1 : 0);
      document.getElementById("job-text").textContent = state.text;
      if (state.status === "succeeded" && state.download_url) {
        var link = document.getElementById("job-download");
        link.href = state.download_url;
        link.hidden = false;
      } else if (state.status !== "failed") {
        window.setTimeout(function () { pollJob(job); }, 1000);
      }
    })
    .catch(function () { window.setTimeout(function () { pollJob(job); }, 3000); });
}
