// Invoice page: while a payment is pending, poll /invoices/<token>/status/ and say what is
// happening in the aria-live region; reload once the payment is paid or has failed so the page
// (which works without JavaScript) shows the receipt or the pay options again. Everything it says
// comes from the page's data-text-* attributes, in the page's language (no inline script, so the
// Content Security Policy stays strict).
(function () {
  "use strict";
  var box = document.getElementById("payment-status");
  if (!box || !box.dataset.waiting || !window.fetch) { return; }

  var url = box.dataset.statusUrl;
  var reference = box.dataset.reference;
  var live = box.querySelector(".payment-live-text");
  var waitingText = live ? live.textContent : "";
  var text = {
    paid: box.dataset.textPaid,
    received: box.dataset.textReceived,
    failed: box.dataset.textFailed,
    unreachable: box.dataset.textUnreachable,
    slow: box.dataset.textSlow
  };
  var INTERVAL_MS = 4000;
  var GIVE_UP_MS = 15 * 60 * 1000;
  var started = Date.now();
  var failures = 0;

  function say(words) {
    if (live && words && live.textContent !== words) { live.textContent = words; }
  }

  function check() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (data) {
        failures = 0;
        var attempt = (data.payments || []).filter(function (p) { return p.reference === reference; })[0];
        if (data.status === "paid") {
          say(text.paid);
          window.location.reload();
          return;
        }
        if (!attempt || (attempt.status !== "pending" && attempt.status !== "initiated")) {
          say(attempt && attempt.status === "completed" ? text.received : text.failed);
          window.location.reload();
          return;
        }
        say(waitingText);
        schedule();
      })
      .catch(function () {
        failures += 1;
        say(text.unreachable);
        schedule();
      });
  }

  function schedule() {
    if (Date.now() - started > GIVE_UP_MS) {
      say(text.slow);
      return;
    }
    window.setTimeout(check, INTERVAL_MS * Math.min(1 + failures, 4));
  }

  schedule();
})();
