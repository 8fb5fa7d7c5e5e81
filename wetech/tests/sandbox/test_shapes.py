"""The committed gateway shapes (wetech/payments/gateways/shapes/) are what the simulators answer.

`gateway_check` compares the real gateways with those files, and `wetech` never imports
`sandbox`; this test is the bridge. It drives each simulator through every state over raw HTTP
(the same calls `gateway_check` makes), extracts the shape of every answer, joins the shapes per
call and compares them with the committed files: any change to a simulator's answers must be
made to the files too (and the other way round), or this fails with the difference.
"""

import json

import pytest

from sandbox.testing import pesapal_refund_approve
from wetech.payments.gateways.shape_check import (
    GATEWAYS,
    SHAPES_DIR,
    AzamPayProbe,
    GatewayAnswer,
    PesapalProbe,
    ProbeHttp,
    answer_compare,
    shape_extract,
    shape_merge,
    shape_words,
    shapes_load,
)

from .conftest import press

pytestmark = pytest.mark.django_db(transaction=True)


def _pesapal_answers(simulator, capture) -> list[GatewayAnswer]:
    http = ProbeHttp()
    probe = PesapalProbe(http)
    probe.request_token()
    probe.ipn_list()  # none registered yet: []
    ipn_id = probe.register_ipn(f"{capture.url}/payments/pesapal/ipn/").field("ipn_id")
    probe.ipn_list()
    probe.transaction_status("c8b0e0fb-23f0-44dc-b79b-dd751b446913", known=False)

    def order(action: str | None = None) -> str:
        tracking_id = probe.submit_order(notification_id=ipn_id).field("order_tracking_id")
        if action:
            press(f"{simulator.url}/sandbox/pesapal/pay/{tracking_id}/", action)
        return tracking_id

    pending, paid, declined, cancelled, refunded, abandoned = (
        order(),
        order("pay"),
        order("fail"),
        order("cancel"),
        order("pay"),
        order(),
    )
    http.ask(
        "CancelOrder",
        "POST",
        f"{probe.base_url}/api/Transactions/CancelOrder",
        headers=probe.auth_headers(),
        json={"order_tracking_id": abandoned},
    )
    confirmation = probe.transaction_status(refunded, known=True).field("confirmation_code")
    http.ask(
        "RefundRequest",
        "POST",
        f"{probe.base_url}/api/Transactions/RefundRequest",
        headers=probe.auth_headers(),
        json={
            "confirmation_code": confirmation,
            "amount": "1.00",
            "username": "staff@wetech.co.tz",
            "remarks": "shape test",
        },
    )
    probe.transaction_status(refunded, known=True)  # refund queued: still completed
    pesapal_refund_approve(confirmation)
    for tracking_id in (pending, paid, declined, cancelled, refunded, abandoned):
        probe.transaction_status(tracking_id, known=True)
    http.close()
    # CancelOrder and RefundRequest only drive the states: gateway_check never calls them.
    return [a for a in http.answers if a.call not in ("CancelOrder", "RefundRequest")]


def _azampay_answers(capture) -> list[GatewayAnswer]:
    http = ProbeHttp()
    probe = AzamPayProbe(http)
    probe.generate_token()
    probe.transaction_status("8dbd88d7b3c9474fa3a0eec84b81c45d", provider="Mpesa", known=False)
    # Approved, declined with "failure", declined with "failed", never answered.
    phones = ("255712345678", "255712345000", "255712345001", "255712345999")
    pushed = [
        probe.mno_checkout(phone=phone, provider="Mpesa").field("transactionId") for phone in phones
    ]
    for _ in phones[:3]:
        capture.next()
    for transaction_id in pushed:
        probe.transaction_status(transaction_id, provider="Mpesa", known=True)
    http.close()
    return http.answers


def _simulator_shapes(answers: list[GatewayAnswer], committed: dict) -> dict:
    """Per call: every HTTP status seen and the joined shape of every body."""
    shapes: dict[str, dict] = {}
    for answer in answers:
        words = shape_words(committed.get(answer.call, {}).get("body", {}))
        shape = shape_extract(answer.body, words=words)
        seen = shapes.setdefault(answer.call, {"http_status": [], "body": shape})
        seen["http_status"] = sorted({*seen["http_status"], answer.http_status})
        seen["body"] = shape_merge(seen["body"], shape)
    return shapes


@pytest.fixture
def answers(simulator, capture, settings):
    # The status endpoint is one of the calls gateway_check makes.
    settings.AZAMPAY_STATUS_QUERY = True
    return {"pesapal": _pesapal_answers(simulator, capture), "azampay": _azampay_answers(capture)}


@pytest.mark.parametrize("gateway", GATEWAYS)
def test_the_committed_shapes_are_what_the_simulator_answers(answers, gateway):
    committed = shapes_load(gateway)

    extracted = _simulator_shapes(answers[gateway], committed)

    assert json.dumps(extracted, indent=2, sort_keys=True) == json.dumps(
        committed, indent=2, sort_keys=True
    )


@pytest.mark.parametrize("gateway", GATEWAYS)
def test_every_simulator_answer_fits_its_committed_shape(answers, gateway):
    committed = shapes_load(gateway)

    assert [
        (answer.call, text)
        for answer in answers[gateway]
        for text in answer_compare(committed[answer.call], answer)
    ] == []


def test_the_shape_files_say_what_they_are():
    for gateway in GATEWAYS:
        document = json.loads((SHAPES_DIR / f"{gateway}.json").read_text())
        assert set(document) == {"$comment", "gateway", "calls"}
        assert document["gateway"] == gateway
