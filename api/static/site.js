// Small progressive enhancements; every page works without them. Kept out of the pages so that the
// Content-Security-Policy can refuse all inline script (api/security_headers.py).
"use strict";

// <select data-submit-on-change>: choosing a value submits its form (the <noscript> button does it otherwise).
document.addEventListener("change", (event) => {
  const field = event.target;
  if (field instanceof HTMLSelectElement && field.hasAttribute("data-submit-on-change") && field.form) {
    field.form.submit();
  }
});

// <a data-back>: back to the previous page when there is one (the link's own address otherwise).
document.addEventListener("click", (event) => {
  const link = event.target instanceof Element ? event.target.closest("a[data-back]") : null;
  if (link && window.history.length > 1) {
    event.preventDefault();
    window.history.back();
  }
});
