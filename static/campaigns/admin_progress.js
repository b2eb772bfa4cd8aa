// The campaign's progress bar in the admin follows the run: it re-reads the numbers every
// two seconds while the campaign is active (CampaignAdmin.progress_view answers JSON).
(function () {
  "use strict";
  function follow(bar) {
    const label = bar.parentElement.querySelector(".campaign-progress-label");
    function tick() {
      fetch(bar.dataset.progressUrl, { credentials: "same-origin" })
        .then((r) => (r.ok ? r.json() : null))
        .then((data) => {
          if (!data) return;
          bar.value = data.progress;
          if (label) label.textContent = data.label;
          if (data.active) setTimeout(tick, 2000);
        })
        .catch(() => setTimeout(tick, 5000));
    }
    if (bar.dataset.active === "1") setTimeout(tick, 2000);
  }
  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("progress[data-progress-url]").forEach(follow);
  });
})();
