// Lead form: stop a double tap from sending the same request twice while the page is busy.
(function () {
  "use strict";
  var forms = document.querySelectorAll("form[data-lead-form]");
  forms.forEach(function (form) {
    var button = form.querySelector("button[type=submit]");
    if (!button) { return; }
    var idleLabel = button.textContent;
    form.addEventListener("submit", function () {
      if (button.disabled) { return; }
      // Disable after this tick so the browser still sends the form.
      window.setTimeout(function () {
        button.disabled = true;
        button.textContent = button.getAttribute("data-busy-label") || idleLabel;
      }, 0);
    });
    // Coming back with the Back button restores the page from cache: make the button usable again.
    window.addEventListener("pageshow", function () {
      button.disabled = false;
      button.textContent = idleLabel;
    });
  });
})();
