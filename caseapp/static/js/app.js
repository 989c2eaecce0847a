// Small progressive enhancements; every page works without this file.
document.addEventListener("DOMContentLoaded", () => {
  // The language switch applies as soon as a language is picked.
  document.querySelectorAll("form.js-language select").forEach((select) => {
    select.addEventListener("change", () => select.form.submit());
  });
});
