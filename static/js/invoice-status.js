// Invoice page: while a payment is pending, poll /invoices/<token>/status/ and say what is
// happening in the aria-live region; reload once the payment is paid or has failed so the page
// (which works without JavaScript) shows the receipt or the pay options again.
(function () {
  "use strict";
  var box = document.getElementById("payment-status");
  if (!box || !box.dataset.waiting || !window.fetch) { return; }

  var url = box.dataset.statusUrl;
  var reference = box.dataset.reference;
  var live = box.querySelector(".payment-live-text");
  var waitingText = live ? live.textContent : "";
  var INTERVAL_MS = 4000;
  var GIVE_UP_MS = 15 * 60 * 1000;
  var started = Date.now();
  var failures = 0;

  function say(text) {
    if (live && live.textContent !== text) { live.textContent = text; }
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
          say("Paid. Thank you! Loading your receipt…");
          window.location.reload();
          return;
        }
        if (!attempt || (attempt.status !== "pending" && attempt.status !== "initiated")) {
          say(attempt && attempt.status === "completed" ? "Payment received. Loading…" : "Payment failed, try again.");
          window.location.reload();
          return;
        }
        say(waitingText);
        schedule();
      })
      .catch(function () {
        failures += 1;
        say("We cannot check the payment right now; we will keep trying. You can also reload the page.");
        schedule();
      });
  }

  function schedule() {
    if (Date.now() - started > GIVE_UP_MS) {
      say("This is taking longer than usual. Reload the page later to see the result; there is no need to pay again.");
      return;
    }
    window.setTimeout(check, INTERVAL_MS * Math.min(1 + failures, 4));
  }

  schedule();
})();
