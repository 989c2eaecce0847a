// Small progressive enhancements; every page works without this file.
document.addEventListener("DOMContentLoaded", () => {
  // The language switch applies as soon as a language is picked.
  document.querySelectorAll("form.js-language select").forEach((select) => {
    select.addEventListener("change", () => select.form.submit());
  });
});

// Case screens (cases/*.html).
document.documentElement.classList.add("js");
document.addEventListener("DOMContentLoaded", () => {
  // Plan editor: an unused row shows only its programme select until a programme is picked.
  document.querySelectorAll("select.js-plan-program").forEach((select) => {
    const row = select.closest(".plan-row");
    const sync = () => row.classList.toggle("is-empty", !select.value);
    select.addEventListener("change", sync);
    sync();
  });
  // A NIK/KK typed into the name search goes to the exact search (POST), never into the URL.
  document.querySelectorAll("form.js-case-filter").forEach((form) => {
    form.addEventListener("submit", (event) => {
      const q = form.querySelector("input[name=q]");
      const digits = q ? q.value.replace(/[\s.\-]/g, "") : "";
      const exact = document.querySelector("form.js-identity-search");
      if (exact && /^\d{16}$/.test(digits)) {
        event.preventDefault();
        exact.querySelector("input[name=number]").value = digits;
        q.value = "";
        exact.submit();
      }
    });
  });
});
