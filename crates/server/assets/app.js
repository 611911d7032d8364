// Small progressive enhancements; every page works without them.
(function () {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";
  // htmx requests carry the CSRF token as a header.
  document.addEventListener("htmx:configRequest", (e) => { e.detail.headers["X-CSRF-Token"] = csrf; });
  function wire(root) {
    root.querySelectorAll("[data-autosubmit]").forEach((el) => {
      el.addEventListener("change", () => el.form.requestSubmit());
    });
    root.querySelectorAll("[data-copy]").forEach((btn) => {
      btn.addEventListener("click", async () => {
        const src = document.getElementById(btn.dataset.copy);
        if (!src) return;
        try {
          await navigator.clipboard.writeText(src.innerText.trim());
          btn.classList.add("copied");
          setTimeout(() => btn.classList.remove("copied"), 1500);
        } catch (_) { /* clipboard not allowed: the text stays selectable */ }
      });
    });
    root.querySelectorAll("[data-confirm]").forEach((btn) => {
      btn.addEventListener("click", (e) => { if (!window.confirm(btn.dataset.confirm)) e.preventDefault(); });
    });
  }
  document.addEventListener("DOMContentLoaded", () => wire(document));
  document.addEventListener("htmx:afterSwap", (e) => wire(e.target));
})();
