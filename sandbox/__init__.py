"""Local stand-ins for Pesapal and AzamPay: a Django app, installed and routed under /sandbox/
only when GATEWAY_SIMULATOR is on.

They speak the real HTTP at the real paths (so the clients cannot tell), with the real quirks,
and keep their state in the Django cache. Every view answers 404 while GATEWAY_SIMULATOR is off,
whatever the URLconf says. Run one process (or share a Redis cache) when using them.

Rules a demo or test can rely on:
- Pesapal: the hosted page's "Pay" completes the order, "Fail" fails it, "Cancel" fails it as
  cancelled by the customer. Status stays pending (status_code 0 + payment_details_not_found)
  until a button is pressed. A refund of a completed order is queued ("pending approval", the
  payment stays COMPLETED) until the merchant approves it (`sandbox.testing.pesapal_refund_approve`
  or a POST to /sandbox/pesapal/control/refunds/<confirmation_code>/approve/); then it is
  REVERSED and the IPN is sent. The consumer key PESAPAL_CONSUMER_KEY_ANSWERED_WITH_500 of
  `credentials.py` gets the credentials error with HTTP 500.
- AzamPay: the phone approves after SIMULATOR_AZAMPAY_DELAY_SECONDS; a number ending in 000
  declines with `failure`, one ending in 001 with `failed`, one ending in 999 never answers (no
  callback, status stays pending).
"""
